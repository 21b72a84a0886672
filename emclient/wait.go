package emclient

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// WaitOptions controls task polling. Zero values take the defaults: Interval 1s,
// MaxInterval 5s, Timeout 10m. OnUpdate, when set, sees every polled task.
type WaitOptions struct {
	Interval, MaxInterval, Timeout time.Duration
	OnUpdate                       func(*Task)
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
	return w
}

// ActionOutcome is what FollowAction learned about an action: the finished Task,
// and the job session it created (start, retry) or affected (stop). FromSession
// is true when the task had vanished with an expired logon session and the
// outcome was read from the job's latest session instead (Task is then the
// caller's last known task).
type ActionOutcome struct {
	Task        *Task
	Session     *BackupJobSession
	FromSession bool
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
// outcome. For a finished start or retry task it follows the task's Related link
// to the session created. If the task answers 404 because the logon session it
// belonged to was replaced by a re-logon, it falls back to the job's sessions:
// for start/retry the newest session created at or after t.SentAt (polled until
// it appears or the wait times out), for stop the newest session; a vanished
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
	if done.Result != nil && done.Result.Success && (startLike(done.Operation) || startLike(t.Operation)) {
		if sid := relatedSessionID(done); sid != "" {
			s, err := c.BackupSession(ctx, sid)
			if err != nil {
				return out, fmt.Errorf("emclient: task %s finished, reading its session: %w", done.TaskID, err)
			}
			out.Session = s
		}
	}
	return out, nil
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
	// EM's clock and ours may differ by less than a second in the precision of
	// the times it writes; never let sub-second truncation hide the session.
	since := t.SentAt.Truncate(time.Second)
	interval := w.Interval
	for {
		s, err := c.latestJobSession(ctx, jobID, since)
		if err != nil && !errors.Is(err, ErrUnavailable) {
			return nil, err
		}
		if s != nil {
			return &ActionOutcome{Task: t, Session: s, FromSession: true}, nil
		}
		if err := sleep(ctx, interval); err != nil {
			return nil, fmt.Errorf("emclient: no session of job %s since %s: %w", jobID, since.Format(time.RFC3339), err)
		}
		interval = min(interval*3/2, w.MaxInterval)
	}
}

// latestJobSession returns the newest AgentBackup session of the job created at
// or after since (any time when since is zero), or nil.
func (c *Client) latestJobSession(ctx context.Context, jobID string, since time.Time) (*BackupJobSession, error) {
	// EM's examples write agent job UIDs both ways.
	f := Or(Eq("JobUid", "urn:veeam:AgentBackupJob:"+jobID), Eq("JobUid", "urn:veeam:Job:"+jobID))
	res, err := c.Query(ctx, Query{Type: "BackupJobSession", Entities: true, Filter: f, SortDesc: "CreationTime", PageSize: 5, Page: 1})
	if err != nil {
		return nil, err
	}
	if res.Entities == nil || res.Entities.BackupJobSessions == nil {
		return nil, nil
	}
	var best *BackupJobSession
	for i := range res.Entities.BackupJobSessions.Sessions {
		s := &res.Entities.BackupJobSessions.Sessions[i]
		if !strings.EqualFold(IDFromUID(s.JobUID), jobID) {
			continue // never trust the filter alone
		}
		if !since.IsZero() && s.CreationTimeUTC.Before(since) {
			continue
		}
		if best == nil || s.CreationTimeUTC.After(best.CreationTimeUTC.Time) {
			best = s
		}
	}
	return best, nil
}
