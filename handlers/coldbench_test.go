package handlers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/loadtest/baseline"
)

// coldTTL is the job cache's TTL in BenchmarkColdJobPage: long enough that the
// first page of sessions read with the job is still fresh when the same
// request shows it (as in the side-by-side bench, whose cold portal runs with
// a 250 ms TTL), far shorter than a walk through the fleet, so every page
// opened is cold.
const coldTTL = 100 * time.Millisecond

// BenchmarkColdJobPage is a cold job page in process: the portal's job cache
// has expired, so the page makes its two EM calls (the job entity and the
// first 10 sessions, in parallel) to emsim over loopback HTTP. The pages walk
// a fleet of 2,000 jobs in turn, none reopened within coldTTL; em-calls/op
// shows that each page did go to EM (2 when cold, 0 when warm).
//
// Beside the portal it measures, alike, the yardsticks of the side-by-side
// bench (loadtest/baseline): raw, the same two EM calls read and thrown
// away, and minimal, the net/http + html/template portal making them.
// cpu-ns/op is the process's CPU per page, emsim's included; minus raw's it
// is the page's own overhead, which the log line compares with the minimal
// portal's (the target: at most 1.2 times).
//
//	go test -run '^$' -bench ColdJobPage -benchmem -count 5 ./handlers/
//
// For the portal's CPU alone, profile and leave emsim out:
//
//	go test -run '^$' -bench 'ColdJobPage/portal' -cpuprofile cold.prof ./handlers/
//	go tool pprof -top -ignore 'emsim' handlers.test cold.prof
func BenchmarkColdJobPage(b *testing.B) {
	p := newPortal(b, portalOptions{jobs: 2000, jobTTL: coldTTL, emTimeout: 2 * time.Minute, requestTimeout: 2 * time.Minute})
	cookie := p.signIn("alice").sessionCookie()
	var fleet []string
	for _, j := range p.sim.Jobs() {
		fleet = append(fleet, j.ID)
	}
	raw := baseline.NewRaw(p.emSrv.URL, "svc", "secret")
	minimal := baseline.Portal(p.emSrv.URL, "svc", "secret")
	get := func(h http.Handler, path string, withCookie bool) func(testing.TB) {
		return func(tb testing.TB) {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			if withCookie {
				req.AddCookie(cookie)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				tb.Fatalf("%s: %d", path, rec.Code)
			}
		}
	}
	variants := []struct {
		name string
		open func(tb testing.TB, id string)
	}{
		{"raw", func(tb testing.TB, id string) {
			if err := raw.Job(context.Background(), id); err != nil {
				tb.Fatal(err)
			}
		}},
		{"minimal", func(tb testing.TB, id string) { get(minimal, "/jobs/"+id, false)(tb) }},
		{"portal", func(tb testing.TB, id string) { get(p.server, "/jobs/"+id, true)(tb) }},
	}
	cpu := map[string]float64{}
	next := 0 // the fleet is walked across variants too: no job is opened twice in a row
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			v.open(b, fleet[next%len(fleet)]) // logon, connections, the servers list
			next++
			em0 := p.emRequests()
			n := 0
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				v.open(b, fleet[next%len(fleet)])
				next++
				n++
			}
			cpu[v.name] = float64(cpuTime()-cpu0) / float64(n)
			b.ReportMetric(cpu[v.name], "cpu-ns/op")
			b.ReportMetric(float64(p.emRequests()-em0)/float64(n), "em-calls/op")
		})
	}
	if r, m, pt := cpu["raw"], cpu["minimal"], cpu["portal"]; r > 0 && m > r {
		b.Logf("CPU over raw EM per cold page: portal %.0f ns, minimal %.0f ns: %.2fx", pt-r, m-r, (pt-r)/(m-r))
	}
}
