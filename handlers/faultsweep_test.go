package handlers_test

// Fault sweep (issue 15): the failures found by running the portal against
// an EM that refuses the service account or sends huge answers.

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/emclient/emsim"
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
