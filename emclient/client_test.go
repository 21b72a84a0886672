package emclient

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNewConfig(t *testing.T) {
	jar, _ := cookiejar.New(nil)
	for _, tc := range []struct {
		name string
		cfg  Config
		base string
		bad  bool
	}{
		{name: "api appended", cfg: Config{BaseURL: "https://em.example.com:9398", Username: "u"}, base: "https://em.example.com:9398/api"},
		{name: "trailing slash", cfg: Config{BaseURL: "https://em.example.com:9398/", Username: "u"}, base: "https://em.example.com:9398/api"},
		{name: "api kept", cfg: Config{BaseURL: "https://em.example.com:9398/api/", Username: "u"}, base: "https://em.example.com:9398/api"},
		{name: "prefix", cfg: Config{BaseURL: "https://proxy.example.com/em", Username: "u"}, base: "https://proxy.example.com/em/api"},
		{name: "jar rejected", cfg: Config{BaseURL: "https://em", Username: "u", HTTPClient: &http.Client{Jar: jar}}, bad: true},
		{name: "relative", cfg: Config{BaseURL: "em.example.com", Username: "u"}, bad: true},
		{name: "ftp", cfg: Config{BaseURL: "ftp://em", Username: "u"}, bad: true},
		{name: "userinfo", cfg: Config{BaseURL: "https://a:b@em", Username: "u"}, bad: true},
		{name: "query", cfg: Config{BaseURL: "https://em/?x=1", Username: "u"}, bad: true},
		{name: "no user", cfg: Config{BaseURL: "https://em"}, bad: true},
		{name: "bad pin", cfg: Config{BaseURL: "https://em", Username: "u", PinSHA256: "abcd"}, bad: true},
		{name: "missing CA file", cfg: Config{BaseURL: "https://em", Username: "u", CAFile: "/nonexistent/ca.pem"}, bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.cfg)
			if tc.bad {
				if err == nil {
					t.Fatal("New succeeded, want error")
				}
				return
			}
			if err != nil || c.base != tc.base {
				t.Fatalf("New: base %q, %v; want %q", c.base, err, tc.base)
			}
		})
	}
}

func TestLogonReuseAndClose(t *testing.T) {
	f := newFakeEM(t)
	var observed []string
	var mu sync.Mutex
	c := f.client(t, func(cfg *Config) {
		cfg.Observe = func(ep string, status int, _ time.Duration) {
			mu.Lock()
			observed = append(observed, fmt.Sprintf("%s %d", ep, status))
			mu.Unlock()
		}
	})
	ctx := context.Background()
	em, err := c.EntryPoint(ctx)
	if err != nil || len(em.SupportedVersions) != 1 {
		t.Fatalf("EntryPoint: %+v, %v", em, err)
	}
	if c.Logons() != 0 {
		t.Fatal("EntryPoint logged on")
	}
	for range 3 {
		refs, err := c.AgentJobRefs(ctx)
		if err != nil || len(refs) != 1 {
			t.Fatalf("AgentJobRefs: %v, %v", refs, err)
		}
	}
	job, err := c.AgentJob(ctx, fakeJobID)
	if err != nil || job.Name != `Erin's "laptop" & co` || !job.Links.Has("Retry") {
		t.Fatalf("AgentJob: %+v, %v", job, err)
	}
	if logons, _, _ := f.stats(); logons != 1 || c.Logons() != 1 {
		t.Fatalf("logons = %d (client %d), want 1", logons, c.Logons())
	}
	// Every authenticated request carried the token from the logon answer and no
	// credentials (checked per request by the fake as well).
	f.mu.Lock()
	for i, h := range f.headers[1:] {
		if i > 0 && h.Get(sessionHeader) == "" {
			t.Errorf("request %d without %s", i+1, sessionHeader)
		}
	}
	f.mu.Unlock()

	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	loggedOff := len(f.loggedOff)
	f.mu.Unlock()
	if loggedOff != 1 || f.count("DELETE /api/logonSessions/") != 1 {
		t.Fatalf("log off requests = %d", loggedOff)
	}
	if _, err := c.AgentJobRefs(ctx); err == nil {
		t.Fatal("call after Close succeeded")
	}
	if logons, _, _ := f.stats(); logons != 1 {
		t.Fatalf("call after Close logged on again")
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"GET / 200", "POST /sessionMngr/ 201", "GET /agents/jobs 200", "GET /agents/jobs/{id} 200", "DELETE /logonSessions/{id} 204"}
	for _, w := range want {
		found := false
		for _, o := range observed {
			found = found || o == w
		}
		if !found {
			t.Errorf("Observe never saw %q (saw %v)", w, observed)
		}
	}
}

func TestEveryReadMethod(t *testing.T) {
	f := newFakeEM(t)
	c := f.client(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		fn   func() (int, error)
	}{
		{"AgentJobs", func() (int, error) { j, err := c.AgentJobs(ctx); return len(j), err }},
		{"AgentJobIncludes", func() (int, error) { j, err := c.AgentJobIncludes(ctx, fakeJobID); return len(j), err }},
		{"AgentJobSessionRefs", func() (int, error) { j, err := c.AgentJobSessionRefs(ctx, fakeJobID); return len(j) + 1, err }},
		{"AgentBackupSessionRefs", func() (int, error) { j, err := c.AgentBackupSessionRefs(ctx); return len(j) + 1, err }},
		{"BackupServers", func() (int, error) { j, err := c.BackupServers(ctx); return len(j), err }},
		{"BackupServer", func() (int, error) { _, err := c.BackupServer(ctx, fakeServerID); return 1, err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if n, err := tc.fn(); err != nil || n != 1 {
				t.Fatalf("%s = %d, %v", tc.name, n, err)
			}
		})
	}
	_, err := c.BackupSession(ctx, "00000000-0000-0000-0000-000000000001")
	var e *Error
	if !errors.Is(err, ErrNotFound) || !errors.As(err, &e) || e.Message != "Session not found" || e.Method != "GET" || e.Endpoint != "/backupSessions/{id}" {
		t.Fatalf("BackupSession unknown: %v (%+v)", err, e)
	}
}

func TestExpiredSessionRelogonOnce(t *testing.T) {
	f := newFakeEM(t)
	c := f.client(t)
	ctx := context.Background()
	if _, err := c.AgentJobRefs(ctx); err != nil {
		t.Fatal(err)
	}
	f.expire()
	if _, err := c.AgentJobRefs(ctx); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if logons, _, _ := f.stats(); logons != 2 {
		t.Fatalf("logons = %d, want 2", logons)
	}
	if n := f.count("GET /api/agents/jobs"); n != 3 {
		t.Fatalf("GET attempts = %d, want 3 (ok, 401, retried ok)", n)
	}

	// A 401 storm: one re-logon, one retry, then ErrUnauthorized.
	f.hook = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/api/agents/jobs" {
			writeError(w, 401, "expired")
			return true
		}
		return false
	}
	before := f.count("GET /api/agents/jobs")
	_, err := c.AgentJobRefs(ctx)
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("401 storm: %v, want ErrUnauthorized", err)
	}
	if n := f.count("GET /api/agents/jobs") - before; n != 2 {
		t.Fatalf("attempts in a 401 storm = %d, want 2", n)
	}
	if logons, _, _ := f.stats(); logons != 3 {
		t.Fatalf("logons = %d, want 3", logons)
	}
}

func TestBadCredentials(t *testing.T) {
	f := newFakeEM(t)
	c := f.client(t, func(cfg *Config) { cfg.Password = "wrong" })
	_, err := c.AgentJobRefs(context.Background())
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	if n := f.count("GET"); n != 0 {
		t.Fatalf("%d GETs sent without a session", n)
	}
}

func TestConcurrentCallersShareOneLogon(t *testing.T) {
	f := newFakeEM(t)
	c := f.client(t)
	ctx := context.Background()
	if _, err := c.AgentJobRefs(ctx); err != nil {
		t.Fatal(err)
	}
	f.expire()
	const callers = 200
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			if _, err := c.AgentJobRefs(ctx); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if logons, _, _ := f.stats(); logons != 2 {
		t.Fatalf("logons = %d, want 2 (one initial, exactly one after expiry)", logons)
	}
	if c.Logons() != 2 {
		t.Fatalf("client Logons = %d", c.Logons())
	}
}

func TestCancelledCallerDoesNotFailLogon(t *testing.T) {
	f := newFakeEM(t)
	f.logonGate = make(chan struct{})
	f.logonSeen = make(chan struct{}, 4)
	c := f.client(t)

	ctxA, cancelA := context.WithCancel(context.Background())
	errA := make(chan error, 1)
	go func() { _, err := c.AgentJobRefs(ctxA); errA <- err }()
	<-f.logonSeen // A's logon is at EM

	errB := make(chan error, 1)
	go func() { _, err := c.AgentJobRefs(context.Background()); errB <- err }()

	cancelA()
	if err := <-errA; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v, want context.Canceled", err)
	}
	close(f.logonGate)
	if err := <-errB; err != nil {
		t.Fatalf("other caller failed: %v", err)
	}
	if _, err := c.AgentJobRefs(context.Background()); err != nil {
		t.Fatal(err)
	}
	if logons, _, _ := f.stats(); logons != 1 {
		t.Fatalf("logons = %d, want 1: the cancelled caller's logon must complete for the others", logons)
	}
}

func TestActionRetriedOnceAfter401(t *testing.T) {
	f := newFakeEM(t)
	c := f.client(t)
	ctx := context.Background()
	if _, err := c.AgentJobRefs(ctx); err != nil {
		t.Fatal(err)
	}
	f.expire()
	task, err := c.JobAction(ctx, fakeJobID, ActionStart)
	if err != nil {
		t.Fatal(err)
	}
	if task.TaskID != "task-1" || task.State != TaskRunning || task.SentAt.IsZero() {
		t.Fatalf("task = %+v", task)
	}
	_, actions, _ := f.stats()
	if posts := f.count("POST /api/agents/jobs/"); posts != 2 || actions != 1 {
		t.Fatalf("POSTs = %d, executed = %d; want 2 sent (401, then accepted) and 1 executed", posts, actions)
	}
}

func TestActionNotRetried(t *testing.T) {
	for _, tc := range []struct {
		name   string
		hook   func(w http.ResponseWriter, r *http.Request) bool
		target error
	}{
		{"connection reset after read", func(w http.ResponseWriter, r *http.Request) bool {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return true
		}, ErrOutcomeUnknown},
		{"503", func(w http.ResponseWriter, r *http.Request) bool { writeError(w, 503, "busy"); return true }, ErrUnavailable},
		{"500", func(w http.ResponseWriter, r *http.Request) bool { writeError(w, 500, "boom"); return true }, nil},
		{"403", func(w http.ResponseWriter, r *http.Request) bool { writeError(w, 403, "Access denied"); return true }, ErrForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeEM(t)
			c := f.client(t)
			ctx := context.Background()
			if _, err := c.AgentJobRefs(ctx); err != nil { // warm: the POST reuses a connection
				t.Fatal(err)
			}
			f.hook = func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/api/agents/jobs/") {
					return tc.hook(w, r)
				}
				return false
			}
			_, err := c.JobAction(ctx, fakeJobID, ActionStop)
			if err == nil {
				t.Fatal("JobAction succeeded")
			}
			if tc.target != nil && !errors.Is(err, tc.target) {
				t.Fatalf("err = %v, want %v", err, tc.target)
			}
			if posts := f.count("POST /api/agents/jobs/"); posts != 1 {
				t.Fatalf("action sent %d times, want 1", posts)
			}
		})
	}
}

func TestReadRetries(t *testing.T) {
	for _, tc := range []struct {
		name     string
		failures int // answers failing before success
		fail     func(w http.ResponseWriter)
		attempts int
		target   error
	}{
		{"503 twice then ok", 2, func(w http.ResponseWriter) { writeError(w, 503, "busy") }, 3, nil},
		{"502 always", 99, func(w http.ResponseWriter) { w.WriteHeader(502) }, 3, ErrUnavailable},
		{"504 once", 1, func(w http.ResponseWriter) { writeError(w, 504, "gw") }, 2, nil},
		{"500 not retried", 99, func(w http.ResponseWriter) { writeError(w, 500, "boom") }, 1, nil},
		{"404 not retried", 99, func(w http.ResponseWriter) { writeError(w, 404, "gone") }, 1, ErrNotFound},
		{"reset retried", 2, func(w http.ResponseWriter) {
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		}, 0, nil}, // 0: the transport may replay a GET itself, so only success is checked
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeEM(t)
			c := f.client(t)
			// The transport itself may replay a GET once on a reused connection
			// that dies; count the client's attempts through Observe instead.
			var attempts int
			var mu sync.Mutex
			c.observe = func(ep string, _ int, _ time.Duration) {
				if ep == "GET /agents/jobs" {
					mu.Lock()
					attempts++
					mu.Unlock()
				}
			}
			failed := 0
			f.hook = func(w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path == "/api/agents/jobs" && failed < tc.failures {
					failed++
					tc.fail(w)
					return true
				}
				return false
			}
			_, err := c.AgentJobRefs(context.Background())
			if tc.failures < 99 {
				if err != nil {
					t.Fatalf("err = %v, want success", err)
				}
			} else if err == nil || (tc.target != nil && !errors.Is(err, tc.target)) {
				t.Fatalf("err = %v, want %v", err, tc.target)
			}
			if tc.attempts != 0 && attempts != tc.attempts {
				t.Fatalf("attempts = %d, want %d", attempts, tc.attempts)
			}
		})
	}
}

func TestDeadline(t *testing.T) {
	f := newFakeEM(t)
	c := f.client(t, func(cfg *Config) { cfg.Timeout = 200 * time.Millisecond })
	if _, err := c.AgentJobRefs(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.hook = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/api/sessionMngr/" {
			<-r.Context().Done() // black hole
			return true
		}
		return false
	}
	_, err := c.AgentJobRefs(context.Background())
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("GET black hole: %v, want ErrUnavailable + DeadlineExceeded", err)
	}
	_, err = c.JobAction(context.Background(), fakeJobID, ActionStart)
	if !errors.Is(err, ErrOutcomeUnknown) || errors.Is(err, ErrUnavailable) {
		t.Fatalf("POST black hole: %v, want ErrOutcomeUnknown only", err)
	}
	// The caller's own deadline applies too.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	c.timeout = time.Hour
	if _, err := c.AgentJobRefs(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("caller deadline: %v", err)
	}
}

func TestMalformedAnswers(t *testing.T) {
	huge := strings.Repeat("<Ref/>", 400)
	for _, tc := range []struct {
		name   string
		status int
		body   string
		target error
		msg    string
	}{
		{"garbage", 200, "\x00\x01not xml at all", ErrMalformed, ""},
		{"wrong root", 200, `<Task><TaskId>task-1</TaskId></Task>`, ErrMalformed, ""},
		{"truncated", 200, `<EntityReferences><Ref UID="x"`, ErrMalformed, ""},
		{"too large", 200, "<EntityReferences>" + huge + "</EntityReferences>", ErrMalformed, "larger than"},
		{"unknown elements are fine", 200, `<EntityReferences xmlns="http://www.veeam.com/ent/v1.0"><Future a="1"><X/></Future><Ref UID="u" Name="n" Href="h" Type="t"><Extra/></Ref></EntityReferences>`, nil, ""},
		{"html 502", 502, "<html><body><h1>Bad gateway</h1></body></html>", ErrUnavailable, "Bad Gateway"},
		{"xml 403", 403, `<Error Message="Access denied" StatusCode="403"/>`, ErrForbidden, "Access denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeEM(t)
			c := f.client(t)
			c.maxBody = 2048
			f.hook = func(w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path == "/api/agents/jobs" {
					w.WriteHeader(tc.status)
					w.Write([]byte(tc.body))
					return true
				}
				return false
			}
			refs, err := c.AgentJobRefs(context.Background())
			if tc.target == nil {
				if err != nil || len(refs) != 1 || refs[0].Name != "n" {
					t.Fatalf("refs %v, %v", refs, err)
				}
				return
			}
			if !errors.Is(err, tc.target) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want %v containing %q", err, tc.target, tc.msg)
			}
		})
	}
}

func TestInvalidIDsMakeNoRequest(t *testing.T) {
	f := newFakeEM(t)
	c := f.client(t)
	ctx := context.Background()
	for _, id := range []string{"", "../backupServers", "a6deb158-b26c-4140-8b26-5a3cc344e8ec/../../x", "a6deb158-b26c-4140-8b26-5a3cc344e8e?", "x%2f..", "task-1"} {
		calls := map[string]error{}
		_, calls["AgentJob"] = c.AgentJob(ctx, id)
		_, calls["AgentJobIncludes"] = c.AgentJobIncludes(ctx, id)
		_, calls["AgentJobSessionRefs"] = c.AgentJobSessionRefs(ctx, id)
		_, calls["BackupSession"] = c.BackupSession(ctx, id)
		_, calls["BackupServer"] = c.BackupServer(ctx, id)
		_, calls["JobAction"] = c.JobAction(ctx, id, ActionStart)
		_, calls["FollowAction"] = c.FollowAction(ctx, id, &Task{TaskID: "task-1"}, WaitOptions{})
		for name, err := range calls {
			if !errors.Is(err, ErrInvalidID) {
				t.Errorf("%s(%q) = %v, want ErrInvalidID", name, id, err)
			}
		}
	}
	for _, id := range []string{"", "1", "task-", "task-1/../../x", "task-1?x", "../tasks/task-1", fakeJobID} {
		_, err1 := c.Task(ctx, id)
		err2 := c.DeleteTask(ctx, id)
		_, err3 := c.WaitTask(ctx, id, WaitOptions{})
		for i, err := range []error{err1, err2, err3} {
			if !errors.Is(err, ErrInvalidID) {
				t.Errorf("task call %d (%q) = %v, want ErrInvalidID", i, id, err)
			}
		}
	}
	if _, err := c.JobAction(ctx, fakeJobID, Action("delete")); err == nil {
		t.Error("unknown action accepted")
	}
	if _, _, n := f.stats(); n != 0 {
		t.Fatalf("%d requests reached EM", n)
	}
}

func TestWaitAndFollowAction(t *testing.T) {
	f := newFakeEM(t)
	c := f.client(t)
	ctx := context.Background()
	w := WaitOptions{Interval: time.Millisecond, MaxInterval: 5 * time.Millisecond, Timeout: 5 * time.Second}

	task, err := c.JobAction(ctx, fakeJobID, ActionStart)
	if err != nil {
		t.Fatal(err)
	}
	var updates int
	w.OnUpdate = func(*Task) { updates++ }
	out, err := c.FollowAction(ctx, fakeJobID, task, w)
	if err != nil {
		t.Fatal(err)
	}
	if out.FromSession || out.Task.State != TaskFinished || out.Session == nil || out.Session.JobType != "AgentBackup" {
		t.Fatalf("outcome = %+v", out)
	}
	if updates != taskPollsLeft+1 {
		t.Errorf("OnUpdate calls = %d, want %d", updates, taskPollsLeft+1)
	}
	if err := c.DeleteTask(ctx, task.TaskID); err != nil {
		t.Fatal(err)
	}

	// Toggle: no Related link, no session.
	task, err = c.JobAction(ctx, fakeJobID, ActionToggleSchedule)
	if err != nil {
		t.Fatal(err)
	}
	w.OnUpdate = nil
	out, err = c.FollowAction(ctx, fakeJobID, task, w)
	if err != nil || out.Session != nil || out.Task.Operation != "UpdateJob" {
		t.Fatalf("toggle outcome = %+v, %v", out, err)
	}

	// A task that vanished WITHOUT a re-logon is an error, not a fallback.
	gone := &Task{TaskID: "task-999", Operation: "StartJob", logon: c.Logons()}
	if _, err := c.FollowAction(ctx, fakeJobID, gone, w); !errors.Is(err, ErrNotFound) {
		t.Fatalf("vanished task: %v, want ErrNotFound", err)
	}
}

func TestFollowActionFallbackAfterRelogon(t *testing.T) {
	f := newFakeEM(t)
	c := f.client(t)
	ctx := context.Background()
	w := WaitOptions{Interval: time.Millisecond, MaxInterval: 5 * time.Millisecond, Timeout: 5 * time.Second}
	// An older session of the job must not be taken for the action's.
	f.sessions = append(f.sessions, BackupJobSession{UID: "urn:veeam:BackupJobSession:11111111-1111-1111-1111-111111111111",
		JobUID: "urn:veeam:AgentBackupJob:" + fakeJobID, CreationTimeUTC: Time{time.Now().Add(-time.Hour)}, State: "Stopped", Result: "Failed"})

	task, err := c.JobAction(ctx, fakeJobID, ActionStart)
	if err != nil {
		t.Fatal(err)
	}
	f.expire() // the task dies with the logon session
	out, err := c.FollowAction(ctx, fakeJobID, task, w)
	if err != nil {
		t.Fatal(err)
	}
	if !out.FromSession || out.Session == nil || out.Session.State != "Working" {
		t.Fatalf("outcome = %+v (session %+v)", out, out.Session)
	}
	if c.Logons() != 2 {
		t.Fatalf("logons = %d", c.Logons())
	}

	// A task rebuilt by the caller (no generation) with SentAt falls back too.
	rebuilt := &Task{TaskID: "task-77", Operation: "StartJob", SentAt: task.SentAt}
	out, err = c.FollowAction(ctx, fakeJobID, rebuilt, w)
	if err != nil || !out.FromSession || out.Session == nil {
		t.Fatalf("rebuilt: %+v, %v", out, err)
	}
	// A toggle task cannot be recovered from sessions.
	toggle := &Task{TaskID: "task-78", Operation: "UpdateJob", SentAt: time.Now()}
	if _, err := c.FollowAction(ctx, fakeJobID, toggle, w); !errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("toggle: %v, want ErrOutcomeUnknown", err)
	}
}

func TestQueryPages(t *testing.T) {
	f := newFakeEM(t)
	var pages []string
	f.hook = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/api/query" {
			return false
		}
		q := r.URL.Query()
		pages = append(pages, q.Get("page")+"/"+q.Get("pageSize")+"/"+q.Get("filter"))
		// The Next link points elsewhere on purpose: the client must not follow it.
		writeXML(w, 200, QueryResult{Refs: &QueryRefs{Refs: []Ref{{Name: "p" + q.Get("page")}}},
			PagingInfo: PagingInfo{PagesCount: 3, PageSize: 2, PageNum: 1, Links: Links{{Rel: "Next", Href: "https://evil.example/steal"}}}})
		return true
	}
	c := f.client(t)
	var names []string
	err := c.QueryPages(context.Background(), Query{Type: "AgentBackupJob", Filter: Eq("Name", `a "b"`)}, func(r *QueryResult) error {
		names = append(names, r.Refs.Refs[0].Name)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names, ","); got != "p1,p2,p3" {
		t.Fatalf("pages = %s", got)
	}
	if pages[1] != `2/100/Name=="a ""b"""` {
		t.Fatalf("page request = %q", pages[1])
	}
	stop := errors.New("stop")
	n := 0
	err = c.QueryPages(context.Background(), Query{Type: "AgentBackupJob"}, func(*QueryResult) error { n++; return stop })
	if err != stop || n != 1 {
		t.Fatalf("stop: %v after %d pages", err, n)
	}
}

// TestTLS covers the default verification, CAFile, PinSHA256 and Insecure.
func TestTLS(t *testing.T) {
	f := &fakeEM{t: t, tokens: map[string]string{}, tasks: map[string]map[string]*fakeTask{}}
	f.srv = httptest.NewUnstartedServer(f)
	f.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // expected handshake failures
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	cert := f.srv.Certificate()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(cert.Raw)
	var colon []string
	for _, b := range sum {
		colon = append(colon, fmt.Sprintf("%02X", b))
	}
	wrong := sha256.Sum256([]byte("another certificate"))
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		ok   bool
		warn bool
	}{
		{"default verifies and rejects", func(*Config) {}, false, false},
		{"CA file", func(c *Config) { c.CAFile = caFile }, true, false},
		{"pin hex", func(c *Config) { c.PinSHA256 = fmt.Sprintf("%x", sum) }, true, false},
		{"pin with colons", func(c *Config) { c.PinSHA256 = strings.Join(colon, ":") }, true, false},
		{"wrong pin", func(c *Config) { c.PinSHA256 = fmt.Sprintf("%x", wrong) }, false, false},
		{"wrong pin beats insecure", func(c *Config) { c.PinSHA256 = fmt.Sprintf("%x", wrong); c.Insecure = true }, false, true},
		{"insecure", func(c *Config) { c.Insecure = true }, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			c := f.client(t, tc.mod, func(c *Config) {
				c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			})
			_, err := c.AgentJobRefs(context.Background())
			if tc.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			// A certificate that fails verification is a setting to fix, not
			// an outage: pages must not say EM is "not answering".
			if !tc.ok && (!errors.Is(err, ErrCertificate) || errors.Is(err, ErrUnavailable)) {
				t.Errorf("TLS failure %v: want ErrCertificate, not ErrUnavailable", err)
			}
			if got := strings.Contains(logs.String(), "level=WARN"); got != tc.warn {
				t.Errorf("WARN logged = %v, want %v:\n%s", got, tc.warn, logs.String())
			}
			f.mu.Lock()
			var tokens []string
			for tok := range f.tokens {
				tokens = append(tokens, tok)
			}
			f.mu.Unlock()
			for _, secret := range append(tokens, fakePassword) {
				if strings.Contains(logs.String(), secret) {
					t.Errorf("secret %q in logs", secret)
				}
			}
		})
	}
}

// TestStale401KeepsNewerSession: a 401 for a request sent with an old token must
// not throw away the token of a newer logon.
func TestStale401KeepsNewerSession(t *testing.T) {
	f := newFakeEM(t)
	c := f.client(t)
	ctx := context.Background()
	if _, err := c.AgentJobRefs(ctx); err != nil {
		t.Fatal(err)
	}
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	f.hook = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/api/agents/backupSessions" {
			return false
		}
		first := false
		once.Do(func() { first = true })
		if !first {
			return false
		}
		close(started)
		<-release
		writeError(w, 401, "expired") // answered late, for the old token
		return true
	}
	slow := make(chan error, 1)
	go func() { _, err := c.AgentBackupSessionRefs(ctx); slow <- err }()
	<-started
	f.expire()
	if _, err := c.AgentJobRefs(ctx); err != nil { // logs on again
		t.Fatal(err)
	}
	close(release)
	if err := <-slow; err != nil {
		t.Fatalf("slow caller: %v", err)
	}
	if logons, _, _ := f.stats(); logons != 2 {
		t.Fatalf("logons = %d, want 2: the stale 401 must not drop the new session", logons)
	}
}
