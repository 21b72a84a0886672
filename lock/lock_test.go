package lock

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/agentdesk/agentdesk/jobs"
	"github.com/agentdesk/agentdesk/store"
	"github.com/agentdesk/agentdesk/store/redistest"
	"github.com/agentdesk/agentdesk/store/storetest"
)

// Both lockers are what jobs.Service takes.
var (
	_ jobs.Locker = (*Redis)(nil)
	_ jobs.Locker = (*Postgres)(nil)
)

func randomID() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// newRedisLocker connects to AGENTDESK_TEST_REDIS with a key prefix of its own,
// whose keys are removed afterwards.
func newRedisLocker(t *testing.T) (*Redis, *redis.Client, string) {
	t.Helper()
	client, prefix := redistest.NewClient(t)
	return NewRedis(client, prefix), client, prefix
}

// newPostgresLocker migrates job_locks in a database of its own on
// AGENTDESK_TEST_POSTGRES; it is dropped afterwards.
func newPostgresLocker(t *testing.T) (*Postgres, *store.DB, string) {
	t.Helper()
	db := storetest.Open(t, store.Postgres)
	prefix := "agentdesk-test:" + randomID() + ":"
	return newPostgres(t, db, prefix), db, prefix
}

func newPostgres(t *testing.T, db *store.DB, prefix string) *Postgres {
	t.Helper()
	l, err := NewPostgres(context.Background(), db, prefix)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

type lockerCase struct {
	name string
	new  func(t *testing.T) jobs.Locker
}

func lockers() []lockerCase {
	return []lockerCase{
		{"redis", func(t *testing.T) jobs.Locker { l, _, _ := newRedisLocker(t); return l }},
		{"postgres", func(t *testing.T) jobs.Locker { l, _, _ := newPostgresLocker(t); return l }},
	}
}

// TestMutualExclusion: 50 goroutines race for one key; exactly one gets it and
// every other one is told who.
func TestMutualExclusion(t *testing.T) {
	for _, tc := range lockers() {
		t.Run(tc.name, func(t *testing.T) {
			l := tc.new(t)
			ctx := context.Background()
			const n = 50
			type result struct {
				holder, current string
				ok              bool
				err             error
			}
			results := make([]result, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					<-start
					h := fmt.Sprintf("replica-%d", i)
					ok, cur, err := l.TryLock(ctx, "job-action:race", h, time.Minute)
					results[i] = result{holder: h, current: cur, ok: ok, err: err}
				})
			}
			close(start)
			wg.Wait()

			winners := 0
			winner := ""
			for _, r := range results {
				if r.err != nil {
					t.Fatalf("%s: %v", r.holder, r.err)
				}
				if r.ok {
					winners++
					winner = r.holder
				}
			}
			t.Logf("%d of %d goroutines got the lock", winners, n)
			if winners != 1 {
				t.Fatalf("%d goroutines got the lock, want exactly 1", winners)
			}
			for _, r := range results {
				if !r.ok && r.current != winner {
					t.Errorf("%s was told the holder is %q, want %q", r.holder, r.current, winner)
				}
			}
		})
	}
}

// TestHolderAndUnlock: a second taker learns the holder; a non-holder's Unlock
// leaves the lock in place; the holder's Unlock frees it.
func TestHolderAndUnlock(t *testing.T) {
	for _, tc := range lockers() {
		t.Run(tc.name, func(t *testing.T) {
			l := tc.new(t)
			ctx := context.Background()
			const key = "job-action:0d8f3c2e-0000-4000-8000-000000000001"
			alice := "Alice\x1fa1"
			if ok, cur, err := l.TryLock(ctx, key, alice, time.Minute); err != nil || !ok || cur != alice {
				t.Fatalf("first TryLock = %v, %q, %v; want true, %q", ok, cur, err, alice)
			}
			ok, cur, err := l.TryLock(ctx, key, "Bob\x1fb1", time.Minute)
			if err != nil || ok || cur != alice {
				t.Fatalf("second TryLock = %v, %q, %v; want false, %q", ok, cur, err, alice)
			}
			// The same person on another replica is another attempt: refused too.
			if ok, _, _ := l.TryLock(ctx, key, "Alice\x1fa2", time.Minute); ok {
				t.Fatal("a second attempt by the same person got the lock")
			}

			if err := l.Unlock(ctx, key, "Bob\x1fb1"); err != nil {
				t.Fatalf("Unlock by a non-holder: %v", err)
			}
			if ok, cur, _ := l.TryLock(ctx, key, "Carol\x1fc1", time.Minute); ok || cur != alice {
				t.Fatalf("after a non-holder's Unlock: TryLock = %v, %q; want the lock still held by %q", ok, cur, alice)
			}

			if err := l.Unlock(ctx, key, alice); err != nil {
				t.Fatalf("Unlock by the holder: %v", err)
			}
			if ok, cur, err := l.TryLock(ctx, key, "Carol\x1fc1", time.Minute); err != nil || !ok || cur != "Carol\x1fc1" {
				t.Fatalf("after the holder's Unlock: TryLock = %v, %q, %v; want true", ok, cur, err)
			}
			// Keys are independent.
			if ok, _, err := l.TryLock(ctx, "job-action:other", alice, time.Minute); err != nil || !ok {
				t.Fatalf("another key: TryLock = %v, %v; want true", ok, err)
			}
		})
	}
}

// TestExpiry: a holder that never unlocks (a replica that died) loses the lock
// after its ttl, and its late Unlock cannot remove the new holder's lock.
func TestExpiry(t *testing.T) {
	for _, tc := range lockers() {
		t.Run(tc.name, func(t *testing.T) {
			l := tc.new(t)
			ctx := context.Background()
			// Long enough that the "still held" check right after cannot miss it
			// on a loaded machine.
			const key, ttl = "job-action:expiry", 3 * time.Second
			if ok, _, err := l.TryLock(ctx, key, "dead-replica", ttl); err != nil || !ok {
				t.Fatalf("TryLock = %v, %v", ok, err)
			}
			if ok, cur, _ := l.TryLock(ctx, key, "survivor", ttl); ok || cur != "dead-replica" {
				t.Fatalf("before expiry: TryLock = %v, %q; want held by dead-replica", ok, cur)
			}
			// Poll rather than sleep a guessed time: the lock must become free, and
			// not before the ttl has passed.
			var got bool
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(25 * time.Millisecond) {
				ok, _, err := l.TryLock(ctx, key, "survivor", time.Minute)
				if err != nil {
					t.Fatal(err)
				}
				if ok {
					got = true
					break
				}
			}
			if !got {
				t.Fatal("the lock never expired")
			}
			if err := l.Unlock(ctx, key, "dead-replica"); err != nil {
				t.Fatal(err)
			}
			if ok, cur, _ := l.TryLock(ctx, key, "third", time.Minute); ok || cur != "survivor" {
				t.Fatalf("the expired holder's Unlock removed the new lock: TryLock = %v, %q", ok, cur)
			}
		})
	}
}

func TestInvalid(t *testing.T) {
	for _, tc := range lockers() {
		t.Run(tc.name, func(t *testing.T) {
			l := tc.new(t)
			ctx := context.Background()
			for _, c := range []struct {
				key, holder string
				ttl         time.Duration
			}{
				{"", "h", time.Second},
				{"k", "", time.Second},
				{"k", "h", 0},
			} {
				if _, _, err := l.TryLock(ctx, c.key, c.holder, c.ttl); !errors.Is(err, ErrInvalid) {
					t.Errorf("TryLock(%q, %q, %s) err = %v, want ErrInvalid", c.key, c.holder, c.ttl, err)
				}
			}
		})
	}
}

// TestPrefix: the prefix keeps deployments apart and is really used as the
// stored key.
func TestPrefix(t *testing.T) {
	t.Run("redis", func(t *testing.T) {
		l, client, prefix := newRedisLocker(t)
		ctx := context.Background()
		if ok, _, err := l.TryLock(ctx, "job-action:p", "h1", time.Minute); err != nil || !ok {
			t.Fatalf("TryLock = %v, %v", ok, err)
		}
		if v, err := client.Get(ctx, prefix+"job-action:p").Result(); err != nil || v != "h1" {
			t.Fatalf("stored key %q = %q, %v; want h1", prefix+"job-action:p", v, err)
		}
		ttl, err := client.PTTL(ctx, prefix+"job-action:p").Result()
		if err != nil || ttl <= 0 || ttl > time.Minute {
			t.Fatalf("stored key expiry = %s, %v; want within a minute", ttl, err)
		}
		other := NewRedis(client, prefix+"other:")
		if ok, _, err := other.TryLock(ctx, "job-action:p", "h2", time.Minute); err != nil || !ok {
			t.Fatalf("another prefix: TryLock = %v, %v; want true", ok, err)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		l, pool, prefix := newPostgresLocker(t)
		ctx := context.Background()
		if ok, _, err := l.TryLock(ctx, "job-action:p", "h1", time.Minute); err != nil || !ok {
			t.Fatalf("TryLock = %v, %v", ok, err)
		}
		var holder string
		if err := pool.QueryRowContext(ctx, `SELECT holder FROM job_locks WHERE key = ?`, prefix+"job-action:p").Scan(&holder); err != nil || holder != "h1" {
			t.Fatalf("stored row = %q, %v; want h1", holder, err)
		}
		other := newPostgres(t, pool, prefix+"other:")
		if ok, _, err := other.TryLock(ctx, "job-action:p", "h2", time.Minute); err != nil || !ok {
			t.Fatalf("another prefix: TryLock = %v, %v; want true", ok, err)
		}
		if _, _, err := l.TryLock(ctx, "job-action:p", "a\x00b", time.Minute); !errors.Is(err, ErrInvalid) {
			t.Fatalf("NUL in holder: err = %v, want ErrInvalid", err)
		}
	})
}

// TestRenewAndStaleHolders: a live holder extends its lock (another holder
// cannot), and a replica starting again removes the locks its earlier run
// held, found by the instance marker in the holder, and no other replica's.
func TestRenewAndStaleHolders(t *testing.T) {
	for _, tc := range lockers() {
		t.Run(tc.name, func(t *testing.T) {
			l := tc.new(t)
			ctx := context.Background()
			mine := "Alice" + jobs.InstanceMarker("replica-a") + "0011"
			other := "Bob" + jobs.InstanceMarker("replica-b") + "2233"
			for key, h := range map[string]string{"job-action:1": mine, "job-action:2": mine, "job-action:3": other} {
				if ok, _, err := l.TryLock(ctx, key, h, time.Hour); err != nil || !ok {
					t.Fatalf("TryLock %s: %t %v", key, ok, err)
				}
			}
			if held, err := l.Renew(ctx, "job-action:1", mine, time.Hour); err != nil || !held {
				t.Errorf("Renew by the holder: %t %v, want held", held, err)
			}
			if held, err := l.Renew(ctx, "job-action:1", other, time.Hour); err != nil || held {
				t.Errorf("Renew by another holder: %t %v, want not held", held, err)
			}
			if held, err := l.Renew(ctx, "job-action:none", mine, time.Hour); err != nil || held {
				t.Errorf("Renew of a free key: %t %v, want not held", held, err)
			}
			n, err := l.UnlockHolders(ctx, jobs.InstanceMarker("replica-a"))
			if err != nil || n != 2 {
				t.Fatalf("UnlockHolders(replica-a) = %d, %v; want 2", n, err)
			}
			for key, want := range map[string]bool{"job-action:1": true, "job-action:2": true, "job-action:3": false} {
				ok, cur, err := l.TryLock(ctx, key, "Carol"+jobs.InstanceMarker("replica-c")+"4455", time.Hour)
				if err != nil || ok != want {
					t.Errorf("after the restart, TryLock %s: %t (held by %q) %v; want free=%t", key, ok, cur, err, want)
				}
			}
		})
	}
}
