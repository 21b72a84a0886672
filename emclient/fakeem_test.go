package emclient

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeEM is a small EM double for the client's own tests: logon sessions with
// per-session tasks, one agent job, its sessions, and a fault hook. The full
// simulator lives in emsim; this double keeps the client tests independent of it.
const (
	fakeJobID     = "a6deb158-b26c-4140-8b26-5a3cc344e8ec"
	fakeServerID  = "d1444f74-27e6-4399-81a9-d28ba98913f0"
	fakeUser      = "svc"
	fakePassword  = "s3cr3t-Pa55"
	taskPollsLeft = 2 // polls a task answers Running before it finishes
)

type fakeEM struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	tokens    map[string]string // token -> SessionId
	logons    int
	requests  []string // "METHOD /path" in arrival order
	actions   int      // actions EM accepted (and executed)
	tasks     map[string]map[string]*fakeTask
	nextTask  int
	sessions  []BackupJobSession
	loggedOff []string
	headers   []http.Header

	// logonGate, when set, holds logons until it is closed; logonSeen receives
	// one value per logon that reached the gate.
	logonGate chan struct{}
	logonSeen chan struct{}
	// hook may answer a request itself (fault injection) by returning true.
	hook func(w http.ResponseWriter, r *http.Request) bool
	// related adds a Related link to the session on finished start/retry
	// tasks. EM documents none (task_finished_agent_start.xml), so it is off
	// by default; it exists to test the shortcut. noSession makes a start
	// accepted without a session ever appearing.
	related, noSession bool
}

type fakeTask struct {
	task  Task
	polls int
}

func newFakeEM(t *testing.T) *fakeEM {
	f := &fakeEM{t: t, tokens: map[string]string{}, tasks: map[string]map[string]*fakeTask{}}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeEM) client(t *testing.T, mod ...func(*Config)) *Client {
	t.Helper()
	cfg := Config{BaseURL: f.srv.URL, Username: fakeUser, Password: fakePassword, Timeout: 5 * time.Second}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.backoff = time.Millisecond
	return c
}

func (f *fakeEM) expire() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.tokens)
}

func (f *fakeEM) count(prefix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.requests {
		if strings.HasPrefix(r, prefix) {
			n++
		}
	}
	return n
}

func (f *fakeEM) stats() (logons, actions, requests int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logons, f.actions, len(f.requests)
}

func writeXML(w http.ResponseWriter, status int, v any) {
	b, err := xml.Marshal(v)
	if err != nil {
		panic(err)
	}
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.WriteHeader(status)
	w.Write([]byte(xml.Header))
	w.Write(b)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeXML(w, status, ErrorBody{Message: msg, StatusCode: status, Status: http.StatusText(status)})
}

func (f *fakeEM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	f.headers = append(f.headers, r.Header.Clone())
	hook := f.hook
	f.mu.Unlock()
	if got := r.Header.Values("Accept"); len(got) != 1 || got[0] != "application/xml" {
		f.t.Errorf("%s %s: Accept = %q, want exactly application/xml", r.Method, r.URL, got)
	}
	if r.Header.Get("Cookie") != "" {
		f.t.Errorf("%s %s: client sent a cookie", r.Method, r.URL)
	}
	if hook != nil && hook(w, r) {
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/api")
	if path == "/" && r.Method == http.MethodGet {
		writeXML(w, 200, EnterpriseManager{Links: Links{{Rel: "Create", Type: "LogonSession", Href: f.srv.URL + "/api/sessionMngr/?v=latest"}},
			SupportedVersions: []SupportedVersion{{Name: "v1_7"}}})
		return
	}
	if path == "/sessionMngr/" && r.Method == http.MethodPost {
		f.logon(w, r)
		return
	}
	if r.Header.Get("Authorization") != "" {
		f.t.Errorf("%s %s: Authorization header outside logon", r.Method, r.URL)
	}
	f.mu.Lock()
	sid, ok := f.tokens[r.Header.Get(sessionHeader)]
	f.mu.Unlock()
	if !ok {
		writeError(w, 401, "Authorization header has been expected but not found (or found but is expired)")
		return
	}
	f.route(w, r, path, r.Header.Get(sessionHeader), sid)
}

func (f *fakeEM) logon(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !ok || user != fakeUser || pass != fakePassword || r.URL.Query().Get("v") != "latest" {
		w.Header().Set("WWW-Authenticate", "Basic Realm=RestSvc")
		writeError(w, 401, "Unauthorized")
		return
	}
	if f.logonSeen != nil {
		f.logonSeen <- struct{}{}
	}
	if f.logonGate != nil {
		<-f.logonGate
	}
	b := make([]byte, 16)
	rand.Read(b)
	sid := fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
	token := base64.StdEncoding.EncodeToString([]byte(sid))
	f.mu.Lock()
	f.tokens[token] = sid
	f.logons++
	f.mu.Unlock()
	w.Header().Set(sessionHeader, token)
	writeXML(w, 201, LogonSession{Type: "LogonSession", Href: f.srv.URL + "/api/logonSessions/" + sid, UserName: `CORP\svc`, SessionID: sid})
}

func (f *fakeEM) job() AgentBackupJob {
	href := f.srv.URL + "/api/agents/jobs/" + fakeJobID
	return AgentBackupJob{Type: "AgentBackupJob", Href: href + "?format=Entity", Name: `Erin's "laptop" & co`, UID: "urn:veeam:AgentBackupJob:" + fakeJobID,
		Links: Links{{Rel: "Up", Type: "BackupServerReference", Href: f.srv.URL + "/api/backupServers/" + fakeServerID, Name: "vbr-berlin.corp.example"},
			{Rel: "Start", Href: href + "?action=start"}, {Rel: "Retry", Href: href + "?action=retry"}},
		JobType: "AgentBackup", Platform: "AgentForWindows", ScheduleEnabled: true,
		JobInfo: &AgentJobInfo{Includes: []ObjectInAgentBackupJob{{Type: "ObjectInAgentBackupJob", Href: href + "/includes/x", Name: "erin-laptop.corp.example"}}}}
}

func (f *fakeEM) route(w http.ResponseWriter, r *http.Request, path, token, sid string) {
	jobs := "/agents/jobs/" + fakeJobID
	switch {
	case r.Method == http.MethodDelete && path == "/logonSessions/"+sid:
		f.mu.Lock()
		delete(f.tokens, token)
		f.loggedOff = append(f.loggedOff, sid)
		f.mu.Unlock()
		w.WriteHeader(204)
	case r.Method == http.MethodGet && path == "/agents/jobs":
		if r.URL.Query().Get("format") == "Entity" {
			writeXML(w, 200, AgentBackupJobs{Jobs: []AgentBackupJob{f.job()}})
			return
		}
		j := f.job()
		writeXML(w, 200, EntityReferences{Refs: []Ref{{UID: j.UID, Name: j.Name, Href: f.srv.URL + "/api" + jobs, Type: "AgentBackupJobReference"}}})
	case r.Method == http.MethodGet && path == jobs:
		writeXML(w, 200, f.job())
	case r.Method == http.MethodGet && path == jobs+"/includes":
		writeXML(w, 200, ObjectsInAgentBackupJob{Objects: f.job().JobInfo.Includes})
	case r.Method == http.MethodGet && path == jobs+"/backupSessions":
		writeXML(w, 200, EntityReferences{})
	case r.Method == http.MethodGet && path == "/agents/backupSessions":
		writeXML(w, 200, EntityReferences{})
	case r.Method == http.MethodGet && path == "/backupServers":
		writeXML(w, 200, BackupServers{Servers: []BackupServer{{Name: "vbr-berlin.corp.example", Port: 9392}}})
	case r.Method == http.MethodGet && path == "/backupServers/"+fakeServerID:
		writeXML(w, 200, BackupServer{Name: "vbr-berlin.corp.example", Port: 9392})
	case r.Method == http.MethodPost && path == jobs:
		f.action(w, r, token)
	case strings.HasPrefix(path, "/tasks/"):
		f.taskRoute(w, r, token, strings.TrimPrefix(path, "/tasks/"))
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/backupSessions/"):
		id := strings.TrimPrefix(path, "/backupSessions/")
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, s := range f.sessions {
			if IDFromUID(s.UID) == id {
				writeXML(w, 200, s)
				return
			}
		}
		writeError(w, 404, "Session not found")
	case r.Method == http.MethodGet && path == "/query":
		f.query(w, r)
	default:
		writeError(w, 404, "No such resource")
	}
}

func (f *fakeEM) action(w http.ResponseWriter, r *http.Request, token string) {
	op := map[string]string{"start": "StartJob", "stop": "StopAgentJob", "retry": "RetryAgentJob", "toggleScheduleEnabled": "UpdateJob"}[r.URL.Query().Get("action")]
	if op == "" {
		writeError(w, 400, "bad action")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.actions++
	f.nextTask++
	id := fmt.Sprintf("task-%d", f.nextTask)
	t := Task{Type: "Task", Href: f.srv.URL + "/api/tasks/" + id, Links: Links{{Rel: "Delete", Href: f.srv.URL + "/api/tasks/" + id}},
		TaskID: id, State: TaskRunning, Operation: op}
	if (op == "StartJob" || op == "RetryAgentJob") && !f.noSession {
		b := make([]byte, 16)
		rand.Read(b)
		sid := fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
		f.sessions = append(f.sessions, BackupJobSession{Type: "BackupJobSession", Name: "job@now", UID: "urn:veeam:BackupJobSession:" + sid,
			JobUID: "urn:veeam:AgentBackupJob:" + fakeJobID, JobType: "AgentBackup", CreationTimeUTC: Time{time.Now().UTC()}, State: "Working", Result: "None"})
		if f.related {
			t.Links = append(t.Links, Link{Rel: "Related", Type: "BackupJobSession", Href: f.srv.URL + "/api/backupSessions/" + sid + "?format=Entity"})
		}
	}
	if f.tasks[token] == nil {
		f.tasks[token] = map[string]*fakeTask{}
	}
	f.tasks[token][id] = &fakeTask{task: t}
	running := t
	running.Links = running.Links[:1]
	writeXML(w, 202, running)
}

func (f *fakeEM) taskRoute(w http.ResponseWriter, r *http.Request, token, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ft, ok := f.tasks[token][id]
	if !ok {
		writeError(w, 404, "Task not found")
		return
	}
	if r.Method == http.MethodDelete {
		delete(f.tasks[token], id)
		w.WriteHeader(204)
		return
	}
	ft.polls++
	t := ft.task
	if ft.polls > taskPollsLeft {
		t.State = TaskFinished
		t.Result = &TaskResult{Success: true, Message: "Ok"}
	} else {
		t.Links = t.Links[:1]
	}
	writeXML(w, 200, t)
}

func (f *fakeEM) query(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("type") != "BackupJobSession" || !strings.Contains(q.Get("filter"), fakeJobID) {
		writeError(w, 400, "unsupported query "+r.URL.RawQuery)
		return
	}
	f.mu.Lock()
	ss := slices.Clone(f.sessions)
	f.mu.Unlock()
	slices.SortFunc(ss, func(a, b BackupJobSession) int { return b.CreationTimeUTC.Compare(a.CreationTimeUTC.Time) })
	writeXML(w, 200, QueryResult{Entities: &QueryEntities{BackupJobSessions: &BackupJobSessions{Sessions: ss}},
		PagingInfo: PagingInfo{PagesCount: 1, PageSize: 5, PageNum: 1}})
}
