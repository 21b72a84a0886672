package jobs

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/emclient/emsim"
)

// memRecorder keeps the audit trail in memory.
type memRecorder struct {
	mu       sync.Mutex
	begun    []Attempt
	finished []Outcome
}

func (m *memRecorder) Begin(_ context.Context, a Attempt) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.begun = append(m.begun, a)
	return a.JobID, nil
}

func (m *memRecorder) Finish(_ context.Context, _ string, o Outcome) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.finished = append(m.finished, o)
	return nil
}

func (m *memRecorder) Refused(context.Context, Attempt, Outcome) error { return nil }

// TestShutdownDrainsActions: an action sent just before shutdown is followed
// until EM's task ends and audited with its real outcome, instead of being
// cut off as "unknown".
func TestShutdownDrainsActions(t *testing.T) {
	s, sim := newSimService(t, 4*time.Second) // the task takes 200ms, the backup 4s
	rec := &memRecorder{}
	s.opts.Recorder = rec
	job := simJob(t, sim, "Erin's laptop")

	run, err := s.Do(context.Background(), Actor{Key: "test|alice", Name: "Alice", Grant: everything}, job.ID, Start, ActOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	select {
	case <-run.Done():
	default:
		t.Fatal("Shutdown returned with the action still followed")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.begun) != 1 || len(rec.finished) != 1 {
		t.Fatalf("audit: %d begun, %d finished; want 1 and 1", len(rec.begun), len(rec.finished))
	}
	if o := rec.finished[0]; o.Result != "performed" || o.SessionID == "" {
		t.Fatalf("audited outcome %+v, want performed with the session EM started", o)
	}
	if n := sim.Stats().ActionCalls[emsim.ActionKey(job.ID, "start")]; n != 1 {
		t.Fatalf("EM got %d starts", n)
	}
	if st := run.Snapshot(); st.State != RunFinished {
		t.Fatalf("run state %q", st.State)
	}
}

// TestShutdownBounded: when the deadline passes first, the followers are
// cancelled and the outcome is still audited.
func TestShutdownBounded(t *testing.T) {
	s, sim := newSimService(t, 4*time.Second)
	rec := &memRecorder{}
	s.opts.Recorder = rec
	job := simJob(t, sim, "Erin's laptop")
	// EM never finishes the task: the task poll hangs.
	sim.SetFaults(emsim.Faults{BlackHole: true, Paths: []string{"/tasks/"}})
	defer sim.SetFaults(emsim.Faults{})
	if _, err := s.Do(context.Background(), Actor{Key: "test|alice", Name: "Alice", Grant: everything}, job.ID, Start, ActOptions{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); err == nil {
		t.Fatal("Shutdown reported success with an action still running")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.finished) != 1 || rec.finished[0].Result != "unknown" {
		t.Fatalf("audit after a cut-off shutdown: %+v", rec.finished)
	}
}

// TestCacheLoadKeepsCallerDeadline: a load shared by viewers is not cancelled
// by one of them leaving, but it never outlives the request deadline.
func TestCacheLoadKeepsCallerDeadline(t *testing.T) {
	c := newCache[string, int](time.Now, time.Minute, nil)
	deadline := time.Now().Add(time.Hour)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	var got time.Time
	var ok bool
	_, _, err := c.get(ctx, "k", func(lctx context.Context) (int, error) {
		got, ok = lctx.Deadline()
		return 1, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !ok || !got.Equal(deadline) {
		t.Fatalf("load deadline = %v (%t), want the caller's %v", got, ok, deadline)
	}
}
