package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/agentdesk/agentdesk/store"
	"github.com/agentdesk/agentdesk/store/storetest"
)

var _ interface {
	scs.Store
	scs.IterableStore
} = (*store.SessionStore)(nil)

func newSessions(t *testing.T, db *store.DB) *store.SessionStore {
	t.Helper()
	s, err := store.NewSessionStore(context.Background(), db, 0)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSessionStore: what scs needs of a store, on both databases. Expiry is
// judged by the database's clock, so the expired session is one an hour old.
func TestSessionStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := newSessions(t, db)
		now := time.Now()
		if _, ok, err := s.Find("nope"); ok || err != nil {
			t.Fatalf("Find(unknown) = %v, %v", ok, err)
		}
		for token, exp := range map[string]time.Time{"live": now.Add(time.Hour), "old": now.Add(-time.Hour)} {
			if err := s.Commit(token, []byte("data-"+token), exp); err != nil {
				t.Fatal(err)
			}
		}
		if b, ok, err := s.Find("live"); !ok || err != nil || string(b) != "data-live" {
			t.Fatalf("Find(live) = %q, %v, %v", b, ok, err)
		}
		if _, ok, err := s.Find("old"); ok || err != nil {
			t.Fatalf("Find(expired) = %v, %v; want not found", ok, err)
		}
		// Commit replaces.
		if err := s.Commit("live", []byte("v2"), now.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if b, _, _ := s.Find("live"); string(b) != "v2" {
			t.Fatalf("after a second commit: %q, want v2", b)
		}
		all, err := s.All()
		if err != nil || len(all) != 1 || string(all["live"]) != "v2" {
			t.Fatalf("All = %q, %v", all, err)
		}
		if n, err := s.Count(ctx); n != 1 || err != nil {
			t.Fatalf("Count = %d, %v; want 1", n, err)
		}
		if err := s.DeleteExpired(ctx); err != nil {
			t.Fatal(err)
		}
		var rows int
		db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sessions`).Scan(&rows)
		if rows != 1 {
			t.Fatalf("%d rows after DeleteExpired, want 1", rows)
		}
		if err := s.Delete("live"); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete("live"); err != nil {
			t.Fatalf("deleting a missing session: %v", err)
		}
		if _, ok, _ := s.Find("live"); ok {
			t.Fatal("found a deleted session")
		}
	})
}

// TestSessionStoreCleanup: the cleanup goroutine deletes expired sessions
// and StopCleanup ends it.
func TestSessionStoreCleanup(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, err := store.NewSessionStore(ctx, db, time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		defer s.StopCleanup()
		if err := s.Commit("old", []byte("x"), time.Now().Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		// Polls the table, not the clock: the test ends when the row is gone.
		for {
			var n int
			if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sessions`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
		}
		s.StopCleanup()
		s.StopCleanup() // a second stop is harmless
	})
}
