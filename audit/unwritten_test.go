package audit

import (
	"context"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/jobs"
	"github.com/agentdesk/agentdesk/store"
	"github.com/agentdesk/agentdesk/store/storetest"
)

// TestOutcomeAfterOutage: the audit database is down at the moment an
// action's outcome is written. The outcome is kept and lands once the
// database is back, without a restart; the entry does not stay pending.
func TestOutcomeAfterOutage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newSQLStore(t, db)
		run := func(q string) error { _, err := db.SQL().Exec(q); return err }
		ctx := context.Background()
		l := New(s, Options{Logger: testLogger(), RetryBackoff: time.Millisecond, RetryBackoffMax: 10 * time.Millisecond})
		id, err := l.Begin(ctx, attempt(t0, "iss|alice", "Alice", job1, "Erin's laptop", jobs.Start))
		if err != nil {
			t.Fatal(err)
		}
		// The outage: the table is gone for every statement.
		if err := run(`ALTER TABLE audit_log RENAME TO audit_log_away`); err != nil {
			t.Fatal(err)
		}
		if err := l.Finish(ctx, id, jobs.Outcome{Result: "performed", Message: "Backup finished: Success", Final: "Success"}); err != nil {
			t.Fatalf("Finish during the outage: %v, want the outcome kept", err)
		}
		if n := l.Unwritten(); n != 1 {
			t.Fatalf("unwritten outcomes: %d, want 1", n)
		}
		if err := l.Flush(ctx); err == nil {
			t.Fatal("Flush during the outage succeeded")
		}
		if err := run(`ALTER TABLE audit_log_away RENAME TO audit_log`); err != nil {
			t.Fatal(err)
		}
		// The retry loop writes it; the timeout only guards against a hang.
		select {
		case <-l.Drained():
		case <-time.After(time.Minute):
			t.Fatal("the kept outcome was not written after the database returned")
		}
		p, err := l.Query(ctx, Filter{})
		if err != nil || len(p.Entries) != 1 {
			t.Fatalf("entries: %v, %v", p.Entries, err)
		}
		if e := p.Entries[0]; e.Result != ResultPerformed || e.Final != "Success" || e.CompletedAt.IsZero() {
			t.Errorf("entry after the outage: result %q final %q completed %v, want performed/Success", e.Result, e.Final, e.CompletedAt)
		}
	})
}

// TestUnwrittenBounded: at most MaxUnwritten outcomes are kept; past that
// Finish fails loudly and the entry waits for reconcile.
func TestUnwrittenBounded(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	ctx := context.Background()
	// A retry step far longer than the test: the kept outcome stays kept.
	l := New(newSQLStore(t, db), Options{Logger: testLogger(), RetryBackoff: time.Hour, MaxUnwritten: 1})
	a, err := l.Begin(ctx, attempt(t0, "iss|alice", "Alice", job1, "Erin's laptop", jobs.Start))
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.Begin(ctx, attempt(t0, "iss|alice", "Alice", job2, "Web server", jobs.Start))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL().Exec(`ALTER TABLE audit_log RENAME TO audit_log_away`); err != nil {
		t.Fatal(err)
	}
	if err := l.Finish(ctx, a, jobs.Outcome{Result: "performed"}); err != nil {
		t.Fatalf("first outcome: %v, want kept", err)
	}
	if err := l.Finish(ctx, b, jobs.Outcome{Result: "performed"}); err == nil {
		t.Fatal("second outcome past MaxUnwritten: no error")
	}
	if n := l.Unwritten(); n != 1 {
		t.Errorf("unwritten = %d, want 1", n)
	}
	if _, err := db.SQL().Exec(`ALTER TABLE audit_log_away RENAME TO audit_log`); err != nil {
		t.Fatal(err)
	}
	if err := l.Flush(ctx); err != nil || l.Unwritten() != 0 {
		t.Errorf("Flush after the outage: %v, %d left", err, l.Unwritten())
	}
}
