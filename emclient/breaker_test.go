package emclient_test

import (
	"context"
	"errors"
	"net"
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

// dialCounter is an HTTP client whose every request dials (no keep-alive), so
// the number of dials is the number of attempts that reached the network.
type dialCounter struct{ n atomic.Int64 }

func (d *dialCounter) client() *http.Client {
	var nd net.Dialer
	return &http.Client{Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			d.n.Add(1)
			return nd.DialContext(ctx, network, addr)
		},
	}}
}

func breakerClient(t *testing.T, url string, d *dialCounter, threshold int, cooldown time.Duration) *emclient.Client {
	t.Helper()
	c, err := emclient.New(emclient.Config{
		BaseURL: url, Username: "svc", Password: "secret", Timeout: 5 * time.Second,
		HTTPClient: d.client(), BreakerThreshold: threshold, BreakerCooldown: cooldown,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// requests is the number of requests emsim has seen.
func requests(s *emsim.Server) int64 {
	var n int64
	for _, v := range s.Stats().Requests {
		n += v
	}
	return n
}

// wantFastFail checks every kind of call fails with ErrCircuitOpen (which is
// also ErrUnavailable and names the time) without dialling EM.
func wantFastFail(t *testing.T, c *emclient.Client, d *dialCounter, jobID string) {
	t.Helper()
	ctx := context.Background()
	dials := d.n.Load()
	calls := map[string]func() error{
		"BackupServers": func() error { _, err := c.BackupServers(ctx); return err },
		"AgentJob":      func() error { _, err := c.AgentJob(ctx, jobID); return err },
		"Query": func() error {
			_, err := c.Query(ctx, emclient.Query{Type: "AgentBackupJob", PageSize: 5, Page: 1})
			return err
		},
		"JobAction": func() error { _, err := c.JobAction(ctx, jobID, emclient.ActionStart); return err },
	}
	for name, call := range calls {
		err := call()
		if !errors.Is(err, emclient.ErrCircuitOpen) || !errors.Is(err, emclient.ErrUnavailable) {
			t.Errorf("%s while open: err = %v, want ErrCircuitOpen and ErrUnavailable", name, err)
			continue
		}
		if !strings.Contains(err.Error(), "since ") {
			t.Errorf("%s: %q does not say since when", name, err)
		}
	}
	if got := d.n.Load() - dials; got != 0 {
		t.Errorf("%d dials to EM while the circuit is open", got)
	}
}

// TestCircuitOpensOn503: EM answering 503 opens the circuit after the
// threshold; then calls fail fast and nothing reaches EM.
func TestCircuitOpensOn503(t *testing.T) {
	e := newSim(t)
	var d dialCounter
	c := breakerClient(t, e.srv.URL, &d, 3, time.Hour)
	erin := e.erin(t)
	if _, err := c.BackupServers(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, down := c.Down(); down {
		t.Fatal("down while EM answers")
	}

	e.sim.SetFaults(emsim.Faults{Status: http.StatusServiceUnavailable})
	// One read makes three attempts (two retries), each a failure.
	if _, err := c.AgentJob(context.Background(), erin.ID); !errors.Is(err, emclient.ErrUnavailable) {
		t.Fatalf("AgentJob with EM at 503: %v", err)
	}
	since, down := c.Down()
	if !down || since.IsZero() {
		t.Fatalf("Down() = %v, %t after 3 failures with threshold 3", since, down)
	}
	if st := c.Status(); st.Circuit != emclient.CircuitOpen || !strings.Contains(st.LastError, "503") {
		t.Errorf("Status() = %+v", st)
	}
	e.sim.ResetStats()
	wantFastFail(t, c, &d, erin.ID)
	if n := requests(e.sim); n != 0 {
		t.Errorf("EM saw %d requests while the circuit was open", n)
	}
	if n := e.sim.Stats().ActionCalls[emsim.ActionKey(erin.ID, "start")]; n != 0 {
		t.Errorf("action reached EM while open")
	}
}

// TestCircuitOpensWhenEMGone: connection refused counts as well.
func TestCircuitOpensWhenEMGone(t *testing.T) {
	sim := emsim.New(emsim.Config{})
	srv := httptest.NewServer(sim)
	var d dialCounter
	c := breakerClient(t, srv.URL, &d, 4, time.Hour)
	if _, err := c.BackupServers(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	for i := 0; i < 2; i++ { // 2 reads × 3 attempts ≥ 4
		if _, err := c.BackupServers(context.Background()); !errors.Is(err, emclient.ErrUnavailable) {
			t.Fatalf("EM closed: %v", err)
		}
	}
	if _, down := c.Down(); !down {
		t.Fatal("circuit still closed after connection refused 6 times")
	}
	wantFastFail(t, c, &d, sim.Jobs()[0].ID)
}

// TestCircuitHalfOpen: after the cooldown exactly one probe goes out; a failed
// probe reopens the circuit, a successful one closes it without a restart.
// The breaker runs on a clock the test moves, and the probe is held at EM
// until the other callers have been turned away, so nothing depends on how
// fast the machine is.
func TestCircuitHalfOpen(t *testing.T) {
	sim := emsim.New(emsim.Config{SessionSpeed: 200 * time.Millisecond, IdleTimeout: time.Minute})
	var hold atomic.Bool
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hold.Load() && r.URL.Path == "/api/backupServers" {
			arrived <- struct{}{}
			<-release
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	var clockMu sync.Mutex
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	advance := func(d time.Duration) { clockMu.Lock(); now = now.Add(d); clockMu.Unlock() }
	var d dialCounter
	const cooldown = 15 * time.Second
	c, err := emclient.New(emclient.Config{
		BaseURL: srv.URL, Username: "svc", Password: "secret", Timeout: 5 * time.Second,
		HTTPClient: d.client(), BreakerThreshold: 2, BreakerCooldown: cooldown,
		Now: func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	ctx := context.Background()
	if _, err := c.BackupServers(ctx); err != nil {
		t.Fatal(err)
	}
	sim.SetFaults(emsim.Faults{Status: http.StatusBadGateway})
	_, _ = c.BackupServers(ctx)
	since, down := c.Down()
	if !down {
		t.Fatal("not open")
	}
	advance(cooldown - time.Second)
	if _, err := c.BackupServers(ctx); !errors.Is(err, emclient.ErrCircuitOpen) {
		t.Fatalf("before the cooldown is over: %v, want ErrCircuitOpen", err)
	}

	// Cooldown over, EM still failing: one probe, then open again.
	advance(time.Second)
	sim.ResetStats()
	if _, err := c.BackupServers(ctx); !errors.Is(err, emclient.ErrUnavailable) || errors.Is(err, emclient.ErrCircuitOpen) {
		t.Fatalf("probe: err = %v, want EM's 502", err)
	}
	if n := requests(sim); n != 1 {
		t.Fatalf("half-open let %d requests through, want 1 probe (no retries)", n)
	}
	if _, err := c.BackupServers(ctx); !errors.Is(err, emclient.ErrCircuitOpen) {
		t.Fatalf("after a failed probe: %v, want ErrCircuitOpen", err)
	}
	if s2, down := c.Down(); !down || !s2.Equal(since) {
		t.Fatalf("after failed probe Down() = %v, %t; want still down since %v", s2, down, since)
	}

	// EM back; the probe is held at EM while 8 more callers come: only the
	// probe reaches EM, they fail fast, and the probe closes the circuit.
	sim.SetFaults(emsim.Faults{})
	hold.Store(true)
	advance(cooldown)
	sim.ResetStats()
	probe := make(chan error, 1)
	go func() { _, err := c.BackupServers(ctx); probe <- err }()
	<-arrived
	for range 8 {
		if _, err := c.BackupServers(ctx); !errors.Is(err, emclient.ErrCircuitOpen) {
			t.Errorf("a call while the probe is out: %v, want ErrCircuitOpen", err)
		}
	}
	close(release)
	if err := <-probe; err != nil {
		t.Fatalf("probe: %v", err)
	}
	if n := sim.Stats().Requests["GET /backupServers"]; n != 1 {
		t.Fatalf("EM saw %d requests during half-open, want the probe only", n)
	}
	hold.Store(false)
	if _, down := c.Down(); down {
		t.Error("the circuit is still open after a successful probe")
	}
	if _, err := c.BackupServers(ctx); err != nil {
		t.Errorf("after the circuit closed: %v", err)
	}
}

// TestCircuitIgnoresAnswers: answers that prove EM is reachable (500, garbage,
// 404) never open the circuit, so one broken job cannot take the portal down.
func TestCircuitIgnoresAnswers(t *testing.T) {
	e := newSim(t)
	var d dialCounter
	c := breakerClient(t, e.srv.URL, &d, 2, time.Hour)
	ctx := context.Background()
	jobs := e.sim.Jobs()
	bad, good := jobs[0], jobs[1]
	for _, f := range []emsim.Faults{
		{Status: http.StatusInternalServerError, Paths: []string{bad.ID}},
		{Garbage: true, Paths: []string{bad.ID}},
		{Status: http.StatusNotFound, Paths: []string{bad.ID}},
	} {
		e.sim.SetFaults(f)
		for i := 0; i < 5; i++ {
			if _, err := c.AgentJob(ctx, bad.ID); err == nil {
				t.Fatalf("faults %+v: no error", f)
			}
		}
		if _, down := c.Down(); down {
			t.Fatalf("faults %+v opened the circuit", f)
		}
		if _, err := c.AgentJob(ctx, good.ID); err != nil {
			t.Fatalf("other job with faults %+v: %v", f, err)
		}
	}
}

// TestEntityBodyLimit: a huge answer to a one-entity call is cut at the entity
// limit: the client stops reading long before EM stops sending.
func TestEntityBodyLimit(t *testing.T) {
	e := newSim(t)
	erin := e.erin(t)
	var sent atomic.Int64
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.URL.Path, "/agents/jobs/") {
			e.sim.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusOK)
		chunk := []byte(strings.Repeat("x", 64<<10))
		for i := 0; i < 50<<20/len(chunk); i++ { // 50 MiB
			n, err := w.Write(chunk)
			sent.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	defer huge.Close()
	c2, err := emclient.New(emclient.Config{BaseURL: huge.URL, Username: "svc", Password: "secret", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close(context.Background())
	if _, err := c2.AgentJob(context.Background(), erin.ID); !errors.Is(err, emclient.ErrMalformed) {
		t.Fatalf("50 MiB job entity: %v, want ErrMalformed", err)
	}
	huge.CloseClientConnections()
	// The limit is 4 MiB; socket buffers let EM write several MiB more.
	if n := sent.Load(); n > 24<<20 {
		t.Fatalf("EM wrote %d bytes before the client hung up; the body was read far past the limit", n)
	}
	if _, down := c2.Down(); down {
		t.Fatal("an oversized answer opened the circuit")
	}
}
