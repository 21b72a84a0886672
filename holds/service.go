package holds

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/agentdesk/agentdesk/jobs"
	"github.com/agentdesk/agentdesk/policy"
)

// Jobs is the part of jobs.Service the holds use: its one action call.
type Jobs interface {
	Do(ctx context.Context, actor jobs.Actor, jobID string, a jobs.Action, opts jobs.ActOptions) (*jobs.Run, error)
}

// Options tunes a Service; the zero value is usable.
type Options struct {
	Interval time.Duration // how often the loop looks for due holds, default 30s
	// Locker must be the one every replica shares (Redis or PostgreSQL) when
	// several run; default: in-process.
	Locker  jobs.Locker
	LockTTL time.Duration // how long a replica that died keeps a hold locked, default 5m
	// GiveUpAfter is how long past its time a hold is retried while EM fails
	// before it is marked failed, default 24h.
	GiveUpAfter time.Duration
	Logger      *slog.Logger
	Now         func() time.Time
}

// Service creates holds and brings schedules back when they are due.
type Service struct {
	store Store
	jobs  Jobs
	opts  Options
	log   *slog.Logger
}

// New returns a Service; call Run to start the loop.
func New(st Store, j Jobs, opts Options) *Service {
	if opts.Interval <= 0 {
		opts.Interval = 30 * time.Second
	}
	if opts.LockTTL <= 0 {
		opts.LockTTL = 5 * time.Minute
	}
	if opts.GiveUpAfter <= 0 {
		opts.GiveUpAfter = 24 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Locker == nil {
		opts.Locker = jobs.NewMemoryLocker(opts.Now)
	}
	return &Service{store: st, jobs: j, opts: opts, log: opts.Logger}
}

// Create records a pending hold: the schedule of h.JobID comes back at
// h.ReenableAt. Call it before sending the disable, so a crash in between
// leaves a hold (harmless: the re-enable finds the schedule on) rather than a
// schedule that never comes back.
func (s *Service) Create(ctx context.Context, h Hold) (Hold, error) {
	if h.DisabledAt.IsZero() {
		h.DisabledAt = s.opts.Now()
	}
	h.DisabledAt, h.ReenableAt = micro(h.DisabledAt), micro(h.ReenableAt)
	id, err := s.store.Create(ctx, h)
	if err != nil {
		return Hold{}, err
	}
	h.ID, h.State, h.UpdatedAt = id, Pending, h.DisabledAt
	return h, nil
}

// Pending returns the job's pending hold, nil when there is none.
func (s *Service) Pending(ctx context.Context, jobID string) (*Hold, error) {
	h, ok, err := s.store.Pending(ctx, jobID)
	if err != nil || !ok {
		return nil, err
	}
	return &h, nil
}

// Abandon closes one pending hold whose disable was not carried out.
func (s *Service) Abandon(ctx context.Context, id int64, why string) error {
	_, err := s.store.Close(ctx, id, Failed, why, s.opts.Now())
	return err
}

// Settle closes the job's pending holds other than keep (0: all of them) as
// done: the schedule was enabled by hand, disabled for good, or disabled again
// with a new time.
func (s *Service) Settle(ctx context.Context, jobID string, keep int64, why string) error {
	_, err := s.store.CloseJob(ctx, jobID, keep, Done, why, s.opts.Now())
	return err
}

// Do performs an action on a job as jobs.Service.Do does, and keeps the
// schedule holds in step with a person's schedule changes: a disable with
// opts.Until records a hold (under the job's lock, once the disable has
// passed every check, before EM is called, so a crash after EM's change
// still brings the schedule back) and abandons it when the disable is not
// carried out; any schedule change sent by a person ends the job's earlier
// holds ("Enable now" on the banner ends its hold).
func (s *Service) Do(ctx context.Context, actor jobs.Actor, jobID string, a jobs.Action, opts jobs.ActOptions) (*jobs.Run, error) {
	if a != jobs.Enable && a != jobs.Disable {
		return s.jobs.Do(ctx, actor, jobID, a, opts)
	}
	now := s.opts.Now().UTC()
	if opts.Until.IsZero() {
		run, err := s.jobs.Do(ctx, actor, jobID, a, opts)
		if run != nil && err == nil {
			s.settle(ctx, run.JobID, 0, fmt.Sprintf("Schedule %sd by %s at %s.", a, orSomeone(actor.Name), now.Format("2006-01-02 15:04 MST")))
		}
		return run, err
	}
	if a != jobs.Disable {
		return nil, errors.New("holds: only a disable lasts until a time")
	}
	var hold Hold
	until := opts.Until
	opts.Until = time.Time{}
	opts.Prepare = func(ctx context.Context, j *jobs.Job) error {
		var err error
		hold, err = s.Create(ctx, Hold{JobID: j.ID, JobName: j.Name, ByKey: actor.Key, ByName: actor.Name, DisabledAt: now, ReenableAt: until})
		if err != nil {
			return fmt.Errorf("record the schedule hold: %w", err)
		}
		return nil
	}
	run, err := s.jobs.Do(ctx, actor, jobID, jobs.Disable, opts)
	switch {
	case hold.ID == 0:
		// Refused before a hold was recorded.
	case run == nil || (err != nil && run.Snapshot().State == jobs.RunFailed):
		why := "The disable was not carried out."
		if err != nil {
			why += " " + err.Error()
		}
		if aerr := s.Abandon(context.WithoutCancel(ctx), hold.ID, why); aerr != nil {
			s.log.Error("closing an unused schedule hold failed", "err", aerr, "hold", hold.ID)
		}
	default:
		// This disable supersedes any earlier hold of the job.
		s.settle(ctx, hold.JobID, hold.ID, fmt.Sprintf("Replaced by %s's disable at %s.", orSomeone(actor.Name), now.Format("2006-01-02 15:04 MST")))
	}
	return run, err
}

// settle closes the job's pending holds but keep after a schedule change
// made by a person; a failure is logged, the change stands.
func (s *Service) settle(ctx context.Context, jobID string, keep int64, why string) {
	if err := s.Settle(context.WithoutCancel(ctx), jobID, keep, why); err != nil {
		s.log.Error("closing schedule holds failed", "err", err, "job", jobID)
	}
}

// Run brings due schedules back now and then every Interval, until ctx ends.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(s.opts.Interval)
	defer t.Stop()
	for {
		if _, err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("schedule holds: looking for due holds failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tick handles the holds that are due now and returns how many it closed.
func (s *Service) Tick(ctx context.Context) (int, error) {
	due, err := s.store.Due(ctx, s.opts.Now(), 100)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, h := range due {
		if ctx.Err() != nil {
			break
		}
		if s.reenable(ctx, h) {
			n++
		}
	}
	return n, nil
}

// Actor is who the audit log names for the re-enable of h. Its grant is
// the re-enable alone: the person who disabled the schedule for a time was
// allowed to, and asked for exactly this.
func Actor(h Hold) jobs.Actor {
	by := h.ByName
	if by == "" {
		by = "someone"
	}
	return jobs.Actor{Key: "agentdesk|schedule-hold", Name: fmt.Sprintf("AgentDesk (timed re-enable of %s's disable)", by), Grant: reenableGrant}
}

// reenableGrant lets the timed re-enable see every job and enable its
// schedule, nothing else.
var reenableGrant = policy.Only("AgentDesk brings back a schedule disabled for a time", policy.View, policy.Enable)

func lockKey(jobID string) string { return "schedule-hold:" + jobID }

func newHolder() string {
	b := make([]byte, 8)
	rand.Read(b)
	return "AgentDesk timed re-enable " + hex.EncodeToString(b)
}

// reenable brings one due hold's schedule back and reports whether the hold
// was closed. Only the replica that takes the hold's lock acts; it re-reads the
// hold under the lock, because another replica may have closed it just before.
func (s *Service) reenable(ctx context.Context, h Hold) bool {
	holder := newHolder()
	ok, _, err := s.opts.Locker.TryLock(ctx, lockKey(h.JobID), holder, s.opts.LockTTL)
	if err != nil {
		s.log.Warn("schedule holds: lock failed", "err", err, "job", h.JobID)
		return false
	}
	if !ok {
		return false // another replica is on it
	}
	defer s.opts.Locker.Unlock(context.WithoutCancel(ctx), lockKey(h.JobID), holder)
	cur, err := s.store.Get(ctx, h.ID)
	if err != nil || cur.State != Pending {
		return false
	}
	note := fmt.Sprintf("Planned when %s disabled the schedule at %s.", orSomeone(cur.ByName), cur.DisabledAt.UTC().Format("2006-01-02 15:04 MST"))
	run, err := s.jobs.Do(ctx, Actor(cur), cur.JobID, jobs.Enable, jobs.ActOptions{Note: note})
	switch {
	case errors.Is(err, jobs.ErrAlready):
		return s.close(ctx, cur, Done, "The schedule had already been enabled again; nothing was changed.")
	case errors.Is(err, jobs.ErrNotFound), errors.Is(err, jobs.ErrInvalidID):
		return s.close(ctx, cur, Failed, "The job no longer exists in Enterprise Manager.")
	case run == nil && err != nil:
		return s.retry(ctx, cur, err.Error())
	}
	// The toggle is followed until EM's task ends and the new state is verified.
	select {
	case <-run.Done():
	case <-ctx.Done():
		return false // the next tick, on this replica or another, decides on fresh state
	}
	st := run.Snapshot()
	if st.State == jobs.RunFinished {
		return s.close(ctx, cur, Done, "The schedule was enabled again as planned.")
	}
	// Failed or unknown: trying again is safe, the next try reads EM's state first.
	return s.retry(ctx, cur, st.Message)
}

func (s *Service) close(ctx context.Context, h Hold, st State, msg string) bool {
	ok, err := s.store.Close(context.WithoutCancel(ctx), h.ID, st, msg, s.opts.Now())
	if err != nil {
		s.log.Error("schedule holds: closing a hold failed", "err", err, "hold", h.ID, "job", h.JobID)
		return false
	}
	s.log.Info("schedule hold closed", "hold", h.ID, "job", h.JobID, "state", st, "message", msg)
	return ok
}

// retry leaves the hold pending for the next tick, with the reason, until it
// is GiveUpAfter late.
func (s *Service) retry(ctx context.Context, h Hold, why string) bool {
	now := s.opts.Now()
	if now.Sub(h.ReenableAt) > s.opts.GiveUpAfter {
		return s.close(ctx, h, Failed, "AgentDesk could not enable the schedule again: "+why)
	}
	s.log.Warn("schedule holds: re-enable failed; trying again", "hold", h.ID, "job", h.JobID, "err", why)
	if err := s.store.Note(context.WithoutCancel(ctx), h.ID, "The last try to enable the schedule again failed: "+why, now); err != nil {
		s.log.Error("schedule holds: noting a failure failed", "err", err, "hold", h.ID)
	}
	return false
}

func orSomeone(name string) string {
	if name == "" {
		return "someone"
	}
	return name
}

func micro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
