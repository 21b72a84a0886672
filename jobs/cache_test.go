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
	c := newCache(func() time.Time { return now })
	var loads atomic.Int32
	release := make(chan struct{})
	load := func(context.Context) (any, error) {
		loads.Add(1)
		<-release
		return "v", nil
	}
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, _, err := c.get(context.Background(), "k", time.Minute, load)
			if err != nil || v != "v" {
				t.Errorf("get = %v, %v", v, err)
			}
		}()
	}
	// Let every caller pile up behind the first load: all 50 have missed the
	// cache while the load is held. One that reaches the flight only after the
	// load finished finds its answer there and does not load again.
	for {
		if _, misses := c.stats(); misses == 50 {
			break
		}
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	if n := loads.Load(); n != 1 {
		t.Fatalf("loads = %d, want 1", n)
	}
	// Warm: no load at all.
	if _, _, err := c.get(context.Background(), "k", time.Minute, load); err != nil || loads.Load() != 1 {
		t.Fatalf("warm get loaded again (loads=%d, err=%v)", loads.Load(), err)
	}
	// Expired: loads again.
	now = now.Add(2 * time.Minute)
	go func() { release = make(chan struct{}); close(release) }()
	c2 := newCache(func() time.Time { return now })
	if _, _, err := c2.get(context.Background(), "k", time.Minute, func(context.Context) (any, error) { return 1, nil }); err != nil {
		t.Fatal(err)
	}
}

func TestCacheCancelledCallerDoesNotFailOthers(t *testing.T) {
	c := newCache(time.Now)
	release, started := make(chan struct{}), make(chan struct{}, 1)
	load := func(ctx context.Context) (any, error) {
		started <- struct{}{}
		<-release
		return "v", ctx.Err()
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, _, err := c.get(ctx, "k", time.Minute, load)
		errc <- err
	}()
	<-started // the first caller's load is running (and held)
	done := make(chan error, 1)
	go func() {
		// Joins the held load, or finds its result in the cache: either way
		// it must not see the first caller's cancellation.
		_, _, err := c.get(context.Background(), "k", time.Minute, load)
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
	c := newCache(time.Now)
	n := 0
	load := func(context.Context) (any, error) { n++; return n, nil }
	c.get(context.Background(), "job:a", time.Minute, load)
	c.get(context.Background(), "job:b", time.Minute, load)
	c.invalidate("job:a")
	v, _, _ := c.get(context.Background(), "job:a", time.Minute, load)
	w, _, _ := c.get(context.Background(), "job:b", time.Minute, load)
	if v != 3 || w != 2 {
		t.Fatalf("after invalidate job:a = %v (want reloaded 3), job:b = %v (want cached 2)", v, w)
	}
}
