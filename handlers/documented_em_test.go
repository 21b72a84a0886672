package handlers_test

// A portal against an Enterprise Manager made of the documented examples: a
// small fake EM that answers with the bytes of ../shared/em-api/examples/,
// changing only what routing needs (ids, and the session's times so that it
// is the one a start just created). It sends no Related link on the finished
// start task (the documented one has none) and answers per-computer sessions
// only through agentManagementSessions, so the portal must find the new
// session by query and the computers through the parent's list.

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/audit"
	"github.com/agentdesk/agentdesk/emclient/emexamples"
)

const (
	docJobID     = "a6deb158-b26c-4140-8b26-5a3cc344e8ec" // agent_job_entity.xml
	docServerID  = "d1444f74-27e6-4399-81a9-d28ba98913f0" // the job's Up link
	docSessionID = "d46e39e0-1131-4585-91a7-e828ce7eafae" // backup_job_session_entity_docs.xml
	docLogonID   = "15a3fc97-0325-4119-b789-5c0367c6c565" // logon_session_v13.xml
	brokenJobID  = "0badc0de-0000-4000-8000-000000000001" // a job whose entity read fails
)

type docEM struct {
	t   *testing.T
	dir string

	mu        sync.Mutex
	started   time.Time // when the start was posted; zero before
	taskPolls int
	requests  []string
}

func (d *docEM) file(name string) []byte {
	d.t.Helper()
	b, err := os.ReadFile(filepath.Join(d.dir, name))
	if err != nil {
		d.t.Fatalf("example %s: %v", name, err)
	}
	return b
}

func (d *docEM) log(r *http.Request) {
	q, _ := url.QueryUnescape(r.URL.RawQuery)
	d.mu.Lock()
	d.requests = append(d.requests, r.Method+" "+r.URL.Path+"?"+q)
	d.mu.Unlock()
}

func (d *docEM) saw(substr string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range d.requests {
		if strings.Contains(r, substr) {
			return true
		}
	}
	return false
}

func writeDoc(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.WriteHeader(status)
	w.Write(body)
}

// queryResult wraps entities the way QueryResult does (README §9); the
// examples hold no XML BackupJobSession or AgentBackupJob query answer.
func queryResult(plural string, entities ...[]byte) []byte {
	var b bytes.Buffer
	b.WriteString(`<QueryResult xmlns="http://www.veeam.com/ent/v1.0"><Entities><` + plural + `>`)
	for _, e := range entities {
		b.Write(e)
	}
	b.WriteString(`</` + plural + `></Entities><PagingInfo PageNum="1" PageSize="100" PagesCount="1"/></QueryResult>`)
	return b.Bytes()
}

var (
	creationRe = regexp.MustCompile(`<CreationTimeUTC>[^<]*</CreationTimeUTC>`)
	endRe      = regexp.MustCompile(`<EndTimeUTC>[^<]*</EndTimeUTC>`)
	childUIDRe = regexp.MustCompile(`UID="urn:veeam:BackupJobSession:([0-9a-f-]{36})"`)
	childRefRe = regexp.MustCompile(`(?s)<Ref .*?</Ref>`)
)

// session is the documented session entity as the session id, of the
// documented job, created when the start was posted and run for the
// documented 17 min 56 s.
func (d *docEM) session(id string, started time.Time) []byte {
	b := d.file("backup_job_session_entity_docs.xml")
	b = bytes.ReplaceAll(b, []byte(docSessionID), []byte(id))
	b = bytes.ReplaceAll(b, []byte("4856ab37-2235-45e8-affe-d515878b01a9"), []byte(docJobID)) // JobUid and Up JobReference
	b = creationRe.ReplaceAll(b, []byte("<CreationTimeUTC>"+started.UTC().Format(time.RFC3339)+"</CreationTimeUTC>"))
	b = endRe.ReplaceAll(b, []byte("<EndTimeUTC>"+started.Add(17*time.Minute+56*time.Second).UTC().Format(time.RFC3339)+"</EndTimeUTC>"))
	return b
}

// children are the child refs of agent_backup_sessions_refs.xml, their
// "Parent session" link pointing at our session.
func (d *docEM) children() ([][]byte, []string) {
	refs := d.file("agent_backup_sessions_refs.xml")
	var out [][]byte
	var ids []string
	for _, m := range childRefRe.FindAll(refs, -1) {
		if !bytes.Contains(m, []byte(`Name="Parent session"`)) {
			continue // a parent session
		}
		m = regexp.MustCompile(`backupSessions/(addf6ac2-89d9-4f5c-b90b-2e63f84ac3da|3b4fd6a2-bda4-422c-a0a0-c2ae1a8ce5cd)"`).
			ReplaceAll(m, []byte(`backupSessions/`+docSessionID+`"`))
		out = append(out, m)
		ids = append(ids, string(childUIDRe.FindSubmatch(m)[1]))
	}
	return out, ids
}

func (d *docEM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.log(r)
	path := strings.TrimPrefix(r.URL.Path, "/api")
	q := r.URL.Query()
	token := base64.StdEncoding.EncodeToString([]byte(docLogonID))
	if r.Method == http.MethodPost && path == "/sessionMngr/" {
		w.Header().Set("X-RestSvcSessionId", token)
		writeDoc(w, http.StatusCreated, d.file("logon_session_v13.xml"))
		return
	}
	if r.Header.Get("X-RestSvcSessionId") != token {
		writeDoc(w, http.StatusUnauthorized, []byte(`<Error xmlns="http://www.veeam.com/ent/v1.0" Message="Unauthorized" StatusCode="401"/>`))
		return
	}
	d.mu.Lock()
	started := d.started
	d.mu.Unlock()
	_, kidIDs := d.children()
	switch {
	case r.Method == http.MethodDelete && path == "/logonSessions/"+docLogonID:
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodGet && path == "/agents/jobs/"+docJobID:
		writeDoc(w, 200, d.file("agent_job_entity.xml"))
	case r.Method == http.MethodGet && path == "/agents/jobs/"+brokenJobID:
		// The real 9.5 error shape (README §4), with markup in the message.
		writeDoc(w, 500, []byte(`<Error Message="Object reference not set to an instance of an object. &lt;b&gt;x&lt;/b&gt;" StatusCode="500" xmlns="http://www.veeam.com/ent/v1.0"><FirstChanceExceptionMessage>Job configuration could not be loaded.</FirstChanceExceptionMessage></Error>`))
	case r.Method == http.MethodGet && path == "/backupServers":
		srv := bytes.ReplaceAll(d.file("backup_server_entity.xml"), []byte("ce15a8c7-aa49-495e-b05b-ee3398c91018"), []byte(docServerID))
		writeDoc(w, 200, append(append([]byte(`<BackupServers xmlns="http://www.veeam.com/ent/v1.0">`), srv...), []byte(`</BackupServers>`)...))
	case r.Method == http.MethodGet && path == "/query" && strings.EqualFold(q.Get("type"), "AgentBackupJob"):
		writeDoc(w, 200, queryResult("AgentBackupJobs", d.file("agent_job_entity.xml")))
	case r.Method == http.MethodGet && path == "/query" && strings.EqualFold(q.Get("type"), "BackupJobSession"):
		if strings.Contains(strings.ToLower(q.Get("filter")), "jobname") {
			d.t.Errorf("the portal looked for sessions by name: %s (EM names children after computers the job does not list)", q.Get("filter"))
		}
		if started.IsZero() {
			writeDoc(w, 200, queryResult("BackupJobSessions"))
			return
		}
		writeDoc(w, 200, queryResult("BackupJobSessions", d.session(docSessionID, started)))
	case r.Method == http.MethodPost && path == "/agents/jobs/"+docJobID && q.Get("action") == "start":
		d.mu.Lock()
		d.started = time.Now()
		d.mu.Unlock()
		writeDoc(w, http.StatusAccepted, d.file("task_running_202.xml"))
	case r.Method == http.MethodGet && path == "/tasks/task-1":
		d.mu.Lock()
		d.taskPolls++
		n := d.taskPolls
		d.mu.Unlock()
		switch n {
		case 1:
			writeDoc(w, 200, d.file("task_running_202.xml"))
		case 2:
			writeDoc(w, 200, bytes.ReplaceAll(d.file("task_operation_finished.xml"), []byte("task-2"), []byte("task-1")))
		default:
			writeDoc(w, 200, d.file("task_finished_agent_start.xml"))
		}
	case r.Method == http.MethodGet && path == "/backupSessions/"+docSessionID && !started.IsZero():
		writeDoc(w, 200, d.session(docSessionID, started))
	case r.Method == http.MethodGet && path == "/backupSessions/"+docSessionID+"/agentManagementSessions":
		refs, _ := d.children()
		writeDoc(w, 200, append(append([]byte(`<EntityReferences xmlns="http://www.veeam.com/ent/v1.0">`), bytes.Join(refs, nil)...), []byte(`</EntityReferences>`)...))
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/backupSessions/") && slicesContains(kidIDs, strings.TrimPrefix(path, "/backupSessions/")):
		// No documented child entity is included: the documented session
		// entity, under the child's id.
		writeDoc(w, 200, d.session(strings.TrimPrefix(path, "/backupSessions/"), started))
	default:
		writeDoc(w, 404, []byte(`<Error xmlns="http://www.veeam.com/ent/v1.0" Message="Not found" StatusCode="404"/>`))
	}
}

func slicesContains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// TestDocumentedEM drives the real portal against the documented EM: start,
// the task (Running, OperationFinished, Finished without a Related link), the
// session found by query, its end, the audit entry with the session and its
// result, and the per-computer sessions through agentManagementSessions.
func TestDocumentedEM(t *testing.T) {
	d := &docEM{t: t, dir: emexamples.Dir(t)}
	p := newPortal(t, portalOptions{wrapEM: func(http.Handler) http.Handler { return d }})
	c := p.signIn("alice")

	page := c.get("/jobs/" + docJobID)
	if page.StatusCode != http.StatusOK || page.testid("job-title").Text() != "Server Backup" {
		t.Fatalf("job page: %d\n%s", page.StatusCode, page.Body)
	}
	if page.testid("job-kind").Length() != 0 {
		t.Error("the job page shows a kind EM does not state")
	}
	r := c.action(docJobID, "start")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("start: %d %s", r.StatusCode, r.Body)
	}
	fin := c.waitAction(docJobID)
	st, _ := fin.testid("action-status").Attr("data-state")
	if msg := fin.testid("action-status").Text(); st != "finished" || !strings.Contains(msg, "Backup finished: Success") {
		t.Fatalf("final status %q: %s", st, msg)
	}
	if !d.saw("GET /api/query?") || !d.saw("JobUid") {
		t.Error("the new session was not looked for by query")
	}
	entries, err := p.audit.Query(t.Context(), audit.Filter{JobID: docJobID})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range entries.Entries {
		if e.Action == "start" && e.SessionID == docSessionID && e.Final == "Success" {
			found = true
		}
	}
	if !found {
		t.Errorf("no audit entry with the session %s and its result: %+v", docSessionID, entries)
	}

	kids := c.get(fmt.Sprintf("/jobs/%s/sessions/%s/computers", docJobID, docSessionID))
	if kids.StatusCode != http.StatusOK {
		t.Fatalf("computers: %d %s", kids.StatusCode, kids.Body)
	}
	names := kids.testid("session-child-name")
	if names.Length() != 2 || strings.TrimSpace(names.First().Text()) != "rhel72" {
		t.Fatalf("computers %q:\n%s", names.Text(), kids.Body)
	}
	if got := kids.testid("session-child-duration").First().Text(); !strings.Contains(got, "17 min 56 s") {
		t.Errorf("computer duration %q", got)
	}
	if !d.saw("/agentManagementSessions") {
		t.Error("per-computer sessions not read through agentManagementSessions")
	}

	// A job whose entity read fails: EM's own words, escaped, and the reference.
	bad := c.get("/jobs/" + brokenJobID)
	if bad.StatusCode != http.StatusBadGateway {
		t.Fatalf("broken job: %d", bad.StatusCode)
	}
	if got := bad.testid("error-em-message").Text(); !strings.Contains(got, "Object reference not set to an instance of an object. <b>x</b>") ||
		!strings.Contains(got, "Job configuration could not be loaded.") {
		t.Errorf("EM's message: %q", got)
	}
	if strings.Contains(bad.Body, "<b>x</b>") {
		t.Error("EM's message reached the page unescaped")
	}
	if bad.testid("error-request-id").Text() == "" {
		t.Error("no reference id")
	}
}
