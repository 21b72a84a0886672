package metrics

import (
	"context"
	"sync"

	"github.com/agentdesk/agentdesk/jobs"
)

// Recorder is a jobs.Recorder that counts actions by outcome and passes every
// call on to Next, the audit trail, unchanged (its errors included, so a
// failing audit still refuses the action).
type Recorder struct {
	Next    jobs.Recorder
	Metrics *Metrics

	mu      sync.Mutex
	pending map[string]jobs.Action // audit id → action, between Begin and Finish
}

var _ jobs.Recorder = (*Recorder)(nil)

func (r *Recorder) Begin(ctx context.Context, a jobs.Attempt) (string, error) {
	id, err := r.Next.Begin(ctx, a)
	if err != nil {
		r.Metrics.Action(string(a.Action), "audit_error")
		return id, err
	}
	r.Metrics.started.WithLabelValues(string(a.Action)).Inc()
	r.mu.Lock()
	if r.pending == nil {
		r.pending = make(map[string]jobs.Action)
	}
	r.pending[id] = a.Action
	r.mu.Unlock()
	return id, nil
}

func (r *Recorder) Finish(ctx context.Context, id string, o jobs.Outcome) error {
	r.mu.Lock()
	action, ok := r.pending[id]
	delete(r.pending, id)
	r.mu.Unlock()
	if !ok {
		action = "unknown"
	}
	r.Metrics.Action(string(action), outcome(string(o.Result)))
	return r.Next.Finish(ctx, id, o)
}

func (r *Recorder) Refused(ctx context.Context, a jobs.Attempt, o jobs.Outcome) error {
	r.Metrics.Action(string(a.Action), outcome(string(o.Result)))
	return r.Next.Refused(ctx, a, o)
}

// outcome keeps the label's values to the documented set.
func outcome(result string) string {
	switch result {
	case "performed", "refused", "denied", "failed", "unknown":
		return result
	}
	return "other"
}
