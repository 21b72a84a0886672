package emclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// ErrCircuitOpen: Enterprise Manager failed repeatedly and the client stopped
// calling it for a while; no request was made. Errors carrying it also wrap
// ErrUnavailable and say since when EM has been unreachable.
var ErrCircuitOpen = errors.New("emclient: circuit open")

// Circuit states as Status reports them.
const (
	CircuitClosed   = "closed"    // calls go out
	CircuitOpen     = "open"      // calls fail fast until the cooldown has passed
	CircuitHalfOpen = "half-open" // one probe call is out; the others fail fast
)

const (
	defaultBreakerThreshold = 5
	defaultBreakerWindow    = 30 * time.Second
	defaultBreakerCooldown  = 15 * time.Second
)

// breaker stops the portal from queueing every page behind connect timeouts
// while EM is down: after threshold consecutive failed attempts (no answer,
// a timeout, or 502/503/504), each less than window after the previous one,
// it opens. While open every attempt fails at once; after cooldown one probe
// goes out, and its result closes the circuit or opens it for another
// cooldown. Answers that prove EM is reachable (any other status, even 500 or
// an undecodable body) count as success: one broken job must not take the
// whole portal offline.
type breaker struct {
	threshold int
	window    time.Duration
	cooldown  time.Duration
	now       func() time.Time

	mu        sync.Mutex
	state     string
	failures  int       // consecutive failures while closed
	firstFail time.Time // first of those failures
	lastFail  time.Time
	openedAt  time.Time // start of the current cooldown
	since     time.Time // first failure of the outage; zero while closed
	probing   bool      // the half-open probe is out
	lastErr   string
	lastErrAt time.Time
}

func newBreaker(threshold int, window, cooldown time.Duration) *breaker {
	if threshold <= 0 {
		threshold = defaultBreakerThreshold
	}
	if window <= 0 {
		window = defaultBreakerWindow
	}
	if cooldown <= 0 {
		cooldown = defaultBreakerCooldown
	}
	return &breaker{threshold: threshold, window: window, cooldown: cooldown, now: time.Now, state: CircuitClosed}
}

// outcome is what one attempt says about EM's reachability.
type outcome int

const (
	reachable   outcome = iota // EM answered
	unreachable                // no answer, a timeout, or 502/503/504
	neutral                    // the caller gave up: says nothing about EM
)

// allow admits an attempt. probe is true for the one attempt let through in
// the half-open state; pass it back to done.
func (b *breaker) allow(method, route string) (probe bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case CircuitClosed:
		return false, nil
	case CircuitOpen:
		if b.now().Sub(b.openedAt) >= b.cooldown {
			b.state, b.probing = CircuitHalfOpen, true
			return true, nil
		}
	case CircuitHalfOpen:
		if !b.probing { // the last probe was abandoned by its caller
			b.probing = true
			return true, nil
		}
	}
	return false, fmt.Errorf("emclient: %s %s: not sent, EM unreachable since %s: %w: %w", method, route,
		b.since.UTC().Format(time.RFC3339), ErrCircuitOpen, ErrUnavailable)
}

// done records the result of an admitted attempt.
func (b *breaker) done(probe bool, o outcome, errText string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	switch o {
	case reachable:
		// Any answer proves EM is there again, the probe's or a late one's.
		b.state, b.failures, b.since, b.probing = CircuitClosed, 0, time.Time{}, false
	case neutral:
		if probe {
			b.probing = false // let the next caller probe
		}
	case unreachable:
		b.lastErr, b.lastErrAt = errText, now
		switch b.state {
		case CircuitClosed:
			if b.failures > 0 && now.Sub(b.lastFail) > b.window {
				b.failures = 0
			}
			if b.failures == 0 {
				b.firstFail = now
			}
			b.failures++
			b.lastFail = now
			if b.failures >= b.threshold {
				b.state, b.openedAt, b.since = CircuitOpen, now, b.firstFail
			}
		case CircuitHalfOpen:
			if probe {
				b.state, b.openedAt, b.probing = CircuitOpen, now, false
			}
		}
	}
}

// down reports whether calls are being suspended, and since when EM has been
// unreachable.
func (b *breaker) down() (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == CircuitClosed {
		return time.Time{}, false
	}
	return b.since, true
}

// classify says what an attempt's result means for the breaker.
func classify(status int, err error) outcome {
	switch {
	case err == nil:
		return reachable
	case status == http.StatusBadGateway || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout:
		return unreachable
	case status != 0, errors.Is(err, ErrCertificate):
		// A certificate that fails verification is EM (or whoever answers)
		// answering: a setting to fix, not an outage to wait out.
		return reachable
	case errors.Is(err, context.Canceled), errors.Is(err, errClosed), errors.Is(err, ErrCircuitOpen):
		return neutral
	}
	return unreachable
}

// attemptError describes a failed attempt for the status page: the endpoint
// and the status or network error, without the request URL (whose query may
// hold job names) and without any header.
func attemptError(method, route string, status int, err error) string {
	if status != 0 {
		return fmt.Sprintf("%s %s: HTTP %d %s", method, route, status, http.StatusText(status))
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return method + " " + route + ": no answer in time"
	}
	return method + " " + route + ": " + err.Error()
}

// Down reports whether the client has stopped calling Enterprise Manager
// because it failed repeatedly (circuit open or half-open), and since when EM
// has been unreachable.
func (c *Client) Down() (since time.Time, down bool) { return c.br.down() }

// Status is the client's view of Enterprise Manager for an operator. It holds
// no credentials and no session token.
type Status struct {
	Host        string // host[:port] of EM
	LoggedOn    bool
	Logons      int64
	Circuit     string // CircuitClosed, CircuitOpen or CircuitHalfOpen
	DownSince   time.Time
	LastError   string // the last failed attempt that counted against EM, "" if none
	LastErrorAt time.Time

	// AccountRefused: EM refused the service account's last logon; logons are
	// backed off until NextLogon. RefusedError is EM's answer.
	AccountRefused bool
	RefusedSince   time.Time
	NextLogon      time.Time
	RefusedError   string
	LogonRefusals  int64 // refused logons since start
}

// Status reports the logon and circuit state.
func (c *Client) Status() Status {
	c.mu.Lock()
	st := Status{Host: c.host, LoggedOn: c.token != "", Logons: c.gen}
	c.mu.Unlock()
	c.br.mu.Lock()
	st.Circuit, st.DownSince, st.LastError, st.LastErrorAt = c.br.state, c.br.since, c.br.lastErr, c.br.lastErrAt
	c.br.mu.Unlock()
	r := c.refusal
	r.mu.Lock()
	st.LogonRefusals = r.refusals
	if r.step != 0 {
		st.AccountRefused, st.RefusedSince, st.NextLogon = true, r.since, r.next
		st.RefusedError = fmt.Sprintf("POST /sessionMngr/: HTTP %d %s", r.last.StatusCode, r.last.Message)
	}
	r.mu.Unlock()
	return st
}
