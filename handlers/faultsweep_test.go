package handlers_test

// Fault sweep (issue 15): the failures found by running the portal against
// an EM that refuses the service account or sends huge answers.

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/agentdesk/agentdesk/auth"
	"github.com/agentdesk/agentdesk/emclient/emsim"
	"github.com/agentdesk/agentdesk/lock"
)

const logonKey = "POST /sessionMngr/"

// TestRefusedAccountLogons: EM refuses the service account (its password was
// changed, or Active Directory locked it). Pages must not each try a logon with
// the password: a directory locks an account after a handful of failures.
func TestRefusedAccountLogons(t *testing.T) {
	t.Parallel()
	// A backoff step far longer than the test: exactly one logon may go out.
	p := newPortal(t, portalOptions{emTimeout: time.Minute, requestTimeout: time.Minute, logonBackoff: time.Hour})
	c := p.signIn("alice")
	fleet := p.sim.Jobs()
	p.sim.ExpireSessions()
	p.sim.SetFaults(emsim.Faults{Unauthorized: true, Paths: []string{"/sessionMngr"}})
	before := p.sim.Stats().Requests[logonKey]

	for i := range 20 {
		status, body, err := c.fetch("/jobs/" + fleet[i%len(fleet)].ID)
		if err != nil || status == http.StatusOK {
			t.Fatalf("page %d with the account refused: %d %v", i, status, err)
		}
		if i == 19 && !strings.Contains(body, "refuses the service account") {
			t.Errorf("page does not say EM refuses the service account:\n%s", truncate(body, 2000))
		}
	}
	sequential := p.sim.Stats().Requests[logonKey] - before

	var wg sync.WaitGroup
	var next atomic.Int64
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > 200 {
					return
				}
				_, _, _ = c.fetch("/jobs/" + fleet[int(i)%len(fleet)].ID)
			}
		}()
	}
	wg.Wait()
	concurrent := p.sim.Stats().Requests[logonKey] - before - sequential
	st := c.get("/status")
	if got := st.testid("status-em-account").AttrOr("data-state", ""); got != "refused" {
		t.Errorf("status page: service account %q, want refused", got)
	}
	t.Logf("logon POSTs with the account refused: %d for 20 sequential pages, %d more for 200 pages at 50 concurrency", sequential, concurrent)
	if sequential > 1 || concurrent > 0 {
		t.Errorf("logon POSTs: %d + %d, want 1 + 0 within one backoff step", sequential, concurrent)
	}
}

// heapPeak samples the live heap until stop is closed and returns the peak.
func heapPeak(stop <-chan struct{}) <-chan uint64 {
	out := make(chan uint64, 1)
	go func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		var peak uint64
		tk := time.NewTicker(time.Millisecond)
		defer tk.Stop()
		for {
			metrics.Read(s)
			peak = max(peak, s[0].Value.Uint64())
			select {
			case <-stop:
				out <- peak
				return
			case <-tk.C:
			}
		}
	}()
	return out
}

// peakRSS reads VmHWM of this process in bytes; resetPeakRSS starts it over.
func peakRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// TestHugeAnswersMemory: EM (or a proxy in front of it) sends 50 MB answers
// for job pages. Every page must still answer with an error page, and the
// memory held at once must not grow with the number of pages being served.
// Not parallel: it measures this process's heap.
func TestHugeAnswersMemory(t *testing.T) {
	// chunked drops Content-Length from EM's answers, so that a client can
	// only find them too large while reading.
	var chunked atomic.Bool
	strip := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if chunked.Load() {
				w = &noLength{ResponseWriter: w}
			}
			h.ServeHTTP(w, r)
		})
	}
	p := newPortal(t, portalOptions{emTimeout: time.Minute, requestTimeout: time.Minute, wrapEM: strip})
	c := p.signIn("alice")
	fleet := p.sim.Jobs()
	// Collect garbage early, so the peak heap is what is held, not what the
	// collector has not come to yet (which depends on what else this process
	// holds).
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	for _, tc := range []struct {
		name    string
		chunked bool
		pages   int
	}{{"length/5", false, 5}, {"length/20", false, 20}, {"chunked/5", true, 5}, {"chunked/20", true, 20}} {
		t.Run(tc.name, func(t *testing.T) {
			chunked.Store(tc.chunked)
			p.sim.SetFaults(emsim.Faults{HugeBody: 50 << 20, HugeRoot: "QueryResult", Paths: []string{"/query"}})
			defer p.sim.SetFaults(emsim.Faults{})
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			base := ms.HeapAlloc
			resetPeakRSS()
			stop := make(chan struct{})
			peak := heapPeak(stop)
			var wg sync.WaitGroup
			statuses := make([]int, tc.pages)
			for i := range tc.pages {
				wg.Add(1)
				go func() {
					defer wg.Done()
					statuses[i], _, _ = c.fetch(fmt.Sprintf("/jobs/%s?run=%s", fleet[i].ID, url.QueryEscape(tc.name)))
				}()
			}
			wg.Wait()
			close(stop)
			grew := int64(<-peak) - int64(base)
			t.Logf("%d concurrent job pages with 50 MB EM answers (%s): peak heap +%d MB, peak RSS %d MB, statuses %v",
				tc.pages, tc.name, grew>>20, peakRSS()>>20, statuses)
			for i, s := range statuses {
				if s != http.StatusBadGateway && s != http.StatusServiceUnavailable {
					t.Errorf("page %d: status %d, want an error page", i, s)
				}
			}
			// The EM client's budget of answer bytes in flight is 48 MiB; what
			// the decoders hold may be twice that while their buffers grow, and the
			// heap counts garbage until the collector runs.
			if grew > 256<<20 {
				t.Errorf("peak heap grew by %d MB for %d pages, want under 256 MB whatever the number of pages", grew>>20, tc.pages)
			}
		})
	}
}

type noLength struct{ http.ResponseWriter }

func (w *noLength) WriteHeader(code int) {
	w.Header().Del("Content-Length")
	w.ResponseWriter.WriteHeader(code)
}

func (w *noLength) Write(b []byte) (int, error) {
	w.Header().Del("Content-Length")
	return w.ResponseWriter.Write(b)
}

func (w *noLength) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// TestSessionStoreDown: the session store fails (here its table is gone). A
// page is the error page in plain words with a reference id, not scs's
// plain-text "Internal Server Error", and it says nothing went to EM. (The
// portal answers from its reads of the store for auth.MaxSessionStaleness:
// the test moves the sessions' clock past it.)
func TestSessionStoreDown(t *testing.T) {
	t.Parallel()
	clock := &stepClock{t: time.Now()}
	p := newPortal(t, portalOptions{sessionsClock: clock.Now})
	c := p.signIn("alice")
	job := p.jobNamed("Erin's laptop")
	if _, err := p.db.Exec(`ALTER TABLE sessions RENAME TO sessions_away`); err != nil {
		t.Fatal(err)
	}
	clock.Advance(auth.MaxSessionStaleness)
	restore := func() { _, _ = p.db.Exec(`ALTER TABLE sessions_away RENAME TO sessions`) }
	defer restore()
	before := p.actionCalls()
	for _, r := range []*response{c.get("/jobs"), c.action(job.ID, "start")} {
		wantStatus(t, "with the session store down", r, http.StatusServiceUnavailable)
		mustNotContain(t, "page", r.Body, "Internal Server Error")
		if got := r.testid("error-title").Text(); got != "Sign-in sessions are unavailable" {
			t.Errorf("title %q, want the session store named in words\n%s", got, truncate(r.Body, 1500))
		}
		mustContain(t, "page", r.Body, "nothing was sent to Enterprise Manager")
		if r.testid("error-request-id").Text() == "" {
			t.Error("no reference id on the page")
		}
	}
	if n := p.actionCalls(); n != before {
		t.Errorf("EM got %d actions with the session store down", n-before)
	}
	restore()
	wantStatus(t, "after the store is back", c.get("/jobs"), http.StatusOK)
}

// TestLockStoreDown: the shared lock store (Redis here, on a port where
// nothing listens) cannot be reached. An action answers in words that
// nothing was sent to EM, with a reference id.
func TestLockStoreDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // connection refused from now on
	rc := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	t.Cleanup(func() { rc.Close() })
	p := newPortal(t, portalOptions{locker: lock.NewRedis(rc, "")})
	c := p.signIn("alice")
	job := p.jobNamed("Erin's laptop")
	r := c.action(job.ID, "start")
	wantStatus(t, "start with the lock store down", r, http.StatusServiceUnavailable)
	if got := r.testid("error-title").Text(); got != "The action was not sent" {
		t.Errorf("title %q, want The action was not sent\n%s", got, truncate(r.Body, 1500))
	}
	mustContain(t, "page", r.Body, "nothing was sent to Enterprise Manager")
	if r.testid("error-request-id").Text() == "" {
		t.Error("no reference id")
	}
	if n := p.actionCalls(); n != 0 {
		t.Errorf("EM got %d actions", n)
	}
}

// TestMalformedDesired: a disable whose desired state is neither enabled nor
// disabled is refused with a clear message, and nothing reaches EM.
func TestMalformedDesired(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.signIn("alice")
	var job emsim.JobSummary
	for _, j := range p.sim.Jobs() {
		if j.ScheduleEnabled {
			job = j
			break
		}
	}
	r := c.postForm("/jobs/"+job.ID+"/actions/disable", url.Values{"desired": {"disabled!"}},
		sameOrigin, c.withToken, htmx("status-"+job.ID, "/jobs/"+job.ID))
	wantStatus(t, "disable with a malformed desired state", r, http.StatusBadRequest)
	mustContain(t, "answer", r.Body, "neither “enabled” nor “disabled”", "nothing was sent to Enterprise Manager")
	if n := p.actionCalls(); n != 0 {
		t.Errorf("EM got %d actions", n)
	}
}
