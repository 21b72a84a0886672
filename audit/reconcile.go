package audit

import (
	"context"
	"fmt"
	"time"

	"github.com/agentdesk/agentdesk/emclient"
	"github.com/agentdesk/agentdesk/jobs"
)

// EM is what reconciling needs from Enterprise Manager; *emclient.Client has it.
type EM interface {
	Query(ctx context.Context, q emclient.Query) (*emclient.QueryResult, error)
}

// Messages of reconciled entries.
const (
	msgReconciling = "the portal stopped before EM answered; not reconciled yet"
	msgNoSession   = "the portal stopped before EM answered; no session found"
	msgNoReadBack  = "the portal stopped before EM answered; EM keeps no record of this action to read back"
)

// sessionWindow is how long after an attempt a session it started may begin.
const sessionWindow = 5 * time.Minute

// ReconcileReport counts what Reconcile did.
type ReconcileReport struct {
	Pending   int // pending entries found (a process died between Begin and Finish)
	Performed int // of those, found done in EM
	Unknown   int // left unknown
}

// Reconcile settles the entries of actions whose process died between Begin
// and Finish. Pending entries begun before `before` (the start of this
// process: later ones may belong to a live replica) first become unknown, so
// the crash is on record even if EM cannot be asked; then EM is asked: a
// start or retry whose job has a session created from a minute before the
// attempt up to a few minutes after it becomes performed with that session.
func (l *Log) Reconcile(ctx context.Context, em EM, before time.Time) (ReconcileReport, error) {
	var r ReconcileReport
	var todo []Entry
	err := l.store.Each(ctx, Filter{Kind: KindAction, Result: ResultPending, To: before}, func(e Entry) error {
		todo = append(todo, e)
		return nil
	})
	if err != nil {
		return r, err
	}
	r.Pending = len(todo)
	now := micro(l.opts.Now())
	for i := range todo {
		e, err := l.store.Complete(ctx, todo[i].ID, Completion{Result: ResultUnknown, Message: msgReconciling, At: now})
		if err != nil {
			l.failures.Add(1)
			return r, err
		}
		l.toSink(e)
	}
	// Entries marked by an earlier start that died while asking EM.
	seen := map[int64]bool{}
	for _, e := range todo {
		seen[e.ID] = true
	}
	err = l.store.Each(ctx, Filter{Kind: KindAction, Result: ResultUnknown, To: before}, func(e Entry) error {
		if e.Message == msgReconciling && !seen[e.ID] {
			todo = append(todo, e)
		}
		return nil
	})
	if err != nil {
		return r, err
	}
	for _, e := range todo {
		c, err := l.reconcileOne(ctx, em, e)
		if err != nil {
			// EM unreachable: leave the entry for the next start.
			l.log.Warn("audit reconcile: EM not asked", "err", err, "audit_id", e.ID)
			r.Unknown++
			continue
		}
		c.At = micro(l.opts.Now())
		done, err := l.store.Complete(ctx, e.ID, c)
		if err != nil {
			l.failures.Add(1)
			return r, err
		}
		l.toSink(done)
		if c.Result == ResultPerformed {
			r.Performed++
		} else {
			r.Unknown++
		}
	}
	if r.Pending > 0 {
		l.log.Warn("audit: actions interrupted by a stop were reconciled", "pending", r.Pending, "performed", r.Performed, "unknown", r.Unknown)
	}
	return r, nil
}

func (l *Log) reconcileOne(ctx context.Context, em EM, e Entry) (Completion, error) {
	switch jobs.Action(e.Action) {
	case jobs.Start, jobs.Retry:
	default:
		// Stop and the schedule toggle leave no session, and EM's tasks die
		// with the portal's logon session: nothing to read back.
		return Completion{Result: ResultUnknown, Message: msgNoReadBack}, nil
	}
	id := e.JobID
	if id == "" {
		id = emclient.IDFromUID(e.JobUID)
	}
	if !emclient.ValidID(id) {
		return Completion{}, fmt.Errorf("entry %d: no valid job id", e.ID)
	}
	res, err := em.Query(ctx, emclient.Query{
		Type: "BackupJobSession", Entities: true,
		Filter: emclient.And(
			emclient.Or(emclient.Eq("JobUid", "urn:veeam:AgentBackupJob:"+id), emclient.Eq("JobUid", "urn:veeam:Job:"+id)),
			emclient.Ge("CreationTime", e.At.Add(-time.Minute)),
			emclient.Le("CreationTime", e.At.Add(sessionWindow)),
		),
		SortAsc: "CreationTime", PageSize: 1,
	})
	if err != nil {
		return Completion{}, err
	}
	if res == nil || res.Entities == nil || res.Entities.BackupJobSessions == nil || len(res.Entities.BackupJobSessions.Sessions) == 0 {
		return Completion{Result: ResultUnknown, Message: msgNoSession}, nil
	}
	s := res.Entities.BackupJobSessions.Sessions[0]
	c := Completion{Result: ResultPerformed, SessionID: emclient.IDFromUID(s.UID),
		Message: "the portal stopped before EM answered; EM started session " + s.Name}
	if s.State == "Stopped" {
		c.Final = s.Result
	}
	return c, nil
}
