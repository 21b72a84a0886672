package auth

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"
)

// MaxSessionStaleness bounds how long a replica goes on accepting a session
// that was signed out, revoked by an administrator or ended by a back-channel
// logout on another replica sharing the session store: it answers from store
// reads at most this old. On the replica where the session was ended, and for
// every change made through a replica, the change holds from the next
// request on.
const MaxSessionStaleness = time.Second

// maxCachedReads bounds the reads remembered (a session and its sign-in
// record are one each): a few MB with ID tokens in the sessions.
const maxCachedReads = 4096

// storeCache is the session store as the session manager sees it: Find is
// answered from a found answer of the store younger than MaxSessionStaleness;
// Commit and Delete go to the store, exactly as without it, and then forget
// the answer, so a change through this replica is seen at once here.
// Without it every signed-in request read the store twice (the session and
// its sign-in record).
//
// Only found answers are kept: a session or record that appears in the store
// is seen at once. Sessions reads its single-use records (sign-in states,
// hand-offs, logout token ids) and indexes from the store itself (fresh).
type storeCache struct {
	store scs.Store
	now   func() time.Time

	mu sync.Mutex
	// epoch counts writes: a Find whose store read overlapped a write may
	// hold the data from before it and is not kept.
	epoch uint64
	// Two generations bound the memory without per-entry bookkeeping: new
	// answers go to cur; when cur is full or older than the bound it
	// becomes old and the previous old is dropped.
	cur, old  map[string]cachedRead
	curSince  time.Time
	maxPerGen int
}

type cachedRead struct {
	b  []byte
	at time.Time // when the store read began
}

func newStoreCache(store scs.Store, now func() time.Time) *storeCache {
	return &storeCache{store: store, now: now, cur: map[string]cachedRead{}, maxPerGen: maxCachedReads / 2}
}

// FindCtx answers from a read younger than MaxSessionStaleness, or reads the
// store. The data returned may be shared with other callers: do not modify
// it (scs's decoding copies it).
func (c *storeCache) FindCtx(ctx context.Context, key string) ([]byte, bool, error) {
	now := c.now()
	c.mu.Lock()
	if r, ok := c.lookup(key, now); ok {
		c.mu.Unlock()
		return r.b, true, nil
	}
	epoch := c.epoch
	c.mu.Unlock()

	b, found, err := storeFind(ctx, c.store, key)
	if err != nil || !found {
		return b, found, err
	}
	c.mu.Lock()
	if c.epoch == epoch {
		c.keep(key, cachedRead{b: b, at: now})
	}
	c.mu.Unlock()
	return b, true, nil
}

func (c *storeCache) lookup(key string, now time.Time) (cachedRead, bool) {
	r, ok := c.cur[key]
	if !ok {
		r, ok = c.old[key]
	}
	return fresh(r, ok, now)
}

// lookupBytes is lookup of string(key), without making the string.
func (c *storeCache) lookupBytes(key []byte, now time.Time) (cachedRead, bool) {
	r, ok := c.cur[string(key)]
	if !ok {
		r, ok = c.old[string(key)]
	}
	return fresh(r, ok, now)
}

// fresh is r, found, if it is younger than MaxSessionStaleness at now.
func fresh(r cachedRead, found bool, now time.Time) (cachedRead, bool) {
	if !found {
		return cachedRead{}, false
	}
	if age := now.Sub(r.at); age < 0 || age >= MaxSessionStaleness {
		return cachedRead{}, false
	}
	return r, true
}

// findPrefixed is FindCtx(ctx, prefix+id), which puts the key together
// only when it is not answered from the cache (every request asks for its
// sign-in record).
func (c *storeCache) findPrefixed(ctx context.Context, prefix, id string) ([]byte, bool, error) {
	var buf [96]byte
	if len(prefix)+len(id) <= len(buf) {
		key := append(append(buf[:0], prefix...), id...)
		now := c.now()
		c.mu.Lock()
		r, ok := c.lookupBytes(key, now)
		c.mu.Unlock()
		if ok {
			return r.b, true, nil
		}
	}
	return c.FindCtx(ctx, prefix+id)
}

func (c *storeCache) keep(key string, r cachedRead) {
	// A read that began before the generation did (its store read was
	// slower than another's) joins it: its age is still checked on lookup.
	if len(c.cur) >= c.maxPerGen || r.at.Sub(c.curSince) >= MaxSessionStaleness {
		c.old, c.cur, c.curSince = c.cur, make(map[string]cachedRead, len(c.cur)), r.at
	}
	c.cur[key] = r
}

// forget drops key and makes Finds in flight not keep their answers.
func (c *storeCache) forget(key string) {
	c.mu.Lock()
	c.epoch++
	delete(c.cur, key)
	delete(c.old, key)
	c.mu.Unlock()
}

// CommitCtx writes to the store, then forgets what was read of key.
func (c *storeCache) CommitCtx(ctx context.Context, key string, b []byte, expiry time.Time) error {
	defer c.forget(key)
	if cs, ok := c.store.(scs.CtxStore); ok {
		return cs.CommitCtx(ctx, key, b, expiry)
	}
	return c.store.Commit(key, b, expiry)
}

// DeleteCtx deletes from the store, then forgets what was read of key.
func (c *storeCache) DeleteCtx(ctx context.Context, key string) error {
	defer c.forget(key)
	if cs, ok := c.store.(scs.CtxStore); ok {
		return cs.DeleteCtx(ctx, key)
	}
	return c.store.Delete(key)
}

func (c *storeCache) Find(key string) ([]byte, bool, error) {
	return c.FindCtx(context.Background(), key)
}

func (c *storeCache) Commit(key string, b []byte, expiry time.Time) error {
	return c.CommitCtx(context.Background(), key, b, expiry)
}

func (c *storeCache) Delete(key string) error { return c.DeleteCtx(context.Background(), key) }

// AllCtx lists the store's sessions (scs's Iterate), never from the cache.
func (c *storeCache) AllCtx(ctx context.Context) (map[string][]byte, error) {
	switch s := c.store.(type) {
	case scs.IterableCtxStore:
		return s.AllCtx(ctx)
	case scs.IterableStore:
		return s.All()
	}
	return nil, errors.New("auth: the session store cannot list its sessions")
}

func (c *storeCache) All() (map[string][]byte, error) { return c.AllCtx(context.Background()) }

// storeFind reads key from store itself.
func storeFind(ctx context.Context, store scs.Store, key string) ([]byte, bool, error) {
	if cs, ok := store.(scs.CtxStore); ok {
		return cs.FindCtx(ctx, key)
	}
	return store.Find(key)
}
