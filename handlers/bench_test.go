package handlers_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/sqlite3store"
	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"

	"github.com/agentdesk/agentdesk/auth"
	"github.com/agentdesk/agentdesk/emclient/emsim"
	"github.com/agentdesk/agentdesk/jobs"
	"github.com/agentdesk/agentdesk/store"
)

// BenchmarkSessionMiddleware is what every signed-in request pays before its
// handler: scs LoadAndSave (read the session from the store, write it back when
// touched) and auth.Sessions.User + Touch (decode the user, check idle time and
// revocation), as the portal's loadUser middleware does.
//
// The store reads (the session and its sign-in record) are cached for
// auth.MaxSessionStaleness: the plain variants are a user's requests that come
// within it of each other (every click, every poll of an open page); the
// -uncached ones a request every MaxSessionStaleness (the sessions' clock moves
// that much per request), each reading the store twice.
//
//	go test -run '^$' -bench SessionMiddleware -benchmem ./handlers/
func BenchmarkSessionMiddleware(b *testing.B) {
	stores := []struct {
		name     string
		open     func(b *testing.B) scs.Store
		uncached bool
	}{
		// As shipped: store.SessionStore, its statements prepared once.
		{"sqlite", func(b *testing.B) scs.Store { return sqliteSessions(b) }, false},
		{"sqlite-uncached", func(b *testing.B) scs.Store { return sqliteSessions(b) }, true},
		// Before: scs's sqlite3store on the same table, each statement
		// parsed again on every call.
		{"sqlite3store-uncached", func(b *testing.B) scs.Store {
			db := sqliteSessions(b).DB()
			return sqlite3store.NewWithCleanupInterval(db.SQL(), 0)
		}, true},
		{"memstore", func(*testing.B) scs.Store { return memstore.NewWithCleanupInterval(0) }, false},
	}
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			lifetime := 8 * time.Hour
			if st.uncached {
				lifetime = 100_000 * time.Hour // a second per request
			}
			sm := auth.NewSessionManager(st.open(b), lifetime, "", false)
			sessions := auth.NewSessions(sm, 30*time.Minute)
			now := time.Now()
			sessions.SetClock(func() time.Time { return now })
			signIn := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				err := sessions.SignIn(r.Context(), auth.User{
					Identity: auth.Identity{Issuer: "http://idp.example", Subject: "harry", Name: "Harry Helpdesk",
						Email: "harry@corp.example", Groups: []string{"helpdesk-berlin"}, GroupsPresent: true},
					Roles: []string{"helpdesk-berlin"}, SignedInAt: time.Now(), IDToken: "eyJhbGciOi.x.y",
				})
				if err != nil {
					b.Fatal(err)
				}
			}))
			rec := httptest.NewRecorder()
			signIn.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/auth/callback", nil))
			cookies := rec.Result().Cookies()
			if len(cookies) == 0 {
				b.Fatal("sign-in set no session cookie")
			}
			signedIn := 0
			page := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if _, ok := sessions.User(r.Context()); ok {
					sessions.Touch(r.Context(), false)
					signedIn++
				}
				w.WriteHeader(http.StatusNoContent)
			}))
			req := httptest.NewRequest(http.MethodGet, "/jobs", nil)
			req.AddCookie(cookies[0])
			b.ReportAllocs()
			n := 0
			cpu0 := cpuTime()
			for b.Loop() {
				if st.uncached {
					now = now.Add(auth.MaxSessionStaleness)
				}
				page.ServeHTTP(httptest.NewRecorder(), req)
				n++
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(n), "cpu-ns/op")
			if signedIn != n {
				b.Fatalf("signed in on %d of %d requests", signedIn, n)
			}
		})
	}
}

// BenchmarkListJobs10k is the server time of the jobs list over a fleet of
// 10,000 jobs with a warm cache: the whole echo stack (session, policy filter
// for the user, filter, sort, page, render), no network. The jobs service's
// clock stands still, so the list snapshot never expires and no refresh runs
// during the benchmark: EM is asked nothing (em-calls/op). cpu-ns/op is the
// process's CPU time per request (GC included), which other processes sharing
// the machine disturb less than ns/op.
//
//	go test -run '^$' -bench ListJobs10k -benchmem -count 5 ./handlers/
func BenchmarkListJobs10k(b *testing.B) {
	frozen := time.Now()
	p := newPortal(b, portalOptions{jobs: 10000, emTimeout: 2 * time.Minute, requestTimeout: 2 * time.Minute,
		jobsNow: func() time.Time { return frozen }})
	// The first 10,000-job load before signing in, whose landing page is
	// the list: on a busy machine it outlasts the sign-in's timeouts.
	for {
		_, err := p.svc.List(context.Background())
		if err == nil {
			break
		}
		if !errors.Is(err, jobs.ErrListLoading) {
			b.Fatal(err)
		}
	}
	cases := []struct{ name, user, path string }{
		{"first-page/admin", "alice", "/jobs"},
		{"first-page/helpdesk", "harry", "/jobs"},
		{"filter/admin", "alice", "/jobs?q=laptop&platform=Windows&schedule=enabled"},
		{"sort-lastrun-desc/admin", "alice", "/jobs?sort=lastrun&desc=1"},
		// The side-by-side benchmark's 10,000-job search.
		{"search-lastrun-desc/admin", "alice", "/jobs?q=ceph&sort=lastrun&desc=1"},
		{"search-lastrun-desc/helpdesk", "harry", "/jobs?q=ceph&sort=lastrun&desc=1"},
		{"sort-result/admin", "alice", "/jobs?sort=result"},
		{"page-100/admin", "alice", "/jobs?page=100"},
		{"fragment-page-100/admin", "alice", "/jobs?page=100&sort=server"},
	}
	clients := map[string]*http.Cookie{}
	for _, tc := range cases {
		if clients[tc.user] == nil {
			clients[tc.user] = p.signIn(tc.user).sessionCookie()
		}
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, tc.path, nil)
			req.AddCookie(clients[tc.user])
			if len(tc.name) > 9 && tc.name[:9] == "fragment-" {
				req.Header.Set("HX-Request", "true")
			}
			warm := httptest.NewRecorder() // also refreshes the cache if a TTL ran out
			p.server.ServeHTTP(warm, req)
			if warm.Code != http.StatusOK {
				b.Fatalf("%s: %d", tc.path, warm.Code)
			}
			mid := p.emRequests()
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				rec := httptest.NewRecorder()
				p.server.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d", tc.path, rec.Code)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(p.emRequests()-mid)/float64(b.N), "em-calls/op")
		})
	}
}

// BenchmarkPollersOneJob has 500 signed-in viewers poll the same job's card
// (as the page does while a job runs, with X-Background: 1) once per 5 s
// interval; one b.N iteration is one interval. It reports the EM calls each
// interval cost: the job cache (5 s TTL, single flight) should make that one
// refresh (two parallel EM calls: entity and sessions), whatever the number of
// viewers.
//
//	go test -run '^$' -bench PollersOneJob -benchtime 4x ./handlers/
func BenchmarkPollersOneJob(b *testing.B) {
	const viewers = 500
	const interval = 5 * time.Second
	p := newPortal(b)
	cookie := p.signIn("alice").sessionCookie()
	job := p.jobNamed("Erin's laptop")
	path := "/jobs/" + job.ID + "/card"
	poll := func() int {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.AddCookie(cookie)
		req.Header.Set("HX-Request", "true")
		req.Header.Set("HX-Target", "job-card-"+job.ID)
		req.Header.Set("X-Background", "1")
		rec := httptest.NewRecorder()
		p.server.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := poll(); code != http.StatusOK {
		b.Fatalf("%s: %d", path, code)
	}
	start := p.emRequests()
	var failed atomic.Int64
	b.ResetTimer()
	for b.Loop() {
		began := time.Now()
		var wg sync.WaitGroup
		for v := 0; v < viewers; v++ {
			// Viewers are spread over the interval, as real pages are.
			delay := time.Duration(v) * interval / viewers
			wg.Go(func() {
				time.Sleep(delay)
				if poll() != http.StatusOK {
					failed.Add(1)
				}
			})
		}
		wg.Wait()
		time.Sleep(interval - time.Since(began))
	}
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d polls failed", n)
	}
	b.ReportMetric(float64(p.emRequests()-start)/float64(b.N), "em-calls/interval")
	b.ReportMetric(viewers, "viewers")
}

// BenchmarkStartToRunning measures, with EM answering after 50 ms, how long a
// user waits after confirming Start until the page says the start is under
// way (one EM round trip: the POST's answer), and until it shows the backup's
// progress (EM's task finishing, then at most one poll interval: the page
// polls every second while an action runs).
//
//	go test -run '^$' -bench StartToRunning -benchtime 5x ./handlers/
func BenchmarkStartToRunning(b *testing.B) {
	p := newPortal(b, portalOptions{sessionSpeed: 40 * time.Second})
	p.sim.SetFaults(emsim.Faults{Latency: 50 * time.Millisecond})
	c := p.signIn("alice")
	var candidates []string
	for _, j := range p.sim.Jobs() {
		candidates = append(candidates, j.ID)
	}
	var ack, running time.Duration
	n := 0
	for b.Loop() {
		if n >= len(candidates) {
			b.Fatal("more iterations than jobs; use -benchtime Nx with N ≤ 30")
		}
		id := candidates[n]
		n++
		t0 := time.Now()
		r := c.action(id, "start")
		if r.StatusCode != http.StatusOK {
			continue // e.g. already running from the fleet's own schedule
		}
		ack += time.Since(t0)
		for {
			time.Sleep(time.Second) // the page's poll interval while an action runs
			s := c.get("/jobs/"+id+"/status", htmx("status-"+id, "/jobs/"+id), background)
			if s.testid("progress").Length() > 0 {
				break
			}
			if st, _ := s.testid("action-status").Attr("data-state"); st != "running" && st != "unknown" {
				break
			}
		}
		running += time.Since(t0)
	}
	b.ReportMetric(float64(ack.Milliseconds())/float64(n), "ms-to-started")
	b.ReportMetric(float64(running.Milliseconds())/float64(n), "ms-to-progress")
}

// BenchmarkSessionMemory10k signs in 10,000 sessions (SQLite store, as
// shipped) and makes one request with each, then reports the process memory
// each additional session costs: Go heap in use and resident set size (from
// /proc/self/status), after a GC. Sessions live in the store, not in the
// process, so the figures measure what the portal keeps per session in memory.
//
//	go test -run '^$' -bench SessionMemory10k -benchtime 1x ./handlers/
func BenchmarkSessionMemory10k(b *testing.B) {
	const sessionsN = 10000
	for b.Loop() {
		sm := auth.NewSessionManager(sqliteSessions(b), 8*time.Hour, "", false)
		sessions := auth.NewSessions(sm, 30*time.Minute)
		var cookie *http.Cookie
		signIn := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := sessions.SignIn(r.Context(), auth.User{
				Identity: auth.Identity{Issuer: "http://idp.example", Subject: "user", Name: "A User",
					Email: "user@corp.example", Groups: []string{"helpdesk-berlin"}, GroupsPresent: true},
				Roles: []string{"helpdesk-berlin"}, SignedInAt: time.Now(),
			}); err != nil {
				b.Fatal(err)
			}
		}))
		page := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, ok := sessions.User(r.Context()); !ok {
				b.Fatal("not signed in")
			}
			sessions.Touch(r.Context(), false)
		}))
		cookies := make([]*http.Cookie, 0, sessionsN)
		heap0, rss0 := memNow()
		for i := 0; i < sessionsN; i++ {
			rec := httptest.NewRecorder()
			signIn.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/auth/callback", nil))
			cookie = rec.Result().Cookies()[0]
			cookies = append(cookies, cookie)
		}
		for _, ck := range cookies {
			req := httptest.NewRequest(http.MethodGet, "/jobs", nil)
			req.AddCookie(ck)
			page.ServeHTTP(httptest.NewRecorder(), req)
		}
		// The cookies slice is the test's, not the portal's: drop it first.
		cookies = nil
		heap1, rss1 := memNow()
		b.ReportMetric(float64(heap1-heap0)/sessionsN/1024, "heap-KB/session")
		b.ReportMetric(float64(rss1-rss0)/sessionsN/1024, "rss-KB/session")
	}
}

// sqliteSessions is the portal's session store on a fresh SQLite database.
func sqliteSessions(b *testing.B) *store.SessionStore {
	db, err := store.OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "agentdesk.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	s, err := store.NewSessionStore(context.Background(), db, 0)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// memNow is the Go heap in use and the process RSS, after a GC.
func memNow() (heap, rss int64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			rss = kb * 1024
		}
	}
	return int64(ms.HeapInuse), rss
}
