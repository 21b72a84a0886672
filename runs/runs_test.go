package runs_test

import (
	"context"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/runs"
	"github.com/agentdesk/agentdesk/store"
	"github.com/agentdesk/agentdesk/store/redistest"
	"github.com/agentdesk/agentdesk/store/storetest"
)

type runStore interface {
	Put(ctx context.Context, jobID string, state []byte, at time.Time) error
	Recent(ctx context.Context, since time.Time) ([]runs.Entry, error)
}

// stores are the shared stores a deployment can use, on the real servers.
func stores(t *testing.T) map[string]func(t *testing.T) runStore {
	return map[string]func(t *testing.T) runStore{
		"redis": func(t *testing.T) runStore {
			client, prefix := redistest.NewClient(t)
			return runs.NewRedis(client, prefix)
		},
		"postgres": func(t *testing.T) runStore {
			st, err := runs.NewPostgres(context.Background(), storetest.Open(t, store.Postgres))
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
	}
}

// TestStores: the newest state per job is kept, and only recent ones are
// answered.
func TestStores(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			ctx := context.Background()
			now := time.Date(2026, 12, 5, 14, 0, 0, 0, time.UTC)
			for _, p := range []struct {
				job, state string
				at         time.Time
			}{
				{"a", `{"n":1}`, now.Add(-time.Hour)},
				{"a", `{"n":2}`, now},
				{"b", `{"n":3}`, now.Add(-time.Hour)},
			} {
				if err := s.Put(ctx, p.job, []byte(p.state), p.at); err != nil {
					t.Fatalf("put %s: %v", p.job, err)
				}
			}
			got, err := s.Recent(ctx, now.Add(-time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].JobID != "a" || string(got[0].State) != `{"n":2}` || !got[0].At.Equal(now) {
				t.Fatalf("recent = %+v, want a's newest state only", got)
			}
		})
	}
}
