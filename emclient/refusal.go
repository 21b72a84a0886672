package emclient

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// ErrAccountRefused: Enterprise Manager refused the service account's logon
// (401 or 403 on POST /api/sessionMngr/): a wrong or changed password, a
// locked or disabled account. The client then tries to log on at most once per
// backoff step, shared by every caller, and fails other calls at once without
// sending anything, because a directory locks an account out after a few
// failed logons. Errors carrying it also wrap ErrUnauthorized or ErrForbidden.
var ErrAccountRefused = errors.New("emclient: Enterprise Manager refuses the service account")

const (
	defaultLogonBackoff    = 5 * time.Second
	defaultLogonBackoffMax = 5 * time.Minute
)

// refusal is the "EM refuses the service account" state. The backoff step
// starts at base and doubles up to max with each refused logon; one successful
// logon clears it.
type refusal struct {
	base, max time.Duration // first step, ceiling
	now       func() time.Time

	mu       sync.Mutex
	step     time.Duration // 0: logons are not being refused
	since    time.Time     // first refusal of this run
	next     time.Time     // no logon attempt before this
	refusals int64         // refused logons since start, for the metric
	last     *Error        // EM's answer to the last refused logon
}

func newRefusal(base, ceiling time.Duration, now func() time.Time) *refusal {
	if base <= 0 {
		base = defaultLogonBackoff
	}
	if ceiling <= 0 {
		ceiling = defaultLogonBackoffMax
	}
	return &refusal{base: base, max: max(ceiling, base), now: now}
}

// check returns an error when a logon may not be tried yet.
func (r *refusal) check() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.step == 0 || !r.now().Before(r.next) {
		return nil
	}
	return r.errLocked("not sent")
}

// refused records a refused logon and returns the error callers see.
func (r *refusal) refused(e *Error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if r.step == 0 {
		r.step, r.since = r.base, now
	} else {
		r.step = min(2*r.step, r.max)
	}
	// Jitter ±25 %, so that replicas sharing the account do not try in step.
	r.next = now.Add(r.step*3/4 + rand.N(r.step/2+1))
	r.refusals++
	r.last = e
	return r.errLocked("logon refused")
}

// ok records a successful logon.
func (r *refusal) ok() {
	r.mu.Lock()
	r.step, r.since, r.next, r.last = 0, time.Time{}, time.Time{}, nil
	r.mu.Unlock()
}

func (r *refusal) errLocked(what string) error {
	return &refusedError{what: what, since: r.since, next: r.next, last: r.last}
}

// refusedError is what every call gets while the account is refused.
type refusedError struct {
	what        string
	since, next time.Time
	last        *Error
}

func (e *refusedError) Error() string {
	return fmt.Sprintf("emclient: %s: Enterprise Manager refuses the service account since %s (%d %s); next logon attempt after %s",
		e.what, e.since.UTC().Format(time.RFC3339), e.last.StatusCode, e.last.Message, e.next.UTC().Format(time.RFC3339))
}

func (e *refusedError) Is(target error) bool { return target == ErrAccountRefused }
func (e *refusedError) Unwrap() error        { return e.last }

// isRefusal reports whether a logon answer refuses the account itself.
func isRefusal(status int) bool {
	return status == http.StatusUnauthorized || status == http.StatusForbidden
}

// AccountRefused reports whether EM refuses the service account, since when,
// and when the next logon attempt may go out.
func (c *Client) AccountRefused() (since, next time.Time, refused bool) {
	r := c.refusal
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.since, r.next, r.step != 0
}

// LogonRefusals returns how many logons EM refused since start.
func (c *Client) LogonRefusals() int64 {
	c.refusal.mu.Lock()
	defer c.refusal.mu.Unlock()
	return c.refusal.refusals
}
