package jobs

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestCacheOneLoadForConcurrentCallers(t *testing.T) {
	now := time.Unix(1000, 0)
	st := new(cacheStats)
	c := newCache[string, string](func() time.Time { return now }, time.Minute, st)
	var loads atomic.Int32
	release := make(chan struct{})
	load := func(context.Context) (string, error) {
		loads.Add(1)
		<-release
		return "v", nil
	}
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, _, err := c.get(context.Background(), "k", load)
			if err != nil || v != "v" {
				t.Errorf("get = %v, %v", v, err)
			}
		}()
	}
	// Let every caller pile up behind the first load: all 50 have missed the
	// cache while the load is held.
	for st.misses.Load() != 50 {
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	if n := loads.Load(); n != 1 {
		t.Fatalf("loads = %d, want 1", n)
	}
	// Warm: no load at all.
	if _, _, err := c.get(context.Background(), "k", load); err != nil || loads.Load() != 1 {
		t.Fatalf("warm get loaded again (loads=%d, err=%v)", loads.Load(), err)
	}
	// Expired: loads again.
	now = now.Add(2 * time.Minute)
	if _, _, err := c.get(context.Background(), "k", load); err != nil || loads.Load() != 2 {
		t.Fatalf("expired get: loads=%d, err=%v", loads.Load(), err)
	}
}

func TestCacheCancelledCallerDoesNotFailOthers(t *testing.T) {
	c := newCache[string, string](time.Now, time.Minute, nil)
	release, started := make(chan struct{}), make(chan struct{}, 1)
	load := func(ctx context.Context) (string, error) {
		started <- struct{}{}
		<-release
		return "v", ctx.Err()
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, _, err := c.get(ctx, "k", load)
		errc <- err
	}()
	<-started // the first caller's load is running (and held)
	done := make(chan error, 1)
	go func() {
		// Joins the held load, or finds its result in the cache: either way
		// it must not see the first caller's cancellation.
		_, _, err := c.get(context.Background(), "k", load)
		done <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller got %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("the other caller failed with %v: the load must not inherit one caller's cancellation", err)
	}
}

func TestCacheInvalidate(t *testing.T) {
	c := newCache[string, int](time.Now, time.Minute, nil)
	n := 0
	load := func(context.Context) (int, error) { n++; return n, nil }
	c.get(context.Background(), "a", load)
	c.get(context.Background(), "b", load)
	c.invalidate("a")
	v, _, _ := c.get(context.Background(), "a", load)
	w, _, _ := c.get(context.Background(), "b", load)
	if v != 3 || w != 2 {
		t.Fatalf("after invalidate a = %v (want reloaded 3), b = %v (want cached 2)", v, w)
	}
}

// TestCacheLoadBeforeInvalidationIsNotStored is the race an action meets: a
// viewer's load reads the job before the action, the action invalidates the
// job, then the load returns. Its (stale) answer must not be stored, and a
// reader after the invalidation must not join it either.
func TestCacheLoadBeforeInvalidationIsNotStored(t *testing.T) {
	c := newCache[string, string](time.Now, time.Minute, nil)
	started, release := make(chan struct{}), make(chan struct{})
	stale := func(context.Context) (string, error) {
		close(started)
		<-release
		return "before the action", nil
	}
	first := make(chan string, 1)
	go func() {
		v, _, err := c.get(context.Background(), "job", stale)
		if err != nil {
			t.Error(err)
		}
		first <- v
	}()
	<-started // the load has read EM's state from before the action
	c.invalidate("job")

	// A reader after the invalidation gets a load of its own.
	fresh := func(context.Context) (string, error) { return "after the action", nil }
	if v, _, err := c.get(context.Background(), "job", fresh); err != nil || v != "after the action" {
		t.Fatalf("reader after the invalidation got %q, %v", v, err)
	}
	close(release)
	// The caller that asked before the invalidation gets the answer it waited for ...
	if v := <-first; v != "before the action" {
		t.Fatalf("first caller got %q", v)
	}
	// ... but it was not stored over the fresh one.
	never := func(context.Context) (string, error) {
		t.Error("loaded again: the fresh value was not cached")
		return "", nil
	}
	if v, _, _ := c.get(context.Background(), "job", never); v != "after the action" {
		t.Fatalf("after the stale load returned, the cache serves %q", v)
	}

	// The same with nobody reading in between: the stale answer is not
	// stored, so the next reader loads.
	started, release = make(chan struct{}), make(chan struct{})
	c.invalidate("job")
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.get(context.Background(), "job", stale)
	}()
	<-started
	c.invalidate("job")
	close(release)
	<-done
	if v, _, _ := c.get(context.Background(), "job", fresh); v != "after the action" {
		t.Fatalf("served %q: a load begun before the invalidation was stored", v)
	}
}

// TestCachePutAfterInvalidation: a value loaded on the side (a job's first
// session page) is dropped when its key was invalidated after the load began,
// even when the key had no slot yet.
func TestCachePutAfterInvalidation(t *testing.T) {
	c := newCache[sessionKey, int](time.Now, time.Minute, nil)
	k := sessionKey{job: "a", page: 1, size: 10}
	since := c.current()
	c.invalidateIf(func(x sessionKey) bool { return x.job == "a" })
	c.put(k, 1, since)
	if v, _, _ := c.get(context.Background(), k, func(context.Context) (int, error) { return 2, nil }); v != 2 {
		t.Fatalf("got %d: a side load from before the invalidation was stored", v)
	}
	since = c.current()
	c.put(sessionKey{job: "b"}, 3, since)
	if v, _, _ := c.get(context.Background(), sessionKey{job: "b"}, func(context.Context) (int, error) { return 4, nil }); v != 3 {
		t.Fatalf("got %d: a side load with no invalidation after it was not stored", v)
	}
}

// TestCachesJobChanged: after an action the job and its session pages are
// read again, another job's are not, and the list is marked stale.
func TestCachesJobChanged(t *testing.T) {
	opts := Options{Now: time.Now, JobTTL: time.Minute, ServerTTL: time.Minute, PollEvery: time.Minute}
	cs := newCaches(opts, &snapshots{})
	ctx := context.Background()
	n := 0
	loadJob := func(context.Context) (*Job, error) { n++; return &Job{Name: "j"}, nil }
	loadPage := func(context.Context) (*SessionPage, error) { n++; return &SessionPage{}, nil }
	cs.jobs.get(ctx, "a", loadJob)
	cs.sessions.get(ctx, sessionKey{"a", 1, 10}, loadPage)
	cs.sessions.get(ctx, sessionKey{"b", 1, 10}, loadPage)
	cs.jobChanged("A")
	cs.jobs.get(ctx, "a", loadJob)
	cs.sessions.get(ctx, sessionKey{"a", 1, 10}, loadPage)
	cs.sessions.get(ctx, sessionKey{"b", 1, 10}, loadPage)
	if n != 5 || cs.list.version != 1 {
		t.Fatalf("loads = %d (want 5: a's job and page again, b's cached), list version %d", n, cs.list.version)
	}
}

// TestCachePeek: peek gives a fresh value without loading, and nothing once
// the value is stale, invalidated or was never there.
func TestCachePeek(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	c := newCache[string, int](func() time.Time { return now }, time.Minute, nil)
	if _, _, ok := c.peek("a"); ok {
		t.Fatal("peek found a value never loaded")
	}
	c.get(context.Background(), "a", func(context.Context) (int, error) { return 7, nil })
	if v, at, ok := c.peek("a"); !ok || v != 7 || !at.Equal(now) {
		t.Fatalf("fresh value: %d %v %v", v, at, ok)
	}
	now = now.Add(time.Minute)
	if _, _, ok := c.peek("a"); ok {
		t.Fatal("peek gave a value past its TTL")
	}
	now = now.Add(-time.Second)
	c.invalidate("a")
	if _, _, ok := c.peek("a"); ok {
		t.Fatal("peek gave an invalidated value")
	}
}
