package jobs

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentdesk/agentdesk/emclient"
)

// cache is a short-TTL memo of EM answers of one kind, keyed by a typed value,
// with one load per key in flight: however many viewers ask for the same job
// at once, EM sees one call, and the answer is shared until it is older than
// the TTL.
//
// Invalidation is versioned. The cache counts invalidations (version); a load
// remembers the version it started under, and invalidating a key gives its slot
// the new version. A load stores its answer only if its key was not
// invalidated after the load started, so a load that began before an action
// cannot put back the state from before the action once the action has
// invalidated the key. Callers that arrive after the invalidation start a
// load of their own instead of joining the old one.
type cache[K comparable, V any] struct {
	now   func() time.Time
	ttl   time.Duration
	stats *cacheStats

	mu      sync.Mutex
	version uint64 // bumped by every invalidation
	slots   map[K]*slot[V]
}

type slot[V any] struct {
	version uint64 // the cache's version when this key was last invalidated (or created)
	has     bool
	value   V
	at      time.Time
	flight  *flight[V] // the load new callers join; nil when none
}

type flight[V any] struct {
	version uint64 // the cache's version when the load started
	done    chan struct{}
	value   V
	at      time.Time
	err     error
}

// cacheStats counts hits and misses over all of a service's caches.
type cacheStats struct{ hits, misses atomic.Int64 }

func newCache[K comparable, V any](now func() time.Time, ttl time.Duration, stats *cacheStats) *cache[K, V] {
	if stats == nil {
		stats = new(cacheStats)
	}
	return &cache[K, V]{now: now, ttl: ttl, stats: stats, slots: make(map[K]*slot[V])}
}

// slotLocked returns key's slot, creating it at the current version.
func (c *cache[K, V]) slotLocked(key K) *slot[V] {
	s, ok := c.slots[key]
	if !ok {
		s = &slot[V]{version: c.version}
		c.slots[key] = s
	}
	return s
}

// get returns the cached value for key when fresh, otherwise runs load once for
// all concurrent callers. The load runs detached from any one caller's
// cancellation so that a viewer closing the tab does not fail the others, but
// it keeps the first caller's deadline (the request deadline): a slow EM must
// not keep loads running long after everyone waiting for them has given up.
func (c *cache[K, V]) get(ctx context.Context, key K, load func(context.Context) (V, error)) (V, time.Time, error) {
	c.mu.Lock()
	s := c.slotLocked(key)
	if s.has && c.now().Sub(s.at) < c.ttl {
		v, at := s.value, s.at
		c.mu.Unlock()
		c.stats.hits.Add(1)
		return v, at, nil
	}
	c.stats.misses.Add(1)
	f := s.flight
	if f == nil {
		f = &flight[V]{version: c.version, done: make(chan struct{})}
		s.flight = f
		lctx := context.WithoutCancel(ctx)
		var cancel context.CancelFunc = func() {}
		if d, ok := ctx.Deadline(); ok {
			lctx, cancel = context.WithDeadline(lctx, d)
		}
		go func() {
			defer cancel()
			v, err := load(lctx)
			c.finish(key, f, v, err)
		}()
	}
	c.mu.Unlock()
	select {
	case <-ctx.Done():
		var zero V
		return zero, time.Time{}, ctx.Err()
	case <-f.done:
		return f.value, f.at, f.err
	}
}

// peek returns key's value while it is fresh, and never loads it: a load
// that fails because nothing is cached would fail every caller waiting on
// it.
func (c *cache[K, V]) peek(key K) (V, time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.slots[key]
	if !ok || !s.has || c.now().Sub(s.at) >= c.ttl {
		var zero V
		return zero, time.Time{}, false
	}
	return s.value, s.at, true
}

// finish hands a load's answer to its waiters and stores it unless the key
// was invalidated after the load started.
func (c *cache[K, V]) finish(key K, f *flight[V], v V, err error) {
	c.mu.Lock()
	f.value, f.at, f.err = v, c.now(), err
	if s, ok := c.slots[key]; ok {
		if s.flight == f {
			s.flight = nil
		}
		if err == nil && s.version <= f.version {
			s.has, s.value, s.at = true, v, f.at
		}
	}
	c.mu.Unlock()
	close(f.done)
}

// current is the version a side load starts under, for put.
func (c *cache[K, V]) current() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.version
}

// put stores a value loaded as a side effect of another load (the first page
// of sessions comes with the job), so the next reader does not ask EM again;
// since is current() from before that load began: a value of a key
// invalidated after that is dropped.
func (c *cache[K, V]) put(key K, v V, since uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.slotLocked(key)
	if s.version <= since {
		s.has, s.value, s.at = true, v, c.now()
	}
}

// invalidate drops keys, so the portal's own actions are visible at once
// instead of after the TTL, and no load in flight may store them again.
func (c *cache[K, V]) invalidate(keys ...K) {
	c.invalidateIf(func(k K) bool {
		for _, x := range keys {
			if k == x {
				return true
			}
		}
		return false
	})
}

// invalidateIf drops every key match selects. The version is bumped even when
// nothing matches: a slot created afterwards (a side load's put) starts at the
// new version, above that of any load begun before.
func (c *cache[K, V]) invalidateIf(match func(K) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.version++
	for k, s := range c.slots {
		if !match(k) {
			continue
		}
		var zero V
		s.version, s.has, s.value, s.flight = c.version, false, zero, nil
	}
}

// sweep removes expired slots that no load is filling; called periodically so
// that paging through many jobs does not grow memory without bound.
func (c *cache[K, V]) sweep() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for k, s := range c.slots {
		if s.flight == nil && (!s.has || now.Sub(s.at) >= c.ttl) {
			delete(c.slots, k)
		}
	}
}

// sessionKey names one page of a job's sessions.
type sessionKey struct {
	job        string // lower-case GUID
	page, size int
}

// caches are the service's caches, one per kind of EM answer.
type caches struct {
	stats    *cacheStats
	jobs     *cache[string, *Job] // by lower-case job id
	sessions *cache[sessionKey, *SessionPage]
	children *cache[string, []*Session]                // by parent session id
	session  *cache[string, *Session]                  // by lower-case session id
	servers  *cache[struct{}, []emclient.BackupServer] // one list
	runs     *cache[struct{}, map[string]RunState]     // one read of the shared run store
	list     *snapshots
}

func newCaches(opts Options, list *snapshots) *caches {
	st := new(cacheStats)
	list.stats = st
	return &caches{
		stats:    st,
		jobs:     newCache[string, *Job](opts.Now, opts.JobTTL, st),
		sessions: newCache[sessionKey, *SessionPage](opts.Now, opts.JobTTL, st),
		children: newCache[string, []*Session](opts.Now, opts.JobTTL, st),
		session:  newCache[string, *Session](opts.Now, opts.JobTTL, st),
		servers:  newCache[struct{}, []emclient.BackupServer](opts.Now, opts.ServerTTL, st),
		runs:     newCache[struct{}, map[string]RunState](opts.Now, opts.PollEvery, st),
		list:     list,
	}
}

// jobChanged forgets what an action on the job made stale: the job, its
// sessions and the list snapshot (which keeps serving, marked refreshing).
func (c *caches) jobChanged(id string) {
	id = strings.ToLower(id)
	c.jobs.invalidate(id)
	c.sessions.invalidateIf(func(k sessionKey) bool { return k.job == id })
	c.list.invalidate()
}

func (c *caches) sweep() {
	c.jobs.sweep()
	c.sessions.sweep()
	c.children.sweep()
	c.session.sweep()
	c.servers.sweep()
	c.runs.sweep()
}

func (c *caches) counts() (hits, misses int64) {
	return c.stats.hits.Load(), c.stats.misses.Load()
}
