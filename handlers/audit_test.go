package handlers_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/agentdesk/agentdesk/audit"
	"github.com/agentdesk/agentdesk/emclient/emsim"
)

// auditEntries reads the portal's audit log directly.
func (p *testPortal) auditEntries(f audit.Filter) []audit.Entry {
	p.t.Helper()
	var out []audit.Entry
	if err := p.audit.Each(context.Background(), f, func(e audit.Entry) error { out = append(out, e); return nil }); err != nil {
		p.t.Fatal(err)
	}
	return out
}

func (p *testPortal) berlinJob() emsim.JobSummary {
	p.t.Helper()
	for _, j := range p.sim.Jobs() {
		if j.Server == "vbr-berlin.corp.example" && j.Name != "Erin's laptop" {
			return j
		}
	}
	p.t.Fatal("no job on vbr-berlin")
	return emsim.JobSummary{}
}

const aliceKey = "|8d1c6a52-0f3e-4c1e-9a51-5b2f0c7e0a01" // issuer|subject, after the issuer

func TestAuditActionPerformed(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.signIn("alice")
	erin := p.jobNamed("Erin's laptop")
	wantStatus(t, "start", c.action(erin.ID, "start"), http.StatusOK)
	c.waitAction(erin.ID)

	// waitAction returns once the run has ended, its outcome recorded.
	got := p.auditEntries(audit.Filter{Kind: audit.KindAction, JobID: erin.ID})
	if len(got) != 1 {
		t.Fatalf("%d action entries, want 1: %+v", len(got), got)
	}
	e := got[0]
	checks := []struct{ what, got, want string }{
		{"user key", e.UserKey, p.issuer + aliceKey},
		{"name", e.UserName, "Alice Admin"},
		{"e-mail", e.UserEmail, "alice@corp.example"},
		{"groups", strings.Join(e.Groups, ","), "agentdesk-admins"},
		{"ip", e.IP, "127.0.0.1"},
		{"user agent", e.UserAgent, "Go-http-client/1.1"},
		{"action", e.Action, "start"},
		{"job uid", e.JobUID, erin.UID},
		{"job name", e.JobName, "Erin's laptop"},
		{"server", e.Server, erin.Server},
		{"result", string(e.Result), "performed"},
		{"final", e.Final, "Success"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	if e.TaskID == "" || e.SessionID == "" || e.CompletedAt.Before(e.At) {
		t.Errorf("entry lacks EM's task/session or completion: %+v", e)
	}
}

func TestAuditDeniedAction(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.signIn("harry")
	j := p.berlinJob()
	wantStatus(t, "harry stops", c.action(j.ID, "stop"), http.StatusForbidden)
	got := p.auditEntries(audit.Filter{Kind: audit.KindAction})
	if len(got) != 1 || got[0].Result != audit.ResultDenied || got[0].Action != "stop" || got[0].UserName != "Harry Helpdesk" || got[0].JobUID != j.UID {
		t.Fatalf("entries after a denied stop: %+v", got)
	}
	if n := p.actionCalls(); n != 0 {
		t.Errorf("EM got %d action calls", n)
	}
}

func TestAuditDoubleClick(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.signIn("alice")
	erin := p.jobNamed("Erin's laptop")
	c.get("/jobs/" + erin.ID)
	p.sim.SetFaults(emsim.Faults{Latency: 300 * time.Millisecond, Paths: []string{"/agents/jobs/" + erin.ID}})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); c.action(erin.ID, "start") }()
	}
	wg.Wait()
	p.sim.SetFaults(emsim.Faults{})
	c.waitAction(erin.ID)
	var results []string
	for _, e := range p.auditEntries(audit.Filter{Kind: audit.KindAction, JobID: erin.ID}) {
		results = append(results, string(e.Result))
	}
	slices.Sort(results)
	if !slices.Equal(results, []string{"performed", "refused"}) {
		t.Errorf("entries %v, want one performed and one refused", results)
	}
	if n := p.actionCount(erin.ID, "start"); n != 1 {
		t.Errorf("EM got %d starts", n)
	}
}

func TestAuditSignInAndOut(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.signIn("alice")
	wantStatus(t, "sign out", c.postForm("/auth/signout", url.Values{"csrf": {c.csrf}}, sameOrigin), http.StatusSeeOther)
	var kinds []string
	for _, e := range p.auditEntries(audit.Filter{Person: p.issuer + aliceKey}) {
		kinds = append(kinds, string(e.Kind))
		if e.IP != "127.0.0.1" || e.UserName != "Alice Admin" || !slices.Equal(e.Groups, []string{"agentdesk-admins"}) {
			t.Errorf("%s entry lacks who or where: %+v", e.Kind, e)
		}
		if e.Kind == audit.KindSignIn && e.Message != "roles: admin" {
			t.Errorf("sign-in message %q", e.Message)
		}
	}
	if !slices.Equal(kinds, []string{"signout", "signin"}) {
		t.Errorf("entries %v, want signout, signin (newest first)", kinds)
	}

	// A callback that does not verify is a failed sign-in, on record without
	// the code or state it carried.
	anon := p.newClient()
	wantStatus(t, "forged callback", anon.get("/auth/callback?code=SECRETCODE&state=SECRETSTATE"), http.StatusBadRequest)
	wantStatus(t, "IdP error", anon.get("/auth/callback?error=access_denied&error_description=nope"), http.StatusUnauthorized)
	failed := p.auditEntries(audit.Filter{Kind: audit.KindSignInFailed})
	if len(failed) != 2 {
		t.Fatalf("%d failed sign-ins on record, want 2", len(failed))
	}
	for _, e := range failed {
		if strings.Contains(e.Message, "SECRET") || e.IP != "127.0.0.1" {
			t.Errorf("failed sign-in entry %+v", e)
		}
	}
	if failed[0].Message != "the identity provider refused the sign-in (access_denied)" || failed[1].Message != "the sign-in response could not be verified" {
		t.Errorf("messages %q, %q", failed[0].Message, failed[1].Message)
	}
}

func TestAuditPageAccess(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	for user, want := range map[string]int{"harry": 404, "erin": 404, "audrey": 200, "alice": 200} {
		c := p.signIn(user)
		r := c.get("/audit")
		wantStatus(t, user+" GET /audit", r, want)
		wantStatus(t, user+" GET /audit.csv", c.get("/audit.csv"), want)
		jobs := c.get("/jobs")
		var nav []string
		jobs.testid("nav-link").Each(func(_ int, s *goquery.Selection) { nav = append(nav, s.Text()) })
		if got := slices.Contains(nav, "Audit"); got != (want == 200) {
			t.Errorf("%s: nav %v", user, nav)
		}
	}
	// The job page's history is for auditors only.
	erin := p.jobNamed("Erin's laptop")
	if n := p.signIn("audrey").get("/jobs/" + erin.ID).testid("job-history").Length(); n != 1 {
		t.Errorf("audrey sees %d history sections", n)
	}
	erinC := p.signIn("erin")
	if n := erinC.get("/jobs/" + erin.ID).testid("job-history").Length(); n != 0 {
		t.Errorf("erin sees the audit history of her job")
	}
	// Nor can she load it by its address.
	wantStatus(t, "erin GET history", erinC.get("/jobs/"+erin.ID+"/history", htmx("", "/jobs/"+erin.ID)), http.StatusNotFound)
}

func TestAuditPageFiltersAndHistory(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	alice := p.signIn("alice")
	erin := p.jobNamed("Erin's laptop")
	wantStatus(t, "start", alice.action(erin.ID, "start"), http.StatusOK)
	alice.waitAction(erin.ID)
	harry := p.signIn("harry")
	j := p.berlinJob()
	wantStatus(t, "harry stops", harry.action(j.ID, "stop"), http.StatusForbidden)

	audrey := p.signIn("audrey")
	rows := func(path string) []string {
		t.Helper()
		r := audrey.get(path)
		wantStatus(t, path, r, http.StatusOK)
		var out []string
		r.testid("audit-row").Each(func(_ int, s *goquery.Selection) {
			k, _ := s.Attr("data-kind")
			a, _ := s.Attr("data-action")
			res, _ := s.Attr("data-result")
			out = append(out, strings.TrimSpace(s.Find(`[data-testid="audit-who"]`).Text())+" "+k+" "+a+" "+res)
		})
		return out
	}
	tests := []struct {
		path string
		want []string
	}{
		{"/audit?person=harry", []string{"Harry Helpdesk action stop denied", "Harry Helpdesk signin  performed"}},
		{"/audit?action=stop&result=denied", []string{"Harry Helpdesk action stop denied"}},
		{"/audit?job=" + url.QueryEscape("erin's"), []string{"Alice Admin action start performed"}},
		{"/audit?job=" + erin.ID + "&person=harry", nil},
		{"/audit?kind=signin&person=audrey", []string{"Audrey Auditor signin  performed"}},
		{"/audit?kind=action&from=2000-01-01&to=2000-12-31", nil},
	}
	for _, tt := range tests {
		if got := rows(tt.path); !slices.Equal(got, tt.want) {
			t.Errorf("%s:\n got %q\nwant %q", tt.path, got, tt.want)
		}
	}
	// htmx asks for the table only.
	r := audrey.get("/audit?person=harry", htmx("audit-table", "/audit"))
	if strings.Contains(r.Body, "<html") || r.testid("audit-table").Length() != 1 || r.testid("audit-row").Length() != 2 {
		t.Errorf("htmx answer is not the table fragment:\n%s", truncate(r.Body, 1500))
	}
	// A filter value that makes no sense is said, not silently widened.
	if r := audrey.get("/audit?result=bogus"); r.testid("audit-error").Length() != 1 {
		t.Error("an unknown outcome is ignored silently")
	}
	// Paging: size 50, so 55 more entries make two pages.
	for i := range 55 {
		p.audit.Record(context.Background(), audit.Entry{Kind: audit.KindSignOut, UserName: "Filler", UserKey: "x|" + strings.Repeat("f", i+1)})
	}
	first := audrey.get("/audit?person=Filler")
	if n := first.testid("audit-row").Length(); n != 50 {
		t.Fatalf("first page has %d rows", n)
	}
	next, ok := first.testid("audit-next").Attr("href")
	if !ok {
		t.Fatal("no link to older entries")
	}
	second := audrey.get(next)
	if n := second.testid("audit-row").Length(); n != 5 || second.testid("audit-next").Length() != 0 || second.testid("audit-first").Length() != 1 {
		t.Errorf("second page: %d rows", n)
	}
	// The job page shows the job's history when its section is opened: the
	// page itself reads no audit entry, and without JavaScript the section
	// links to the audit page filtered to the job.
	page := audrey.get("/jobs/" + erin.ID)
	h := page.testid("job-history")
	if h.Find(`[data-testid="audit-row"]`).Length() != 0 || strings.Contains(h.Text(), "Alice Admin") {
		t.Errorf("job page reads the history before it is opened: %s", h.Text())
	}
	lazy := page.testid("job-history-lazy")
	load, ok := lazy.Attr("hx-get")
	if !ok || lazy.Is("details") == false || lazy.AttrOr("hx-trigger", "") != "toggle once" {
		t.Fatalf("history section is not a lazily loaded <details>: %s", truncate(h.Text(), 300))
	}
	if href, _ := lazy.Find(`[data-lazy-status] a`).Attr("href"); href != "/audit?job="+erin.ID {
		t.Errorf("no-JS link %q", href)
	}
	opened := audrey.get(load, htmx("", "/jobs/"+erin.ID))
	wantStatus(t, "history fragment", opened, http.StatusOK)
	if opened.testid("audit-row").Length() != 1 || !strings.Contains(opened.Body, "Alice Admin") || strings.Contains(opened.Body, "<html") {
		t.Errorf("history fragment: %s", truncate(opened.Body, 500))
	}
	// The fragment's address, opened as a page, is the audit page for the job.
	plain := audrey.get(load)
	if plain.StatusCode != http.StatusSeeOther || plain.Header.Get("Location") != "/audit?job="+erin.ID {
		t.Errorf("GET %s without htmx: %d → %q", load, plain.StatusCode, plain.Header.Get("Location"))
	}
	// A job with no entries says so in words.
	quiet := ""
	for _, o := range p.sim.Jobs() {
		if o.ID != erin.ID && o.ID != j.ID {
			quiet = o.ID
			break
		}
	}
	other := audrey.get("/jobs/"+quiet+"/history", htmx("", ""))
	if other.testid("job-history-empty").Length() != 1 {
		t.Errorf("empty history: %s", truncate(other.Body, 300))
	}
}

func TestAuditCSVExport(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	evil := `=cmd|' /C calc'!A0`
	p.audit.Record(context.Background(), audit.Entry{Kind: audit.KindAction, Action: "start", Result: audit.ResultDenied,
		UserName: evil, JobName: evil + `, "quoted"`, Message: "line one\nline two"})
	c := p.signIn("audrey")
	r := c.get("/audit.csv?action=start")
	wantStatus(t, "export", r, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := r.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="agentdesk-audit-`) {
		t.Errorf("Content-Disposition %q", cd)
	}
	recs, err := csv.NewReader(strings.NewReader(r.Body)).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, r.Body)
	}
	if len(recs) != 2 || recs[0][0] != "id" || recs[0][1] != "time" {
		t.Fatalf("records %q", recs)
	}
	col := func(name string) string { return recs[1][slices.Index(recs[0], name)] }
	if col("user_name") != "'"+evil || col("job_name") != "'"+evil+`, "quoted"` || col("message") != "line one\nline two" {
		t.Errorf("row %q", recs[1])
	}
	if _, err := time.Parse(time.RFC3339, col("time")); err != nil || !strings.HasSuffix(col("time"), "Z") {
		t.Errorf("time %q is not RFC 3339 UTC", col("time"))
	}
}

func TestAuditStoreDownRefusesAction(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.signIn("alice")
	erin := p.jobNamed("Erin's laptop")
	c.get("/jobs/" + erin.ID)
	before := p.actionCalls()
	p.breakAudit()
	r := c.action(erin.ID, "start")
	wantStatus(t, "start with the audit store down", r, http.StatusServiceUnavailable)
	mustContain(t, "answer", r.Body, "could not write its audit record", "did not ask Enterprise Manager")
	if n := p.actionCalls(); n != before {
		t.Errorf("EM got %d action calls with the audit store down", n-before)
	}
	if p.audit.Failures() == 0 {
		t.Error("the failure was not counted")
	}
}

// TestJobPageWithAuditStoreDown: the job page reads no audit entry, so it
// still shows with the audit store down; only its history section, when
// opened, says that it could not be read.
func TestJobPageWithAuditStoreDown(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.signIn("alice")
	erin := p.jobNamed("Erin's laptop")
	p.breakAudit()
	page := c.get("/jobs/" + erin.ID)
	wantStatus(t, "job page with the audit store down", page, http.StatusOK)
	load, ok := page.testid("job-history-lazy").Attr("hx-get")
	if !ok {
		t.Fatal("no history section")
	}
	r := c.get(load, htmx("", "/jobs/"+erin.ID))
	if r.StatusCode < 500 || r.testid("audit-row").Length() != 0 {
		t.Errorf("history with the audit store down: %d %s", r.StatusCode, truncate(r.Body, 300))
	}
	if r.Header.Get("HX-Retarget") != "#messages" {
		t.Errorf("the failure is not shown in the notification region: HX-Retarget %q", r.Header.Get("HX-Retarget"))
	}
}
