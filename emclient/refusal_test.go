package emclient

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLogonBackoff: while EM refuses the service account, at most one logon
// goes out per backoff step, whatever the number of callers; the step grows
// from 5 s to the 5 min ceiling (jittered ±25 %); one accepted logon clears it.
func TestLogonBackoff(t *testing.T) {
	f := newFakeEM(t)
	var refuse atomic.Bool
	refuse.Store(true)
	var logonPosts atomic.Int64
	f.hook = func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasPrefix(r.URL.Path, "/api/sessionMngr") {
			return false
		}
		logonPosts.Add(1)
		if refuse.Load() {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`<Error Message="Invalid credentials." StatusCode="401"/>`))
			return true
		}
		return false
	}
	var mu sync.Mutex
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	c := f.client(t, func(cfg *Config) { cfg.Now = clock })
	ctx := context.Background()

	// The first call tries once and learns that the account is refused.
	_, err := c.AgentJob(ctx, fakeJobID)
	if !errors.Is(err, ErrAccountRefused) || !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("first call: %v, want ErrAccountRefused wrapping ErrUnauthorized", err)
	}
	// 100 concurrent calls within the step send nothing.
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.AgentJob(ctx, fakeJobID); !errors.Is(err, ErrAccountRefused) {
				t.Errorf("call during backoff: %v", err)
			}
		}()
	}
	wg.Wait()
	if n := logonPosts.Load(); n != 1 {
		t.Fatalf("logon POSTs after 101 calls: %d, want 1", n)
	}
	if f.count("GET /api/agents/jobs/"+fakeJobID) != 0 {
		t.Error("a call went to EM without a logon")
	}
	st := c.Status()
	if !st.AccountRefused || st.LogonRefusals != 1 || !strings.Contains(st.RefusedError, "401") {
		t.Errorf("status %+v, want the account refused once with the 401", st)
	}

	// Each step: nothing before its lower bound, one logon after its upper bound.
	step := 5 * time.Second
	for i := range 8 {
		_, next, refused := c.AccountRefused()
		if !refused {
			t.Fatal("not refused")
		}
		wait := next.Sub(clock())
		if lo, hi := step*3/4, step*5/4; wait < lo || wait > hi {
			t.Errorf("step %d: next logon in %v, want within [%v, %v]", i, wait, lo, hi)
		}
		advance(wait - time.Millisecond)
		_, _ = c.AgentJob(ctx, fakeJobID)
		if n := logonPosts.Load(); n != int64(i+1) {
			t.Fatalf("step %d: a logon before the step ended (%d POSTs)", i, n)
		}
		advance(time.Millisecond)
		_, _ = c.AgentJob(ctx, fakeJobID)
		_, _ = c.AgentJob(ctx, fakeJobID)
		if n := logonPosts.Load(); n != int64(i+2) {
			t.Fatalf("step %d: %d logon POSTs after the step, want %d", i, n, i+2)
		}
		step = min(2*step, 5*time.Minute)
	}

	// EM accepts the account again: one logon at the next step clears the state.
	refuse.Store(false)
	_, next, _ := c.AccountRefused()
	advance(next.Sub(clock()))
	if _, err := c.AgentJob(ctx, fakeJobID); err != nil {
		t.Fatalf("after the account was fixed: %v", err)
	}
	if _, _, refused := c.AccountRefused(); refused {
		t.Error("still refused after an accepted logon")
	}
	// A later refusal starts again at the first step.
	refuse.Store(true)
	f.expire()
	_, _ = c.AgentJob(ctx, fakeJobID)
	_, next, refused := c.AccountRefused()
	if wait := next.Sub(clock()); !refused || wait > 5*time.Second*5/4 {
		t.Errorf("after a new refusal: refused %t, next logon in %v, want the first step again", refused, wait)
	}
}
