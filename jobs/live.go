package jobs

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/agentdesk/agentdesk/runs"
)

// RunStore shares run states between replicas (package runs: Redis or
// PostgreSQL). Without one, a replica knows only the actions it follows.
type RunStore interface {
	Put(ctx context.Context, jobID string, state []byte, at time.Time) error
	Recent(ctx context.Context, since time.Time) ([]runs.Entry, error)
}

// staleRun is how long a shared run that is still followed may go without a
// word from its replica before others stop believing it (the replica died):
// then the job's state comes from EM alone, as for any job.
const staleRun = 10 * time.Minute

// publishRun writes a run's state to the shared store. A failure is logged and
// otherwise ignored: the action goes on, and other replicas show EM's state.
func (s *Service) publishRun(st RunState) {
	if s.opts.Runs == nil {
		return
	}
	b, err := json.Marshal(st)
	if err != nil {
		s.log.Error("encode run state", "err", err, "job", st.JobID)
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	if err := s.opts.Runs.Put(ctx, st.JobID, b, s.opts.Now()); err != nil {
		s.log.Warn("share run state", "err", err, "job", st.JobID)
	}
}

// sharedRuns are the runs other replicas (and this one) published, read at
// most once per PollEvery however many viewers ask: one store round trip per
// interval, whether for one job card or a list of fifty rows.
func (s *Service) sharedRuns(ctx context.Context) map[string]RunState {
	if s.opts.Runs == nil {
		return nil
	}
	out, _, err := s.cache.runs.get(ctx, struct{}{}, func(ctx context.Context) (map[string]RunState, error) {
		now := s.opts.Now()
		entries, err := s.opts.Runs.Recent(ctx, now.Add(-max(staleRun, s.opts.KeepResult)))
		if err != nil {
			return nil, err
		}
		out := make(map[string]RunState, len(entries))
		for _, e := range entries {
			var st RunState
			if err := json.Unmarshal(e.State, &st); err != nil {
				continue
			}
			if st.Active() && now.Sub(e.At) > staleRun || !st.Active() && now.Sub(st.EndedAt) > s.opts.KeepResult {
				continue
			}
			out[strings.ToLower(e.JobID)] = st
		}
		return out, nil
	})
	if err != nil {
		// The job's own state from EM is still shown; say why runs are missing.
		s.log.Warn("read shared run states", "err", err)
		return nil
	}
	return out
}

// newer picks the more recent of two runs of one job.
func newer(a RunState, aok bool, b RunState, bok bool) (RunState, bool) {
	switch {
	case !aok:
		return b, bok
	case !bok:
		return a, aok
	case b.StartedAt.After(a.StartedAt) || b.StartedAt.Equal(a.StartedAt) && b.Changed.After(a.Changed):
		return b, true
	}
	return a, true
}

// RunState is the portal's action on a job, in progress or recently ended,
// whichever replica follows it.
func (s *Service) RunState(ctx context.Context, jobID string) (RunState, bool) {
	var local RunState
	r, ok := s.Run(jobID)
	if ok {
		local = r.Snapshot()
	}
	shared, sok := s.sharedRuns(ctx)[strings.ToLower(jobID)]
	return newer(local, ok, shared, sok)
}

// RunStates are the actions of every job, in progress or recently ended, for
// a list: one shared-store read at most.
func (s *Service) RunStates(ctx context.Context) map[string]RunState {
	shared := s.sharedRuns(ctx)
	s.mu.Lock()
	rs := make([]*Run, 0, len(s.runs))
	for _, r := range s.runs {
		rs = append(rs, r)
	}
	s.mu.Unlock()
	if len(rs) == 0 && len(shared) == 0 {
		return nil
	}
	out := make(map[string]RunState, len(rs)+len(shared))
	for id, st := range shared {
		out[id] = st
	}
	for _, r := range rs {
		st := r.Snapshot()
		sh, ok := out[st.JobID]
		out[st.JobID], _ = newer(sh, ok, st, true)
	}
	return out
}

// Live is one job's state as every view shows it: EM's job (with its newest
// session) and the portal's own action on it, whichever replica follows that.
type Live struct {
	Job  *Job
	AsOf time.Time
	Run  RunState
	// HasRun: Run is an action in progress or one that ended recently.
	HasRun bool
	// Expecting: the viewer has just sent an action on the job (possibly to
	// another replica, whose run state this replica reads up to PollEvery
	// late; the browser says so for a few seconds, app.js), so the view
	// keeps watching even if no run, or only an ended earlier one, is known.
	Expecting bool
}

// Running reports the job running, as EM said at AsOf.
func (l Live) Running() bool { return l.Job.Running() }

// Progress is the backup's progress: the followed session's when the portal
// follows it (read every PollEvery), else the job's newest session's.
func (l Live) Progress() int {
	if l.HasRun && l.Run.Active() && l.Run.SessionID != "" && l.Run.Progress > 0 {
		return l.Run.Progress
	}
	if l.Job.Last != nil {
		return l.Job.Last.Progress
	}
	return 0
}

// Settled reports a job with nothing to watch: not running and no action in
// progress. Views stop refreshing themselves then.
func (l Live) Settled() bool { return !l.Running() && !(l.HasRun && l.Run.Active()) }

// Live reads a job for a view. The job comes from the cache, except when an
// action changed it after the cached copy was read (on this replica or
// another), or while an action awaits EM's confirmation and the copy is older
// than PollEvery: then it is read again, once for all viewers (single
// flight), so EM sees about one call per job per interval however many watch.
func (s *Service) Live(ctx context.Context, jobID string) (Live, error) {
	j, asOf, err := s.Job(ctx, jobID)
	if err != nil {
		return Live{}, err
	}
	st, ok := s.RunState(ctx, jobID)
	if ok && (st.Changed.After(asOf) || st.Awaiting() && s.opts.Now().Sub(asOf) >= s.opts.PollEvery) {
		s.cache.jobs.invalidate(j.ID)
		if j, asOf, err = s.Job(ctx, jobID); err != nil {
			return Live{}, err
		}
	}
	return Live{Job: j, AsOf: asOf, Run: st, HasRun: ok}, nil
}
