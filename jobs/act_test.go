package jobs

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/emclient"
	"github.com/agentdesk/agentdesk/emclient/emsim"
)

// newSimService is a Service on the real EM client against emsim.
func newSimService(t *testing.T, speed time.Duration) (*Service, *emsim.Server) {
	t.Helper()
	sim := emsim.New(emsim.Config{Seed: 1, Jobs: 12, SessionSpeed: speed})
	srv := httptest.NewServer(sim)
	em, err := emclient.New(emclient.Config{BaseURL: srv.URL, Username: "svc", Password: "secret", Timeout: 5 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	s := NewService(em, Options{PollEvery: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler), Recorder: LogRecorder{Logger: slog.New(slog.DiscardHandler)}})
	t.Cleanup(func() {
		s.Close()
		srv.Close()
	})
	return s, sim
}

func simJob(t *testing.T, sim *emsim.Server, name string) emsim.JobSummary {
	t.Helper()
	for _, j := range sim.Jobs() {
		if j.Name == name {
			return j
		}
	}
	t.Fatalf("no job %q", name)
	return emsim.JobSummary{}
}

// TestActRefusesStartWhileRunning: once EM has accepted a start, the job lock is
// released while the backup runs; another start (a second replica, or a page
// with a stale job) must be refused on EM's current state, not sent again.
func TestActRefusesStartWhileRunning(t *testing.T) {
	// EM's task takes a tenth of this; the backup runs for all of it.
	s, sim := newSimService(t, 3*time.Second)
	locker := &blipLocker{MemoryLocker: NewMemoryLocker(nil), unlocked: make(chan string, 1), renewed: make(chan struct{}, 1)}
	s.opts.Locker = locker
	job := simJob(t, sim, "Erin's laptop")
	ctx := context.Background()
	actor := Actor{Key: "test|alice", Name: "Alice", Grant: everything}

	first, err := s.Do(ctx, actor, job.ID, Start, ActOptions{})
	if err != nil {
		t.Fatalf("first start: %v", err)
	}
	select {
	case <-locker.unlocked:
	case <-time.After(guard):
		t.Fatal("the job lock was never released after EM accepted the start")
	}
	_, err = s.Do(ctx, actor, job.ID, Start, ActOptions{})
	if !errors.Is(err, ErrNotApplicable) {
		t.Errorf("second start while running: err = %v, want ErrNotApplicable", err)
	}
	if n := sim.Stats().ActionCalls[emsim.ActionKey(job.ID, "start")]; n != 1 {
		t.Errorf("EM got %d start calls, want 1", n)
	}
	if r, ok := s.Run(job.ID); !ok || r != first {
		t.Errorf("the refused start replaced the run viewers follow")
	}
}

// TestActRefusesRetryAfterSuccess: retry is decided on EM's state too.
func TestActRefusesRetryAfterSuccess(t *testing.T) {
	s, sim := newSimService(t, time.Second)
	job := simJob(t, sim, "Erin's laptop") // its last run always succeeded
	_, err := s.Do(context.Background(), Actor{Key: "test|alice", Name: "Alice", Grant: everything}, job.ID, Retry, ActOptions{})
	if !errors.Is(err, ErrNotApplicable) {
		t.Errorf("retry after success: err = %v, want ErrNotApplicable", err)
	}
	if n := sim.Stats().ActionCalls[emsim.ActionKey(job.ID, "retry")]; n != 0 {
		t.Errorf("EM got %d retry calls, want 0", n)
	}
}
