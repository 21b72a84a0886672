package emsim

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/emclient/emexamples"
)

// The tests in this file pin emsim to what EM documents, link by link, so the
// portal cannot come to rely on anything the documented examples do not show.

// readExample reads one documented example; missing is fatal (the examples
// directory itself is found or the test skipped/failed by emexamples.Dir).
func readExample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(emexamples.Dir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return emexamples.AmpFix(b)
}

// linkSig is "Rel:Type" per link, in order.
func linkSig(ls []link) string {
	var out []string
	for _, l := range ls {
		out = append(out, l.Rel+":"+l.Type)
	}
	return strings.Join(out, " ")
}

func exampleAs[T any](t *testing.T, name string) T {
	t.Helper()
	var v T
	if err := xml.Unmarshal(readExample(t, name), &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

// TestFinishedTasksAsDocumented: a finished start or retry task carries
// exactly the links of the documented one (Delete only, no Related).
func TestFinishedTasksAsDocumented(t *testing.T) {
	e := newEnv(t, Config{})
	tok := e.logon("svc", "secret")
	var failed *job
	for _, j := range e.s.fleet.jobs {
		if !j.policy && j.latest() != nil && j.latest().result == "Failed" {
			failed = j
			break
		}
	}
	if failed == nil {
		t.Fatal("no server-managed job whose last run failed")
	}
	for _, tc := range []struct{ example, action string }{
		{"task_finished_agent_retry.xml", "retry"},
		{"task_finished_agent_start.xml", "start"},
	} {
		want := exampleAs[taskBody](t, tc.example)
		if tc.action == "start" {
			e.clock.Advance(time.Second) // the retry's session (200 ms) has ended
		}
		_, tb := e.post("/api/agents/jobs/"+failed.id+"?action="+tc.action, tok)
		got := e.waitTask(tok, e.pathOf(tb.Href))
		if got.Result == nil || !got.Result.Success {
			t.Fatalf("%s: %+v", tc.action, got.Result)
		}
		if linkSig(got.Links) != linkSig(want.Links) || got.Operation != want.Operation {
			t.Errorf("%s task: links %q op %s; %s has links %q op %s", tc.action, linkSig(got.Links), got.Operation,
				tc.example, linkSig(want.Links), want.Operation)
		}
	}
}

// TestJobLinksAsDocumented: every job entity carries the eight documented
// links whatever its state: agent policies, disabled schedules, running jobs.
func TestJobLinksAsDocumented(t *testing.T) {
	want := linkSig(exampleAs[agentBackupJob](t, "agent_job_entity.xml").Links)
	e := newEnv(t, Config{})
	tok := e.logon("svc", "secret")
	e.post("/api/agents/jobs/"+e.s.fleet.jobs[0].id+"?action=start", tok) // one runs
	seen := map[string]bool{}
	for _, j := range e.s.fleet.jobs {
		ent := decode[agentBackupJob](t, e.get("/api/agents/jobs/"+j.id+"?format=Entity", tok))
		if got := linkSig(ent.Links); got != want {
			t.Fatalf("job %q (policy %t, enabled %t): links\n got %s\nwant %s", j.name, j.policy, j.enabled, got, want)
		}
		seen[map[bool]string{true: "policy", false: "job"}[j.policy]] = true
		if !j.enabled {
			seen["disabled"] = true
		}
	}
	if len(seen) != 3 {
		t.Fatalf("fleet did not cover policies, jobs and disabled schedules: %v", seen)
	}
}

// TestStoppedSessionKeepsStop: the documented session entity is Stopped and
// still has its Stop link; so have emsim's.
func TestStoppedSessionKeepsStop(t *testing.T) {
	doc := exampleAs[backupJobSession](t, "backup_job_session_entity_docs.xml")
	if doc.State != "Stopped" || !hasRel(doc.Links, "Stop") {
		t.Fatalf("the example changed: %s %s", doc.State, linkSig(doc.Links))
	}
	e := newEnv(t, Config{})
	tok := e.logon("svc", "secret")
	j := e.s.fleet.jobs[0]
	got := decode[backupJobSession](t, e.get("/api/backupSessions/"+j.latest().id+"?format=Entity", tok))
	if got.State != "Stopped" || !hasRel(got.Links, "Stop") {
		t.Fatalf("stopped session: %s, links %s", got.State, linkSig(got.Links))
	}
}

func hasRel(ls []link, rel string) bool {
	_, ok := findLink(ls, rel, "")
	return ok
}

// TestChildSessionsAsDocumented: children are named "<job> - <computer>@<time>",
// link Up to their parent (Name "Parent session") with the documented link set,
// and are reached through the parent's agentManagementSessions link, also for
// a job that protects a protection group (whose computers the job does not name).
func TestChildSessionsAsDocumented(t *testing.T) {
	refs := exampleAs[entityReferences](t, "agent_backup_sessions_refs.xml")
	var docChild, docParent *ref
	for i := range refs.Refs {
		if _, ok := findLink(refs.Refs[i].Links, "Up", "BackupJobSessionReference"); ok {
			docChild = &refs.Refs[i]
		} else {
			docParent = &refs.Refs[i]
		}
	}
	if docChild == nil || docParent == nil {
		t.Fatal("the example lost its parent or child session")
	}
	e := newEnv(t, Config{})
	tok := e.logon("svc", "secret")
	var j *job
	for _, c := range e.s.fleet.jobs {
		if len(c.includes) > 0 && c.includes[0].group && c.latest() != nil {
			j = c
			break
		}
	}
	if j == nil {
		t.Fatal("no protection-group job with a session")
	}
	prefs := decode[entityReferences](t, e.get("/api/agents/jobs/"+j.id+"/backupSessions", tok))
	parent := prefs.Refs[0]
	if linkSig(parent.Links) != linkSig(docParent.Links) {
		t.Errorf("parent ref links\n got %s\nwant %s", linkSig(parent.Links), linkSig(docParent.Links))
	}
	alt, ok := findLink(parent.Links, "Alternate", "BackupJobSessionReferenceList")
	if !ok || !strings.HasSuffix(alt, "/agentManagementSessions") {
		t.Fatalf("parent has no agentManagementSessions link: %s", alt)
	}
	kids := decode[entityReferences](t, e.get(e.pathOf(alt), tok))
	if len(kids.Refs) != len(j.computers()) || len(kids.Refs) < 2 {
		t.Fatalf("%d children for computers %v", len(kids.Refs), j.computers())
	}
	name := regexp.MustCompile(`^` + regexp.QuoteMeta(j.name) + ` - ([a-z0-9-]+\.[a-z0-9.-]+)@\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})?$`)
	for _, k := range kids.Refs {
		if linkSig(k.Links) != linkSig(docChild.Links) {
			t.Errorf("child ref links\n got %s\nwant %s", linkSig(k.Links), linkSig(docChild.Links))
		}
		if m := name.FindStringSubmatch(k.Name); m == nil || !strings.Contains(strings.Join(j.computers(), " "), m[1]) {
			t.Errorf("child name %q is not <job> - <computer FQDN>@<time>", k.Name)
		}
		for _, l := range k.Links {
			if l.Rel == "Up" && l.Type == "BackupJobSessionReference" && (l.Name != "Parent session" || l.Href != parent.Href) {
				t.Errorf("child Up link %+v, want Name \"Parent session\" to %s", l, parent.Href)
			}
		}
		if strings.Contains(j.includes[0].name, k.Name) {
			t.Errorf("child named after the protection group: %q", k.Name)
		}
	}
}

// TestErrorBodyAsReal: emsim's Error carries the five fields of the real
// EM 9.5 error (error_400.json): Message, StatusCode, Status and
// FirstChanceExceptionMessage (StackTrace stays empty, as in the real one).
func TestErrorBodyAsReal(t *testing.T) {
	var real map[string]any
	if err := json.Unmarshal(readExample(t, "error_400.json"), &real); err != nil {
		t.Fatal(err)
	}
	if _, ok := real["FirstChanceExceptionMessage"]; !ok {
		t.Fatal("the example lost FirstChanceExceptionMessage")
	}
	e := newEnv(t, Config{})
	tok := e.logon("svc", "secret")
	r := e.get("/api/agents/jobs/00000000-0000-0000-0000-000000000001?format=Entity", tok)
	if r.status != http.StatusNotFound {
		t.Fatalf("unknown job: %d", r.status)
	}
	eb := decode[errorBody](t, r)
	if eb.Message == "" || eb.StatusCode != 404 || eb.FirstChanceExceptionMessage == "" {
		t.Fatalf("error body %+v\n%s", eb, r.body)
	}
}

// TestRefusalBothWays: EM may refuse an action that cannot run now with a
// failed task or with an HTTP error; emsim does either, as configured.
func TestRefusalBothWays(t *testing.T) {
	e := newEnv(t, Config{})
	tok := e.logon("svc", "secret")
	var idle *job
	for _, j := range e.s.fleet.jobs {
		if j.latest() != nil && !j.latest().at(e.s.now()).running() {
			idle = j
			break
		}
	}
	_, tb := e.post("/api/agents/jobs/"+idle.id+"?action=stop", tok)
	fin := e.waitTask(tok, e.pathOf(tb.Href))
	if fin.Result == nil || fin.Result.Success || fin.Result.Message != `Job "`+idle.name+`" is not running.` {
		t.Fatalf("task refusal: %+v", fin.Result)
	}

	e.s.SetRefusal(Refusal{Status: http.StatusBadRequest})
	calls := e.s.Stats().ActionCalls[ActionKey(idle.id, "stop")]
	r := e.do(http.MethodPost, "/api/agents/jobs/"+idle.id+"?action=stop", tok, nil)
	if r.status != http.StatusBadRequest {
		t.Fatalf("HTTP refusal: %d %s", r.status, r.body)
	}
	if eb := decode[errorBody](t, r); eb.Message != `Job "`+idle.name+`" is not running.` || eb.StatusCode != 400 {
		t.Fatalf("HTTP refusal body %+v", eb)
	}
	if got := e.s.Stats().ActionCalls[ActionKey(idle.id, "stop")]; got != calls {
		t.Fatalf("a refused action counted as accepted: %d", got)
	}
	// An action that can run is still accepted.
	if _, tb := e.post("/api/agents/jobs/"+idle.id+"?action=start", tok); tb.Operation != "StartJob" {
		t.Fatalf("start: %+v", tb)
	}
}
