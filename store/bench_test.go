package store_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/holds"
	"github.com/agentdesk/agentdesk/store"
	"github.com/agentdesk/agentdesk/store/storetest"
)

// BenchmarkWarmLookups are the single-row reads of a warm, signed-in job
// page besides the audit history (see audit's BenchmarkJobHistory): the
// session, the remembered groups, the job's pending hold, by the stores' own
// SQL. "prepared" runs it through store.DB, as the stores do (each statement
// prepared once); "unprepared" sends the same SQL through database/sql
// directly, as the stores did before, so SQLite parses and plans it on every
// call.
//
//	go test -run '^$' -bench WarmLookups -benchmem ./store/
func BenchmarkWarmLookups(b *testing.B) {
	for _, d := range storetest.Dialects {
		b.Run(string(d), func(b *testing.B) {
			ctx := context.Background()
			db := storetest.Open(b, d)
			sessions, err := store.NewSessionStore(ctx, db, 0)
			if err != nil {
				b.Fatal(err)
			}
			users, err := store.NewUsers(ctx, db)
			if err != nil {
				b.Fatal(err)
			}
			hs, err := holds.NewSQLStore(ctx, db)
			if err != nil {
				b.Fatal(err)
			}
			now := time.Now()
			if err := sessions.Commit("tok", make([]byte, 600), now.Add(time.Hour)); err != nil {
				b.Fatal(err)
			}
			if err := users.SaveGroups(ctx, "iss|harry", []string{"helpdesk-berlin"}); err != nil {
				b.Fatal(err)
			}
			if _, err := hs.Create(ctx, holds.Hold{JobID: "job-1", DisabledAt: now, ReenableAt: now.Add(time.Hour)}); err != nil {
				b.Fatal(err)
			}
			sessionQ := `SELECT data FROM sessions WHERE token = ? AND julianday('now') < expiry`
			if d == store.Postgres {
				sessionQ = `SELECT data FROM sessions WHERE token = ? AND current_timestamp < expiry`
			}
			// The stores' own statements, each read whole.
			qs := []struct{ q, arg string }{
				{sessionQ, "tok"},
				{`SELECT groups_json FROM user_groups WHERE user_key = ?`, "iss|harry"},
				{`SELECT id, job_id, job_name, disabled_by_key, disabled_by_name, disabled_at, reenable_at, state, message, updated_at
					FROM schedule_holds WHERE job_id = ? AND state = 'pending' ORDER BY id DESC LIMIT 1`, "job-1"},
			}
			for _, mode := range []struct {
				name  string
				query func(q, arg string) (*sql.Rows, error)
			}{
				{"prepared", func(q, arg string) (*sql.Rows, error) { return db.QueryContext(ctx, q, arg) }},
				{"unprepared", func(q, arg string) (*sql.Rows, error) { return db.SQL().QueryContext(ctx, db.Rebind(q), arg) }},
			} {
				b.Run(mode.name, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						for _, q := range qs {
							rows, err := mode.query(q.q, q.arg)
							if err != nil {
								b.Fatal(err)
							}
							cols, _ := rows.Columns()
							dest := make([]any, len(cols))
							for i := range dest {
								dest[i] = new(any)
							}
							if !rows.Next() {
								b.Fatal("no row")
							}
							if err := rows.Scan(dest...); err != nil {
								b.Fatal(err)
							}
							rows.Close()
						}
					}
				})
			}
		})
	}
}
