package emclient

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// WaitOptions controls task polling. Zero values take the defaults: Interval 1s,
// MaxInterval 5s, Timeout 10m, ClockSkew 2m, SessionWait 30s. OnUpdate, when
// set, sees every polled task.
type WaitOptions struct {
	Interval, MaxInterval, Timeout time.Duration
	OnUpdate                       func(*Task)

	// ClockSkew is how far the clocks of EM and the backup server (which writes
	// a session's CreationTimeUTC) may be behind ours: a session created up to
	// ClockSkew before the action was sent may still be the action's.
	ClockSkew time.Duration
	// SessionWait bounds how long FollowAction looks for the session a finished
	// start or retry created. EM's database may lag the backup server, so the
	// session can appear a while after the task finished.
	SessionWait time.Duration
	// Known lists ids of the job's sessions that existed before the action was
	// sent; they are never taken for the action's session, however close their
	// creation time is.
	Known []string
}

func (w WaitOptions) withDefaults() WaitOptions {
	if w.Interval <= 0 {
		w.Interval = time.Second
	}
	if w.MaxInterval <= 0 {
		w.MaxInterval = 5 * time.Second
	}
	if w.MaxInterval < w.Interval {
		w.MaxInterval = w.Interval
	}
	if w.Timeout <= 0 {
		w.Timeout = 10 * time.Minute
	}
	if w.ClockSkew <= 0 {
		w.ClockSkew = DefaultClockSkew
	}
	if w.SessionWait <= 0 {
		w.SessionWait = 30 * time.Second
	}
	return w
}

// DefaultClockSkew is WaitOptions.ClockSkew when none is given.
const DefaultClockSkew = 2 * time.Minute

// ActionOutcome is what FollowAction learned about an action: the finished Task,
// and the job session it created (start, retry) or affected (stop). FromSession
// is true when the task had vanished with an expired logon session and the
// outcome was read from the job's latest session instead (Task is then the
// caller's last known task). SessionPending is true when EM accepted a start or
// retry (its task finished with Success="true") but no new session of the job
// appeared within WaitOptions.SessionWait: the backup has not been seen yet,
// so the caller should keep looking (FindActionSession) rather than report it
// done.
type ActionOutcome struct {
	Task           *Task
	Session        *BackupJobSession
	FromSession    bool
	SessionPending bool
}

// WaitTask polls GET /api/tasks/{id} until the task is Finished, with the
// interval growing by half each poll up to MaxInterval. Transient failures
// (ErrUnavailable) are polled through until the timeout; other errors end the
// wait. A task that is not finished in time yields an error wrapping
// context.DeadlineExceeded.
func (c *Client) WaitTask(ctx context.Context, taskID string, w WaitOptions) (*Task, error) {
	if err := checkTaskID(taskID); err != nil {
		return nil, err
	}
	w = w.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, w.Timeout)
	defer cancel()
	interval := w.Interval
	var lastErr error
	for {
		t, err := c.Task(ctx, taskID)
		switch {
		case err == nil:
			lastErr = nil
			if w.OnUpdate != nil {
				w.OnUpdate(t)
			}
			if t.Finished() {
				return t, nil
			}
		case errors.Is(err, ErrUnavailable) && ctx.Err() == nil:
			lastErr = err
		default:
			return nil, err
		}
		if err := sleep(ctx, interval); err != nil {
			if lastErr != nil {
				return nil, fmt.Errorf("emclient: task %s not finished in %v: %w (last error: %w)", taskID, w.Timeout, err, lastErr)
			}
			return nil, fmt.Errorf("emclient: task %s not finished in %v: %w", taskID, w.Timeout, err)
		}
		interval = min(interval*3/2, w.MaxInterval)
	}
}

// FollowAction waits for the task of an action on job jobID and reports its
// outcome. For a start or retry whose task finished with success it finds the
// session the action created: EM documents no link from the task to it (the
// documented finished start task carries only a Delete link), so it asks the
// query service for the job's sessions created at or after t.SentAt minus
// w.ClockSkew (never one of w.Known), newest first, and retries for up to
// w.SessionWait; if none appears, the outcome has SessionPending set. A
// Related link to a backup session, when a server sends one (the documented
// task query example shows one on a StartJob task), is used as a shortcut.
// If the task answers 404 because the logon session it belonged to was
// replaced by a re-logon, it falls back to the job's sessions: for start/retry
// the same search (polled until the session appears or the wait times out),
// for stop the newest session; a vanished
// toggle task yields ErrOutcomeUnknown (read the job to see its state). A task
// that finished with Result Success="false" is an outcome, not an error.
func (c *Client) FollowAction(ctx context.Context, jobID string, t *Task, w WaitOptions) (*ActionOutcome, error) {
	if err := checkID("job", jobID); err != nil {
		return nil, err
	}
	if t == nil {
		return nil, errors.New("emclient: FollowAction needs the action's task")
	}
	w = w.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, w.Timeout)
	defer cancel()
	last := t
	inner := w
	inner.OnUpdate = func(u *Task) {
		last = u
		if w.OnUpdate != nil {
			w.OnUpdate(u)
		}
	}
	done, err := c.WaitTask(ctx, t.TaskID, inner)
	if err != nil {
		if errors.Is(err, ErrNotFound) && c.taskLostWithLogon(t) {
			return c.outcomeFromSessions(ctx, jobID, last, w)
		}
		return nil, err
	}
	out := &ActionOutcome{Task: done}
	if done.Result == nil || !done.Result.Success || !(startLike(done.Operation) || startLike(t.Operation)) {
		return out, nil
	}
	if sid := relatedSessionID(done); sid != "" {
		s, err := c.BackupSession(ctx, sid)
		if err != nil {
			return out, fmt.Errorf("emclient: task %s finished, reading its session: %w", done.TaskID, err)
		}
		out.Session = s
		return out, nil
	}
	s, err := c.awaitActionSession(ctx, jobID, t.SentAt, w)
	if err != nil {
		out.SessionPending = true
		return out, fmt.Errorf("emclient: task %s finished, finding the session it created: %w", done.TaskID, err)
	}
	out.Session = s
	out.SessionPending = s == nil
	return out, nil
}

// awaitActionSession polls FindActionSession until the session shows up or
// w.SessionWait has passed (then it returns nil, nil). Transient failures are
// polled through.
func (c *Client) awaitActionSession(ctx context.Context, jobID string, sentAt time.Time, w WaitOptions) (*BackupJobSession, error) {
	if sentAt.IsZero() {
		return nil, nil // nothing to tell the action's session from older ones
	}
	wait := time.NewTimer(w.SessionWait)
	defer wait.Stop()
	interval := w.Interval
	for {
		s, err := c.FindActionSession(ctx, jobID, sentAt, w.ClockSkew, w.Known)
		if err != nil && !errors.Is(err, ErrUnavailable) {
			return nil, err
		}
		if s != nil {
			return s, nil
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-wait.C:
			t.Stop()
			return nil, nil
		case <-t.C:
		}
		interval = min(interval*3/2, w.MaxInterval)
	}
}

// FindActionSession asks once for the session a start or retry of job jobID
// sent at sentAt created: the newest parent session of the job created at or
// after sentAt-skew that is not one of known. It returns nil, nil when there
// is none yet. Per-computer child sessions (those with an Up link to a parent
// session) are never returned.
func (c *Client) FindActionSession(ctx context.Context, jobID string, sentAt time.Time, skew time.Duration, known []string) (*BackupJobSession, error) {
	if err := checkID("job", jobID); err != nil {
		return nil, err
	}
	// EM writes times with up to microsecond precision, and a filter may be
	// compared at whole seconds: never let truncation hide the session.
	since := sentAt.Add(-skew).Truncate(time.Second)
	return c.newestJobSession(ctx, jobID, since, known)
}

// taskLostWithLogon reports whether a 404 for t can be explained by a re-logon:
// the task was created under an older logon generation. For a task rebuilt by
// the caller (generation unknown) SentAt must be set, so that the fallback can
// tell the action's session from older ones.
func (c *Client) taskLostWithLogon(t *Task) bool {
	if t.logon != 0 {
		return t.logon != c.Logons()
	}
	return !t.SentAt.IsZero()
}

func startLike(op string) bool {
	switch op {
	case "StartJob", "StartAgentJob", "RetryAgentJob", "RetryJob":
		return true
	}
	return false
}

func (c *Client) outcomeFromSessions(ctx context.Context, jobID string, t *Task, w WaitOptions) (*ActionOutcome, error) {
	switch {
	case t.Operation == "UpdateJob":
		return nil, fmt.Errorf("emclient: task %s of job %s vanished with its logon session: %w", t.TaskID, jobID, ErrOutcomeUnknown)
	case t.Operation == "StopAgentJob" || t.Operation == "StopJob":
		s, err := c.latestJobSession(ctx, jobID, time.Time{})
		if err != nil {
			return nil, err
		}
		if s == nil {
			return nil, fmt.Errorf("emclient: job %s has no session: %w", jobID, ErrNotFound)
		}
		return &ActionOutcome{Task: t, Session: s, FromSession: true}, nil
	}
	interval := w.Interval
	for {
		s, err := c.FindActionSession(ctx, jobID, t.SentAt, w.ClockSkew, w.Known)
		if err != nil && !errors.Is(err, ErrUnavailable) {
			return nil, err
		}
		if s != nil {
			return &ActionOutcome{Task: t, Session: s, FromSession: true}, nil
		}
		if err := sleep(ctx, interval); err != nil {
			return nil, fmt.Errorf("emclient: no session of job %s since %s: %w", jobID, t.SentAt.Format(time.RFC3339), err)
		}
		interval = min(interval*3/2, w.MaxInterval)
	}
}

// latestJobSession returns the newest parent session of the job, or nil.
func (c *Client) latestJobSession(ctx context.Context, jobID string, since time.Time) (*BackupJobSession, error) {
	return c.newestJobSession(ctx, jobID, since, nil)
}

// newestJobSession returns the newest parent session of the job created at or
// after since (any time when since is zero) whose id is not in skip, or nil.
func (c *Client) newestJobSession(ctx context.Context, jobID string, since time.Time, skip []string) (*BackupJobSession, error) {
	// EM's examples write agent job UIDs both ways.
	f := Or(Eq("JobUid", "urn:veeam:AgentBackupJob:"+jobID), Eq("JobUid", "urn:veeam:Job:"+jobID))
	if !since.IsZero() {
		f = And(f, Ge("CreationTime", since.UTC()))
	}
	res, err := c.Query(ctx, Query{Type: "BackupJobSession", Entities: true, Filter: f, SortDesc: "CreationTime", PageSize: 10, Page: 1})
	if err != nil {
		return nil, err
	}
	if res.Entities == nil || res.Entities.BackupJobSessions == nil {
		return nil, nil
	}
	var best *BackupJobSession
	for i := range res.Entities.BackupJobSessions.Sessions {
		s := &res.Entities.BackupJobSessions.Sessions[i]
		// Never trust the filter alone.
		if !strings.EqualFold(IDFromUID(s.JobUID), jobID) || s.IsChild() {
			continue
		}
		if !since.IsZero() && s.CreationTimeUTC.Before(since) {
			continue
		}
		if slices.ContainsFunc(skip, func(id string) bool { return strings.EqualFold(id, IDFromUID(s.UID)) }) {
			continue
		}
		if best == nil || s.CreationTimeUTC.After(best.CreationTimeUTC.Time) {
			best = s
		}
	}
	return best, nil
}

// IsChild reports whether the session is a per-computer child session: EM
// links a child to its parent with an Up link of Type BackupJobSessionReference
// (Name "Parent session").
func (s *BackupJobSession) IsChild() bool {
	_, ok := s.Links.Find("Up", "BackupJobSessionReference")
	return ok || s.JobType == "AgentManagement"
}
