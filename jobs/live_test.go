package jobs

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/emclient"
	"github.com/agentdesk/agentdesk/emclient/emsim"
	"github.com/agentdesk/agentdesk/runs"
	"github.com/agentdesk/agentdesk/store"
	"github.com/agentdesk/agentdesk/store/redistest"
	"github.com/agentdesk/agentdesk/store/storetest"
)

// sharedRunStores open the run stores replicas can share, on real servers.
var sharedRunStores = map[string]func(t *testing.T) RunStore{
	"redis": func(t *testing.T) RunStore {
		client, prefix := redistest.NewClient(t)
		return runs.NewRedis(client, prefix)
	},
	"postgres": func(t *testing.T) RunStore {
		st, err := runs.NewPostgres(context.Background(), storetest.Open(t, store.Postgres))
		if err != nil {
			t.Fatal(err)
		}
		return st
	},
}

// TestRunStateSharedByReplicas: replica A starts a backup and follows it;
// replica B, which sent nothing, answers for the run all the same (who, the
// session, progress, the outcome), and B's copy of the job is read again when
// the run changed it. Before, B had no run and showed an empty status.
func TestRunStateSharedByReplicas(t *testing.T) {
	for name, open := range sharedRunStores {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			sim := emsim.New(emsim.Config{Seed: 1, Jobs: 12, SessionSpeed: 2 * time.Second})
			srv := httptest.NewServer(sim)
			t.Cleanup(srv.Close)
			replica := func() *Service {
				em, err := emclient.New(emclient.Config{BaseURL: srv.URL, Username: "svc", Password: "secret", Timeout: 5 * time.Second, Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					t.Fatal(err)
				}
				s := NewService(em, Options{PollEvery: 20 * time.Millisecond, Runs: st, Logger: slog.New(slog.DiscardHandler), Recorder: LogRecorder{Logger: slog.New(slog.DiscardHandler)}})
				t.Cleanup(s.Close)
				return s
			}
			a, b := replica(), replica()
			job := simJob(t, sim, "Erin's laptop")
			ctx := context.Background()

			before, err := b.Live(ctx, job.ID)
			if err != nil {
				t.Fatal(err)
			}
			if before.HasRun || before.Running() {
				t.Fatalf("B before the start: %+v", before.Run)
			}
			run, err := a.Do(ctx, Actor{Key: "test|alice", Name: "Alice", Grant: everything}, job.ID, Start, ActOptions{})
			if err != nil {
				t.Fatalf("start on A: %v", err)
			}
			// B sees the run, then the backup running with its session.
			deadline := time.Now().Add(20 * time.Second)
			for {
				l, err := b.Live(ctx, job.ID)
				if err != nil {
					t.Fatal(err)
				}
				if l.HasRun && l.Run.By != "Alice" {
					t.Fatalf("B's run is by %q", l.Run.By)
				}
				if l.HasRun && l.Run.SessionID != "" && l.Running() {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("B never showed A's run with the backup running: %+v running=%t", l.Run, l.Running())
				}
				<-time.After(10 * time.Millisecond)
			}
			<-run.Done()
			for {
				l, err := b.Live(ctx, job.ID)
				if err != nil {
					t.Fatal(err)
				}
				if l.HasRun && !l.Run.Active() {
					if l.Run.State != RunFinished || l.Run.Result != "Success" || l.Running() {
						t.Errorf("B after the end: %+v running=%t", l.Run, l.Running())
					}
					if !l.Settled() {
						t.Error("B's view of the ended run is not settled")
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("B never showed the run's end: %+v", l.Run)
				}
				<-time.After(10 * time.Millisecond)
			}
		})
	}
}
