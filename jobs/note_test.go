package jobs

import (
	"context"
	"sync"
	"testing"
	"time"
)

// noteRecorder keeps what Act audits.
type noteRecorder struct {
	mu       sync.Mutex
	finished []Outcome
	refused  []Outcome
}

func (r *noteRecorder) Begin(context.Context, Attempt) (string, error) { return "1", nil }
func (r *noteRecorder) Finish(_ context.Context, _ string, o Outcome) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.finished = append(r.finished, o)
	return nil
}
func (r *noteRecorder) Refused(_ context.Context, _ Attempt, o Outcome) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refused = append(r.refused, o)
	return nil
}

// TestActWithNote: the note (a time-boxed disable's duration) reaches the
// audited outcome, whether the action is carried out or refused.
func TestActWithNote(t *testing.T) {
	s, sim := newSimService(t, 300*time.Millisecond)
	rec := &noteRecorder{}
	s.opts.Recorder = rec
	job := simJob(t, sim, "Erin's laptop")
	ctx := context.Background()
	actor := Actor{Key: "test|harry", Name: "Harry", Grant: everything}
	const note = "For 4 hours, until 14:02 UTC."

	run, err := s.Do(ctx, actor, job.ID, Disable, ActOptions{Note: note})
	if err != nil {
		t.Fatalf("disable: %v", err)
	}
	<-run.Done()
	if _, err := s.Do(ctx, actor, job.ID, Disable, ActOptions{Note: note}); err == nil {
		t.Fatal("a second disable was not refused")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.finished) != 1 || rec.finished[0].Message != "Schedule disabled. "+note {
		t.Errorf("audited outcome = %+v, want the note after the message", rec.finished)
	}
	if len(rec.refused) != 1 || rec.refused[0].Message != "schedule already disabled. "+note {
		t.Errorf("audited refusal = %+v", rec.refused)
	}
	if st := run.Snapshot(); st.Message != "Schedule disabled. "+note {
		t.Errorf("run message = %q", st.Message)
	}
}

func TestLastGood(t *testing.T) {
	ok := &Session{ID: "ok", State: "Stopped", Result: "Success"}
	warn := &Session{ID: "warn", State: "Stopped", Result: "Warning"}
	failed := &Session{ID: "failed", State: "Stopped", Result: "Failed"}
	running := &Session{ID: "running", State: "Working", Result: "None"}
	tests := []struct {
		name string
		in   []*Session
		want *Session
	}{
		{"empty", nil, nil},
		{"newest success", []*Session{ok, warn}, ok},
		{"warning counts", []*Session{warn, ok}, warn},
		{"skips failures and running", []*Session{running, failed, failed, ok}, ok},
		{"only failures", []*Session{failed, running}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := LastGood(tt.in); got != tt.want {
				t.Errorf("LastGood = %v, want %v", got, tt.want)
			}
		})
	}
}
