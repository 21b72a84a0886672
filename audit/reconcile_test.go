package audit

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/emclient"
	"github.com/agentdesk/agentdesk/emclient/emsim"
	"github.com/agentdesk/agentdesk/jobs"
)

func TestReconcile(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		sim, em, _ := newEM(t, emsim.Config{Jobs: 8, SessionSpeed: time.Hour})
		fleet := sim.Jobs()
		started, quiet, toggled := fleet[0], fleet[1], fleet[2]
		l := New(s, Options{Logger: testLogger()})

		// The process "died" after Begin; EM did start this one.
		now := time.Now()
		startedID, _ := l.Begin(ctx, attempt(now, "iss|alice", "Alice", started.ID, started.Name, jobs.Start))
		if _, err := em.JobAction(ctx, started.ID, emclient.ActionStart); err != nil {
			t.Fatal(err)
		}
		// No session anywhere near this attempt.
		quietID, _ := l.Begin(ctx, attempt(now.Add(-40*24*time.Hour), "iss|alice", "Alice", quiet.ID, quiet.Name, jobs.Start))
		// A toggle leaves nothing to read back.
		toggledID, _ := l.Begin(ctx, attempt(now, "iss|alice", "Alice", toggled.ID, toggled.Name, jobs.Disable))
		// Completed before the crash: untouched.
		doneID, _ := l.Begin(ctx, attempt(now, "iss|alice", "Alice", quiet.ID, quiet.Name, jobs.Stop))
		l.Finish(ctx, doneID, jobs.Outcome{Result: "failed", Message: "Job is not running."})
		// Begun after this process started: perhaps a live replica's; untouched.
		before := now.Add(time.Second)
		liveID, _ := l.Begin(ctx, attempt(before.Add(time.Second), "iss|bob", "Bob", toggled.ID, toggled.Name, jobs.Enable))

		r, err := l.Reconcile(ctx, em, before)
		if err != nil {
			t.Fatal(err)
		}
		if r != (ReconcileReport{Pending: 3, Performed: 1, Unknown: 2}) {
			t.Errorf("report %+v", r)
		}
		byID := map[string]Entry{}
		l.Each(ctx, Filter{}, func(e Entry) error { byID[itoa(e.ID)] = e; return nil })
		check := func(id string, res Result, msg string) Entry {
			t.Helper()
			e := byID[id]
			if e.Result != res || (msg != "" && e.Message != msg) {
				t.Errorf("entry %s (%s %s): %s %q, want %s %q", id, e.Action, e.JobName, e.Result, e.Message, res, msg)
			}
			return e
		}
		if e := check(startedID, ResultPerformed, ""); e.SessionID == "" || !emclient.ValidID(e.SessionID) || e.CompletedAt.IsZero() {
			t.Errorf("reconciled start lacks its session: %+v", e)
		}
		check(quietID, ResultUnknown, msgNoSession)
		check(toggledID, ResultUnknown, msgNoReadBack)
		check(doneID, ResultFailed, "Job is not running.")
		check(liveID, ResultPending, "")

		// A second start finds nothing more to do.
		if r, err := l.Reconcile(ctx, em, before); err != nil || r != (ReconcileReport{}) {
			t.Errorf("second Reconcile = %+v, %v", r, err)
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
