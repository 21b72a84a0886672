package emclient_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/emclient"
	"github.com/agentdesk/agentdesk/emclient/emsim"
)

// Round trips against the in-memory EM. The simulator's clock is real time plus
// an offset the tests can move forward (idle expiry without sleeping).
type simEnv struct {
	sim    *emsim.Server
	srv    *httptest.Server
	offset atomic.Int64
}

func newSim(t *testing.T) *simEnv {
	t.Helper()
	e := &simEnv{}
	e.sim = emsim.New(emsim.Config{
		SessionSpeed: 200 * time.Millisecond,
		IdleTimeout:  time.Minute,
		Now:          func() time.Time { return time.Now().Add(time.Duration(e.offset.Load())) },
	})
	e.srv = httptest.NewServer(e.sim)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *simEnv) client(t *testing.T, mod ...func(*emclient.Config)) *emclient.Client {
	t.Helper()
	cfg := emclient.Config{BaseURL: e.srv.URL, Username: "svc", Password: "secret", Timeout: 10 * time.Second}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := emclient.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func (e *simEnv) erin(t *testing.T) emsim.JobSummary {
	t.Helper()
	for _, j := range e.sim.Jobs() {
		if j.Name == "Erin's laptop" {
			return j
		}
	}
	t.Fatal(`emsim has no job "Erin's laptop"`)
	return emsim.JobSummary{}
}

var fastWait = emclient.WaitOptions{Interval: 20 * time.Millisecond, MaxInterval: 100 * time.Millisecond, Timeout: 20 * time.Second}

func TestEmsimEveryMethod(t *testing.T) {
	e := newSim(t)
	c := e.client(t)
	ctx := context.Background()
	erin := e.erin(t)

	if em, err := c.EntryPoint(ctx); err != nil || len(em.SupportedVersions) == 0 {
		t.Fatalf("EntryPoint: %+v, %v", em, err)
	}
	refs, err := c.AgentJobRefs(ctx)
	if err != nil || len(refs) != len(e.sim.Jobs()) {
		t.Fatalf("AgentJobRefs: %d refs, %v", len(refs), err)
	}
	jobs, err := c.AgentJobs(ctx)
	if err != nil || len(jobs) != len(refs) {
		t.Fatalf("AgentJobs: %d, %v", len(jobs), err)
	}
	for _, j := range jobs {
		if _, err := emclient.ParseUID(j.UID); err != nil || j.Name == "" {
			t.Errorf("job %q: %v", j.Name, err)
		}
	}
	job, err := c.AgentJob(ctx, erin.ID)
	if err != nil || job.Name != "Erin's laptop" || !job.Links.Has("Retry") || emclient.IDFromUID(job.UID) != strings.ToLower(erin.ID) {
		t.Fatalf("AgentJob: %+v, %v", job, err)
	}
	incs, err := c.AgentJobIncludes(ctx, erin.ID)
	if err != nil || len(incs) != 1 || !strings.Contains(incs[0].Name+incs[0].DisplayName, "erin-laptop.corp.example") {
		t.Fatalf("AgentJobIncludes: %+v, %v", incs, err)
	}
	jsess, err := c.AgentJobSessionRefs(ctx, erin.ID)
	if err != nil {
		t.Fatal(err)
	}
	all, err := c.AgentBackupSessionRefs(ctx)
	if err != nil || len(all) < len(jsess) || len(all) == 0 {
		t.Fatalf("AgentBackupSessionRefs: %d (job: %d), %v", len(all), len(jsess), err)
	}
	sess, err := c.BackupSession(ctx, emclient.IDFromUID(all[0].UID))
	if err != nil || sess.JobName == "" || sess.CreationTimeUTC.IsZero() {
		t.Fatalf("BackupSession: %+v, %v", sess, err)
	}
	servers, err := c.BackupServers(ctx)
	if err != nil || len(servers) != 2 {
		t.Fatalf("BackupServers: %d, %v", len(servers), err)
	}
	srv, err := c.BackupServer(ctx, emclient.IDFromUID(servers[0].UID))
	if err != nil || srv.Name != servers[0].Name {
		t.Fatalf("BackupServer: %+v, %v", srv, err)
	}

	res, err := c.Query(ctx, emclient.Query{Type: "AgentBackupJob", Entities: true, Filter: emclient.Eq("Name", "Erin's laptop")})
	if err != nil || res.Entities == nil || res.Entities.AgentBackupJobs == nil || len(res.Entities.AgentBackupJobs.Jobs) != 1 {
		t.Fatalf("Query: %+v, %v", res, err)
	}
	var seen, pages int
	err = c.QueryPages(ctx, emclient.Query{Type: "AgentBackupJob", PageSize: 10, SortAsc: "Name"}, func(r *emclient.QueryResult) error {
		pages++
		if r.Refs != nil {
			seen += len(r.Refs.Refs)
		}
		return nil
	})
	if err != nil || seen != len(refs) || pages != (len(refs)+9)/10 {
		t.Fatalf("QueryPages: %d refs on %d pages, %v", seen, pages, err)
	}

	// Toggle twice: the task finishes and the job's state flips and flips back.
	before, _ := e.sim.JobState(erin.ID)
	for i := range 2 {
		task, err := c.JobAction(ctx, erin.ID, emclient.ActionToggleSchedule)
		if err != nil {
			t.Fatal(err)
		}
		done, err := c.WaitTask(ctx, task.TaskID, fastWait)
		if err != nil || !done.Finished() || done.Result == nil || !done.Result.Success {
			t.Fatalf("toggle task: %+v, %v", done, err)
		}
		st, _ := e.sim.JobState(erin.ID)
		if want := before.ScheduleEnabled != (i == 0); st.ScheduleEnabled != want {
			t.Fatalf("after toggle %d ScheduleEnabled = %v", i+1, st.ScheduleEnabled)
		}
		if err := c.DeleteTask(ctx, task.TaskID); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Task(ctx, task.TaskID); !errors.Is(err, emclient.ErrNotFound) {
			t.Fatalf("deleted task: %v", err)
		}
	}

	// Start and follow: emsim links no session to the task (as EM documents),
	// so the session is found by querying the job's sessions.
	task, err := c.JobAction(ctx, erin.ID, emclient.ActionStart)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.FollowAction(ctx, erin.ID, task, fastWait)
	if err != nil || out.FromSession || out.Session == nil || emclient.IDFromUID(out.Session.JobUID) != strings.ToLower(erin.ID) {
		t.Fatalf("FollowAction: %+v, %v", out, err)
	}
	if !out.Task.Result.Success {
		t.Fatalf("start failed: %s", out.Task.Result.Message)
	}

	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.sim.Stats().Requests["DELETE /logonSessions/{id}"]; n != 1 {
		t.Fatalf("log off requests = %d", n)
	}
	if got := e.sim.Stats().Logons; got != 1 {
		t.Fatalf("logons = %d, want 1 for the whole walk", got)
	}
}

func TestEmsimConcurrentExpiryOneLogon(t *testing.T) {
	e := newSim(t)
	c := e.client(t)
	ctx := context.Background()
	if _, err := c.AgentJobRefs(ctx); err != nil {
		t.Fatal(err)
	}
	e.sim.ExpireSessions()
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 200 {
		wg.Go(func() {
			if _, err := c.AgentJobRefs(ctx); err != nil {
				failed.Add(1)
				t.Log(err)
			}
		})
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d callers failed", failed.Load())
	}
	if got := e.sim.Stats().Logons; got != 2 {
		t.Fatalf("logons = %d, want 2 (exactly one after expiry)", got)
	}
}

func TestEmsimIdleExpiryMidFlight(t *testing.T) {
	e := newSim(t)
	c := e.client(t)
	ctx := context.Background()
	erin := e.erin(t)
	task, err := c.JobAction(ctx, erin.ID, emclient.ActionToggleSchedule)
	if err != nil {
		t.Fatal(err)
	}
	// The session idles out while the caller polls.
	w := fastWait
	polls := 0
	w.OnUpdate = func(*emclient.Task) {
		polls++
		if polls == 1 {
			e.offset.Add(int64(2 * time.Minute))
		}
	}
	_, err = c.WaitTask(ctx, task.TaskID, w)
	if !errors.Is(err, emclient.ErrNotFound) {
		t.Fatalf("task of an expired session: %v, want ErrNotFound", err)
	}
	if got := e.sim.Stats().Logons; got != 2 {
		t.Fatalf("logons = %d, want 2", got)
	}
	// Plain reads continue on the new session.
	if _, err := c.AgentJob(ctx, erin.ID); err != nil {
		t.Fatal(err)
	}
}

// TestEmsimCancelledLogonCaller: the caller that started a logon gives up
// while EM holds the logon; another caller joins the same logon, which still
// completes for it. The logon is held at EM until the test lets it go.
func TestEmsimCancelledLogonCaller(t *testing.T) {
	sim := emsim.New(emsim.Config{SessionSpeed: 200 * time.Millisecond, IdleTimeout: time.Minute})
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/sessionMngr") {
			arrived <- struct{}{}
			<-release
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c, err := emclient.New(emclient.Config{BaseURL: srv.URL, Username: "svc", Password: "secret", Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}

	ctxA, cancelA := context.WithCancel(context.Background())
	errA := make(chan error, 1)
	go func() { _, err := c.AgentJobRefs(ctxA); errA <- err }()
	<-arrived
	cancelA()
	if err := <-errA; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v", err)
	}
	errB := make(chan error, 1)
	go func() { _, err := c.AgentJobRefs(context.Background()); errB <- err }()
	close(release)
	if err := <-errB; err != nil {
		t.Fatalf("other caller: %v", err)
	}
	if _, err := c.AgentJobRefs(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := sim.Stats().Logons; got != 1 {
		t.Fatalf("logons = %d, want 1", got)
	}
}

func TestEmsimActionRetriedOnceAfter401(t *testing.T) {
	e := newSim(t)
	c := e.client(t)
	ctx := context.Background()
	erin := e.erin(t)
	if _, err := c.AgentJobRefs(ctx); err != nil {
		t.Fatal(err)
	}
	e.sim.ExpireSessions()
	if _, err := c.JobAction(ctx, erin.ID, emclient.ActionToggleSchedule); err != nil {
		t.Fatal(err)
	}
	st := e.sim.Stats()
	if got := st.ActionCalls[emsim.ActionKey(erin.ID, "toggleScheduleEnabled")]; got != 1 {
		t.Fatalf("ActionCalls = %d, want 1", got)
	}
	if got := st.Requests["POST /agents/jobs/{id}"]; got != 2 {
		t.Fatalf("action requests = %d, want 2 (401, then accepted)", got)
	}
}

func TestEmsimNoRetryAfterResetAfterRead(t *testing.T) {
	e := newSim(t)
	c := e.client(t)
	ctx := context.Background()
	erin := e.erin(t)
	if _, err := c.BackupServers(ctx); err != nil { // log on before the fault
		t.Fatal(err)
	}
	e.sim.SetFaults(emsim.Faults{ResetAfterRead: true, Paths: []string{"/api/agents/jobs/"}})
	_, err := c.JobAction(ctx, erin.ID, emclient.ActionToggleSchedule)
	if !errors.Is(err, emclient.ErrOutcomeUnknown) {
		t.Fatalf("err = %v, want ErrOutcomeUnknown", err)
	}
	st := e.sim.Stats()
	if got := st.ActionCalls[emsim.ActionKey(erin.ID, "toggleScheduleEnabled")]; got != 1 {
		t.Fatalf("ActionCalls = %d, want 1", got)
	}
	if got := st.Requests["POST /agents/jobs/{id}"]; got != 1 {
		t.Fatalf("action requests = %d, want 1", got)
	}
}

func TestEmsimFollowActionAfterRelogon(t *testing.T) {
	e := newSim(t)
	c := e.client(t)
	ctx := context.Background()
	erin := e.erin(t)
	task, err := c.JobAction(ctx, erin.ID, emclient.ActionStart)
	if err != nil {
		t.Fatal(err)
	}
	w := fastWait
	polls := 0
	w.OnUpdate = func(*emclient.Task) {
		polls++
		if polls == 1 {
			e.sim.ExpireSessions() // the task dies with its logon session
		}
	}
	out, err := c.FollowAction(ctx, erin.ID, task, w)
	if err != nil {
		t.Fatal(err)
	}
	if !out.FromSession || out.Session == nil {
		t.Fatalf("outcome = %+v", out)
	}
	s := out.Session
	if emclient.IDFromUID(s.JobUID) != strings.ToLower(erin.ID) || s.JobType != "AgentBackup" {
		t.Fatalf("session of another job: %+v", s)
	}
	if s.CreationTimeUTC.Before(task.SentAt.Add(-time.Second)) {
		t.Fatalf("session created %v, before the action %v", s.CreationTimeUTC, task.SentAt)
	}
	if got := e.sim.Stats().Logons; got != 2 {
		t.Fatalf("logons = %d, want 2", got)
	}
}

func TestEmsimFaults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults emsim.Faults
		target error
	}{
		{"503", emsim.Faults{Status: 503, Paths: []string{"/agents/jobs"}}, emclient.ErrUnavailable},
		{"garbage", emsim.Faults{Garbage: true, Paths: []string{"/agents/jobs"}}, emclient.ErrMalformed},
		{"huge", emsim.Faults{HugeBody: 33 << 20, Paths: []string{"/agents/jobs"}}, emclient.ErrMalformed},
		{"401 storm", emsim.Faults{Unauthorized: true}, emclient.ErrUnauthorized},
		{"black hole", emsim.Faults{BlackHole: true, Paths: []string{"/agents/jobs"}}, emclient.ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newSim(t)
			c := e.client(t, func(cfg *emclient.Config) {
				cfg.Timeout = 10 * time.Second
				if tc.faults.BlackHole {
					cfg.Timeout = 300 * time.Millisecond
				}
			})
			if _, err := c.BackupServers(context.Background()); err != nil {
				t.Fatal(err)
			}
			e.sim.SetFaults(tc.faults)
			_, err := c.AgentJobRefs(context.Background())
			if !errors.Is(err, tc.target) {
				t.Fatalf("err = %v, want %v", err, tc.target)
			}
		})
	}
}
