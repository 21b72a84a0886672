package handlers_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/agentdesk/agentdesk/emclient/emsim"
)

const (
	berlin = "vbr-berlin.corp.example"
	munich = "vbr-munich.corp.example"
)

// firstOn returns a server-managed job on the given backup server.
func firstOn(t *testing.T, p *testPortal, server string) emsim.JobSummary {
	t.Helper()
	for _, j := range p.sim.Jobs() {
		if j.Server == server && !j.Policy && j.Name != "Erin's laptop" {
			return j
		}
	}
	t.Fatalf("no server-managed job on %s", server)
	return emsim.JobSummary{}
}

// TestHelpdeskScope: helpdesk-berlin sees and acts on Berlin only; Munich jobs
// do not exist for them on any route, and the refusals cost EM no action.
func TestHelpdeskScope(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	harry := p.signIn("harry")

	rows := listRows(t, harry.get("/jobs?size=100"))
	want := simIDs(p.sim.Jobs(), func(j emsim.JobSummary) bool { return j.Server == berlin })
	if got := sortedIDs(rowIDs(rows)); !slices.Equal(got, want) {
		t.Fatalf("harry sees %v, want the Berlin jobs %v", got, want)
	}
	for _, r := range rows {
		if r.server != berlin {
			t.Errorf("harry sees %q on %s", r.name, r.server)
		}
		for _, a := range r.actions {
			if a != "start" && a != "retry" {
				t.Errorf("harry is offered %q on %q", a, r.name)
			}
		}
	}
	// Filtering for Munich shows nothing rather than Munich's jobs.
	if n := len(jobIDs(harry.get("/jobs?server=" + munich))); n != 0 {
		t.Errorf("server=%s shows harry %d jobs", munich, n)
	}

	mj := firstOn(t, p, munich)
	before := p.actionCalls()
	jobPaths := []string{
		"/jobs/" + mj.ID,
		"/jobs/" + strings.ToUpper(mj.ID),
		"/jobs/" + mj.ID + "/",
		"/jobs/" + mj.ID + "/card",
		"/jobs/" + mj.ID + "/row",
		"/jobs/" + mj.ID + "/status",
		"/jobs/" + mj.ID + "?spage=2",
		"/jobs/" + mj.ID + "/confirm/start",
		"/jobs/" + mj.ID + "/confirm/stop",
		"/jobs/" + mj.ID + "?action=start",
	}
	for _, path := range jobPaths {
		t.Run("GET "+path, func(t *testing.T) {
			r := harry.get(path)
			wantStatus(t, path, r, http.StatusNotFound)
			mustNotContain(t, path, r.Body, mj.Name, mj.UID)
			r = harry.get(path, htmx("", "/jobs"))
			wantStatus(t, "htmx "+path, r, http.StatusNotFound)
			mustNotContain(t, "htmx "+path, r.Body, mj.Name)
		})
	}
	t.Run("HEAD", func(t *testing.T) {
		r := harry.do(http.MethodHead, "/jobs/"+mj.ID, nil)
		wantStatus(t, "HEAD munich job", r, http.StatusNotFound)
		bj := firstOn(t, p, berlin)
		wantStatus(t, "HEAD berlin job", harry.do(http.MethodHead, "/jobs/"+bj.ID, nil), http.StatusOK)
	})
	// A session of a hidden job is hidden too.
	admin := p.signIn("alice")
	var sid string
	if s := admin.get("/jobs/" + mj.ID).testid("session-row").First(); s.Length() == 1 {
		sid = s.AttrOr("data-session-id", "")
	}
	if sid == "" {
		t.Fatalf("munich job %q has no sessions", mj.Name)
	}
	wantStatus(t, "munich session computers", harry.get("/jobs/"+mj.ID+"/sessions/"+sid+"/computers"), http.StatusNotFound)

	for _, a := range []string{"start", "stop", "retry", "enable", "disable"} {
		r := harry.action(mj.ID, a)
		if r.StatusCode != http.StatusNotFound && r.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s on a Munich job: %d", a, r.StatusCode)
		}
		mustNotContain(t, "POST "+a, r.Body, mj.Name)
	}
	if p.actionCalls() != before {
		t.Errorf("harry's refused requests reached EM with %d actions", p.actionCalls()-before)
	}

	// On a Berlin job harry may start but not stop or change the schedule.
	bj := firstOn(t, p, berlin)
	page := harry.get("/jobs/" + bj.ID)
	wantStatus(t, "berlin job", page, http.StatusOK)
	for _, a := range []string{"stop", "enable", "disable"} {
		if page.Doc().Find(`[data-action="`+a+`"]`).Length() != 0 {
			t.Errorf("harry is offered %s on %q", a, bj.Name)
		}
		r := harry.action(bj.ID, a)
		wantStatus(t, "harry POST "+a, r, http.StatusForbidden)
		wantStatus(t, "harry confirm "+a, harry.get("/jobs/"+bj.ID+"/confirm/"+a), http.StatusForbidden)
	}
	if page.Doc().Find(`[data-action="start"]`).Length() != 1 {
		t.Errorf("harry is not offered start on %q", bj.Name)
	}
	if why := page.testid("why").Text(); !strings.Contains(why, "helpdesk-berlin") {
		t.Errorf("why = %q, want it to name the group helpdesk-berlin", why)
	}
	if p.actionCalls() != before {
		t.Errorf("refused actions reached EM")
	}
	r := harry.action(bj.ID, "start")
	wantStatus(t, "harry start on Berlin", r, http.StatusOK)
	harry.waitAction(bj.ID)
	if n := p.actionCount(bj.ID, "start"); n != 1 {
		t.Errorf("harry's start: %d EM calls", n)
	}
}

// TestAuditorReadOnly: auditors see everything and can do nothing.
func TestAuditorReadOnly(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	audrey := p.signIn("audrey")
	list := audrey.get("/jobs?size=100")
	if n := len(jobIDs(list)); n != fleetSize {
		t.Errorf("auditor sees %d of %d jobs", n, fleetSize)
	}
	if list.testid("actions").Length() != 0 {
		t.Errorf("auditor is offered actions in the list")
	}
	erin := p.jobNamed("Erin's laptop")
	page := audrey.get("/jobs/" + erin.ID)
	wantStatus(t, "job page", page, http.StatusOK)
	if page.testid("actions").Length() != 0 {
		t.Errorf("auditor is offered actions on the job page")
	}
	if why := page.testid("why").Text(); !strings.Contains(why, "auditors") {
		t.Errorf("why = %q, want it to name the group auditors", why)
	}
	before := p.actionCalls()
	for _, a := range []string{"start", "stop", "retry", "enable", "disable"} {
		wantStatus(t, "auditor POST "+a, audrey.action(erin.ID, a), http.StatusForbidden)
	}
	wantStatus(t, "auditor confirm", audrey.get("/jobs/"+erin.ID+"/confirm/start"), http.StatusForbidden)
	if p.actionCalls() != before {
		t.Errorf("auditor's actions reached EM")
	}
}

// TestEndUserSelfService: erin sees her laptop only and may start it.
func TestEndUserSelfService(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	erin := p.signIn("erin")
	job := p.jobNamed("Erin's laptop")
	rows := listRows(t, erin.get("/jobs?size=100"))
	if len(rows) != 1 || rows[0].id != job.ID || rows[0].name != "Erin's laptop" {
		t.Fatalf("erin sees %+v, want only her laptop", rows)
	}
	if !slices.Equal(rows[0].actions, []string{"start"}) {
		t.Errorf("erin is offered %v, want start only", rows[0].actions)
	}
	page := erin.get("/jobs/" + job.ID)
	if why := page.testid("why").Text(); !strings.Contains(why, "erin-laptop.corp.example") {
		t.Errorf("why = %q, want it to name her computer", why)
	}
	other := firstOn(t, p, berlin)
	wantStatus(t, "someone else's job", erin.get("/jobs/"+other.ID), http.StatusNotFound)
	wantStatus(t, "start someone else's job", erin.action(other.ID, "start"), http.StatusNotFound)
	wantStatus(t, "stop her job", erin.action(job.ID, "stop"), http.StatusForbidden)

	r := erin.action(job.ID, "start")
	wantStatus(t, "erin starts her laptop", r, http.StatusOK)
	erin.waitAction(job.ID)
	if n := p.actionCount(job.ID, "start"); n != 1 {
		t.Errorf("EM got %d starts", n)
	}
	if n := p.actionCount(other.ID, "start"); n != 0 {
		t.Errorf("erin started someone else's job")
	}
}
