package emclient

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestFollowActionWithoutRelated: EM's documented finished start task has no
// Related link (task_finished_agent_start.xml), so the session a start created
// is found by asking for the job's sessions created since the action was sent.
// An older session, a per-computer child and a known session are never taken.
func TestFollowActionWithoutRelated(t *testing.T) {
	f := newFakeEM(t)
	c := f.client(t)
	ctx := context.Background()
	w := WaitOptions{Interval: time.Millisecond, MaxInterval: 5 * time.Millisecond, Timeout: 5 * time.Second}
	now := time.Now().UTC()
	job := "urn:veeam:AgentBackupJob:" + fakeJobID
	f.sessions = append(f.sessions,
		// Older than the action by more than the skew allowance.
		BackupJobSession{UID: "urn:veeam:BackupJobSession:11111111-1111-1111-1111-111111111111", JobUID: job,
			CreationTimeUTC: Time{now.Add(-time.Hour)}, State: "Stopped", Result: "Failed"},
		// A child session, newer than anything: EM links it to its parent.
		BackupJobSession{UID: "urn:veeam:BackupJobSession:22222222-2222-2222-2222-222222222222", JobUID: job, JobType: "AgentManagement",
			Links:           Links{{Rel: "Up", Type: "BackupJobSessionReference", Name: "Parent session", Href: f.srv.URL + "/api/backupSessions/x"}},
			CreationTimeUTC: Time{now.Add(time.Hour)}, State: "Working"},
		// Known before the action (the session the job was showing), within the skew.
		BackupJobSession{UID: "urn:veeam:BackupJobSession:33333333-3333-3333-3333-333333333333", JobUID: job,
			CreationTimeUTC: Time{now.Add(-30 * time.Second)}, State: "Stopped", Result: "Success"},
	)
	w.Known = []string{"33333333-3333-3333-3333-333333333333"}

	task, err := c.JobAction(ctx, fakeJobID, ActionStart)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.FollowAction(ctx, fakeJobID, task, w)
	if err != nil {
		t.Fatal(err)
	}
	if out.Task.Links.Has("Related") {
		t.Fatal("the fake EM sent a Related link; this test is about its absence")
	}
	if out.Session == nil || out.SessionPending || out.Session.State != "Working" || out.Session.JobType != "AgentBackup" {
		t.Fatalf("outcome = %+v, session %+v", out, out.Session)
	}
	if n := f.count("GET /api/query"); n == 0 {
		t.Fatal("the session was not found by query")
	}
}

// TestFollowActionRelatedShortcut: a Related link to a backup session, when a
// server sends one, is followed instead of querying.
func TestFollowActionRelatedShortcut(t *testing.T) {
	f := newFakeEM(t)
	f.related = true
	c := f.client(t)
	ctx := context.Background()
	w := WaitOptions{Interval: time.Millisecond, MaxInterval: 5 * time.Millisecond, Timeout: 5 * time.Second}
	task, err := c.JobAction(ctx, fakeJobID, ActionStart)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.FollowAction(ctx, fakeJobID, task, w)
	if err != nil || out.Session == nil {
		t.Fatalf("outcome = %+v, %v", out, err)
	}
	if n := f.count("GET /api/query"); n != 0 {
		t.Fatalf("%d queries despite a Related link", n)
	}
}

// TestFollowActionSessionPending: EM accepted the start but shows no session
// within SessionWait: the outcome says so instead of pretending it is done.
func TestFollowActionSessionPending(t *testing.T) {
	f := newFakeEM(t)
	f.noSession = true
	c := f.client(t)
	ctx := context.Background()
	w := WaitOptions{Interval: time.Millisecond, MaxInterval: 2 * time.Millisecond, Timeout: 5 * time.Second, SessionWait: 20 * time.Millisecond}
	task, err := c.JobAction(ctx, fakeJobID, ActionStart)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.FollowAction(ctx, fakeJobID, task, w)
	if err != nil {
		t.Fatal(err)
	}
	if out.Session != nil || !out.SessionPending || !out.Task.Result.Success {
		t.Fatalf("outcome = %+v", out)
	}
	if n := f.count("GET /api/query"); n < 2 {
		t.Fatalf("looked %d times; want bounded retries", n)
	}
	// Later the session appears: FindActionSession finds it.
	f.mu.Lock()
	f.sessions = append(f.sessions, BackupJobSession{UID: "urn:veeam:BackupJobSession:44444444-4444-4444-4444-444444444444",
		JobUID: "urn:veeam:Job:" + fakeJobID, CreationTimeUTC: Time{task.SentAt.Add(-10 * time.Second)}, State: "Starting"})
	f.mu.Unlock()
	s, err := c.FindActionSession(ctx, fakeJobID, task.SentAt, DefaultClockSkew, nil)
	if err != nil || s == nil || IDFromUID(s.UID) != "44444444-4444-4444-4444-444444444444" {
		t.Fatalf("FindActionSession = %+v, %v (a session 10 s 'before' the action is within the clock-skew allowance)", s, err)
	}
}

// TestAgentManagementSessions reads a parent's per-computer sessions and names
// each computer from the child's name.
func TestAgentManagementSessions(t *testing.T) {
	f := newFakeEM(t)
	const parent = "8ba90554-4cb0-4979-b4cc-00887fcd1caa"
	f.hook = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/api/backupSessions/"+parent+"/agentManagementSessions" {
			return false
		}
		writeXML(w, 200, EntityReferences{Refs: []Ref{{UID: "urn:veeam:BackupJobSession:b0b3b4d5-fcfd-429c-928f-01a52ddfe560",
			Name: "Agent Backup rhel72 lvm - rhel72.corp.example@2025-12-16 10:00:08", Type: "BackupJobSessionReference"}}})
		return true
	}
	c := f.client(t)
	refs, err := c.AgentManagementSessions(context.Background(), parent)
	if err != nil || len(refs) != 1 {
		t.Fatalf("refs = %+v, %v", refs, err)
	}
	if got := ChildComputer("Agent Backup rhel72 lvm", refs[0].Name); got != "rhel72.corp.example" {
		t.Fatalf("ChildComputer = %q", got)
	}
	if _, err := c.AgentManagementSessions(context.Background(), "../x"); !errors.Is(err, ErrInvalidID) {
		t.Fatalf("bad id: %v", err)
	}
}

func TestChildComputer(t *testing.T) {
	for _, tc := range []struct{ job, name, want string }{
		{"Server Backup", "Server Backup - srv01.corp.example@2025-08-15 20:00:24.003406", "srv01.corp.example"},
		{"A - B", "A - B - pc1@2025-01-01 00:00:00", "pc1"},
		{"renamed", "Old name - pc2@2025-01-01 00:00:00", "pc2"},
		{"Job", "Job@2025-01-01 00:00:00", ""},
	} {
		if got := ChildComputer(tc.job, tc.name); got != tc.want {
			t.Errorf("ChildComputer(%q, %q) = %q, want %q", tc.job, tc.name, got, tc.want)
		}
	}
}

// TestErrorDetail: the Error body's FirstChanceExceptionMessage reaches the caller.
func TestErrorDetail(t *testing.T) {
	f := newFakeEM(t)
	f.hook = func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasPrefix(r.URL.Path, "/api/agents/jobs/") {
			return false
		}
		writeXML(w, 500, ErrorBody{Message: "Object reference not set to an instance of an object.", StatusCode: 500,
			FirstChanceExceptionMessage: "Agent job configuration could not be read."})
		return true
	}
	c := f.client(t)
	_, err := c.AgentJob(context.Background(), fakeJobID)
	var e *Error
	if !errors.As(err, &e) || e.StatusCode != 500 || e.Detail != "Agent job configuration could not be read." {
		t.Fatalf("err = %#v", err)
	}
}
