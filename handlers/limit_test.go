package handlers

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestBreakGlassBackoff: wrong guesses slow down only their own (address,
// user) pair, with growing delays; the right password from another address
// still works at once.
func TestBreakGlassBackoff(t *testing.T) {
	now := time.Unix(0, 0)
	b := newBackoff(3, time.Second, 15*time.Minute)
	b.now = func() time.Time { return now }
	for i := range 3 {
		if w := b.wait("10.0.0.1", "root"); w != 0 {
			t.Fatalf("free attempt %d must wait %s", i+1, w)
		}
		b.fail("10.0.0.1", "root")
	}
	var last time.Duration
	for i := range 6 {
		b.fail("10.0.0.1", "root")
		w := b.wait("10.0.0.1", "root")
		if w <= last {
			t.Fatalf("failure %d: wait %s does not grow (was %s)", i+4, w, last)
		}
		last = w
	}
	for range 40 {
		b.fail("10.0.0.1", "root")
	}
	if w := b.wait("10.0.0.1", "root"); w != 15*time.Minute {
		t.Errorf("wait after 49 failures %s, want the 15 minute cap", w)
	}
	if w := b.wait("10.0.0.2", "root"); w != 0 {
		t.Errorf("another address must not wait for the attacker's guesses: %s", w)
	}
	if w := b.wait("10.0.0.1", "admin"); w != 0 {
		t.Errorf("another user name from the address waits %s", w)
	}
	now = now.Add(15 * time.Minute)
	if w := b.wait("10.0.0.1", "root"); w != 0 {
		t.Errorf("after the wait: %s", w)
	}
	b.succeed("10.0.0.1", "root")
	if _, ok := b.pairs.peek(backoffKey("10.0.0.1", "root")); ok {
		t.Error("success does not forget the pair")
	}
}

// TestLimiterMemoryBounded: 19,000 throttled attempts with 60 KB user names
// (the attack sweep's figure: 1.4 GB RSS) keep a fixed number of short keys.
func TestLimiterMemoryBounded(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b := newBackoff(0, time.Second, time.Minute)
	pad := strings.Repeat("x", 60<<10)
	for i := range 19000 {
		name := fmt.Sprintf("%d%s", i, pad)
		b.fail(fmt.Sprintf("10.0.%d.%d", i/256%256, i%256), name)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if n := b.pairs.len(); n > limiterKeys {
		t.Errorf("limiter holds %d pairs, want at most %d", n, limiterKeys)
	}
	for k := range b.pairs.m {
		if len(k) > 16+maxKeyPart {
			t.Fatalf("key of %d bytes kept", len(k))
		}
	}
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap grew %.1f MB for %d pairs", float64(grew)/1e6, b.pairs.len())
	if grew > 32<<20 {
		t.Errorf("heap grew %d MB", grew>>20)
	}
	runtime.KeepAlive(b)
}

func TestRateLimit(t *testing.T) {
	now := time.Unix(0, 0)
	l := newRateLimit(3, time.Minute)
	l.now = func() time.Time { return now }
	for i := range 3 {
		if ok, _ := l.allow("10.0.0.1"); !ok {
			t.Fatalf("request %d refused", i+1)
		}
	}
	for range 5 {
		if ok, _ := l.allow("10.0.0.1"); ok {
			t.Fatal("request beyond the burst allowed")
		}
	}
	if ok, _ := l.allow("10.0.0.2"); !ok {
		t.Fatal("another address refused")
	}
	now = now.Add(20 * time.Second) // one token back
	ok, skipped := l.allow("10.0.0.1")
	if !ok || skipped != 5 {
		t.Fatalf("after refill: ok=%t skipped=%d, want true 5", ok, skipped)
	}
}

func TestAttemptLimit(t *testing.T) {
	now := time.Unix(0, 0)
	l := newAttemptLimit(3, time.Minute)
	l.now = func() time.Time { return now }
	for range 3 {
		if l.blocked("10.0.0.1") {
			t.Fatal("blocked before the limit")
		}
		l.fail("10.0.0.1")
	}
	if !l.blocked("10.0.0.1") {
		t.Fatal("not blocked at the limit")
	}
	now = now.Add(2 * time.Minute)
	if l.blocked("10.0.0.1") {
		t.Fatal("blocked after the window")
	}
}
