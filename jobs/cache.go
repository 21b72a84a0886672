package jobs

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// cache is a short-TTL memo of EM answers with one flight per key: however many
// viewers ask for the same job at once, EM sees one call, and the answer is
// shared until it is older than the TTL.
type cache struct {
	now   func() time.Time
	group singleflight.Group

	mu      sync.Mutex
	entries map[string]cacheEntry
	hits    int64
	misses  int64
}

type cacheEntry struct {
	value any
	at    time.Time
	ttl   time.Duration
}

func newCache(now func() time.Time) *cache {
	return &cache{now: now, entries: make(map[string]cacheEntry)}
}

// get returns the cached value for key when fresh, otherwise runs load once for
// all concurrent callers. The load runs detached from any one caller's
// cancellation so that a viewer closing the tab does not fail the others, but
// it keeps the first caller's deadline (the request deadline): a slow EM must
// not keep loads running long after everyone waiting for them has given up.
func (c *cache) get(ctx context.Context, key string, ttl time.Duration, load func(context.Context) (any, error)) (any, time.Time, error) {
	c.mu.Lock()
	if e, ok := c.entries[key]; ok && c.now().Sub(e.at) < e.ttl {
		c.hits++
		c.mu.Unlock()
		return e.value, e.at, nil
	}
	c.misses++
	c.mu.Unlock()

	ch := c.group.DoChan(key, func() (any, error) {
		// A caller that missed just before another flight for key stored its
		// answer starts a flight of its own: it takes that answer instead of
		// loading again.
		c.mu.Lock()
		if e, ok := c.entries[key]; ok && c.now().Sub(e.at) < e.ttl {
			c.mu.Unlock()
			return e, nil
		}
		c.mu.Unlock()
		lctx := context.WithoutCancel(ctx)
		if d, ok := ctx.Deadline(); ok {
			var cancel context.CancelFunc
			lctx, cancel = context.WithDeadline(lctx, d)
			defer cancel()
		}
		v, err := load(lctx)
		if err != nil {
			return nil, err
		}
		e := cacheEntry{value: v, at: c.now(), ttl: ttl}
		c.mu.Lock()
		c.entries[key] = e
		c.mu.Unlock()
		return e, nil
	})
	select {
	case <-ctx.Done():
		return nil, time.Time{}, ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return nil, time.Time{}, r.Err
		}
		e := r.Val.(cacheEntry)
		return e.value, e.at, nil
	}
}

// invalidate drops every entry whose key starts with prefix, so the portal's own
// actions are visible at once instead of after the TTL.
func (c *cache) invalidate(prefixes ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.entries {
		for _, p := range prefixes {
			if len(k) >= len(p) && k[:len(p)] == p {
				delete(c.entries, k)
				break
			}
		}
	}
}

// sweep removes expired entries; called periodically so that paging through many
// jobs does not grow memory without bound.
func (c *cache) sweep() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for k, e := range c.entries {
		if now.Sub(e.at) >= e.ttl {
			delete(c.entries, k)
		}
	}
}

func (c *cache) stats() (hits, misses int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses
}

// put stores a value loaded as a side effect of another load (the first page of
// sessions comes with the job), so the next reader does not ask EM again.
func (c *cache) put(key string, v any, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[key] = cacheEntry{value: v, at: c.now(), ttl: ttl}
}
