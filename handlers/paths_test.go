package handlers_test

import (
	"log/slog"
	"net/http"
	"net/url"
	"testing"

	"github.com/alexedwards/scs/v2"

	"github.com/agentdesk/agentdesk/audit"
	"github.com/agentdesk/agentdesk/auth"
	"github.com/agentdesk/agentdesk/config"
	"github.com/agentdesk/agentdesk/handlers"
	"github.com/agentdesk/agentdesk/handlers/paths"
	"github.com/agentdesk/agentdesk/jobs"
	"github.com/agentdesk/agentdesk/policy"
	"github.com/agentdesk/agentdesk/static"
)

// TestPathsReachTheirRoutes checks that every address package paths builds is
// routed by routes.go to the route it is meant for, at the root and below a
// base path (the handler tests' portal runs at the root only).
func TestPathsReachTheirRoutes(t *testing.T) {
	const id, sid = "0f3c2b1a-1111-4222-8333-444455556666", "9e8d7c6b-5555-4666-8777-888899990000"
	for _, base := range []string{"", "/backup"} {
		// Routing needs none of the services: zero values satisfy New.
		e, _, err := handlers.New(handlers.Deps{Jobs: &jobs.Service{}, SessionManager: scs.New(), Sessions: &auth.Sessions{},
			SignIn: struct{ handlers.SignIn }{}, Users: struct{ handlers.Users }{}, Policy: func() *policy.Policy { return nil }, Audit: &audit.Log{},
			Assets: static.New(base + "/static/"), Logger: slog.New(slog.DiscardHandler),
			Settings: handlers.Settings{Site: config.Site{PublicURL: &url.URL{Scheme: "http", Host: "portal.test", Path: base + "/"}}}})
		if err != nil {
			t.Fatal(err)
		}
		p := paths.New(base)
		tests := []struct{ method, url, route string }{
			{http.MethodGet, p.Home(), "/"},
			{http.MethodGet, p.Jobs(), "/jobs"},
			{http.MethodGet, p.Job(id), "/jobs/:id"},
			{http.MethodGet, p.JobCard(id, paths.JobView), "/jobs/:id/card"},
			{http.MethodGet, p.JobCard(id, paths.MineView), "/jobs/:id/card"},
			{http.MethodGet, p.JobRow(id), "/jobs/:id/row"},
			{http.MethodGet, p.JobHistory(id), "/jobs/:id/history"},

			{http.MethodGet, p.JobStatus(id, paths.RowView), "/jobs/:id/status"},
			{http.MethodGet, p.JobConfirm(id, jobs.Retry), "/jobs/:id/confirm/:action"},
			{http.MethodPost, p.JobAction(id, jobs.Start), "/jobs/:id/actions/:action"},
			{http.MethodGet, p.SessionComputers(id, sid), "/jobs/:id/sessions/:sid/computers"},
			{http.MethodGet, p.Audit(url.Values{"job": {id}}), "/audit"},
			{http.MethodGet, p.AuditCSV(url.Values{"user": {"x"}}), "/audit.csv"},
			{http.MethodGet, p.JobAudit(id), "/audit"},
			{http.MethodGet, p.Status(), "/status"},
			{http.MethodPost, p.StatusSessions(), "/status/sessions"},
			{http.MethodGet, p.SignIn("/jobs"), "/auth/signin"},
			{http.MethodGet, p.Login("/embed/done"), "/auth/login"},
			{http.MethodGet, p.Callback(), "/auth/callback"},
			{http.MethodPost, p.SignOut(), "/auth/signout"},
			{http.MethodPost, p.BreakGlass(), "/auth/breakglass"},
			{http.MethodPost, p.CSPReport(), "/csp-report"},
			{http.MethodGet, p.EmbedJob(id), "/embed/jobs/:id"},
			{http.MethodGet, p.EmbedMine(), "/embed/my-backups"},
			{http.MethodPost, p.EmbedHandoff(), "/embed/handoff"},
			{http.MethodGet, p.StaticPrefix() + "app.css", "/static/*"},
		}
		for _, tc := range tests {
			u, err := url.Parse(tc.url)
			if err != nil {
				t.Fatalf("%s: %v", tc.url, err)
			}
			c := e.NewContext(nil, nil)
			e.Router().Find(tc.method, u.Path, c)
			if got, want := c.Path(), base+tc.route; got != want {
				t.Errorf("%s %s: routed to %q, want %q", tc.method, tc.url, got, want)
			}
			if tc.route == "/jobs/:id" || tc.route == "/jobs/:id/card" {
				if got := c.Param("id"); got != id {
					t.Errorf("%s %s: id %q", tc.method, tc.url, got)
				}
			}
		}
	}
}
