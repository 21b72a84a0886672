package handlers_test

// The harness builds the portal through app.Build, as the agentdesk command
// does, in process: emsim behind a plain-HTTP test server, the demo OpenID
// provider, and the portal as shipped (real EM client, SQLite stores, audit,
// holds, the echo stack). Nothing of ours is mocked; tests sign in through the
// authorization-code flow like a browser.

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/agentdesk/agentdesk/app"
	"github.com/agentdesk/agentdesk/audit"
	"github.com/agentdesk/agentdesk/auth"
	"github.com/agentdesk/agentdesk/auth/demoidp"
	"github.com/agentdesk/agentdesk/config"
	"github.com/agentdesk/agentdesk/emclient"
	"github.com/agentdesk/agentdesk/emclient/emsim"
	"github.com/agentdesk/agentdesk/handlers"
	"github.com/agentdesk/agentdesk/holds"
	"github.com/agentdesk/agentdesk/internal/webtest"
	"github.com/agentdesk/agentdesk/jobs"
	"github.com/agentdesk/agentdesk/store"
	"github.com/agentdesk/agentdesk/store/storetest"
)

// fleetHistoryEnd is where every simulated fleet's history ends, so that the
// fleets of one seed built by different tests of the package are the same
// (fleetFacts reads the facts of the fleet a portal will serve).
var fleetHistoryEnd = time.Now()

// fleetSize is small enough to build fast and large enough for the fleet
// guarantees (both servers, failures, disabled schedules, hostile names) and for
// paging with size=10.
const fleetSize = 30

// portalOptions tweaks one test portal; the zero value is the default.
type portalOptions struct {
	sessionSpeed time.Duration // how long a backup started through EM runs (default 300ms)
	sessionWait  time.Duration // jobs.Options.SessionWait (default: the service's)
	jobs         int           // fleet size (default fleetSize)

	// Reliability tests.
	requestTimeout   time.Duration                   // config.Operations.RequestTimeout (default: the handlers' default)
	maxInFlight      int                             // config.Operations.MaxInFlight
	emTimeout        time.Duration                   // emclient.Config.Timeout (default 5s)
	breakerThreshold int                             // emclient.Config.BreakerThreshold
	breakerCooldown  time.Duration                   // emclient.Config.BreakerCooldown
	emPassword       string                          // the EM service account's password (default "secret")
	logonBackoff     time.Duration                   // emclient.Config.LogonBackoff
	locker           jobs.Locker                     // jobs.Options.Locker (default in-process)
	jobsNow          func() time.Time                // jobs.Options.Now (default time.Now)
	jobTTL           time.Duration                   // jobs.Options.JobTTL (default: the service's)
	emClock          func() time.Time                // emclient.Config.Now (breaker and logon backoff)
	sessionsClock    func() time.Time                // auth.Sessions.SetClock (idle timeout, cached session reads)
	logTo            io.Writer                       // debug logs of the whole portal (default: testLogger)
	wrapEM, wrapIdP  func(http.Handler) http.Handler // see what EM and the IdP answer
	idpLater         bool                            // the IdP is not listening at start: call startIdP

	// Embed mode: config.Embed.
	embedOrigins   []string
	embedCrossSite bool
	handoffTTL     time.Duration // auth.Sessions.SetHandoffTTL (default auth.DefaultHandoffTTL)

	// Self-service.
	users         []demoidp.User  // more IdP users besides the demo ones
	staleAfter    time.Duration   // config.SelfService.StaleAfter
	holdDurations []time.Duration // config.SelfService.HoldDurations
	holdInterval  time.Duration   // how often the holds loop runs (default 20ms)
	// holdsClock, when set, is the holds service's clock and no holds loop
	// runs: the test moves the clock and calls holds.Tick itself.
	holdsClock func() time.Time

	// Security.
	rememberOverage bool   // config.SignIn.RememberOverage
	policy          []byte // the policy file (default policy.Default())
	trustedProxies  []netip.Prefix
	bodyTimeout     time.Duration // handlers.Tuning.BodyTimeout
	anonymousBurst  int           // config.Operations.SignInRate
	breakGlass      []byte        // the break-glass file (AGENTDESK_BREAKGLASS_FILE)
	breakGlassDelay time.Duration

	// configure changes the configuration last, for settings without an
	// option of their own: a new setting needs no harness change.
	configure func(*config.Config)
}

// testPortal is one complete portal with its own EM simulator and IdP.
type testPortal struct {
	app    *app.App // the portal as app.Build made it
	t      testing.TB
	URL    string // the portal, e.g. http://127.0.0.1:40123
	issuer string
	sim    *emsim.Server
	emSrv  *httptest.Server
	h      *handlers.Handler
	svc    *jobs.Service
	server http.Handler // the portal's echo stack, for benchmarks that skip the network
	em     *emclient.Client
	// startIdP starts the IdP of a portal built with idpLater, on the address
	// the portal was configured with.
	startIdP func()
	stopIdP  func()
	// idpReady waits until the portal has the IdP's discovery document.
	idpReady func(context.Context) error
	// audit is the portal's audit log; db a handle of the test's own on the
	// portal's SQLite file, so a test can break one table under it (sessions).
	audit *audit.Log
	db    *sql.DB
	// auditDB is a handle of the test's own on the database of the audit log:
	// db, or PostgreSQL with AGENTDESK_TEST_AUDIT_DIALECT=postgres.
	auditDB *sql.DB
	holds   *holds.Service // time-boxed disables; its loop runs every holdInterval
	users   handlers.Users // the remembered groups
}

// testLogger discards unless AGENTDESK_TEST_LOG is set: goroutines that outlive
// a test must not write to its testing.T.
func testLogger() *slog.Logger {
	if os.Getenv("AGENTDESK_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func newPortal(t testing.TB, opts ...portalOptions) *testPortal {
	t.Helper()
	var o portalOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.sessionSpeed == 0 {
		o.sessionSpeed = 300 * time.Millisecond
	}
	log := testLogger()
	if o.logTo != nil {
		log = slog.New(slog.NewTextHandler(o.logTo, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if o.emPassword == "" {
		o.emPassword = "secret"
	}
	if o.emTimeout == 0 {
		o.emTimeout = 5 * time.Second
	}
	wrap := func(f func(http.Handler) http.Handler, h http.Handler) http.Handler {
		if f == nil {
			return h
		}
		return f(h)
	}
	if o.jobs == 0 {
		o.jobs = fleetSize
	}
	sim := emsim.New(emsim.Config{Seed: 1, Jobs: o.jobs, SessionSpeed: o.sessionSpeed, Logger: log, HistoryEnd: fleetHistoryEnd,
		Accounts: []emsim.Account{{Name: "svc", Password: o.emPassword, Role: emsim.PortalAdministrator}}})
	emSrv := httptest.NewServer(wrap(o.wrapEM, sim))

	// Both servers need their URLs before their handlers exist: the IdP knows
	// the portal's redirect URI, the portal the IdP's issuer.
	portalSrv := httptest.NewUnstartedServer(nil)
	idpSrv := httptest.NewUnstartedServer(nil)
	portalURL := "http://" + portalSrv.Listener.Addr().String()
	issuer := "http://" + idpSrv.Listener.Addr().String()
	const secret = "test-client-secret"
	idp, err := demoidp.New(demoidp.Config{
		Issuer: issuer, ClientID: "agentdesk", ClientSecret: secret,
		RedirectURIs:           []string{portalURL + "/auth/callback"},
		PostLogoutRedirectURIs: []string{portalURL + "/auth/signin"},
		BackChannelLogoutURI:   portalURL + "/auth/backchannel-logout",
		Users:                  append(demoidp.DemoUsers(), o.users...), Logger: log,
	})
	if err != nil {
		t.Fatalf("demoidp.New: %v", err)
	}
	idpSrv.Config.Handler = wrap(o.wrapIdP, idp)
	idpAddr := idpSrv.Listener.Addr().String()
	startIdP := func() {
		ln, err := net.Listen("tcp", idpAddr)
		if err != nil {
			t.Fatalf("IdP listen on %s again: %v", idpAddr, err)
		}
		idpSrv.Listener = ln
		idpSrv.Start()
	}
	if o.idpLater {
		idpSrv.Listener.Close() // connection refused until startIdP
	} else {
		idpSrv.Start()
	}

	// The portal as shipped (app.Build), configured as the demo is, with the
	// test's settings on top.
	dir := t.TempDir()
	pub, _ := url.Parse(portalURL + "/")
	cfg := app.DemoDefaults(pub, emSrv.URL, issuer, secret, dir)
	cfg.EM.Password, cfg.EM.Timeout = o.emPassword, o.emTimeout
	if o.breakerThreshold != 0 {
		cfg.EM.BreakerThreshold = o.breakerThreshold
	}
	if o.breakerCooldown != 0 {
		cfg.EM.BreakerCooldown = o.breakerCooldown
	}
	cfg.Site.TrustedProxies = o.trustedProxies
	cfg.SignIn.RememberOverage = o.rememberOverage
	if o.policy != nil {
		cfg.SignIn.PolicyFile = writeFile(t, dir, "policy.yaml", o.policy)
	}
	if o.breakGlass != nil {
		cfg.SignIn.BreakGlassFile = writeFile(t, dir, "breakglass", o.breakGlass)
	}
	cfg.Operations = config.Operations{RequestTimeout: o.requestTimeout, MaxInFlight: o.maxInFlight, SignInRate: o.anonymousBurst}
	cfg.Embed = config.Embed{Origins: o.embedOrigins, CrossSite: o.embedCrossSite}
	cfg.SelfService.HoldInterval = cmp.Or(o.holdInterval, 20*time.Millisecond)
	cfg.SelfService.StaleAfter = cmp.Or(o.staleAfter, cfg.SelfService.StaleAfter)
	if len(o.holdDurations) > 0 {
		cfg.SelfService.HoldDurations = o.holdDurations
	}
	// With AGENTDESK_TEST_AUDIT_DIALECT=postgres the portal keeps what
	// replicas share (the audit log, holds, remembered groups) in a fresh
	// PostgreSQL database, as with AGENTDESK_DATABASE_URL: go test -run Audit
	// runs on either.
	if d := store.Dialect(os.Getenv("AGENTDESK_TEST_AUDIT_DIALECT")); d == store.Postgres {
		cfg.Stores.DatabaseURL = storetest.NewConfig(t, d).DSN
	}
	if o.configure != nil {
		o.configure(cfg)
	}
	a, err := app.Build(context.Background(), cfg, app.Options{
		Logger: log, Demo: true,
		EMNow: o.emClock, EMLogonBackoff: o.logonBackoff,
		Jobs:     jobs.Options{PollEvery: 50 * time.Millisecond, SessionWait: o.sessionWait, Locker: o.locker, Now: o.jobsNow, JobTTL: o.jobTTL},
		HoldsNow: o.holdsClock, ManualHolds: o.holdsClock != nil, SessionsNow: o.sessionsClock,
		HandoffTTL: o.handoffTTL,
		Tuning:     handlers.Tuning{BodyTimeout: o.bodyTimeout, BreakGlassDelay: o.breakGlassDelay},
	})
	if err != nil {
		t.Fatalf("app.Build: %v", err)
	}
	// A second handle on the portal's SQLite file, so a test can break one
	// table under the running portal.
	db, err := store.OpenSQLite(context.Background(), a.DataFile)
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	auditDB := db
	if u := cfg.Stores.DatabaseURL; u != "" {
		if auditDB, err = store.Open(context.Background(), store.Config{Dialect: store.Postgres, DSN: u}); err != nil {
			t.Fatalf("open the audit database: %v", err)
		}
	}
	if !o.idpLater {
		wctx, wcancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer wcancel()
		if err := a.SignIn.WaitReady(wctx); err != nil {
			t.Fatalf("OIDC discovery: %v", err)
		}
	}
	portalSrv.Config.Handler = a.Handler
	portalSrv.Start()

	t.Cleanup(func() {
		portalSrv.Close()
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		if err := a.Close(cctx); err != nil {
			t.Errorf("app.Close: %v", err)
		}
		idpSrv.Close()
		emSrv.CloseClientConnections() // a request EM black-holes must not hold Close
		emSrv.Close()
		db.Close()
		auditDB.Close()
	})
	return &testPortal{app: a, users: a.Users, holds: a.Holds, audit: a.Audit, db: db.SQL(), auditDB: auditDB.SQL(), t: t, URL: portalURL, issuer: issuer, sim: sim, emSrv: emSrv, h: a.Web, svc: a.Jobs, server: a.Handler,
		em: a.EM, startIdP: startIdP, stopIdP: idpSrv.Close, idpReady: a.SignIn.WaitReady}
}

// writeFile writes a file the portal reads at start and returns its path.
func writeFile(t testing.TB, dir, name string, content []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// emRequests is the number of requests EM has seen so far, of any kind.
func (p *testPortal) emRequests() int64 {
	var n int64
	for _, v := range p.sim.Stats().Requests {
		n += v
	}
	return n
}

// actionCalls is the number of job actions EM has received so far.
func (p *testPortal) actionCalls() int64 {
	var n int64
	for _, v := range p.sim.Stats().ActionCalls {
		n += v
	}
	return n
}

func (p *testPortal) actionCount(jobID, action string) int64 {
	return p.sim.Stats().ActionCalls[emsim.ActionKey(jobID, action)]
}

// isPolicy reports whether emsim made the job an agent policy; the portal
// cannot tell (EM states no kind).
func (p *testPortal) isPolicy(id string) bool {
	j, ok := p.sim.JobState(id)
	return ok && j.Policy
}

// jobNamed finds a fleet job by exact name.
func (p *testPortal) jobNamed(name string) emsim.JobSummary {
	p.t.Helper()
	for _, j := range p.sim.Jobs() {
		if j.Name == name {
			return j
		}
	}
	p.t.Fatalf("no fleet job named %q", name)
	return emsim.JobSummary{}
}

// client is a browser: a cookie jar, no automatic redirects (tests look at each
// hop), and the CSRF token of its session.
type client struct {
	t    testing.TB
	p    *testPortal
	hc   *http.Client
	csrf string
	user string

	// login records the callback's answer in lastCallback, and with
	// allowCallbackFailure returns after a callback that did not redirect.
	allowCallbackFailure bool
	lastCallback         *response
}

func (p *testPortal) newClient() *client {
	return &client{t: p.t, p: p, hc: webtest.NewClient()}
}

// response is a read answer.
type response struct{ *webtest.Page }

// testid returns the elements with a data-testid.
func (r *response) testid(id string) *goquery.Selection { return r.TestID(id) }

// reqOpt changes a request before it is sent.
type reqOpt func(*http.Request)

func header(k, v string) reqOpt { return func(r *http.Request) { r.Header.Set(k, v) } }

// htmx marks a request as htmx makes it from the page at current (a path).
func htmx(target, current string) reqOpt {
	return func(r *http.Request) {
		r.Header.Set("HX-Request", "true")
		if current != "" {
			r.Header.Set("HX-Current-URL", "http://"+r.Host+current)
		}
		if target != "" {
			r.Header.Set("HX-Target", target)
		}
	}
}

// background marks htmx polling.
func background(r *http.Request) { r.Header.Set("X-Background", "1") }

// sameOrigin adds what a browser sends with a same-origin POST.
func sameOrigin(r *http.Request) {
	r.Header.Set("Origin", "http://"+r.Host)
	r.Header.Set("Sec-Fetch-Site", "same-origin")
}

func (c *client) abs(path string) string {
	if strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://") {
		return path
	}
	return c.p.URL + path
}

func (c *client) do(method, path string, body io.Reader, opts ...reqOpt) *response {
	c.t.Helper()
	req, err := http.NewRequest(method, c.abs(path), body)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	for _, o := range opts {
		o(req)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	pg, err := webtest.Read(resp)
	if err != nil {
		c.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return &response{pg}
}

func (c *client) get(path string, opts ...reqOpt) *response {
	c.t.Helper()
	return c.do(http.MethodGet, path, nil, opts...)
}

// postForm posts a url-encoded form with the given options (no CSRF token or
// origin headers unless the options add them).
func (c *client) postForm(path string, form url.Values, opts ...reqOpt) *response {
	c.t.Helper()
	opts = append([]reqOpt{header("Content-Type", "application/x-www-form-urlencoded")}, opts...)
	return c.do(http.MethodPost, path, strings.NewReader(form.Encode()), opts...)
}

// withToken sends the session's CSRF token the way htmx does (hx-headers).
func (c *client) withToken(r *http.Request) { r.Header.Set("X-CSRF-Token", c.csrf) }

// action posts an action the way the htmx confirmation form does: from the job
// page, same-origin, token in the header, the hidden fields in the body.
func (c *client) action(jobID, action string) *response {
	c.t.Helper()
	form := url.Values{}
	switch action {
	case "enable":
		form.Set("desired", "enabled")
	case "disable":
		form.Set("desired", "disabled")
	}
	return c.postForm("/jobs/"+jobID+"/actions/"+action, form,
		sameOrigin, c.withToken, htmx("status-"+jobID, "/jobs/"+jobID))
}

// waitAction waits until the portal's run of the job's action has ended (its
// outcome audited), then fetches the status fragment the page's last poll
// would get.
func (c *client) waitAction(jobID string) *response {
	c.t.Helper()
	c.p.waitRun(jobID)
	r := c.get("/jobs/"+jobID+"/status", htmx("status-"+jobID, "/jobs/"+jobID), background)
	if r.StatusCode == http.StatusSeeOther {
		return r // nothing followed any more: the run has ended and was cleared
	}
	if r.StatusCode != http.StatusOK {
		c.t.Fatalf("status poll: %d %s", r.StatusCode, r.Body)
	}
	if st, _ := r.testid("action-status").Attr("data-state"); st == "running" {
		c.t.Fatalf("action on %s still running after its run ended: %s", jobID, r.Body)
	}
	return r
}

// waitRun waits for the end of the job's latest run, an event; the limit only
// keeps a broken build from hanging the suite.
func (p *testPortal) waitRun(jobID string) {
	p.t.Helper()
	run, ok := p.svc.Run(jobID)
	if !ok {
		return
	}
	select {
	case <-run.Done():
	case <-time.After(2 * time.Minute):
		p.t.Fatalf("the action on %s did not end", jobID)
	}
}

// sessionCookie is the portal's session cookie in the jar.
func (c *client) sessionCookie() *http.Cookie {
	u, _ := url.Parse(c.p.URL)
	for _, ck := range c.hc.Jar.Cookies(u) {
		if ck.Name == auth.InsecureCookieName {
			return ck
		}
	}
	return nil
}

// readCSRF takes the token from a full page: <body hx-headers> or a hidden field.
func (c *client) readCSRF(r *response) string {
	c.t.Helper()
	if t := r.CSRFToken(); t != "" {
		return t
	}
	if v, ok := r.Doc().Find(`input[name="csrf"]`).Attr("value"); ok && v != "" {
		return v
	}
	c.t.Fatalf("no CSRF token on the page:\n%s", r.Body)
	return ""
}

// signIn signs a demo user in through the real flow and returns the browser on
// /jobs.
func (p *testPortal) signIn(username string) *client {
	p.t.Helper()
	c := p.newClient()
	c.user = username

	r := c.get("/jobs")
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/auth/signin?return_to=%2Fjobs" {
		p.t.Fatalf("GET /jobs signed out: %d Location %q", r.StatusCode, r.Header.Get("Location"))
	}
	r = c.get(r.Header.Get("Location"))
	if r.StatusCode != http.StatusOK {
		p.t.Fatalf("sign-in page: %d", r.StatusCode)
	}
	loc, final := c.login(username, "/jobs")
	if loc != "/jobs" {
		p.t.Fatalf("after sign-in the portal redirects to %q, want /jobs", loc)
	}
	if final.StatusCode != http.StatusOK || final.testid("page-title").Text() != "Jobs" {
		p.t.Fatalf("landing on /jobs: %d\n%s", final.StatusCode, final.Body)
	}
	c.csrf = c.readCSRF(final)
	return c
}

// login runs /auth/login?return_to=… through the IdP's form and the callback.
// It returns where the portal's callback redirects and the page found there.
func (c *client) login(username, returnTo string) (string, *response) {
	c.t.Helper()
	return c.completeLogin(username, c.get("/auth/login?return_to="+url.QueryEscape(returnTo)))
}

// completeLogin continues a sign-in from the answer to /auth/login.
func (c *client) completeLogin(username string, r *response) (string, *response) {
	c.t.Helper()
	if r.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("/auth/login: %d %s", r.StatusCode, r.Body)
	}
	// Follow the IdP's redirects (authorize → login page).
	get := func(u string) *webtest.Page { return c.get(u).Page }
	pg, cur, err := webtest.Follow(r.Page, r.Request.URL, 6, get, nil)
	if err != nil {
		c.t.Fatalf("before the IdP login page: %v", err)
	}
	r = &response{pg}
	if r.StatusCode != http.StatusOK {
		c.t.Fatalf("IdP login page: %d %s", r.StatusCode, r.Body)
	}
	post, vals, err := webtest.LoginForm(r.Page, cur, username)
	if err != nil {
		c.t.Fatalf("IdP login page: %v\n%s", err, r.Body)
	}
	r = c.postForm(post.String(), vals, func(req *http.Request) {
		req.Header.Set("Origin", post.Scheme+"://"+post.Host)
	})
	// Follow redirects until the portal's callback answers.
	atCallback := func(u *url.URL) bool { return u.Path == "/auth/callback" && strings.HasPrefix(u.String(), c.p.URL) }
	pg, cur, err = webtest.Follow(r.Page, post, 9, get, atCallback)
	if err != nil {
		c.t.Fatalf("after the IdP login: %v", err)
	}
	r = &response{pg}
	if !atCallback(cur) {
		c.t.Fatalf("sign-in stopped at %s with %d:\n%s", cur, r.StatusCode, r.Body)
	}
	c.lastCallback = r
	if r.StatusCode != http.StatusSeeOther {
		if c.allowCallbackFailure {
			return "", nil
		}
		c.t.Fatalf("callback: %d\n%s", r.StatusCode, r.Body)
	}
	loc := r.Header.Get("Location")
	landing, err := cur.Parse(loc)
	if err != nil {
		c.t.Fatal(err)
	}
	if landing.Host != cur.Host {
		return loc, nil
	}
	final := c.get(landing.String())
	for hops := 0; final.StatusCode == http.StatusSeeOther && hops < 3; hops++ {
		next, _ := landing.Parse(final.Header.Get("Location"))
		if next.Host != cur.Host {
			break
		}
		final = c.get(next.String())
		landing = next
	}
	return loc, final
}

// jobIDs lists the data-job-id of the list's rows, in order.
func jobIDs(r *response) []string {
	var ids []string
	r.testid("job-row").Each(func(_ int, s *goquery.Selection) {
		id, _ := s.Attr("data-job-id")
		ids = append(ids, id)
	})
	return ids
}

func mustContain(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s does not contain %q", what, w)
		}
	}
}

func mustNotContain(t *testing.T, what, body string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if strings.Contains(body, b) {
			t.Errorf("%s contains %q", what, b)
		}
	}
}

func wantStatus(t *testing.T, what string, r *response, want int) {
	t.Helper()
	if r.StatusCode != want {
		t.Fatalf("%s: status %d, want %d\n%s", what, r.StatusCode, want, truncate(r.Body, 2000))
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("… (%d more bytes)", len(s)-n)
}

// breakAudit takes the audit log's table away under the running portal: the
// audit store is down, the rest of its database (sessions) is not.
func (p *testPortal) breakAudit() {
	p.t.Helper()
	if _, err := p.auditDB.Exec(`ALTER TABLE audit_log RENAME TO audit_log_away`); err != nil {
		p.t.Fatal(err)
	}
}
