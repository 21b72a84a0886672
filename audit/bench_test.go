package audit

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/store"
	"github.com/agentdesk/agentdesk/store/storetest"
)

// BenchmarkJobHistory is the audit part of a job page for an administrator:
// the job's newest entries (handlers' jobHistorySize, 10, plus the one that
// tells whether more exist) out of a log of 2,000 entries over 50 jobs.
// "prepared" is SQLStore as shipped (store.DB keeps the statement prepared);
// "unprepared" runs the same SQL through database/sql directly, as the
// dialect stores did before, so SQLite parses it on every call.
//
//	go test -run '^$' -bench JobHistory -benchmem ./audit/
func BenchmarkJobHistory(b *testing.B) {
	for _, d := range storetest.Dialects {
		b.Run(string(d), func(b *testing.B) {
			ctx := context.Background()
			db := storetest.Open(b, d)
			s, err := NewSQLStore(ctx, db)
			if err != nil {
				b.Fatal(err)
			}
			at := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
			for i := range 2000 {
				e := Entry{At: at.Add(time.Duration(i) * time.Minute), Kind: KindAction, UserKey: "iss|harry", UserName: "Harry Helpdesk",
					Groups: []string{"helpdesk-berlin"}, Action: "start", JobID: fmt.Sprintf("job-%02d", i%50), JobName: "Erin's laptop",
					Result: ResultPerformed, Message: "Backup started", CompletedAt: at.Add(time.Duration(i)*time.Minute + time.Second)}
				if _, err := s.Insert(ctx, e); err != nil {
					b.Fatal(err)
				}
			}
			f := Filter{JobID: "job-07", Limit: 11}
			b.Run("prepared", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					n := 0
					if err := s.Each(ctx, f, func(Entry) error { n++; return nil }); err != nil || n != 11 {
						b.Fatalf("%d entries, %v", n, err)
					}
				}
			})
			b.Run("unprepared", func(b *testing.B) {
				q, args := s.selectSQL(f)
				q = db.Rebind(q)
				b.ReportAllocs()
				for b.Loop() {
					if n, err := eachUnprepared(ctx, db, q, args); err != nil || n != 11 {
						b.Fatalf("%d entries, %v", n, err)
					}
				}
			})
		})
	}
}

func eachUnprepared(ctx context.Context, db *store.DB, q string, args []any) (int, error) {
	rows, err := db.SQL().QueryContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		if _, err := scan(rows); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}
