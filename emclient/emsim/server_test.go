package emsim

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestLogon(t *testing.T) {
	e := newEnv(t, Config{})
	tests := []struct {
		name       string
		path       string
		user, pass string
		noAuth     bool
		want       int
	}{
		{"latest", "/api/sessionMngr/?v=latest", "svc", "secret", false, 201},
		{"v1_7", "/api/sessionMngr/?v=v1_7", "svc", "secret", false, 201},
		{"v1_5 without slash", "/api/sessionMngr?v=v1_5", "SVC", "secret", false, 201},
		{"old version", "/api/sessionMngr/?v=v1_4", "svc", "secret", false, 400},
		{"no version", "/api/sessionMngr/", "svc", "secret", false, 400},
		{"bad password", "/api/sessionMngr/?v=latest", "svc", "nope", false, 401},
		{"unknown user", "/api/sessionMngr/?v=latest", "mallory", "secret", false, 401},
		{"no credentials", "/api/sessionMngr/?v=latest", "", "", true, 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(http.MethodPost, tc.path, "", func(req *http.Request) {
				if !tc.noAuth {
					req.SetBasicAuth(tc.user, tc.pass)
				}
			})
			if r.status != tc.want {
				t.Fatalf("status %d, want %d: %s", r.status, tc.want, r.body)
			}
			if got := r.header.Get("Content-Type"); got != contentType {
				t.Errorf("Content-Type %q", got)
			}
			switch tc.want {
			case 201:
				ls := decode[logonSessionBody](t, r)
				tok := r.header.Get(tokenName)
				if want := base64.StdEncoding.EncodeToString([]byte(ls.SessionID)); tok != want {
					t.Errorf("token %q, want base64(SessionId) %q", tok, want)
				}
				if got, want := r.header.Get("Set-Cookie"), tokenName+"="+tok+"; Path=/api"; got != want {
					t.Errorf("Set-Cookie %q, want %q", got, want)
				}
				if r.root != "LogonSession" || r.ns != namespace {
					t.Errorf("root %s {%s}", r.root, r.ns)
				}
				if _, ok := findLink(ls.Links, "Down", "AgentsService"); !ok {
					t.Error("no AgentsService link")
				}
				if got := e.get("/api/agents", tok); got.status != 200 {
					t.Errorf("token not accepted: %d", got.status)
				}
			case 401:
				if got := r.header.Get("WWW-Authenticate"); got != "Basic Realm=RestSvc" {
					t.Errorf("WWW-Authenticate %q", got)
				}
				if r.root != "Error" {
					t.Errorf("root %q, want Error", r.root)
				}
			default:
				if r.root != "Error" {
					t.Errorf("root %q, want Error", r.root)
				}
			}
		})
	}
}

func TestTokenCookieBeatsHeader(t *testing.T) {
	e := newEnv(t, Config{})
	good := e.logon("svc", "secret")
	bad := base64.StdEncoding.EncodeToString([]byte("00000000-0000-0000-0000-000000000000"))
	tests := []struct {
		name           string
		header, cookie string
		want           int
	}{
		{"header only", good, "", 200},
		{"cookie only", "", good, 200},
		{"valid cookie, stale header", bad, good, 200},
		{"stale cookie, valid header", good, bad, 401},
		{"none", "", "", 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(http.MethodGet, "/api/agents/jobs", tc.header, func(req *http.Request) {
				if tc.cookie != "" {
					req.AddCookie(&http.Cookie{Name: tokenName, Value: tc.cookie})
				}
			})
			if r.status != tc.want {
				t.Fatalf("status %d, want %d", r.status, tc.want)
			}
			if tc.want == 401 && r.root != "Error" {
				t.Errorf("401 without Error body: %s", r.body)
			}
		})
	}
}

func TestIdleTimeoutSlides(t *testing.T) {
	e := newEnv(t, Config{IdleTimeout: 50 * time.Millisecond})
	tok := e.logon("svc", "secret")
	for i := 0; i < 3; i++ { // each request within the timeout extends it
		e.clock.Advance(40 * time.Millisecond)
		if r := e.get("/api/agents/jobs", tok); r.status != 200 {
			t.Fatalf("step %d: status %d", i, r.status)
		}
	}
	e.clock.Advance(51 * time.Millisecond)
	if r := e.get("/api/agents/jobs", tok); r.status != 401 || r.root != "Error" {
		t.Fatalf("after idle timeout: %d %s", r.status, r.body)
	}
}

func TestLogoffAndExpire(t *testing.T) {
	e := newEnv(t, Config{})
	tok := e.logon("svc", "secret")
	id, _ := base64.StdEncoding.DecodeString(tok)
	r := e.get("/api/logonSessions", tok)
	if r.status != 200 || r.root != "LogonSessions" {
		t.Fatalf("list: %d %s", r.status, r.root)
	}
	if r := e.get("/api/logonSessions/"+string(id), tok); r.status != 200 || r.root != "LogonSession" {
		t.Fatalf("get: %d %s", r.status, r.root)
	}
	if r := e.do(http.MethodDelete, "/api/logonSessions/"+string(id), tok, nil); r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("delete: %d %q", r.status, r.body)
	}
	if r := e.get("/api/agents/jobs", tok); r.status != 401 {
		t.Fatalf("after logoff: %d", r.status)
	}
	tok2 := e.logon("svc", "secret")
	e.s.ExpireSessions()
	if r := e.get("/api/agents/jobs", tok2); r.status != 401 {
		t.Fatalf("after ExpireSessions: %d", r.status)
	}
	if got := e.s.Stats().Logons; got != 2 {
		t.Errorf("Logons = %d, want 2", got)
	}
}

func TestEndpoints(t *testing.T) {
	e := newEnv(t, Config{})
	tok := e.logon("svc", "secret")
	j := e.s.fleet.jobs[0]
	sess := j.latest()
	child := sess.children[0]
	srv := e.s.fleet.servers[0]
	jp := "/api/agents/jobs/" + j.id
	unknown := "0f0f0f0f-0000-4000-8000-000000000000"
	tests := []struct {
		method, path string
		token        string
		want         int
		root         string
	}{
		{"GET", "/api/", "", 200, "EnterpriseManager"},
		{"GET", "/api/agents", tok, 200, "Agents"},
		{"GET", "/api/agents", "", 401, "Error"},
		{"GET", "/api/agents/jobs", tok, 200, "EntityReferences"},
		{"GET", "/api/agents/jobs?format=Entity", tok, 200, "AgentBackupJobs"},
		{"GET", jp, tok, 200, "EntityRef"},
		{"GET", jp + "?format=Entity", tok, 200, "AgentBackupJob"},
		{"GET", strings.ToUpper(jp[:0]) + "/api/agents/jobs/" + strings.ToUpper(j.id) + "?format=entity", tok, 200, "AgentBackupJob"},
		{"GET", jp + "/includes", tok, 200, "ObjectsInAgentBackupJob"},
		{"GET", jp + "/includes/" + j.includes[0].oid, tok, 200, "ObjectInAgentBackupJob"},
		{"GET", jp + "/includes/" + unknown, tok, 404, "Error"},
		{"GET", jp + "/backupSessions", tok, 200, "EntityReferences"},
		{"GET", "/api/agents/jobs/" + unknown, tok, 404, "Error"},
		{"GET", "/api/agents/jobs/not-a-guid", tok, 400, "Error"},
		{"PUT", jp, tok, 405, "Error"},
		{"DELETE", "/api/agents/jobs", tok, 405, "Error"},
		{"GET", "/api/agents/backupSessions", tok, 200, "EntityReferences"},
		{"GET", "/api/agents/backupSessions?format=Entity", tok, 200, "BackupJobSessions"},
		{"GET", "/api/backupSessions/" + sess.id, tok, 200, "EntityRef"},
		{"GET", "/api/backupSessions/" + sess.id + "?format=Entity", tok, 200, "BackupJobSession"},
		{"GET", "/api/backupSessions/" + child.id + "?format=Entity", tok, 200, "BackupJobSession"},
		{"GET", "/api/backupSessions/" + sess.id + "/agentManagementSessions", tok, 200, "EntityReferences"},
		{"GET", "/api/backupSessions/" + unknown, tok, 404, "Error"},
		{"GET", "/api/backupServers", tok, 200, "EntityReferences"},
		{"GET", "/api/backupServers?format=Entity", tok, 200, "BackupServers"},
		{"GET", "/api/backupServers/" + srv.id, tok, 200, "EntityRef"},
		{"GET", "/api/backupServers/" + srv.id + "?format=Entity", tok, 200, "BackupServer"},
		{"GET", "/api/backupServers/" + unknown, tok, 404, "Error"},
		{"GET", "/api/query?type=AgentBackupJob", tok, 200, "QueryResult"},
		{"GET", "/api/query?type=VmRestorePoint", tok, 400, "Error"},
		{"GET", "/api/tasks", tok, 200, "Tasks"},
		{"GET", "/api/tasks/task-999", tok, 404, "Error"},
		{"GET", "/api/nothing/here", tok, 404, "Error"},
		{"POST", jp + "?action=explode", tok, 400, "Error"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := e.do(tc.method, tc.path, tc.token, nil)
			if r.status != tc.want || r.root != tc.root {
				t.Fatalf("got %d <%s>, want %d <%s>: %.300s", r.status, r.root, tc.want, tc.root, r.body)
			}
			if r.ns != namespace {
				t.Errorf("namespace %q", r.ns)
			}
			if tc.root == "Error" {
				eb := decode[errorBody](t, r)
				if eb.StatusCode != tc.want || eb.Message == "" || eb.Status == "" {
					t.Errorf("bad Error body %+v", eb)
				}
			}
			if tc.want == 405 && r.header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
	t.Run("absolute hrefs", func(t *testing.T) {
		r := e.get(jp+"?format=Entity", tok)
		job := decode[agentBackupJob](t, r)
		if job.Href != e.ts.URL+jp+"?format=Entity" {
			t.Errorf("Href %q", job.Href)
		}
		var rels []string
		for _, l := range job.Links {
			rels = append(rels, l.Rel+":"+l.Type)
		}
		// The eight links of the documented entity, for every job whatever its state.
		want := "Up:BackupServerReference Alternate:JobReference Down:ObjectInJobList ToggleScheduleEnabled: Down:BackupJobSessionReferenceList Start: Stop: Retry:"
		if got := strings.Join(rels, " "); got != want {
			t.Errorf("links\n got %s\nwant %s", got, want)
		}
	})
}

// newestSession is the entity link of the job's newest session, found the way
// a client must: by the job's session list, not by a link on the task.
func (e *env) newestSession(tok string, j *job) string {
	e.t.Helper()
	refs := decode[entityReferences](e.t, e.get("/api/agents/jobs/"+j.id+"/backupSessions", tok))
	if len(refs.Refs) == 0 {
		e.t.Fatal("job has no sessions")
	}
	l, ok := findLink(refs.Refs[0].Links, "Alternate", "BackupJobSession")
	if !ok {
		e.t.Fatalf("session ref without entity link: %+v", refs.Refs[0])
	}
	return l
}

// waitTask advances the fake clock until the task is Finished.
func (e *env) waitTask(tok, taskPath string) taskBody {
	e.t.Helper()
	for i := 0; i < 100; i++ {
		r := e.get(taskPath, tok)
		if r.status != 200 {
			e.t.Fatalf("task: %d %s", r.status, r.body)
		}
		tb := decode[taskBody](e.t, r)
		if tb.State == "Finished" {
			return tb
		}
		e.clock.Advance(5 * time.Millisecond)
	}
	e.t.Fatal("task never finished")
	return taskBody{}
}

func (e *env) post(path, tok string) (reply, taskBody) {
	e.t.Helper()
	r := e.do(http.MethodPost, path, tok, nil)
	if r.status != http.StatusAccepted {
		e.t.Fatalf("POST %s: %d %s", path, r.status, r.body)
	}
	return r, decode[taskBody](e.t, r)
}

func TestStartRunsToStopped(t *testing.T) {
	e := newEnv(t, Config{})
	tok := e.logon("svc", "secret")
	j := e.s.fleet.jobs[0]
	_, tb := e.post("/api/agents/jobs/"+j.id+"?action=start", tok)
	if tb.State != "Running" || tb.Operation != "StartJob" || tb.Result != nil || !strings.HasPrefix(tb.TaskID, "task-") {
		t.Fatalf("202 task %+v", tb)
	}
	if _, ok := findLink(tb.Links, "Delete", ""); !ok {
		t.Error("no Delete link")
	}
	fin := e.waitTask(tok, e.pathOf(tb.Href))
	if fin.Result == nil || !fin.Result.Success || fin.Result.Message != `Job "`+j.name+`" triggered to start.` {
		t.Fatalf("finished task %+v", fin.Result)
	}
	if _, ok := findLink(fin.Links, "Related", ""); ok {
		t.Fatal("finished start task has a Related link; EM documents only Delete")
	}
	rel := e.newestSession(tok, j)
	var states []string
	var last backupJobSession
	for i := 0; i < 100; i++ {
		last = decode[backupJobSession](t, e.get(e.pathOf(rel), tok))
		if len(states) == 0 || states[len(states)-1] != last.State {
			states = append(states, last.State)
		}
		if last.State == "Stopped" {
			break
		}
		if last.Result != "None" {
			t.Fatalf("result %q while %s", last.Result, last.State)
		}
		e.clock.Advance(10 * time.Millisecond)
	}
	if got := strings.Join(states, ">"); got != "Working>Stopped" && got != "Starting>Working>Stopped" {
		t.Fatalf("states %s", got)
	}
	if last.Progress != 100 || last.EndTimeUTC == nil || last.JobType != "AgentBackup" || last.IsRetry {
		t.Errorf("final session %+v", last)
	}
	if !strings.HasPrefix(last.Name, j.name+"@") {
		t.Errorf("session name %q", last.Name)
	}
	switch last.Result {
	case "Success", "Warning", "Failed":
	default:
		t.Errorf("final result %q", last.Result)
	}
	kids := decode[entityReferences](t, e.get("/api/backupSessions/"+last.UID[len("urn:veeam:BackupJobSession:"):]+"/agentManagementSessions", tok))
	if len(kids.Refs) != len(j.computers()) {
		t.Errorf("%d child sessions, want %d", len(kids.Refs), len(j.computers()))
	}
	if got := e.s.Stats().ActionCalls[ActionKey(j.id, "start")]; got != 1 {
		t.Errorf("ActionCalls = %d", got)
	}
}

func TestActionOutcomes(t *testing.T) {
	e := newEnv(t, Config{})
	tok := e.logon("svc", "secret")
	var failed, succeeded *job
	for _, j := range e.s.fleet.jobs {
		if j.policy || j.latest() == nil {
			continue
		}
		switch j.latest().result {
		case "Failed":
			failed = j
		case "Success":
			succeeded = j
		}
	}
	if failed == nil || succeeded == nil {
		t.Fatal("fleet lacks a server-managed job whose last run failed or succeeded")
	}
	finish := func(j *job, action string) taskBody {
		_, tb := e.post("/api/agents/jobs/"+j.id+"?action="+action, tok)
		return e.waitTask(tok, e.pathOf(tb.Href))
	}
	t.Run("retry refused after success", func(t *testing.T) {
		tb := finish(succeeded, "retry")
		if tb.Operation != "RetryAgentJob" || tb.Result == nil || tb.Result.Success || !strings.Contains(tb.Result.Message, "cannot be retried") {
			t.Fatalf("%+v %+v", tb, tb.Result)
		}
		if _, ok := findLink(tb.Links, "Related", ""); ok {
			t.Error("refused retry links a session")
		}
	})
	t.Run("stop while idle refused", func(t *testing.T) {
		tb := finish(succeeded, "stop")
		if tb.Operation != "StopAgentJob" || tb.Result.Success || tb.Result.Message != `Job "`+succeeded.name+`" is not running.` {
			t.Fatalf("%+v", tb.Result)
		}
	})
	t.Run("retry after failure", func(t *testing.T) {
		tb := finish(failed, "retry")
		if !tb.Result.Success || tb.Result.Message != `Job "`+failed.name+`" triggered to retry.` {
			t.Fatalf("%+v", tb.Result)
		}
		if _, ok := findLink(tb.Links, "Related", ""); ok {
			t.Error("finished retry task has a Related link")
		}
		rel := e.newestSession(tok, failed)
		sess := decode[backupJobSession](t, e.get(e.pathOf(rel), tok))
		if !sess.IsRetry {
			t.Error("retry session has IsRetry=false")
		}
		again := finish(failed, "start")
		if again.Result.Success || again.Result.Message != `Job "`+failed.name+`" is already running.` {
			t.Fatalf("start while running: %+v", again.Result)
		}
		stop := finish(failed, "stop")
		if !stop.Result.Success {
			t.Fatalf("stop: %+v", stop.Result)
		}
		e.clock.Advance(50 * time.Millisecond)
		sess = decode[backupJobSession](t, e.get(e.pathOf(rel), tok))
		if sess.State != "Stopped" || sess.Result != "Failed" || !strings.Contains(sess.FailureMessage, "stopped by user") {
			t.Fatalf("stopped session %s %s %q", sess.State, sess.Result, sess.FailureMessage)
		}
	})
	t.Run("toggle flips", func(t *testing.T) {
		before, _ := e.s.JobState(succeeded.id)
		tb := finish(succeeded, "toggleScheduleEnabled")
		if tb.Operation != "UpdateJob" || !tb.Result.Success || tb.Result.Message != "Ok" {
			t.Fatalf("%+v %+v", tb, tb.Result)
		}
		after, _ := e.s.JobState(succeeded.id)
		if after.ScheduleEnabled == before.ScheduleEnabled {
			t.Fatal("ScheduleEnabled did not flip")
		}
		ent := decode[agentBackupJob](t, e.get("/api/agents/jobs/"+succeeded.id+"?format=Entity", tok))
		if ent.ScheduleEnabled != after.ScheduleEnabled {
			t.Error("entity disagrees with JobState")
		}
		finish(succeeded, "toggleScheduleEnabled")
		if again, _ := e.s.JobState(succeeded.id); again.ScheduleEnabled != before.ScheduleEnabled {
			t.Error("second toggle did not flip back")
		}
	})
	t.Run("policy has no retry", func(t *testing.T) {
		for _, j := range e.s.fleet.jobs {
			if j.policy {
				if tb := finish(j, "retry"); tb.Result.Success {
					t.Fatalf("retry of policy %q succeeded", j.name)
				}
				return
			}
		}
		t.Fatal("no policy in fleet")
	})
}

func TestRolesAndTaskOwnership(t *testing.T) {
	e := newEnv(t, Config{})
	admin := e.logon("svc", "secret")
	user := e.logon("helpdesk", "pw")
	j := e.s.fleet.jobs[1]
	r := e.do(http.MethodPost, "/api/agents/jobs/"+j.id+"?action=start", user, nil)
	if r.status != http.StatusForbidden || decode[errorBody](t, r).Message != "Access denied" {
		t.Fatalf("PortalUser action: %d %s", r.status, r.body)
	}
	if r := e.get("/api/agents/jobs/"+j.id, user); r.status != 200 {
		t.Fatalf("PortalUser read: %d", r.status)
	}
	if got := e.s.Stats().ActionCalls[ActionKey(j.id, "start")]; got != 0 {
		t.Fatalf("refused action counted: %d", got)
	}
	_, tb := e.post("/api/agents/jobs/"+j.id+"?action=start", admin)
	path := e.pathOf(tb.Href)
	if r := e.get(path, user); r.status != 404 {
		t.Fatalf("task of another session: %d", r.status)
	}
	if r := e.get(path, admin); r.status != 200 {
		t.Fatalf("own task: %d", r.status)
	}
	tasks := decode[tasksBody](t, e.get("/api/tasks", admin))
	if len(tasks.Tasks) != 1 || tasks.Tasks[0].TaskID != tb.TaskID {
		t.Fatalf("tasks %+v", tasks)
	}
	if r := e.do(http.MethodDelete, path, admin, nil); r.status != 204 {
		t.Fatalf("delete task: %d", r.status)
	}
	if r := e.get(path, admin); r.status != 404 {
		t.Fatalf("deleted task: %d", r.status)
	}
	_, tb2 := e.post("/api/agents/jobs/"+j.id+"?action=toggleScheduleEnabled", admin)
	e.s.ExpireSessions()
	admin2 := e.logon("svc", "secret")
	if r := e.get(e.pathOf(tb2.Href), admin2); r.status != 404 {
		t.Fatalf("task survived its logon session: %d", r.status)
	}
}

func TestFaults(t *testing.T) {
	e := newEnv(t, Config{})
	tok := e.logon("svc", "secret")
	t.Run("status", func(t *testing.T) {
		e.s.SetFaults(Faults{Status: 503})
		defer e.s.SetFaults(Faults{})
		if r := e.get("/api/agents/jobs", tok); r.status != 503 || r.root != "Error" {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if r := e.get("/api/", ""); r.status != 200 {
			t.Fatalf("entry point under Status fault: %d", r.status)
		}
	})
	t.Run("401 storm limited to paths, then reset", func(t *testing.T) {
		e.s.SetFaults(Faults{Unauthorized: true, Paths: []string{"/agents/"}})
		fresh := e.logon("svc", "secret")
		r := e.get("/api/agents/jobs", fresh)
		if r.status != 401 || r.header.Get("WWW-Authenticate") == "" {
			t.Fatalf("storm: %d", r.status)
		}
		if r := e.get("/api/backupServers", fresh); r.status != 200 {
			t.Fatalf("path outside storm: %d", r.status)
		}
		e.s.SetFaults(Faults{})
		if r := e.get("/api/agents/jobs", fresh); r.status != 200 {
			t.Fatalf("after reset: %d", r.status)
		}
	})
	t.Run("black hole ends with the request context", func(t *testing.T) {
		e.s.SetFaults(Faults{BlackHole: true})
		defer e.s.SetFaults(Faults{})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.ts.URL+"/api/agents/jobs", nil)
		req.Header.Set(tokenName, tok)
		resp, err := e.ts.Client().Do(req)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("black hole answered %d", resp.StatusCode)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error %v, want deadline exceeded", err)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		e.s.SetFaults(Faults{Garbage: true})
		defer e.s.SetFaults(Faults{})
		r := e.get("/api/agents/jobs", tok)
		if r.status != 200 || r.root == "EntityReferences" {
			t.Fatalf("garbage: %d %q", r.status, r.root)
		}
	})
	t.Run("huge body", func(t *testing.T) {
		e.s.SetFaults(Faults{HugeBody: 1 << 20})
		defer e.s.SetFaults(Faults{})
		r := e.get("/api/agents/jobs", tok)
		if len(r.body) != 1<<20 {
			t.Fatalf("body %d bytes", len(r.body))
		}
	})
	t.Run("slow body keeps the answer", func(t *testing.T) {
		e.s.SetFaults(Faults{SlowBody: 20 * time.Millisecond, Latency: time.Millisecond, Jitter: time.Millisecond})
		defer e.s.SetFaults(Faults{})
		if r := e.get("/api/backupServers?format=Entity", tok); r.status != 200 || r.root != "BackupServers" {
			t.Fatalf("%d %q", r.status, r.root)
		}
	})
	t.Run("reset after read carries the action out", func(t *testing.T) {
		j := e.s.fleet.jobs[2]
		e.s.SetFaults(Faults{ResetAfterRead: true, Paths: []string{"/agents/jobs/"}})
		req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/api/agents/jobs/"+j.id+"?action=toggleScheduleEnabled", nil)
		req.Header.Set(tokenName, tok)
		before, _ := e.s.JobState(j.id)
		resp, err := e.ts.Client().Do(req)
		e.s.SetFaults(Faults{})
		if err == nil {
			resp.Body.Close()
			t.Fatalf("got an answer %d", resp.StatusCode)
		}
		after, _ := e.s.JobState(j.id)
		if after.ScheduleEnabled == before.ScheduleEnabled {
			t.Error("action was not carried out")
		}
		if got := e.s.Stats().ActionCalls[ActionKey(j.id, "toggleScheduleEnabled")]; got != 1 {
			t.Errorf("ActionCalls %d", got)
		}
	})
}

func TestStats(t *testing.T) {
	e := newEnv(t, Config{})
	tok := e.logon("svc", "secret")
	j := e.s.fleet.jobs[0]
	e.get("/api/agents/jobs/"+j.id, tok)
	e.get("/api/agents/jobs/"+j.id, tok)
	e.get("/api/", "")
	st := e.s.Stats()
	for key, want := range map[string]int64{"GET /agents/jobs/{id}": 2, "GET /": 1, "POST /sessionMngr/": 1} {
		if st.Requests[key] != want {
			t.Errorf("Requests[%q] = %d, want %d (all: %v)", key, st.Requests[key], want, st.Requests)
		}
	}
	e.s.ResetStats()
	if st := e.s.Stats(); len(st.Requests) != 0 || st.Logons != 0 {
		t.Errorf("after reset: %+v", st)
	}
}
