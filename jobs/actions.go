package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/agentdesk/agentdesk/emclient"
	"github.com/agentdesk/agentdesk/policy"
)

// Action is what a user asks the portal to do to a job. Enable and disable are
// the portal's names for EM's toggleScheduleEnabled with a desired end state.
type Action string

const (
	Start   Action = "start"
	Stop    Action = "stop"
	Retry   Action = "retry"
	Enable  Action = "enable"
	Disable Action = "disable"
)

// ParseAction accepts the action names used in URLs.
func ParseAction(s string) (Action, bool) {
	switch a := Action(s); a {
	case Start, Stop, Retry, Enable, Disable:
		return a, true
	}
	return "", false
}

func (a Action) em() emclient.Action {
	switch a {
	case Start:
		return emclient.ActionStart
	case Stop:
		return emclient.ActionStop
	case Retry:
		return emclient.ActionRetry
	}
	return emclient.ActionToggleSchedule
}

// Actor is who asked for an action: EM only ever sees the service account, so
// this is the only record of the person.
type Actor struct {
	Key       string // issuer|subject
	Name      string
	Email     string
	Groups    []string
	IP        string
	UserAgent string
	Embedded  bool
	// Grant is what the policy lets the person do; nil lets them do
	// nothing. Do decides on it; the audit trail does not record it.
	Grant *policy.Grant
}

// Attempt is an action as it is about to be sent to EM.
type Attempt struct {
	At      time.Time
	Actor   Actor
	Action  Action
	JobID   string
	JobUID  string
	JobName string
	Server  string
}

// Result is how an attempt ended, as the audit log records it.
type Result string

// Results.
const (
	ResultPerformed Result = "performed" // EM carried the action out
	ResultRefused   Result = "refused"   // not sent: busy, or not applicable in the job's state
	ResultDenied    Result = "denied"    // not sent: the policy does not allow it
	ResultFailed    Result = "failed"    // EM refused or failed it
	ResultUnknown   Result = "unknown"   // sent, but EM's answer was lost
)

// Outcome is how an attempt ended.
type Outcome struct {
	Result    Result
	Message   string
	TaskID    string
	SessionID string
	Final     string // the session's result (Success/Warning/Failed) when known
}

// Recorder writes the audit trail. Begin must be durable before EM is called: if
// it fails, the action is refused.
type Recorder interface {
	Begin(ctx context.Context, a Attempt) (id string, err error)
	Finish(ctx context.Context, id string, o Outcome) error
	Refused(ctx context.Context, a Attempt, o Outcome) error
}

// LogRecorder records to the log only: for tests and tools that choose to keep
// no audit trail. The service never falls back to it.
type LogRecorder struct{ Logger *slog.Logger }

func (r LogRecorder) Begin(_ context.Context, a Attempt) (string, error) {
	id := fmt.Sprintf("%s-%d", a.JobID, a.At.UnixNano())
	r.Logger.Info("action attempt", "audit_id", id, "user", a.Actor.Key, "name", a.Actor.Name, "action", a.Action, "job", a.JobUID, "job_name", a.JobName)
	return id, nil
}

func (r LogRecorder) Finish(_ context.Context, id string, o Outcome) error {
	r.Logger.Info("action outcome", "audit_id", id, "result", o.Result, "message", o.Message, "task", o.TaskID, "session", o.SessionID, "final", o.Final)
	return nil
}

func (r LogRecorder) Refused(_ context.Context, a Attempt, o Outcome) error {
	r.Logger.Info("action refused", "user", a.Actor.Key, "action", a.Action, "job", a.JobUID, "result", o.Result, "message", o.Message)
	return nil
}

// Locker gives one holder at a time per key, across replicas when backed by a
// shared store. A lock expires after ttl so a dead holder cannot keep it; a
// live holder renews it. UnlockHolders removes every lock whose holder
// contains marker: a replica that starts again drops the locks it held when
// it died (see InstanceMarker).
type Locker interface {
	TryLock(ctx context.Context, key, holder string, ttl time.Duration) (ok bool, current string, err error)
	Renew(ctx context.Context, key, holder string, ttl time.Duration) (held bool, err error)
	Unlock(ctx context.Context, key, holder string) error
	UnlockHolders(ctx context.Context, marker string) (int, error)
}

// holderSep separates the person's name in a lock holder from the random part
// that makes each attempt a holder of its own: the same person double-clicking
// on two replicas must still take the lock once, and one attempt must never
// unlock another's. (Not NUL: PostgreSQL text cannot store it.)
const holderSep = "\x1f"

// instanceEnd ends the replica's instance id inside a holder.
const instanceEnd = "\x1e"

// newHolder is name, then after holderSep the replica's instance id (when
// set) and a random part.
func newHolder(name, instance string) string {
	b := make([]byte, 8)
	rand.Read(b)
	if instance != "" {
		return name + InstanceMarker(instance) + hex.EncodeToString(b)
	}
	return name + holderSep + hex.EncodeToString(b)
}

// InstanceMarker is the part of every lock holder that names the replica
// instance which took the lock; Locker.UnlockHolders finds them by it.
func InstanceMarker(instance string) string { return holderSep + instance + instanceEnd }

// HolderName is the display part of a lock holder, the name shown to people.
func HolderName(holder string) string {
	if i := strings.LastIndex(holder, holderSep); i >= 0 {
		return holder[:i]
	}
	return holder
}

// MemoryLocker is a Locker for a single process.
type MemoryLocker struct {
	now   func() time.Time
	mu    sync.Mutex
	locks map[string]memLock
}

type memLock struct {
	holder string
	until  time.Time
}

// NewMemoryLocker returns an in-process Locker.
func NewMemoryLocker(now func() time.Time) *MemoryLocker {
	if now == nil {
		now = time.Now
	}
	return &MemoryLocker{now: now, locks: make(map[string]memLock)}
}

func (m *MemoryLocker) TryLock(_ context.Context, key, holder string, ttl time.Duration) (bool, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.locks[key]; ok && m.now().Before(l.until) {
		return false, l.holder, nil
	}
	m.locks[key] = memLock{holder: holder, until: m.now().Add(ttl)}
	return true, holder, nil
}

func (m *MemoryLocker) Renew(_ context.Context, key, holder string, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.locks[key]
	if !ok || l.holder != holder || !m.now().Before(l.until) {
		return false, nil
	}
	m.locks[key] = memLock{holder: holder, until: m.now().Add(ttl)}
	return true, nil
}

func (m *MemoryLocker) UnlockHolders(_ context.Context, marker string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for k, l := range m.locks {
		if strings.Contains(l.holder, marker) {
			delete(m.locks, k)
			n++
		}
	}
	return n, nil
}

func (m *MemoryLocker) Unlock(_ context.Context, key, holder string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.locks[key]; ok && l.holder == holder {
		delete(m.locks, key)
	}
	return nil
}

// Phase is where a run is; RunState.State.
type Phase string

// Run phases.
const (
	RunStarting Phase = "starting"
	RunRunning  Phase = "running"
	RunFinished Phase = "finished"
	RunFailed   Phase = "failed"
	RunUnknown  Phase = "unknown"
)

// Run is an action the portal sent and follows. Its fields are read through
// Snapshot, because the follower goroutine updates them.
type Run struct {
	mu        sync.Mutex
	now       func() time.Time
	publish   func(RunState) // shares every change with the other replicas
	note      string         // ActOptions.Note, added to the audited outcome
	known     []string       // the job's sessions before the action: never taken for the one it created
	JobID     string
	JobName   string
	Action    Action
	By        string
	StartedAt time.Time
	state     RunState
	done      chan struct{}
	endedAt   time.Time
}

// RunState is a copy of a Run's progress at one moment. It is what replicas
// share (JSON in the RunStore), so every field is plain data.
type RunState struct {
	JobID     string
	JobName   string
	Action    Action
	By        string
	State     Phase
	Message   string
	TaskID    string
	SessionID string
	Progress  int
	Result    string    // the session's result when it ended
	StartedAt time.Time // when the action was sent
	// Changed is when the run last changed the job as EM shows it: the backup
	// session was found (the job runs) or the run ended. A copy of the job
	// read before it is stale.
	Changed time.Time
	EndedAt time.Time // zero while the run is followed
	// Unlocked: the job's action lock is released (EM accepted the action;
	// a Stop may be sent while the backup runs or its session is looked for).
	Unlocked bool
}

// Active reports a run still followed: its outcome is not known yet.
func (st RunState) Active() bool { return st.EndedAt.IsZero() }

// Awaiting reports an action EM has not confirmed yet (its task, or the
// session of an action whose answer was lost) while the job's lock is held
// for it: the job's state is about to change.
func (st RunState) Awaiting() bool {
	return st.Active() && !st.Unlocked && (st.State == RunStarting || st.State == RunUnknown || (st.State == RunRunning && st.SessionID == ""))
}

// Snapshot returns the run's current state.
func (r *Run) Snapshot() RunState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.snapshotLocked()
}

func (r *Run) snapshotLocked() RunState {
	st := r.state
	st.JobID, st.JobName, st.Action, st.By, st.StartedAt, st.EndedAt = r.JobID, r.JobName, r.Action, r.By, r.StartedAt, r.endedAt
	return st
}

// Done is closed when the run has ended.
func (r *Run) Done() <-chan struct{} { return r.done }

func (r *Run) update(f func(*RunState)) {
	r.mu.Lock()
	old := r.state
	f(&r.state)
	if r.now != nil && (old.State != r.state.State || old.SessionID != r.state.SessionID || old.Unlocked != r.state.Unlocked) {
		r.state.Changed = r.now()
	}
	st := r.snapshotLocked()
	r.mu.Unlock()
	if r.publish != nil {
		r.publish(st)
	}
}

func (r *Run) doneAt(now time.Time, keep time.Duration) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.endedAt.IsZero() && now.Sub(r.endedAt) > keep
}

// mayStillHappen is what a run says while EM's answer to the action is
// missing (a timeout, a lost connection): it was sent, so it may be carried
// out, and the portal looks for its backup session.
func mayStillHappen(a Action) string {
	return "The " + string(a) + " was sent, but Enterprise Manager's answer was lost or did not come in time. The action may still happen; AgentDesk keeps checking."
}

// Errors of Do.
var (
	// ErrBusy: another action on the job is in progress; BusyError says by whom.
	ErrBusy = errors.New("jobs: another action on this job is in progress")
	// ErrAlready: the schedule already has the state the user asked for.
	ErrAlready = errors.New("jobs: the schedule already has that state")
	// ErrNotApplicable: the action makes no sense in the job's state (stop while idle, retry after success).
	ErrNotApplicable = errors.New("jobs: action not applicable now")
	// ErrLockStore: the job lock could not be taken because the lock store
	// failed, so the action was not sent.
	ErrLockStore = errors.New("jobs: lock store unavailable")
	// ErrAudit: the audit record could not be written, so the action was not sent.
	ErrAudit = errors.New("jobs: audit record could not be written")
)

// BusyError tells who holds the job.
type BusyError struct{ By string }

func (e *BusyError) Error() string { return "already in progress by " + e.By }
func (e *BusyError) Unwrap() error { return ErrBusy }

// Run returns the action in progress on a job, or the last one while it is still
// worth showing.
func (s *Service) Run(jobID string) (*Run, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.runs[strings.ToLower(jobID)]
	return r, ok
}

// withNote appends an ActOptions.Note to an outcome message.
func withNote(msg, note string) string {
	switch {
	case note == "":
		return msg
	case msg == "":
		return note
	}
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg + " " + note
}

func stateWord(enabled bool) string {
	if enabled {
		return "enabled"
	}
	return "disabled"
}

// follow tracks the task, then the session it created, on the service's context.
func (s *Service) follow(run *Run, job *Job, task *emclient.Task, auditID string, release func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(s.ctx, s.opts.ActionLimit)
		defer cancel()
		outcome := s.followRun(ctx, run, job, task, release)
		s.end(run, auditID, outcome, release)
	}()
}

// NoSessionYet is the status of a start or retry EM accepted while it shows no
// session for it yet; the portal keeps looking.
const NoSessionYet = "EM accepted the %s but shows no new session yet; still looking for it."

func (s *Service) followRun(ctx context.Context, run *Run, job *Job, task *emclient.Task, release func()) Outcome {
	startLike := run.Action == Start || run.Action == Retry
	var sessionID, taskID string
	sentAt := run.StartedAt
	if task != nil {
		taskID = task.TaskID
		if !task.SentAt.IsZero() {
			sentAt = task.SentAt
		}
		out, err := s.em.FollowAction(ctx, job.ID, task, emclient.WaitOptions{
			Interval: s.opts.PollEvery, MaxInterval: s.opts.PollEvery, Timeout: s.opts.ActionLimit,
			ClockSkew: s.opts.ClockSkew, SessionWait: s.opts.SessionWait, Known: run.known,
		})
		if err != nil && (out == nil || !out.SessionPending) {
			return Outcome{Result: ResultUnknown, Message: "could not follow the EM task: " + emMessage(err), TaskID: taskID}
		}
		if err != nil {
			// EM accepted the action; only finding its session failed so far.
			s.log.Warn("looking for the session of an accepted action", "job", job.ID, "action", run.Action, "err", err)
		}
		if out.Task != nil && out.Task.Result != nil && !out.Task.Result.Success {
			// EM refused: its own words are the message.
			return Outcome{Result: ResultFailed, Message: out.Task.Result.Message, TaskID: taskID}
		}
		msg := ""
		if out.Task != nil && out.Task.Result != nil {
			msg = taskWords(job.Name, out.Task.Result.Message)
		}
		if out.Session != nil {
			sessionID = emclient.IDFromUID(out.Session.UID)
		}
		run.update(func(st *RunState) { st.Message, st.SessionID = msg, sessionID })
		if run.Action == Enable || run.Action == Disable {
			fresh, err := s.Fresh(ctx, job.ID)
			if err != nil {
				return Outcome{Result: ResultUnknown, Message: "toggled, but could not verify: " + emMessage(err), TaskID: taskID}
			}
			if fresh.ScheduleEnabled != (run.Action == Enable) {
				return Outcome{Result: ResultFailed, Message: "EM reported success but the schedule is still " + stateWord(fresh.ScheduleEnabled), TaskID: taskID}
			}
			return Outcome{Result: ResultPerformed, Message: "Schedule " + stateWord(fresh.ScheduleEnabled), TaskID: taskID}
		}
		if !startLike {
			return Outcome{Result: ResultPerformed, Message: msg, TaskID: taskID, SessionID: sessionID}
		}
	} else if !startLike {
		// Outcome unknown, and a stop or toggle leaves nothing to look for.
		return Outcome{Result: ResultUnknown, Message: "EM did not confirm the action; check the job"}
	}
	if sessionID == "" {
		// EM accepted the start (or may have: the answer was lost) but shows no
		// session for it yet. Say so, let stop through, and keep looking
		// rather than calling it done.
		release()
		if task != nil {
			run.update(func(st *RunState) { st.State, st.Message = RunRunning, fmt.Sprintf(NoSessionYet, run.Action) })
		}
		// The client has looked for SessionWait already when it had the task.
		search := s.opts.SessionSearch
		if task == nil {
			search += s.opts.SessionWait
		}
		sess, err := s.awaitSession(ctx, run, job.ID, sentAt, search)
		if sess == nil {
			switch {
			case task == nil:
				return Outcome{Result: ResultUnknown, Message: "EM did not confirm the action; check the job's sessions"}
			case err != nil && errors.Is(err, errDraining):
				return Outcome{Result: ResultPerformed, Message: "EM accepted the " + string(run.Action) + "; AgentDesk stopped looking for its session at shutdown", TaskID: taskID}
			}
			return Outcome{Result: ResultPerformed, Message: fmt.Sprintf("EM accepted the %s but showed no new session within %s; check the job's sessions in EM", run.Action, s.opts.SessionWait+search), TaskID: taskID}
		}
		sessionID = sess.ID
		run.update(func(st *RunState) {
			st.State, st.SessionID, st.Message = RunRunning, sessionID, "Found the session EM started"
		})
	}
	// Follow the backup session until it stops, so viewers see progress. The job is
	// unlocked now: EM has accepted the action, and stop must be possible.
	release()
	s.cache.jobChanged(run.JobID)
	t := time.NewTicker(s.opts.PollEvery)
	defer t.Stop()
	for {
		b, err := s.em.BackupSession(ctx, sessionID)
		if err == nil {
			sess := sessionFrom(b)
			run.update(func(st *RunState) { st.Progress = sess.Progress })
			if !sess.Running() {
				return Outcome{Result: ResultPerformed, Message: "Backup finished: " + sess.Result, TaskID: taskID, SessionID: sessionID, Final: sess.Result}
			}
		}
		select {
		case <-ctx.Done():
			return Outcome{Result: ResultUnknown, Message: "stopped following the backup session", TaskID: taskID, SessionID: sessionID}
		case <-s.draining:
			// EM has carried the action out; the backup runs on without us.
			return Outcome{Result: ResultPerformed, Message: "Backup running; AgentDesk stopped following it at shutdown", TaskID: taskID, SessionID: sessionID}
		case <-t.C:
		}
	}
}

var errDraining = errors.New("jobs: shutting down")

// awaitSession looks for the session a start or retry sent at sentAt created:
// the job's newest parent session created at or after sentAt minus the clock
// skew allowance that is not one the job had before. It polls until one
// appears or search has passed (nil, nil), the service shuts down (nil,
// errDraining) or ctx ends.
func (s *Service) awaitSession(ctx context.Context, run *Run, jobID string, sentAt time.Time, search time.Duration) (*Session, error) {
	deadline := time.NewTimer(search)
	defer deadline.Stop()
	t := time.NewTicker(s.opts.PollEvery)
	defer t.Stop()
	for {
		b, err := s.em.FindActionSession(ctx, jobID, sentAt, s.opts.ClockSkew, run.known)
		if err == nil && b != nil {
			return sessionFrom(b), nil
		}
		if err != nil {
			s.log.Debug("looking for an action's session", "job", jobID, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.draining:
			return nil, errDraining
		case <-deadline.C:
			return nil, nil
		case <-t.C:
		}
	}
}

func (s *Service) end(run *Run, auditID string, o Outcome, release func()) {
	state := RunFinished
	switch o.Result {
	case ResultFailed:
		state = RunFailed
	case ResultUnknown:
		state = RunUnknown
	}
	if o.Final == "Failed" {
		state = RunFailed
	}
	if o.Result == ResultPerformed && o.SessionID == "" && (run.Action == Start || run.Action == Retry) {
		// EM accepted it, but the backup was never seen: not "done".
		state = RunUnknown
	}
	// Record the outcome and drop the stale job before viewers see the run
	// end: a durable audit write takes a moment, and a click right after
	// "finished" must be judged on fresh state.
	o.Message = withNote(o.Message, run.note)
	if err := s.opts.Recorder.Finish(context.Background(), auditID, o); err != nil {
		s.log.Error("audit outcome write failed", "err", err, "audit_id", auditID)
	}
	s.cache.jobChanged(run.JobID)
	run.update(func(st *RunState) {
		st.State, st.Message, st.Result = state, o.Message, o.Final
		if o.SessionID != "" {
			st.SessionID = o.SessionID
		}
		if state == RunFinished {
			st.Progress = 100
		}
	})
	run.mu.Lock()
	run.endedAt = s.opts.Now()
	run.state.Changed = run.endedAt
	st := run.snapshotLocked()
	run.mu.Unlock()
	s.publishRun(st)
	release()
	close(run.done)
}

// emMessage is EM's own message when it sent one, the error text otherwise.
func emMessage(err error) string {
	var e *emclient.Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	return err.Error()
}

// emTaskSentences are the ends of EM's task messages (`Job "<name>" triggered
// to start.`) in the portal's words.
var emTaskSentences = map[string]string{
	"triggered to start.": "Enterprise Manager is starting the backup.",
	"triggered to retry.": "Enterprise Manager is retrying the backup.",
	"triggered to stop.":  "Enterprise Manager is stopping the backup.",
	"is already running.": "The backup is already running.",
	"is not running.":     "The backup is not running.",
	"cannot be retried: its last session did not fail.": "It cannot be retried: its last run did not fail.",
}

// taskWords rewrites an EM task message about this job. EM quotes the job's
// name inside its sentence, which reads badly when the name has quotes of its
// own (`Job ""Gold" tier" triggered to start.`); the page names the job
// already, so the sentence need not. Other messages pass unchanged.
func taskWords(jobName, msg string) string {
	prefix := `Job "` + jobName + `" `
	if !strings.HasPrefix(msg, prefix) {
		return msg
	}
	rest := strings.TrimPrefix(msg, prefix)
	if w, ok := emTaskSentences[rest]; ok {
		return w
	}
	return "This job " + rest
}

// holdLock keeps a lock just taken alive with a heartbeat (a renewal every
// third of the TTL), so the TTL can be short and still outlast a long EM
// task, and returns the function that releases it.
func (s *Service) holdLock(key, holder string) func() {
	ttl := s.opts.LockTTL
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(max(ttl/3, time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), ttl/3)
			held, err := s.opts.Locker.Renew(ctx, key, holder, ttl)
			cancel()
			switch {
			case err != nil:
				s.log.Warn("job lock renewal failed; trying again at the next beat", "err", err, "lock", key)
			case !held:
				s.log.Error("job lock lost while its action runs (expired during a lock-store outage?)", "lock", key)
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			<-stopped
			s.unlock(key, holder)
		})
	}
}

// unlock releases a lock. When the lock store fails, the release is tried
// again with backoff in the background until it succeeds or the lock has
// expired by itself (its TTL after the last renewal), so a store blip does
// not keep the job locked for the whole TTL.
func (s *Service) unlock(key, holder string) {
	try := func() error {
		ctx, cancel := context.WithTimeout(s.ctx, unlockTimeout)
		defer cancel()
		return s.opts.Locker.Unlock(ctx, key, holder)
	}
	err := try()
	if err == nil {
		return
	}
	s.log.Warn("job lock release failed; retrying", "err", err, "lock", key)
	expires := s.opts.Now().Add(s.opts.LockTTL)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		delay := unlockBackoff
		for {
			t := time.NewTimer(delay/2 + mrand.N(delay+1))
			select {
			case <-s.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			err := try()
			if err == nil {
				s.log.Info("job lock released after a retry", "lock", key)
				return
			}
			if !s.opts.Now().Before(expires) {
				s.log.Warn("job lock release still failing; the lock has expired by now", "err", err, "lock", key)
				return
			}
			delay = min(2*delay, unlockBackoffMax)
		}
	}()
}

// Lock release retries: the first after about unlockBackoff, doubling up to
// unlockBackoffMax; each attempt may take unlockTimeout.
const (
	unlockBackoff    = 100 * time.Millisecond
	unlockBackoffMax = 5 * time.Second
	unlockTimeout    = 5 * time.Second
)

// DropStaleLocks removes the locks this replica instance held when it last
// stopped without releasing them (a crash, SIGKILL): they belong to no live
// action. Call it once at start, before serving.
func (s *Service) DropStaleLocks(ctx context.Context) (int, error) {
	if s.opts.InstanceID == "" {
		return 0, nil
	}
	return s.opts.Locker.UnlockHolders(ctx, InstanceMarker(s.opts.InstanceID))
}
