package holds_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/audit"
	"github.com/agentdesk/agentdesk/emclient"
	"github.com/agentdesk/agentdesk/emclient/emsim"
	"github.com/agentdesk/agentdesk/holds"
	"github.com/agentdesk/agentdesk/jobs"
	"github.com/agentdesk/agentdesk/policy"
	"github.com/agentdesk/agentdesk/store"
	"github.com/agentdesk/agentdesk/store/storetest"
)

var quiet = slog.New(slog.DiscardHandler)

// stores runs f against every store: SQLite always, PostgreSQL when
// AGENTDESK_TEST_POSTGRES is set. open opens the same database again each call.
func stores(t *testing.T, f func(t *testing.T, open func() holds.Store)) {
	storetest.EachConfig(t, func(t *testing.T, cfg store.Config) {
		f(t, func() holds.Store { return newHolds(t, storetest.OpenConfig(t, cfg)) })
	})
}

func newHolds(t *testing.T, db *store.DB) *holds.SQLStore {
	t.Helper()
	st, err := holds.NewSQLStore(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func newAudit(t *testing.T, db *store.DB) *audit.Log {
	t.Helper()
	st, err := audit.NewSQLStore(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return audit.New(st, audit.Options{Logger: quiet})
}

func TestStore(t *testing.T) {
	stores(t, func(t *testing.T, open func() holds.Store) {
		ctx := context.Background()
		st := open()
		t0 := time.Date(2025, 3, 1, 10, 2, 0, 0, time.UTC)
		a, err := st.Create(ctx, holds.Hold{JobID: "JOB-A", JobName: "A & <b>", ByKey: "iss|harry", ByName: "Harry Helpdesk", DisabledAt: t0, ReenableAt: t0.Add(4 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := st.Create(ctx, holds.Hold{JobID: "job-b", DisabledAt: t0, ReenableAt: t0.Add(time.Hour)})
		c, _ := st.Create(ctx, holds.Hold{JobID: "job-a", DisabledAt: t0.Add(time.Minute), ReenableAt: t0.Add(8 * time.Hour)})

		got, err := st.Get(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if got.JobID != "job-a" || got.JobName != "A & <b>" || got.ByName != "Harry Helpdesk" || got.State != holds.Pending ||
			!got.DisabledAt.Equal(t0) || !got.ReenableAt.Equal(t0.Add(4*time.Hour)) {
			t.Errorf("Get = %+v", got)
		}
		if _, err := st.Get(ctx, 9999); err != holds.ErrNotFound {
			t.Errorf("Get(missing) = %v", err)
		}
		// The newest pending hold of a job is the one pages show.
		if p, ok, _ := st.Pending(ctx, "JOB-A"); !ok || p.ID != c {
			t.Errorf("Pending = %+v %v, want hold %d", p, ok, c)
		}
		due, _ := st.Due(ctx, t0.Add(4*time.Hour), 10)
		if len(due) != 2 || due[0].ID != b || due[1].ID != a {
			t.Errorf("Due at +4h = %v, want holds %d and %d in time order", ids(due), b, a)
		}
		if ok, err := st.Close(ctx, b, holds.Done, "back", t0); !ok || err != nil {
			t.Fatalf("Close = %v %v", ok, err)
		}
		if ok, _ := st.Close(ctx, b, holds.Failed, "again", t0); ok {
			t.Error("a closed hold closed twice")
		}
		if err := st.Note(ctx, a, "EM down", t0); err != nil {
			t.Fatal(err)
		}
		if got, _ := st.Get(ctx, a); got.Message != "EM down" || got.State != holds.Pending {
			t.Errorf("after Note: %+v", got)
		}
		if n, err := st.CloseJob(ctx, "job-a", c, holds.Done, "replaced", t0); n != 1 || err != nil {
			t.Errorf("CloseJob except newest = %d %v", n, err)
		}
		if p, ok, _ := st.Pending(ctx, "job-a"); !ok || p.ID != c {
			t.Errorf("the kept hold is gone: %+v", p)
		}
		if n, _ := st.CloseJob(ctx, "job-a", 0, holds.Done, "enabled by hand", t0); n != 1 {
			t.Errorf("CloseJob all = %d", n)
		}
		if _, ok, _ := st.Pending(ctx, "job-a"); ok {
			t.Error("a pending hold is left")
		}
		if due, _ := st.Due(ctx, t0.Add(24*time.Hour), 10); len(due) != 0 {
			t.Errorf("closed holds are still due: %v", ids(due))
		}
	})
}

func ids(hs []holds.Hold) []int64 {
	var out []int64
	for _, h := range hs {
		out = append(out, h.ID)
	}
	return out
}

// em is a simulated Enterprise Manager on a test server.
type em struct {
	*emsim.Server
	url string
}

func newEM(t *testing.T) em {
	sim := emsim.New(emsim.Config{Seed: 1, Jobs: 12, SessionSpeed: 200 * time.Millisecond})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return em{sim, srv.URL}
}

// newJobs is one replica's jobs service over EM, auditing to al.
func newJobs(t *testing.T, sim em, al *audit.Log, locker jobs.Locker) *jobs.Service {
	em, err := emclient.New(emclient.Config{BaseURL: sim.url, Username: "svc", Password: "secret", Timeout: 5 * time.Second, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	svc := jobs.NewService(em, jobs.Options{PollEvery: 20 * time.Millisecond, Logger: quiet, Recorder: al, Locker: locker})
	t.Cleanup(svc.Close)
	return svc
}

func erinsJob(t *testing.T, sim em) emsim.JobSummary {
	for _, j := range sim.Jobs() {
		if j.Name == "Erin's laptop" {
			return j
		}
	}
	t.Fatal("no Erin's laptop")
	return emsim.JobSummary{}
}

// disable turns the schedule off for d through the holds, as the handler
// does, and returns the hold it recorded.
func disable(t *testing.T, svc *jobs.Service, hs *holds.Service, jobID string, d time.Duration) holds.Hold {
	t.Helper()
	ctx := context.Background()
	harry := jobs.Actor{Key: "iss|harry", Name: "Harry Helpdesk", Grant: policy.Unrestricted("test")}
	run, err := hs.Do(ctx, harry, jobID, jobs.Disable, jobs.ActOptions{Note: "For a moment.", Until: time.Now().Add(d)})
	if err != nil {
		t.Fatalf("disable: %v", err)
	}
	<-run.Done()
	if st := run.Snapshot(); st.State != jobs.RunFinished {
		t.Fatalf("disable ended %s: %s", st.State, st.Message)
	}
	h, err := hs.Pending(ctx, jobID)
	if err != nil || h == nil {
		t.Fatalf("no pending hold after the disable: %v", err)
	}
	if h.ByName != "Harry Helpdesk" || h.JobName != "Erin's laptop" {
		t.Errorf("hold %+v", h)
	}
	return *h
}

// waitClosed waits until the hold is no longer pending.
func waitClosed(t *testing.T, st holds.Store, id int64) holds.Hold {
	t.Helper()
	for end := time.Now().Add(time.Minute); time.Now().Before(end); {
		h, err := st.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if h.State != holds.Pending {
			return h
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("hold %d still pending", id)
	return holds.Hold{}
}

func toggles(sim em, jobID string) int64 {
	return sim.Stats().ActionCalls[emsim.ActionKey(jobID, "toggleScheduleEnabled")]
}

// start runs a loop until the test ends or stop is called.
func start(hs *holds.Service) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); hs.Run(ctx) }()
	return func() { cancel(); wg.Wait() }
}

// TestLoopReenables: a hold comes due, the loop enables the schedule through
// EM once, audited under the timed re-enable's name, and closes the hold.
func TestLoopReenables(t *testing.T) { storetest.Each(t, testLoopReenables) }

func testLoopReenables(t *testing.T, db *store.DB) {
	sim := newEM(t)
	al := newAudit(t, db)
	svc := newJobs(t, sim, al, nil)
	st := newHolds(t, db)
	hs := holds.New(st, svc, holds.Options{Interval: 20 * time.Millisecond, Logger: quiet})
	job := erinsJob(t, sim)

	h := disable(t, svc, hs, job.ID, 300*time.Millisecond)
	if s, _ := sim.JobState(job.ID); s.ScheduleEnabled {
		t.Fatal("the schedule is still enabled after the disable")
	}
	stop := start(hs)
	defer stop()
	closed := waitClosed(t, st, h.ID)
	if closed.State != holds.Done || !strings.Contains(closed.Message, "as planned") {
		t.Errorf("hold = %s %q", closed.State, closed.Message)
	}
	if s, _ := sim.JobState(job.ID); !s.ScheduleEnabled {
		t.Error("the schedule did not come back")
	}
	if n := toggles(sim, job.ID); n != 2 {
		t.Errorf("EM toggles = %d, want 2 (disable, re-enable)", n)
	}
	page, err := al.Query(context.Background(), audit.Filter{JobID: job.ID, Action: "enable"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Entries) != 1 {
		t.Fatalf("audit has %d enable entries, want 1", len(page.Entries))
	}
	e := page.Entries[0]
	if e.UserName != "AgentDesk (timed re-enable of Harry Helpdesk's disable)" || e.Result != audit.ResultPerformed {
		t.Errorf("audit entry: %q %s %q", e.UserName, e.Result, e.Message)
	}
	if !strings.Contains(e.Message, "Harry Helpdesk disabled the schedule") {
		t.Errorf("audit message %q does not say whose disable it ends", e.Message)
	}
}

// TestLoopLeavesManualEnable: the schedule was enabled by other means before
// the hold came due: the hold is closed without any EM call.
func TestLoopLeavesManualEnable(t *testing.T) { storetest.Each(t, testLoopLeavesManualEnable) }

func testLoopLeavesManualEnable(t *testing.T, db *store.DB) {
	sim := newEM(t)
	al := newAudit(t, db)
	svc := newJobs(t, sim, al, nil)
	st := newHolds(t, db)
	hs := holds.New(st, svc, holds.Options{Interval: 20 * time.Millisecond, Logger: quiet})
	job := erinsJob(t, sim)

	h := disable(t, svc, hs, job.ID, 200*time.Millisecond)
	// Enabled again directly (say, in the Veeam console), not through AgentDesk.
	run, err := svc.Do(context.Background(), jobs.Actor{Name: "Console", Grant: policy.Unrestricted("test")}, job.ID, jobs.Enable, jobs.ActOptions{})
	if err != nil {
		t.Fatal(err)
	}
	<-run.Done()
	before := toggles(sim, job.ID)
	stop := start(hs)
	defer stop()
	closed := waitClosed(t, st, h.ID)
	if closed.State != holds.Done || !strings.Contains(closed.Message, "already") {
		t.Errorf("hold = %s %q", closed.State, closed.Message)
	}
	if n := toggles(sim, job.ID) - before; n != 0 {
		t.Errorf("the loop toggled EM %d times on a schedule that was already on", n)
	}
}

// TestLoopSurvivesRestart: the replica stops before the hold is due; a new one
// over the same database brings the schedule back.
func TestLoopSurvivesRestart(t *testing.T) { storetest.EachConfig(t, testLoopSurvivesRestart) }

func testLoopSurvivesRestart(t *testing.T, cfg store.Config) {
	sim := newEM(t)
	db := storetest.OpenConfig(t, cfg)
	al := newAudit(t, db)
	svc := newJobs(t, sim, al, nil)
	hs := holds.New(newHolds(t, db), svc, holds.Options{Interval: 20 * time.Millisecond, Logger: quiet})
	job := erinsJob(t, sim)
	h := disable(t, svc, hs, job.ID, 400*time.Millisecond)
	stop := start(hs)
	stop() // the process ends before the hold is due
	svc.Close()
	db.Close()
	if s, _ := sim.JobState(job.ID); s.ScheduleEnabled {
		t.Fatal("the schedule came back before its time")
	}

	db2 := storetest.OpenConfig(t, cfg)
	al2 := newAudit(t, db2)
	svc2 := newJobs(t, sim, al2, nil)
	st2 := newHolds(t, db2)
	stop2 := start(holds.New(st2, svc2, holds.Options{Interval: 20 * time.Millisecond, Logger: quiet}))
	defer stop2()
	if closed := waitClosed(t, st2, h.ID); closed.State != holds.Done {
		t.Errorf("hold = %s %q", closed.State, closed.Message)
	}
	if s, _ := sim.JobState(job.ID); !s.ScheduleEnabled {
		t.Error("the schedule did not come back after the restart")
	}
}

// TestTwoReplicas: two loops over one PostgreSQL database and one shared
// locker, each with its own jobs service (own cache, own EM session): EM is
// toggled back exactly once.
func TestTwoReplicas(t *testing.T) {
	cfg := storetest.NewConfig(t, store.Postgres)
	sim := newEM(t)
	p1, p2 := storetest.OpenConfig(t, cfg), storetest.OpenConfig(t, cfg)
	locker := jobs.NewMemoryLocker(nil) // shared, as Redis or PostgreSQL would be
	al1, al2 := newAudit(t, p1), newAudit(t, p2)
	svc1, svc2 := newJobs(t, sim, al1, locker), newJobs(t, sim, al2, locker)
	st1, st2 := newHolds(t, p1), newHolds(t, p2)
	hs1 := holds.New(st1, svc1, holds.Options{Interval: 5 * time.Millisecond, Locker: locker, Logger: quiet})
	hs2 := holds.New(st2, svc2, holds.Options{Interval: 5 * time.Millisecond, Locker: locker, Logger: quiet})
	job := erinsJob(t, sim)
	h := disable(t, svc1, hs1, job.ID, 300*time.Millisecond)

	defer start(hs1)()
	defer start(hs2)()
	if closed := waitClosed(t, st2, h.ID); closed.State != holds.Done {
		t.Errorf("hold = %s %q", closed.State, closed.Message)
	}
	// Twenty more steps of each replica's loop, run here: nothing is due.
	for range 20 {
		for _, hs := range []*holds.Service{hs1, hs2} {
			if n, err := hs.Tick(context.Background()); err != nil || n != 0 {
				t.Fatalf("a tick after the hold closed: %d, %v", n, err)
			}
		}
	}
	if n := toggles(sim, job.ID); n != 2 {
		t.Errorf("EM toggles = %d, want 2 (one disable, one re-enable)", n)
	}
	if s, _ := sim.JobState(job.ID); !s.ScheduleEnabled {
		t.Error("the schedule did not come back")
	}
	page, _ := al1.Query(context.Background(), audit.Filter{JobID: job.ID, Action: "enable", Result: audit.ResultPerformed})
	if len(page.Entries) != 1 {
		t.Errorf("%d performed enables audited, want 1", len(page.Entries))
	}
}

// TestDoKeepsHoldsInStep: a disable for a time that is refused (the
// schedule is off already, or the person may not) leaves no hold behind; a
// later disable replaces the pending hold, and enabling by hand ends it.
func TestDoKeepsHoldsInStep(t *testing.T) { storetest.Each(t, testDoKeepsHoldsInStep) }

func testDoKeepsHoldsInStep(t *testing.T, db *store.DB) {
	sim := newEM(t)
	al := newAudit(t, db)
	svc := newJobs(t, sim, al, nil)
	st := newHolds(t, db)
	hs := holds.New(st, svc, holds.Options{Interval: time.Hour, Logger: quiet})
	job := erinsJob(t, sim)
	ctx := context.Background()
	pending := func() *holds.Hold {
		t.Helper()
		h, err := hs.Pending(ctx, job.ID)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	viewer := jobs.Actor{Key: "iss|vera", Name: "Vera Viewer", Grant: policy.Only("test", policy.View)}
	if _, err := hs.Do(ctx, viewer, job.ID, jobs.Disable, jobs.ActOptions{Until: time.Now().Add(time.Hour)}); !errors.Is(err, jobs.ErrNotAllowed) {
		t.Fatalf("disable by a viewer: %v; want ErrNotAllowed", err)
	}
	if h := pending(); h != nil {
		t.Fatalf("a refused disable left a hold: %+v", h)
	}

	first := disable(t, svc, hs, job.ID, time.Hour)
	harry := jobs.Actor{Key: "iss|harry", Name: "Harry Helpdesk", Grant: policy.Unrestricted("test")}
	if _, err := hs.Do(ctx, harry, job.ID, jobs.Disable, jobs.ActOptions{Until: time.Now().Add(2 * time.Hour)}); !errors.Is(err, jobs.ErrAlready) {
		t.Fatalf("disable of a disabled schedule: %v; want ErrAlready", err)
	}
	if h := pending(); h == nil || h.ID != first.ID {
		t.Fatalf("after a refused disable the pending hold is %+v; want the first, %d", h, first.ID)
	}

	run, err := hs.Do(ctx, harry, job.ID, jobs.Enable, jobs.ActOptions{})
	if err != nil {
		t.Fatalf("enable: %v", err)
	}
	<-run.Done()
	if h := pending(); h != nil {
		t.Errorf("enabling by hand left the hold pending: %+v", h)
	}
	got, err := st.Get(ctx, first.ID)
	if err != nil || got.State != holds.Done || !strings.Contains(got.Message, "enabled by Harry Helpdesk") {
		t.Errorf("the hold after enable: %+v, %v", got, err)
	}
	if n := toggles(sim, job.ID); n != 2 {
		t.Errorf("EM toggles = %d, want 2 (disable, enable)", n)
	}
}
