package jobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/agentdesk/agentdesk/emclient"
	"github.com/agentdesk/agentdesk/policy"
)

// Errors of Do, beside ErrBusy (BusyError), ErrNotApplicable
// (NotApplicableError), ErrAlready, ErrLockStore, ErrAudit, ErrInvalidID and
// ErrNotFound.
var (
	// ErrNotVisible: the policy does not let the actor see the job. It is
	// an ErrNotFound, so that callers answer it exactly like a job that does
	// not exist and its existence does not leak.
	ErrNotVisible = fmt.Errorf("%w (not visible to this user)", ErrNotFound)
	// ErrNotAllowed: the actor sees the job but the policy does not grant
	// the action on it.
	ErrNotAllowed = errors.New("jobs: action not allowed by policy")
	// ErrUnknownAction: not one of the portal's actions.
	ErrUnknownAction = errors.New("jobs: unknown action")
	// ErrNeedsHolds: a disable for a time was asked of the bare service; it
	// takes the schedule holds (holds.Service.Do), which bring it back.
	ErrNeedsHolds = errors.New("jobs: a disable for a time needs the schedule holds")
)

// NotApplicableError says why EM would not do the action in the job's state.
// Reason is a sentence for people (capitalised and punctuated, unlike Go
// error strings). It is an ErrNotApplicable, and an ErrAlready when the
// schedule already has the state asked for.
type NotApplicableError struct {
	Reason  string
	Already bool
	audit   string // the audit log's words, when they differ from Reason
}

func (e *NotApplicableError) Error() string { return "jobs: action not applicable now: " + e.Reason }
func (e *NotApplicableError) Unwrap() error { return ErrNotApplicable }
func (e *NotApplicableError) Is(target error) bool {
	return target == ErrAlready && e.Already
}

func notApplicable(reason, audit string) *NotApplicableError {
	return &NotApplicableError{Reason: reason, audit: audit}
}

// The reasons Applicable gives, made once: the list asks it for every
// action of every row, and most actions are not applicable to most jobs.
// Nobody changes an error once made, so they are shared.
var (
	noStart         = notApplicable("Enterprise Manager does not offer Start for this job.", "")
	startRunning    = notApplicable("The job is already running.", "the job is already running")
	noStop          = notApplicable("Enterprise Manager does not offer Stop for this job.", "")
	stopIdle        = notApplicable("The job is not running, so there is nothing to stop.", "the job is not running")
	noRetry         = notApplicable("Enterprise Manager does not offer Retry for this job.", "")
	retryRunning    = notApplicable("Retry is possible only after a failed run.", "the job is already running")
	retryNotFailed  = notApplicable("Retry is possible only after a failed run.", "the last run did not fail")
	noToggle        = notApplicable("Enterprise Manager does not offer schedule changes for this job.", "")
	noSchedule      = notApplicable("The job has no schedule.", "")
	alreadyEnabled  = alreadyState(true)
	alreadyDisabled = alreadyState(false)
)

func alreadyState(enabled bool) *NotApplicableError {
	return &NotApplicableError{Reason: "The schedule is already " + stateWord(enabled) + ".", Already: true,
		audit: "schedule already " + stateWord(enabled)}
}

// Applicable says why the action cannot be done on the job as j shows it, or
// nil. It is the one rule: views offer only what it allows, and Do refuses
// what it does not, on the state Do decides on. It allocates nothing.
func Applicable(j *Job, a Action) error {
	links := j.Entity.Links
	switch a {
	case Start:
		if !links.Has("Start") {
			return noStart
		}
		if j.Running() {
			return startRunning
		}
	case Stop:
		if !links.Has("Stop") {
			return noStop
		}
		if !j.Running() {
			return stopIdle
		}
	case Retry:
		if !links.Has("Retry") {
			return noRetry
		}
		if j.Running() {
			return retryRunning
		}
		if j.Last == nil || j.Last.Result != "Failed" {
			return retryNotFailed
		}
	case Enable, Disable:
		if err := Toggleable(j); err != nil {
			return err
		}
		if j.ScheduleEnabled == (a == Enable) {
			if j.ScheduleEnabled {
				return alreadyEnabled
			}
			return alreadyDisabled
		}
	default:
		return ErrUnknownAction
	}
	return nil
}

// Toggleable says why the job's schedule cannot be switched at all, or nil;
// whether it already has the wanted state is a separate question.
func Toggleable(j *Job) error {
	if !j.Entity.Links.Has("ToggleScheduleEnabled") {
		return noToggle
	}
	if !j.ScheduleConfigured {
		return noSchedule
	}
	return nil
}

// PolicyJob is the job as the policy matches it.
func (j *Job) PolicyJob() policy.Job {
	return policy.Job{UID: j.UID, Name: j.Name, Server: j.Server, Platform: j.Platform, Kind: j.Kind, Computers: j.Computers}
}

// Visible reports whether the grant lets its holder see j. It is the one
// visibility rule: every list, page and action asks it.
func Visible(g *policy.Grant, j *Job) bool { return g.Visible(j.PolicyJob()) }

// Can reports whether the grant allows a on j.
func Can(g *policy.Grant, j *Job, a Action) bool { return g.Can(j.PolicyJob(), policy.Action(a)) }

// ActOptions are the extras of Do.
type ActOptions struct {
	// Note is added to the audited outcome of the action, whatever it is
	// ("for 4 hours, until 14:02 UTC" for a time-boxed disable), so the audit
	// log says what the person asked for, not only what EM did.
	Note string
	// Until is when a disable ends; zero: when someone enables the schedule
	// again. Only the schedule holds (holds.Service.Do) carry it out.
	Until time.Time
	// Prepare runs under the job's lock once the action has passed every
	// check, before its audit record is written and EM is called; an error
	// refuses the action and nothing is sent. The schedule holds record a
	// hold here, so that a crash after EM's change still brings the schedule
	// back.
	Prepare func(ctx context.Context, j *Job) error
}

// decideFresh is how old a cached copy of the job may be for Do to decide
// on it without asking EM again, when no action of the portal has changed
// the job since it was read: the interval at which live views refresh a job
// while anything moves (Options.PollEvery).
func (s *Service) decideFresh() time.Duration { return s.opts.PollEvery }

// Do performs an action on a job for actor: it is the only way to act on a
// job. In order, without EM calls where a fresh copy of the job suffices:
// the policy (visibility, then the grant for the action), the job's lock,
// the action's applicability on state fresh enough to decide safely, the
// audit record (before EM is called; no record, no action), then EM,
// exactly once. The action is followed in the background; the Run says how
// it goes. Refusals are audited.
//
// EM round trips before the action is sent: none when a copy of the job read
// within PollEvery is in the cache and no action of the portal has changed
// the job since (start, stop, retry); otherwise one read, the job entity
// and/or its newest session alone, in parallel. The schedule toggle always
// reads the entity under the lock: sent twice, it undoes itself.
func (s *Service) Do(ctx context.Context, actor Actor, jobID string, a Action, opts ActOptions) (*Run, error) {
	if _, ok := ParseAction(string(a)); !ok {
		return nil, ErrUnknownAction
	}
	if !opts.Until.IsZero() {
		return nil, ErrNeedsHolds
	}
	if !emclient.ValidID(jobID) {
		return nil, ErrInvalidID
	}
	jobID = strings.ToLower(jobID)

	// A cached copy decides the policy before any lock is taken or EM asked:
	// policy attributes (name, server, computers) do not change with runs.
	// Without one, the lock comes first and the one read under it serves the
	// policy too (one round trip, not two); someone the policy refuses then
	// holds the lock for that read only.
	cached, asOf, isCached := s.cachedJob(jobID)
	if isCached {
		if err := s.permit(ctx, actor, cached, a, opts); err != nil {
			return nil, err
		}
	}

	name := actor.Name
	if name == "" {
		name = actor.Key
	}
	holder := newHolder(name, s.opts.InstanceID)
	lockKey := "job-action:" + jobID
	ok, current, err := s.opts.Locker.TryLock(ctx, lockKey, holder, s.opts.LockTTL)
	if err != nil {
		return nil, fmt.Errorf("take job lock: %w: %w", ErrLockStore, err)
	}
	if !ok {
		j := cached
		if !isCached {
			// Who holds a job is told only to someone who may act on it.
			if j, _, err = s.Job(ctx, jobID); err != nil {
				return nil, err
			}
			if err := s.permit(ctx, actor, j, a, opts); err != nil {
				return nil, err
			}
		}
		by := HolderName(current)
		s.refuse(ctx, actor, j, a, opts, Outcome{Result: ResultRefused, Message: "already in progress by " + by})
		return nil, &BusyError{By: by}
	}
	// The lock covers sending the action and EM's task, not the backup that follows:
	// a running start must not keep its own stop out.
	release := s.holdLock(lockKey, holder)

	j, err := s.decideOn(ctx, jobID, a, cached, asOf, isCached)
	if err != nil {
		release()
		return nil, err
	}
	if !isCached {
		if err := s.permit(ctx, actor, j, a, opts); err != nil {
			release()
			return nil, err
		}
	}
	if err := Applicable(j, a); err != nil {
		release()
		msg := err.Error()
		var na *NotApplicableError
		if errors.As(err, &na) {
			msg = cmp.Or(na.audit, na.Reason)
		}
		s.refuse(ctx, actor, j, a, opts, Outcome{Result: ResultRefused, Message: msg})
		return nil, err
	}
	if opts.Prepare != nil {
		if err := opts.Prepare(ctx, j); err != nil {
			release()
			return nil, err
		}
	}
	var known []string
	if j.Last != nil {
		known = append(known, j.Last.ID)
	}
	return s.send(ctx, actor, j, a, opts, known, name, release)
}

// Check tells whether actor may do a on the job as its cached copy shows it,
// without acting: the confirmation page asks before it offers the action.
// It applies the rules Do applies (Do decides again, on fresher state, when
// the action is sent), and returns the job with ErrNotApplicable errors so
// the caller can say why. Policy refusals are audited when auditDenied is
// set (a person's own request, not a link another site made them follow).
func (s *Service) Check(ctx context.Context, actor Actor, jobID string, a Action, auditDenied bool) (*Job, error) {
	if _, ok := ParseAction(string(a)); !ok {
		return nil, ErrUnknownAction
	}
	j, _, err := s.Job(ctx, jobID)
	if err != nil {
		return nil, err
	}
	if err := policyError(actor, j, a); err != nil {
		if auditDenied {
			s.auditDenied(ctx, actor, j, a, ActOptions{}, err)
		}
		return nil, err
	}
	return j, Applicable(j, a)
}

// cachedJob is the job's cached copy and when it was read, without asking
// EM.
func (s *Service) cachedJob(jobID string) (*Job, time.Time, bool) {
	return s.cache.jobs.peek(jobID)
}

// permit applies the policy to j: hidden jobs are answered as missing, and
// both refusals are audited.
func (s *Service) permit(ctx context.Context, actor Actor, j *Job, a Action, opts ActOptions) error {
	err := policyError(actor, j, a)
	if err != nil {
		s.auditDenied(ctx, actor, j, a, opts, err)
	}
	return err
}

func (s *Service) auditDenied(ctx context.Context, actor Actor, j *Job, a Action, opts ActOptions, err error) {
	msg := "not allowed by policy"
	if errors.Is(err, ErrNotVisible) {
		msg += ": the job is not visible to this user (answered as not found)"
	}
	s.refuse(ctx, actor, j, a, opts, Outcome{Result: ResultDenied, Message: msg})
}

// policyError is ErrNotVisible or ErrNotAllowed when the actor's grant
// refuses a on j, nil when it allows it.
func policyError(actor Actor, j *Job, a Action) error {
	switch {
	case !Visible(actor.Grant, j):
		return ErrNotVisible
	case !Can(actor.Grant, j, a):
		return ErrNotAllowed
	}
	return nil
}

func (s *Service) refuse(ctx context.Context, actor Actor, j *Job, a Action, opts ActOptions, o Outcome) {
	at := Attempt{At: s.opts.Now(), Actor: actor, Action: a, JobID: j.ID, JobUID: j.UID, JobName: j.Name, Server: j.Server}
	o.Message = withNote(o.Message, opts.Note)
	if err := s.opts.Recorder.Refused(ctx, at, o); err != nil {
		s.log.Error("audit write failed", "err", err, "job", j.ID, "action", a)
	}
}

// decideOn is the job as the action is decided on, under its lock, at the
// cost of one EM round trip at most.
//
// Start, stop and retry depend on whether the job runs and how its last run
// ended: the newest session tells, and the entity carries every action link
// whatever the job's state (EM documents no state on it). The cached copy
// does when it is younger than decideFresh and no action of the portal, on
// this replica or another, changed the job since it was read: the lock is
// held now, so none can start meanwhile. EM's own schedule or console may
// start the job at any moment; a read a second older does not change that.
//
// The schedule toggle decides on the entity read under the lock: a decision
// on a stale copy would undo a change, so no copy is trusted.
func (s *Service) decideOn(ctx context.Context, jobID string, a Action, cached *Job, asOf time.Time, isCached bool) (*Job, error) {
	toggle := a == Enable || a == Disable
	if !toggle && isCached && s.unchangedSince(ctx, jobID, asOf) {
		return cached, nil
	}
	since := s.cache.jobs.current()
	var (
		wg              sync.WaitGroup
		ent             *emclient.AgentBackupJob
		newest          *SessionPage
		entErr, sessErr error
	)
	if toggle || !isCached {
		wg.Go(func() { ent, entErr = s.em.AgentJob(ctx, jobID) })
	}
	if !toggle || !isCached {
		wg.Go(func() { newest, sessErr = s.loadSessions(ctx, jobID, 1, 1) })
	}
	wg.Wait()
	if entErr != nil {
		if errors.Is(entErr, emclient.ErrNotFound) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("read job: %w", entErr)
	}
	if sessErr != nil {
		return nil, sessErr
	}
	var j *Job
	if ent != nil {
		j = jobFrom(ent)
	} else {
		cp := *cached
		j = &cp
	}
	switch {
	case newest != nil && len(newest.Sessions) > 0:
		j.Last = newest.Sessions[0]
	case newest != nil:
		j.Last = nil
	case isCached:
		j.Last = cached.Last
	}
	if !isCached && newest != nil {
		// The page opened after the action shows this copy; the action's run
		// marks it stale once it changes the job.
		s.cache.jobs.put(jobID, j, since)
	}
	return j, nil
}

// unchangedSince reports that a copy of the job read at asOf is fresh
// enough to decide on: younger than decideFresh, and no action of the
// portal changed the job since or awaits EM. Other replicas' runs are read
// from the shared store now, not from the copy cached for viewers.
func (s *Service) unchangedSince(ctx context.Context, jobID string, asOf time.Time) bool {
	if s.opts.Now().Sub(asOf) >= s.decideFresh() {
		return false
	}
	s.cache.runs.invalidate(struct{}{})
	st, ok := s.RunState(ctx, jobID)
	return !ok || !st.Changed.After(asOf) && !st.Awaiting()
}

// send writes the audit record, calls EM once and follows the action.
func (s *Service) send(ctx context.Context, actor Actor, job *Job, a Action, opts ActOptions, known []string, name string, release func()) (*Run, error) {
	attempt := Attempt{At: s.opts.Now(), Actor: actor, Action: a, JobID: job.ID, JobUID: job.UID, JobName: job.Name, Server: job.Server}
	auditID, err := s.opts.Recorder.Begin(ctx, attempt)
	if err != nil {
		release()
		s.log.Error("audit write failed; action refused", "err", err, "job", job.ID, "action", a)
		return nil, fmt.Errorf("%w: %v", ErrAudit, err)
	}

	run := &Run{JobID: job.ID, JobName: job.Name, Action: a, By: name, StartedAt: attempt.At, done: make(chan struct{}), note: opts.Note, known: known,
		now: s.opts.Now, publish: s.publishRun}
	run.state.State = RunStarting
	run.state.Changed = attempt.At
	s.publishRun(run.Snapshot())
	// Views offer no button while the job's lock is held for this action:
	// say when it is released (EM accepted it, or it ended).
	unlock := release
	release = func() {
		unlock()
		run.update(func(st *RunState) { st.Unlocked = true })
	}
	s.mu.Lock()
	s.runs[job.ID] = run
	s.mu.Unlock()

	task, err := s.em.JobAction(ctx, job.ID, a.em())
	if err != nil {
		outcome := Outcome{Result: ResultFailed, Message: emMessage(err)}
		state := RunFailed
		shown := outcome.Message
		if errors.Is(err, emclient.ErrOutcomeUnknown) {
			// The request reached EM but the answer did not reach us: never resend;
			// find out from the job's sessions instead.
			outcome.Result, state = ResultUnknown, RunUnknown
			outcome.Message = "The " + string(a) + " was sent, but Enterprise Manager's answer was lost; looking at the job's sessions to find out."
			shown = mayStillHappen(a)
		}
		run.update(func(st *RunState) { st.State, st.Message = state, shown })
		if state == RunUnknown {
			s.follow(run, job, nil, auditID, release)
			return run, nil
		}
		s.end(run, auditID, outcome, release)
		return run, err
	}
	run.update(func(st *RunState) { st.State, st.TaskID = RunRunning, task.TaskID })
	s.follow(run, job, task, auditID, release)
	return run, nil
}
