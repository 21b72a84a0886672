package handlers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/alexedwards/scs/sqlite3store"
	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"

	"github.com/agentdesk/agentdesk/auth"
	"github.com/agentdesk/agentdesk/store"
)

// BenchmarkSessionMiddleware is what every signed-in request pays before its
// handler: scs LoadAndSave (read the session from the store, write it back when
// touched) and auth.Sessions.User + Touch (decode the user, check idle time and
// revocation), as the portal's loadUser middleware does.
//
//	go test -run '^$' -bench SessionMiddleware -benchmem ./handlers/
func BenchmarkSessionMiddleware(b *testing.B) {
	stores := []struct {
		name string
		open func(b *testing.B) scs.Store
	}{
		{"sqlite", func(b *testing.B) scs.Store {
			db, err := store.OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "agentdesk.db"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			return sqlite3store.NewWithCleanupInterval(db, 0)
		}},
		{"memstore", func(*testing.B) scs.Store { return memstore.NewWithCleanupInterval(0) }},
	}
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			sm := auth.NewSessionManager(st.open(b), 8*time.Hour, "", false)
			sessions := auth.NewSessions(sm, 30*time.Minute)
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
			for b.Loop() {
				page.ServeHTTP(httptest.NewRecorder(), req)
				n++
			}
			if signedIn != n {
				b.Fatalf("signed in on %d of %d requests", signedIn, n)
			}
		})
	}
}

// BenchmarkListJobs10k is the server time of the jobs list over a fleet of
// 10,000 jobs with a warm cache: the whole echo stack (session, policy filter
// for the user, filter, sort, page, render), no network. EM is asked nothing
// while it runs (the list TTL is 15 s; keep -benchtime short).
//
//	go test -run '^$' -bench ListJobs10k -benchmem -benchtime 2s ./handlers/
func BenchmarkListJobs10k(b *testing.B) {
	p := newPortal(b, portalOptions{jobs: 10000, emTimeout: 2 * time.Minute, requestTimeout: 2 * time.Minute})
	cases := []struct{ name, user, path string }{
		{"first-page/admin", "alice", "/jobs"},
		{"first-page/helpdesk", "harry", "/jobs"},
		{"filter/admin", "alice", "/jobs?q=laptop&platform=Windows&schedule=enabled"},
		{"sort-lastrun-desc/admin", "alice", "/jobs?sort=lastrun&desc=1"},
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
			for b.Loop() {
				rec := httptest.NewRecorder()
				p.server.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d", tc.path, rec.Code)
				}
			}
			b.ReportMetric(float64(p.emRequests()-mid)/float64(b.N), "em-calls/op")
		})
	}
}
