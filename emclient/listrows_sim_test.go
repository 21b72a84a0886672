package emclient_test

import (
	"context"
	"testing"

	"github.com/agentdesk/agentdesk/emclient"
)

// TestRowsMatchFullModelOnSim pages the simulator's fleet through the list
// decoders (pages of 7, so the walk crosses pages) and checks each row against
// the full model of the same query.
func TestRowsMatchFullModelOnSim(t *testing.T) {
	e := newSim(t)
	c := e.client(t)
	ctx := context.Background()

	full := map[string]emclient.AgentBackupJob{}
	err := c.QueryPages(ctx, emclient.Query{Type: "AgentBackupJob", Entities: true, PageSize: 1000}, func(r *emclient.QueryResult) error {
		for _, j := range r.Entities.AgentBackupJobs.Jobs {
			full[j.UID] = j
		}
		return nil
	})
	if err != nil || len(full) == 0 {
		t.Fatalf("full query: %d jobs, %v", len(full), err)
	}
	n := 0
	err = c.JobRows(ctx, emclient.Query{SortAsc: "Name", PageSize: 7}, func(r *emclient.JobRow) error {
		n++
		f, ok := full[r.UID]
		if !ok {
			t.Errorf("row %q not in the full answer", r.UID)
			return nil
		}
		srv, _ := f.Links.Find("Up", "BackupServerReference")
		got, _ := r.Links.Find("Up", "BackupServerReference")
		if r.Name != f.Name || r.Platform != f.Platform || r.Description != f.Description ||
			r.ScheduleEnabled != f.ScheduleEnabled || r.ScheduleConfigured != f.ScheduleConfigured ||
			(f.NextRun != nil) != !r.NextRun.IsZero() || got.Name != srv.Name || len(r.Links) != len(f.Links) ||
			f.JobInfo != nil && len(r.Includes) != len(f.JobInfo.Includes) {
			t.Errorf("row %+v\ndiffers from %+v", r, f)
		}
		return nil
	})
	if err != nil || n != len(full) {
		t.Fatalf("rows: %d of %d, %v", n, len(full), err)
	}

	fullSess := map[string]emclient.BackupJobSession{}
	q := emclient.Query{Type: "BackupJobSession", Entities: true, Filter: emclient.Eq("JobType", "AgentBackup"), PageSize: 1000}
	if err := c.QueryPages(ctx, q, func(r *emclient.QueryResult) error {
		for _, s := range r.Entities.BackupJobSessions.Sessions {
			fullSess[s.UID] = s
		}
		return nil
	}); err != nil || len(fullSess) == 0 {
		t.Fatalf("full session query: %d, %v", len(fullSess), err)
	}
	n = 0
	q.PageSize = 50
	err = c.SessionRows(ctx, q, func(r *emclient.SessionRow) error {
		n++
		f := fullSess[r.UID]
		if r.JobUID != f.JobUID || !r.Created.Equal(f.CreationTimeUTC.Time) || r.Result != f.Result || r.State != f.State ||
			r.Progress != f.Progress || (f.EndTimeUTC == nil) != r.Ended.IsZero() {
			t.Errorf("session row %+v\ndiffers from %+v", r, f)
		}
		return nil
	})
	if err != nil || n != len(fullSess) {
		t.Fatalf("session rows: %d of %d, %v", n, len(fullSess), err)
	}
}
