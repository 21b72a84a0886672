package handlers

import (
	"sync"
	"time"
)

// attemptLimit allows a few attempts per key in a sliding window. It guards the
// break-glass form: each check costs a bcrypt run, and the account is the one
// that opens every job.
type attemptLimit struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu   sync.Mutex
	seen map[string][]time.Time
}

func newAttemptLimit(max int, window time.Duration) *attemptLimit {
	return &attemptLimit{max: max, window: window, now: time.Now, seen: make(map[string][]time.Time)}
}

// allow records an attempt by ip for user and reports whether both the address
// and the user name are still under the limit.
func (l *attemptLimit) allow(ip, user string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	ok := true
	for _, k := range []string{"ip:" + ip, "user:" + user} {
		kept := l.seen[k][:0]
		for _, t := range l.seen[k] {
			if now.Sub(t) < l.window {
				kept = append(kept, t)
			}
		}
		if len(kept) >= l.max {
			ok = false
		}
		l.seen[k] = append(kept, now)
	}
	if len(l.seen) > 10000 { // bounded memory under a spray of addresses
		for k, ts := range l.seen {
			if len(ts) == 0 || now.Sub(ts[len(ts)-1]) >= l.window {
				delete(l.seen, k)
			}
		}
	}
	return ok
}

// blocked reports whether key has reached the limit of failures in the
// window, without recording anything; fail records one. Together they count
// failures only, for checks where success is the common case.
func (l *attemptLimit) blocked(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	n := 0
	for _, t := range l.seen["fail:"+key] {
		if now.Sub(t) < l.window {
			n++
		}
	}
	return n >= l.max
}

func (l *attemptLimit) fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	k := "fail:" + key
	kept := l.seen[k][:0]
	for _, t := range l.seen[k] {
		if now.Sub(t) < l.window {
			kept = append(kept, t)
		}
	}
	l.seen[k] = append(kept, now)
	if len(l.seen) > 10000 { // bounded memory under a spray of addresses
		for k, ts := range l.seen {
			if len(ts) == 0 || now.Sub(ts[len(ts)-1]) >= l.window {
				delete(l.seen, k)
			}
		}
	}
}
