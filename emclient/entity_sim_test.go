package emclient_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/agentdesk/agentdesk/emclient"
)

// TestJobPageDecodersMatchFullModelOnSim reads every job of the simulator's
// fleet as a job page does (AgentJob's hand decoder, and the first page of
// its sessions through SessionPage's rows) and checks both against the
// tagged types' decode of the same resources (the entity list and Query).
func TestJobPageDecodersMatchFullModelOnSim(t *testing.T) {
	e := newSim(t)
	c := e.client(t)
	ctx := context.Background()
	all, err := c.AgentJobs(ctx)
	if err != nil || len(all) == 0 {
		t.Fatalf("AgentJobs: %d jobs, %v", len(all), err)
	}
	withSessions := 0
	for _, full := range all {
		id := emclient.IDFromUID(full.UID)
		got, err := c.AgentJob(ctx, id)
		if err != nil {
			t.Fatalf("AgentJob %s: %v", id, err)
		}
		if !reflect.DeepEqual(*got, full) {
			t.Errorf("AgentJob %s:\n%+v\nfull model:\n%+v", id, *got, full)
		}

		q := emclient.Query{Filter: emclient.Or(emclient.Eq("JobUid", "urn:veeam:AgentBackupJob:"+id), emclient.Eq("JobUid", "urn:veeam:Job:"+id)),
			SortDesc: "CreationTime", PageSize: 3, Page: 2}
		var rows []emclient.SessionRow
		paging, err := c.SessionPage(ctx, q, func(r *emclient.SessionRow) error { rows = append(rows, *r); return nil })
		if err != nil {
			t.Fatalf("SessionPage %s: %v", id, err)
		}
		q.Type, q.Entities = "BackupJobSession", true
		res, err := c.Query(ctx, q)
		if err != nil {
			t.Fatalf("Query %s: %v", id, err)
		}
		if !reflect.DeepEqual(paging, res.PagingInfo) {
			t.Errorf("%s: paging %+v, full model %+v", id, paging, res.PagingInfo)
		}
		var sessions []emclient.BackupJobSession
		if res.Entities != nil && res.Entities.BackupJobSessions != nil {
			sessions = res.Entities.BackupJobSessions.Sessions
		}
		if len(rows) != len(sessions) {
			t.Fatalf("%s: %d rows, full model %d sessions", id, len(rows), len(sessions))
		}
		withSessions += min(len(rows), 1)
		for i, f := range sessions {
			want := emclient.SessionRow{UID: f.UID, Name: f.Name, JobUID: f.JobUID, JobName: f.JobName, JobType: f.JobType,
				Created: f.CreationTimeUTC.Time, State: f.State, Result: f.Result, Progress: f.Progress,
				FailureMessage: f.FailureMessage, IsRetry: f.IsRetry}
			if f.EndTimeUTC != nil {
				want.Ended = f.EndTimeUTC.Time
			}
			if l, ok := f.Links.Find("Up", "BackupJobSessionReference"); ok {
				want.ParentHref = l.Href
			}
			if !reflect.DeepEqual(rows[i], want) {
				t.Errorf("%s session %d:\n%+v\nfull model:\n%+v", id, i, rows[i], want)
			}
		}
	}
	if withSessions == 0 {
		t.Fatal("no job had a second page of sessions: the test compared nothing")
	}
}
