package handlers

import (
	"container/list"
	"math"
	"sync"
	"time"
)

// lru is a map of at most max keys that forgets its least recently used key,
// so that limiters keyed by client-supplied values have bounded memory
// whatever an attacker sends. It is not safe for concurrent use.
type lru[V any] struct {
	max int
	ll  *list.List // front: most recently used; values are *lruEntry[V]
	m   map[string]*list.Element
}

type lruEntry[V any] struct {
	key string
	val V
}

func newLRU[V any](max int) *lru[V] {
	return &lru[V]{max: max, ll: list.New(), m: make(map[string]*list.Element)}
}

// get returns the value of key (creating a zero one) and marks it used.
func (c *lru[V]) get(key string) *V {
	if el, ok := c.m[key]; ok {
		c.ll.MoveToFront(el)
		return &el.Value.(*lruEntry[V]).val
	}
	e := &lruEntry[V]{key: key}
	c.m[key] = c.ll.PushFront(e)
	for c.ll.Len() > c.max {
		old := c.ll.Back()
		c.ll.Remove(old)
		delete(c.m, old.Value.(*lruEntry[V]).key)
	}
	return &e.val
}

// peek returns the value of key without creating it or marking it used.
func (c *lru[V]) peek(key string) (*V, bool) {
	el, ok := c.m[key]
	if !ok {
		return nil, false
	}
	return &el.Value.(*lruEntry[V]).val, true
}

func (c *lru[V]) remove(key string) {
	if el, ok := c.m[key]; ok {
		c.ll.Remove(el)
		delete(c.m, key)
	}
}

func (c *lru[V]) len() int { return c.ll.Len() }

// limiterKeys is the size of every limiter's table: beyond it the least
// recently seen client is forgotten.
const limiterKeys = 10000

// maxKeyPart bounds the user-supplied part of a limiter key (a user name);
// the form allows 64 KiB.
const maxKeyPart = 64

// truncateKey cuts s to at most maxKeyPart bytes.
func truncateKey(s string) string {
	if len(s) > maxKeyPart {
		return s[:maxKeyPart]
	}
	return s
}

// backoff slows guessing down per (address, user name) pair: after free
// failures each further failure doubles the wait before the pair may try
// again, up to max. Another address, or the same address with another name,
// is not affected, so nobody can lock the real administrator out; the
// per-address rate limit on anonymous requests bounds the total.
type backoff struct {
	free      int
	base, max time.Duration
	now       func() time.Time

	mu    sync.Mutex
	pairs *lru[backoffState]
}

type backoffState struct {
	failures int
	until    time.Time // no attempt before this
}

func newBackoff(free int, base, max time.Duration) *backoff {
	return &backoff{free: free, base: base, max: max, now: time.Now, pairs: newLRU[backoffState](limiterKeys)}
}

func backoffKey(ip, user string) string { return ip + "\x00" + truncateKey(user) }

// wait returns how long the pair must still wait (0: it may try now).
func (b *backoff) wait(ip, user string) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	st, ok := b.pairs.peek(backoffKey(ip, user))
	if !ok {
		return 0
	}
	return max(0, st.until.Sub(b.now()))
}

// fail records a wrong guess of the pair.
func (b *backoff) fail(ip, user string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.pairs.get(backoffKey(ip, user))
	st.failures++
	if n := st.failures - b.free; n > 0 {
		d := b.max
		if n <= 30 {
			d = min(b.max, time.Duration(float64(b.base)*math.Pow(2, float64(n-1))))
		}
		st.until = b.now().Add(d)
	}
}

// succeed forgets the pair.
func (b *backoff) succeed(ip, user string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pairs.remove(backoffKey(ip, user))
}

// rateLimit is a token bucket per key: burst requests at once, refilled at
// burst per period.
type rateLimit struct {
	burst  float64
	period time.Duration
	now    func() time.Time

	mu      sync.Mutex
	buckets *lru[bucket]
}

type bucket struct {
	tokens float64
	at     time.Time
	seen   bool
	denied int // refused since the last allowed request
}

func newRateLimit(burst int, period time.Duration) *rateLimit {
	return &rateLimit{burst: float64(burst), period: period, now: time.Now, buckets: newLRU[bucket](limiterKeys)}
}

// allow takes a token for key. When it allows, it also returns how many
// requests of key were refused since the last one it allowed.
func (l *rateLimit) allow(key string) (ok bool, deniedBefore int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.buckets.get(truncateKey(key))
	if !b.seen {
		b.tokens, b.at, b.seen = l.burst, now, true
	}
	b.tokens = min(l.burst, b.tokens+l.burst*float64(now.Sub(b.at))/float64(l.period))
	b.at = now
	if b.tokens < 1 {
		b.denied++
		return false, 0
	}
	b.tokens--
	deniedBefore, b.denied = b.denied, 0
	return true, deniedBefore
}

// attemptLimit allows a few failures per key in a sliding window (the
// embedded sign-in hand-off). Its memory is bounded by limiterKeys.
type attemptLimit struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu   sync.Mutex
	seen *lru[[]time.Time]
}

func newAttemptLimit(max int, window time.Duration) *attemptLimit {
	return &attemptLimit{max: max, window: window, now: time.Now, seen: newLRU[[]time.Time](limiterKeys)}
}

// blocked reports whether key has reached the limit of failures in the
// window, without recording anything; fail records one. Together they count
// failures only, for checks where success is the common case.
func (l *attemptLimit) blocked(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	ts, ok := l.seen.peek(truncateKey(key))
	if !ok {
		return false
	}
	now := l.now()
	n := 0
	for _, t := range *ts {
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
	ts := l.seen.get(truncateKey(key))
	kept := (*ts)[:0]
	for _, t := range *ts {
		if now.Sub(t) < l.window {
			kept = append(kept, t)
		}
	}
	*ts = append(kept, now)
}
