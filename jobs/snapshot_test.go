package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// testClock is the clock of the service and the simulator: time moves only
// when a test moves it.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// gateEM sits in front of emsim. While a gate is set, every jobs query waits
// for it to close (reporting on entered that it arrived); while fail is set,
// the jobs query answers EM's 500 Error. It counts the jobs queries that
// reached it and keeps the filter of the last session query.
type gateEM struct {
	sim      *emsim.Server
	gate     atomic.Pointer[chan struct{}]
	fail     atomic.Bool
	entered  chan struct{}
	jobQs    atomic.Int32
	mu       sync.Mutex
	sessions []string // filters of the session queries, in order
}

func (g *gateEM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/api/query" {
		switch strings.ToLower(r.URL.Query().Get("type")) {
		case "agentbackupjob":
			g.jobQs.Add(1)
			if g.fail.Load() {
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(http.StatusInternalServerError)
				fmt.Fprint(w, `<Error xmlns="http://www.veeam.com/ent/v1.0"><Message>database unavailable</Message><StatusCode>500</StatusCode></Error>`)
				return
			}
			if gate := g.gate.Load(); gate != nil {
				g.entered <- struct{}{}
				select {
				case <-*gate:
				case <-r.Context().Done():
					return
				}
			}
		case "backupjobsession":
			g.mu.Lock()
			g.sessions = append(g.sessions, r.URL.Query().Get("filter"))
			g.mu.Unlock()
		}
	}
	g.sim.ServeHTTP(w, r)
}

// hold makes the next jobs queries wait; the returned func lets them go.
func (g *gateEM) hold() (release func()) {
	ch := make(chan struct{})
	g.gate.Store(&ch)
	return func() { g.gate.Store(nil); close(ch) }
}

func (g *gateEM) lastSessionFilter() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.sessions) == 0 {
		return ""
	}
	return g.sessions[len(g.sessions)-1]
}

func newGateService(t *testing.T, opts Options) (*Service, *gateEM, *testClock, *emclient.Client) {
	t.Helper()
	clock := &testClock{t: time.Date(2026, 3, 18, 9, 30, 0, 0, time.UTC)}
	g := &gateEM{sim: emsim.New(emsim.Config{Seed: 1, Jobs: 24, SessionSpeed: time.Hour, Now: clock.Now}), entered: make(chan struct{}, 16)}
	srv := httptest.NewServer(g)
	em, err := emclient.New(emclient.Config{BaseURL: srv.URL, Username: "svc", Password: "secret", Timeout: time.Minute, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	opts.Now, opts.Logger, opts.Recorder = clock.Now, slog.New(slog.DiscardHandler), LogRecorder{Logger: slog.New(slog.DiscardHandler)}
	if opts.ListTTL == 0 {
		opts.ListTTL = 15 * time.Second
	}
	s := NewService(em, opts)
	t.Cleanup(func() {
		s.Close()
		srv.Close()
	})
	return s, g, clock, em
}

// refreshDone waits for the list refresh in flight, if any, to end.
func refreshDone(s *Service) {
	s.cache.list.mu.Lock()
	r := s.cache.list.running
	s.cache.list.mu.Unlock()
	if r != nil {
		<-r.done
	}
}

// TestListStaleWhileRevalidate: once the snapshot's TTL has run out, requests
// are answered from it at once while ONE refresh runs (EM held, so a request
// that waited would never return); the refresh outlives the request that
// started it; a failed refresh keeps the snapshot and says so, and is not
// retried before the TTL.
func TestListStaleWhileRevalidate(t *testing.T) {
	s, g, clock, _ := newGateService(t, Options{ListWait: time.Hour})
	ctx := context.Background()
	first, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t0 := clock.Now()
	if len(first.Jobs) != 24 || !first.AsOf.Equal(t0) || first.Refreshing || first.RefreshFailed {
		t.Fatalf("first list: %d jobs as of %v, refreshing %t, failed %t", len(first.Jobs), first.AsOf, first.Refreshing, first.RefreshFailed)
	}

	// Within the TTL: the snapshot, no EM call.
	clock.Advance(10 * time.Second)
	if snap, _ := s.List(ctx); snap.Refreshing || g.jobQs.Load() != 1 {
		t.Fatalf("within the TTL: refreshing %t, %d jobs queries", snap.Refreshing, g.jobQs.Load())
	}

	// Past the TTL with EM holding the jobs query.
	clock.Advance(6 * time.Second)
	release := g.hold()
	reqCtx, cancelReq := context.WithCancel(ctx)
	snap, err := s.List(reqCtx)
	cancelReq() // the request that started the refresh is gone at once
	if err != nil || !snap.AsOf.Equal(t0) || !snap.Refreshing {
		t.Fatalf("past the TTL: %v, as of %v, refreshing %t; want the old snapshot at once, refreshing", err, snap.AsOf, snap.Refreshing)
	}
	<-g.entered // the refresh is in EM, held there
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			snap, err := s.List(ctx)
			if err != nil || !snap.AsOf.Equal(t0) || !snap.Refreshing {
				t.Errorf("during the refresh: %v, as of %v, refreshing %t", err, snap.AsOf, snap.Refreshing)
			}
		}()
	}
	wg.Wait()
	if n := g.jobQs.Load(); n != 2 {
		t.Fatalf("%d jobs queries, want 2: one refresh for every request", n)
	}
	t1 := clock.Now()
	clock.Advance(time.Second) // EM answers a second later
	release()
	refreshDone(s)
	snap, err = s.List(ctx)
	if err != nil || !snap.AsOf.Equal(t1) || snap.Refreshing || snap.RefreshFailed || len(snap.Jobs) != 24 {
		t.Fatalf("after the refresh: %v, as of %v (want %v), refreshing %t, failed %t", err, snap.AsOf, t1, snap.Refreshing, snap.RefreshFailed)
	}

	// A failed refresh keeps the snapshot and says so.
	clock.Advance(16 * time.Second)
	g.fail.Store(true)
	s.List(ctx)
	refreshDone(s)
	snap, err = s.List(ctx)
	if err != nil || !snap.AsOf.Equal(t1) || !snap.RefreshFailed || !snap.FailedAt.Equal(clock.Now()) || snap.Refreshing {
		t.Fatalf("after a failed refresh: %v, as of %v, failed %t at %v, refreshing %t", err, snap.AsOf, snap.RefreshFailed, snap.FailedAt, snap.Refreshing)
	}
	queries := g.jobQs.Load()
	clock.Advance(10 * time.Second)
	if s.List(ctx); g.jobQs.Load() != queries {
		t.Fatal("a failed refresh was retried before the TTL")
	}
	clock.Advance(5 * time.Second)
	g.fail.Store(false)
	s.List(ctx)
	refreshDone(s)
	if snap, _ = s.List(ctx); snap.RefreshFailed || !snap.AsOf.After(t1) {
		t.Fatalf("after EM came back: failed %t, as of %v", snap.RefreshFailed, snap.AsOf)
	}
}

// TestListFirstLoadBounded: with no snapshot yet a request waits for the load,
// but only up to ListWait; the load goes on for the next request.
func TestListFirstLoadBounded(t *testing.T) {
	s, g, _, _ := newGateService(t, Options{ListWait: time.Nanosecond})
	release := g.hold()
	ctx := context.Background()
	// EM holds the load, so only the bounded wait can end these calls.
	for range 3 {
		if _, err := s.List(ctx); !errors.Is(err, ErrListLoading) {
			t.Fatalf("first list with EM held: %v, want ErrListLoading", err)
		}
	}
	<-g.entered
	if n := g.jobQs.Load(); n != 1 {
		t.Fatalf("%d jobs queries: each waiting request started a load", n)
	}
	release()
	refreshDone(s)
	snap, err := s.List(ctx)
	if err != nil || len(snap.Jobs) != 24 || g.jobQs.Load() != 1 {
		t.Fatalf("after the first load: %v, %d jobs, %d queries", err, len(snap.Jobs), g.jobQs.Load())
	}
}

// TestListFirstLoadRequestDeadline: a request whose own deadline ends the
// wait for the first list gets the same answer as the bounded wait.
func TestListFirstLoadRequestDeadline(t *testing.T) {
	s, g, _, _ := newGateService(t, Options{ListWait: time.Hour})
	release := g.hold()
	defer release()
	ctx, cancel := context.WithDeadline(context.Background(), time.Now())
	defer cancel()
	if _, err := s.List(ctx); !errors.Is(err, ErrListLoading) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("first list past the request's deadline: %v", err)
	}
}

// TestListFirstLoadEMDown: a failed first load is the request's error (EM's,
// for the error page), and the next request tries again.
func TestListFirstLoadEMDown(t *testing.T) {
	s, g, _, _ := newGateService(t, Options{ListWait: time.Hour})
	g.fail.Store(true)
	var emErr *emclient.Error
	if _, err := s.List(context.Background()); !errors.As(err, &emErr) {
		t.Fatalf("first list with EM failing: %v, want EM's error", err)
	}
	g.fail.Store(false)
	if snap, err := s.List(context.Background()); err != nil || len(snap.Jobs) != 24 {
		t.Fatalf("next request: %v", err)
	}
}

// TestListIncrementalSessions: between whole reads a refresh asks EM only for
// sessions created or ended since the last one, or still running, and the
// list it builds equals a whole read's: here a backup started between two
// refreshes shows as the job's newest session.
func TestListIncrementalSessions(t *testing.T) {
	s, g, clock, em := newGateService(t, Options{})
	ctx := context.Background()
	before, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if f := g.lastSessionFilter(); !strings.Contains(f, "CreationTime>=") || strings.Contains(f, "EndTime") {
		t.Fatalf("first session query %q: want the whole 30-day window", f)
	}
	var job *Job
	for _, j := range before.Jobs {
		if j.Entity.Links.Has("Start") && !j.Running() && j.ScheduleConfigured {
			job = j
			break
		}
	}
	if job == nil {
		t.Fatal("no idle job to start")
	}
	clock.Advance(5 * time.Second)
	if _, err := em.JobAction(ctx, job.ID, emclient.ActionStart); err != nil {
		t.Fatal(err)
	}
	clock.Advance(15 * time.Second)
	s.List(ctx)
	refreshDone(s)
	after, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f := g.lastSessionFilter()
	since := before.AsOf.Add(-emclient.DefaultClockSkew).UTC().Format(time.RFC3339)
	for _, want := range []string{`CreationTime>="` + since + `"`, `EndTime>="` + since + `"`, `State!="Stopped"`} {
		if !strings.Contains(f, want) {
			t.Errorf("incremental session query %q lacks %s", f, want)
		}
	}
	j, _ := after.Find(job.ID)
	if j.Last == nil || !j.Running() || (job.Last != nil && j.Last.ID == job.Last.ID) {
		t.Fatalf("after the start the job's newest session is %+v", j.Last)
	}

	// The same as a whole read of the same EM.
	whole, err := s.loadList(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range whole.Jobs {
		got, ok := after.Find(w.ID)
		switch {
		case !ok:
			t.Errorf("job %s missing", w.Name)
		case (got.Last == nil) != (w.Last == nil):
			t.Errorf("%s: newest session %+v, whole read %+v", w.Name, got.Last, w.Last)
		case got.Last != nil && (got.Last.ID != w.Last.ID || got.Last.State != w.Last.State || got.Last.Result != w.Last.Result):
			t.Errorf("%s: newest session %+v, whole read %+v", w.Name, *got.Last, *w.Last)
		}
	}
}
