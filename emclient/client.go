// Package emclient is a client for the Veeam Backup Enterprise Manager REST API
// (the XML service on https://<em>:9398/api), limited to what the portal needs:
// one shared logon session, Veeam Agent backup jobs and their actions, tasks,
// sessions, backup servers and the query service.
package emclient

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// Config configures a Client.
type Config struct {
	BaseURL   string // e.g. "https://em.example.com:9398" ("/api" is appended when missing)
	Username  string
	Password  string
	CAFile    string        // extra trusted CA (PEM)
	PinSHA256 string        // hex SHA-256 of the server leaf certificate (DER); when set, verification = pin match
	Insecure  bool          // skip verification; logged loudly at New
	Timeout   time.Duration // per call deadline, default 30s (applied on top of the caller's ctx)
	MaxConns  int           // per host, default 64
	Logger    *slog.Logger
	// Observe is an optional metrics hook, called once per HTTP attempt; endpoint
	// is a route pattern like "GET /agents/jobs/{id}", status is 0 when no answer came.
	Observe    func(endpoint string, status int, d time.Duration)
	HTTPClient *http.Client // optional, tests only; must not have a cookie jar

	// The circuit breaker: after BreakerThreshold consecutive failed attempts
	// (no answer, timeout, 502/503/504), each within BreakerWindow of the
	// previous one, calls fail fast with ErrCircuitOpen for BreakerCooldown;
	// then one probe decides. Defaults 5, 30s, 15s.
	BreakerThreshold int
	BreakerWindow    time.Duration
	BreakerCooldown  time.Duration

	// After EM refuses the service account's logon (401/403), at most one
	// logon goes out per backoff step: LogonBackoff at first, doubling up to
	// LogonBackoffMax, jittered. Defaults 5s and 5m.
	LogonBackoff    time.Duration
	LogonBackoffMax time.Duration
	// Now is the clock of the breaker and the logon backoff (default time.Now).
	Now func() time.Time

	// MaxInFlightBytes bounds the EM answer bytes held by all calls at once
	// (default 48 MiB; see budget).
	MaxInFlightBytes int64
}

const (
	defaultTimeout  = 30 * time.Second
	defaultMaxConns = 64
	// maxBodySize bounds a list or query answer read into memory; maxEntityBody
	// every other answer (one job, session, task, logon, error), which is a few
	// kilobytes in practice.
	maxBodySize   = 32 << 20
	maxEntityBody = 4 << 20
	// sessionHeader carries the logon token on requests and on the logon answer.
	sessionHeader = "X-RestSvcSessionId"
	// readRetries is how many times a GET is repeated after a transient failure.
	readRetries = 2
)

// Client talks to one Enterprise Manager. It holds ONE logon session shared by
// all goroutines; it is safe for concurrent use.
type Client struct {
	base     string // scheme://host[:port]/path-to-api, no trailing slash
	host     string // host[:port], for Status
	user     string
	password string
	timeout  time.Duration
	maxBody  int64
	hc       *http.Client
	log      *slog.Logger
	observe  func(string, int, time.Duration)
	backoff  time.Duration // first GET retry delay
	br       *breaker
	refusal  *refusal
	budget   *budget

	flight singleflight.Group

	mu        sync.Mutex
	token     string // "" when not logged on
	gen       int64  // generation of token: the number of logons performed
	sessionID string // LogonSession/SessionId of the current token, for log off
	closed    bool
}

var errClosed = errors.New("emclient: client is closed")

// New validates cfg and builds a Client. It makes no request: the first call logs on.
func New(cfg Config) (*Client, error) {
	base, err := apiBase(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	if cfg.Username == "" {
		return nil, errors.New("emclient: Username is required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{
		base:     base,
		user:     cfg.Username,
		password: cfg.Password,
		timeout:  cfg.Timeout,
		maxBody:  maxBodySize,
		log:      log,
		observe:  cfg.Observe,
		backoff:  100 * time.Millisecond,
		br:       newBreaker(cfg.BreakerThreshold, cfg.BreakerWindow, cfg.BreakerCooldown),
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	c.br.now = now
	c.refusal = newRefusal(cfg.LogonBackoff, cfg.LogonBackoffMax, now)
	c.budget = newBudget(cfg.MaxInFlightBytes)
	if u, err := url.Parse(base); err == nil {
		c.host = u.Host
	}
	if c.timeout <= 0 {
		c.timeout = defaultTimeout
	}
	if cfg.HTTPClient != nil {
		// EM prefers a cookie over the header; a jar would resend a stale session
		// cookie after re-logon.
		if cfg.HTTPClient.Jar != nil {
			return nil, errors.New("emclient: HTTPClient must not have a cookie jar")
		}
		c.hc = cfg.HTTPClient
		return c, nil
	}
	tlsConf, err := tlsConfig(cfg, log)
	if err != nil {
		return nil, err
	}
	maxConns := cfg.MaxConns
	if maxConns <= 0 {
		maxConns = defaultMaxConns
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       tlsConf,
		TLSHandshakeTimeout:   10 * time.Second,
		MaxConnsPerHost:       maxConns,
		MaxIdleConnsPerHost:   maxConns,
		MaxIdleConns:          maxConns,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	c.hc = &http.Client{
		Transport: tr,
		// Never follow redirects: the token header must only go to the configured EM.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c, nil
}

func apiBase(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", fmt.Errorf("emclient: bad BaseURL: %w", err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("emclient: BaseURL %q must be an absolute http(s) URL", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("emclient: BaseURL must not carry credentials, query or fragment")
	}
	p := strings.TrimRight(u.EscapedPath(), "/")
	if !strings.HasSuffix(p, "/api") {
		p += "/api"
	}
	return u.Scheme + "://" + u.Host + p, nil
}

func tlsConfig(cfg Config, log *slog.Logger) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, &ConfigError{Field: "CAFile", Msg: "cannot read the CA file: " + err.Error()}
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &ConfigError{Field: "CAFile", Msg: cfg.CAFile + " holds no PEM certificate"}
		}
		tc.RootCAs = pool
	}
	switch {
	case cfg.PinSHA256 != "":
		pin, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(cfg.PinSHA256), ":", ""))
		if err != nil || len(pin) != sha256.Size {
			return nil, &ConfigError{Field: "PinSHA256", Msg: "must be 64 hex digits (colons allowed)"}
		}
		// The pin replaces chain verification (EM usually has a self-signed
		// certificate). VerifyConnection also runs on resumed sessions.
		tc.InsecureSkipVerify = true
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("emclient: server sent no certificate")
			}
			sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
			if subtle.ConstantTimeCompare(sum[:], pin) != 1 {
				return fmt.Errorf("server certificate SHA-256 %x does not match the pin: %w", sum, errPinMismatch)
			}
			return nil
		}
		if cfg.Insecure {
			log.Warn("emclient: Insecure is ignored because PinSHA256 is set")
		}
	case cfg.Insecure:
		tc.InsecureSkipVerify = true
		log.Warn("emclient: TLS certificate verification of Enterprise Manager is DISABLED (Insecure); anyone on the network path can read the EM credentials",
			"base_url", cfg.BaseURL)
	}
	return tc, nil
}

// Logons returns how many logons the client performed so far.
func (c *Client) Logons() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// Close logs off (DELETE /api/logonSessions/{id}) when logged on. Afterwards
// every call fails.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	token, gen, sid := c.token, c.gen, c.sessionID
	c.token, c.sessionID = "", ""
	c.mu.Unlock()
	defer c.hc.CloseIdleConnections()
	if token == "" || !ValidID(sid) {
		return nil
	}
	cl := &call{method: "DELETE", route: "/logonSessions/{id}", path: "/logonSessions/" + url.PathEscape(sid)}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	_, err := c.roundTrip(ctx, cl, token, gen)
	if err != nil && !errors.Is(err, ErrUnauthorized) && !errors.Is(err, ErrNotFound) {
		return err
	}
	return nil
}

// call describes one API request. path is already escaped.
type call struct {
	method string
	route  string // pattern below /api for errors and metrics, e.g. "/agents/jobs/{id}"
	path   string
	query  url.Values
	noAuth bool
	list   bool // a list or query answer: the larger body limit applies
	out    any  // decoding target for a 2xx answer; nil: body ignored
}

// exec runs a call with the client's deadline, the logon session, one re-logon
// after a 401 and, for GET only, up to readRetries retries on transient failures.
func (c *Client) exec(ctx context.Context, cl *call) error {
	_, err := c.execGen(ctx, cl)
	return err
}

// execGen is exec that also reports the logon generation the successful request used.
func (c *Client) execGen(ctx context.Context, cl *call) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	relogged := false
	retries := 0
	for {
		var token string
		var gen int64
		if !cl.noAuth {
			var err error
			if token, gen, err = c.session(ctx); err != nil {
				return 0, err
			}
		}
		status, err := c.roundTrip(ctx, cl, token, gen)
		if err == nil {
			return gen, nil
		}
		if status == http.StatusUnauthorized && !cl.noAuth && !relogged {
			// EM rejected the request before doing anything, so even an action may
			// be sent again once. Only the token that failed is dropped.
			c.invalidate(gen)
			relogged = true
			continue
		}
		if cl.method == http.MethodGet && retries < readRetries && transient(ctx, status, err) && !c.suspended() {
			retries++
			if werr := sleep(ctx, jitter(c.backoff<<(retries-1))); werr != nil {
				return 0, err
			}
			continue
		}
		return 0, err
	}
}

// suspended reports an open circuit: retrying would fail at once anyway.
func (c *Client) suspended() bool {
	_, down := c.br.down()
	return down
}

func transient(ctx context.Context, status int, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	switch status {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	case 0:
		return errors.Is(err, ErrUnavailable)
	}
	return false
}

// jitter spreads d over [d/2, 3d/2) so that many clients do not retry in step.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// session returns the current token, logging on when there is none. Logons are
// single-flight and run detached from the caller's context, so a caller that
// gives up does not fail the others waiting for the same logon.
func (c *Client) session(ctx context.Context) (string, int64, error) {
	c.mu.Lock()
	token, gen, closed := c.token, c.gen, c.closed
	c.mu.Unlock()
	if closed {
		return "", 0, errClosed
	}
	if token != "" {
		return token, gen, nil
	}
	ch := c.flight.DoChan("logon", func() (any, error) {
		c.mu.Lock()
		if c.token != "" || c.closed {
			// Someone logged on between our check and this flight.
			s := [2]any{c.token, c.gen}
			closed := c.closed
			c.mu.Unlock()
			if closed {
				return nil, errClosed
			}
			return s, nil
		}
		c.mu.Unlock()
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
		defer cancel()
		return c.logon(lctx)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return "", 0, r.Err
		}
		s := r.Val.([2]any)
		return s[0].(string), s[1].(int64), nil
	case <-ctx.Done():
		return "", 0, fmt.Errorf("emclient: waiting for logon: %w", ctx.Err())
	}
}

// invalidate forgets the token of generation gen; a newer token stays.
func (c *Client) invalidate(gen int64) {
	c.mu.Lock()
	if c.gen == gen {
		c.token, c.sessionID = "", ""
	}
	c.mu.Unlock()
}

// logon is one logon attempt, admitted and accounted for by the breaker and,
// after EM refused the account, by the logon backoff: no attempt goes out
// before the backoff step has passed.
func (c *Client) logon(ctx context.Context) (any, error) {
	const route = "/sessionMngr/"
	if err := c.refusal.check(); err != nil {
		return nil, err
	}
	probe, err := c.br.allow("POST", route)
	if err != nil {
		return nil, err
	}
	status, v, err := c.logonOnce(ctx)
	c.done(probe, "POST", route, status, err)
	var emErr *Error
	switch {
	case err == nil:
		c.refusal.ok()
	case isRefusal(status) && errors.As(err, &emErr):
		err = c.refusal.refused(emErr)
		c.log.Error("emclient: Enterprise Manager refuses the service account; logons are backed off", "user", c.user, "err", err)
	}
	return v, err
}

// done reports an attempt's result to the breaker.
func (c *Client) done(probe bool, method, route string, status int, err error) {
	o := classify(status, err)
	text := ""
	if o == unreachable {
		text = attemptError(method, route, status, err)
	}
	c.br.done(probe, o, text)
}

func (c *Client) logonOnce(ctx context.Context) (int, any, error) {
	const route = "/sessionMngr/"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/sessionMngr/?v=latest", http.NoBody)
	if err != nil {
		return 0, nil, err
	}
	req.SetBasicAuth(c.user, c.password)
	req.Header.Set("Accept", "application/xml")
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.record("POST", route, 0, start)
		if isCertError(err) {
			return 0, nil, fmt.Errorf("emclient: POST %s: %w: %w", route, ErrCertificate, err)
		}
		return 0, nil, transportError("POST", route, err, false)
	}
	defer resp.Body.Close()
	c.record("POST", route, resp.StatusCode, start)
	var ls LogonSession
	if err := c.readAnswer(ctx, "POST", route, resp, maxEntityBody, &ls); err != nil {
		var emErr *Error
		switch {
		case errors.As(err, &emErr):
			return resp.StatusCode, nil, err
		case errors.Is(err, ErrMalformed) && resp.Header.Get(sessionHeader) != "":
			// The token works without the body; only log off needs SessionId.
			c.log.Warn("emclient: undecodable LogonSession; the session cannot be logged off", "err", err)
		case errors.Is(err, ErrMalformed):
			return resp.StatusCode, nil, err
		default:
			return 0, nil, transportError("POST", route, err, false)
		}
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil, apiError("POST", route, resp.StatusCode, nil)
	}
	token := resp.Header.Get(sessionHeader)
	if token == "" {
		return resp.StatusCode, nil, fmt.Errorf("emclient: POST %s: logon answered %d without %s: %w", route, resp.StatusCode, sessionHeader, ErrMalformed)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return resp.StatusCode, nil, errClosed
	}
	c.gen++
	c.token, c.sessionID = token, ls.SessionID
	c.log.Info("emclient: logged on to Enterprise Manager", "user", ls.UserName, "logons", c.gen)
	return resp.StatusCode, [2]any{token, c.gen}, nil
}

func (c *Client) record(method, route string, status int, start time.Time) {
	d := time.Since(start)
	if c.observe != nil {
		c.observe(method+" "+route, status, d)
	}
	c.log.Debug("emclient: request", "endpoint", method+" "+route, "status", status, "duration", d)
}

// roundTrip sends one request and decodes a 2xx answer into cl.out. It returns
// the HTTP status (0 when none arrived) and an error for anything but 2xx.
// While the circuit is open it fails at once without a request.
func (c *Client) roundTrip(ctx context.Context, cl *call, token string, gen int64) (int, error) {
	probe, err := c.br.allow(cl.method, cl.route)
	if err != nil {
		return 0, err
	}
	status, err := c.roundTripOnce(ctx, cl, token)
	c.done(probe, cl.method, cl.route, status, err)
	return status, err
}

func (c *Client) roundTripOnce(ctx context.Context, cl *call, token string) (int, error) {
	u := c.base + cl.path
	if len(cl.query) > 0 {
		// EM is a .NET service; %20 is understood everywhere, "+" not necessarily.
		u += "?" + strings.ReplaceAll(cl.query.Encode(), "+", "%20")
	}
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		if i.Err == nil {
			wrote.Store(true)
		}
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), cl.method, u, http.NoBody)
	if err != nil {
		return 0, fmt.Errorf("emclient: %s %s: %w", cl.method, cl.route, err)
	}
	req.Header.Set("Accept", "application/xml")
	if token != "" {
		req.Header.Set(sessionHeader, token)
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.record(cl.method, cl.route, 0, start)
		if isCertError(err) {
			return 0, fmt.Errorf("emclient: %s %s: %w: %w", cl.method, cl.route, ErrCertificate, err)
		}
		// WroteRequest runs on the transport's writer goroutine and may lag behind
		// a read error, so an action counts as sent unless the failure proves it
		// was not: no connection (dial) or a deadline/cancel before it was written.
		sent := wrote.Load() || !(isDialError(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
		return 0, transportError(cl.method, cl.route, err, sent && cl.method == http.MethodPost)
	}
	defer resp.Body.Close()
	limit := int64(maxEntityBody)
	if cl.list {
		limit = maxBodySize
	}
	err = c.readAnswer(ctx, cl.method, cl.route, resp, limit, cl.out)
	c.record(cl.method, cl.route, resp.StatusCode, start)
	var emErr *Error
	switch {
	case err == nil:
		return resp.StatusCode, nil
	case errors.As(err, &emErr), errors.Is(err, ErrMalformed):
		return resp.StatusCode, err
	}
	return 0, transportError(cl.method, cl.route, err, cl.method == http.MethodPost)
}

// transportError classifies a failure without an HTTP answer. For an action that
// was already written the outcome is unknown; anything else is "unavailable",
// except a cancellation by the caller.
func transportError(method, route string, err error, written bool) error {
	if written {
		return fmt.Errorf("emclient: %s %s: %w: %w", method, route, ErrOutcomeUnknown, err)
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("emclient: %s %s: %w", method, route, err)
	}
	return fmt.Errorf("emclient: %s %s: %w: %w", method, route, ErrUnavailable, err)
}

// errPinMismatch: the certificate is not the pinned one.
var errPinMismatch = errors.New("certificate pin mismatch")

// isCertError reports a failed verification of EM's certificate, as opposed
// to a network failure.
func isCertError(err error) bool {
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	return errors.As(err, &unknown) || errors.As(err, &host) || errors.As(err, &invalid) ||
		errors.As(err, &verify) || errors.Is(err, errPinMismatch)
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func apiError(method, route string, status int, body []byte) *Error {
	e := &Error{StatusCode: status, Method: method, Endpoint: route, Message: http.StatusText(status)}
	var eb ErrorBody
	if len(bytes.TrimSpace(body)) > 0 && decode(body, &eb) == nil && eb.Message != "" {
		e.Message = eb.Message
		e.Detail = strings.TrimSpace(eb.FirstChanceExceptionMessage)
	}
	if e.Message == "" {
		e.Message = fmt.Sprintf("HTTP %d", status)
	}
	return e
}
