package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/agentdesk/agentdesk/audit"
	"github.com/agentdesk/agentdesk/auth/demoidp"
	"github.com/agentdesk/agentdesk/internal/webtest"
	"github.com/agentdesk/agentdesk/policy"
)

// removed is an administrator who was removed from every group: like Entra ID
// and Okta, the IdP then leaves the groups claim out of the ID token and
// UserInfo altogether.
var removed = demoidp.User{Subject: "3f0d5d1e-7c55-4a43-9b8e-1d7f64a0c0de", Username: "removed", Password: "demo",
	Name: "Rita Removed", Email: "rita@corp.example", NoGroupsClaim: true}

// overaged is a user in too many groups: Entra ID's overage signal instead of
// the groups claim.
var overaged = demoidp.User{Subject: "3f0d5d1e-7c55-4a43-9b8e-1d7f64a0c0df", Username: "overage", Password: "demo",
	Name: "Otto Overage", Email: "otto@corp.example", GroupsOverage: true}

// TestMissingGroupsClaimFailsClosed: a token without a groups claim never
// brings back the groups (and roles) of an earlier sign-in.
func TestMissingGroupsClaimFailsClosed(t *testing.T) {
	t.Parallel()
	p := newPortal(t, portalOptions{users: []demoidp.User{removed}})
	// The attack's precondition: the groups of an earlier sign-in, as admin,
	// are on record.
	key := p.issuer + "|" + removed.Subject
	if err := p.users.SaveGroups(context.Background(), key, []string{"agentdesk-admins"}); err != nil {
		t.Fatal(err)
	}
	c := p.newClient()
	r := c.loginResponse("removed")
	wantStatus(t, "sign-in without groups claim", r, http.StatusForbidden)
	mustContain(t, "no-groups page", r.Body, "identity provider sent no groups")
	wantStatus(t, "GET /jobs afterwards", c.get("/jobs"), http.StatusSeeOther)
	wantStatus(t, "GET /status afterwards", c.get("/status"), http.StatusSeeOther)
}

// TestOverageRemembersOnlyWhenConfigured: Entra's overage signal uses the
// remembered groups only with RememberOverageGroups; otherwise it is refused.
func TestOverageRemembersOnlyWhenConfigured(t *testing.T) {
	t.Parallel()
	for _, remember := range []bool{false, true} {
		p := newPortal(t, portalOptions{users: []demoidp.User{overaged}, rememberOverage: remember})
		key := p.issuer + "|" + overaged.Subject
		if err := p.users.SaveGroups(context.Background(), key, []string{"auditors"}); err != nil {
			t.Fatal(err)
		}
		c := p.newClient()
		r := c.loginResponse("overage")
		if !remember {
			wantStatus(t, "overage, not configured", r, http.StatusForbidden)
			mustContain(t, "overage page", r.Body, "too many groups")
			continue
		}
		wantStatus(t, "overage, configured", r, http.StatusSeeOther)
		wantStatus(t, "auditor reads the audit log", c.get("/audit"), http.StatusOK)
	}
}

// loginResponse runs the sign-in through the IdP and returns the portal's
// answer at the callback, whatever it is.
func (c *client) loginResponse(username string) *response {
	c.t.Helper()
	c.allowCallbackFailure = true
	defer func() { c.allowCallbackFailure = false }()
	c.login(username, "/jobs")
	if c.lastCallback == nil {
		c.t.Fatal("the sign-in did not reach the callback")
	}
	return c.lastCallback
}

// mallory is an end user who renamed herself: her preferred_username is the
// host name of Erin's laptop. Only an administrator sets "computer".
var mallory = demoidp.User{Subject: "3f0d5d1e-7c55-4a43-9b8e-1d7f64a0c0e0", Username: "erin-laptop", Password: "demo",
	Name: "Mallory", Email: "mallory@corp.example", Groups: []string{"employees"}, Computer: "mallory-pc.corp.example"}

// TestSelfServiceIgnoresEditableClaims: the built-in policy's self-service
// does not trust preferred_username, and a policy that does is shown as a
// warning on the status page.
func TestSelfServiceIgnoresEditableClaims(t *testing.T) {
	t.Parallel()
	p := newPortal(t, portalOptions{users: []demoidp.User{mallory}})
	erinsJob := p.jobNamed("Erin's laptop")
	c := p.newClient()
	c.login("erin-laptop", "/")
	wantStatus(t, "mallory opens Erin's job", c.get("/jobs/"+erinsJob.ID), http.StatusNotFound)
	if ids := jobIDs(c.get("/jobs?size=100")); len(ids) != 0 {
		t.Errorf("mallory sees jobs %v", ids)
	}
	wantStatus(t, "status page without warnings", p.signIn("alice").get("/status"), http.StatusOK)
	if n := p.signIn("alice").get("/status").testid("status-policy-warning").Length(); n != 0 {
		t.Errorf("the example policy shows %d warnings", n)
	}

	risky := strings.Replace(string(policy.Default()), "computer_claims: [computer]", "computer_claims: [computer, preferred_username]", 1)
	p2 := newPortal(t, portalOptions{policy: []byte(risky)})
	w := p2.signIn("alice").get("/status").testid("status-policy-warning")
	if w.Length() != 1 || !strings.Contains(w.Text(), "preferred_username") {
		t.Errorf("status page warnings %q, want one about preferred_username", w.Text())
	}
}

// TestDeniedAudit: a confirmation page opened by another site's link records
// nothing under the victim's name; an attempt on a job the user cannot see is
// recorded, and answered like a job that does not exist.
func TestDeniedAudit(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	harry := p.signIn("harry") // helpdesk: view, start, retry on Berlin only
	own := firstOn(t, p, berlin)
	other := firstOn(t, p, munich)
	denied := func(jobID string) int {
		n := 0
		for _, e := range p.auditEntries(audit.Filter{Kind: audit.KindAction, JobID: jobID}) {
			if e.Result == audit.ResultDenied {
				n++
			}
		}
		return n
	}

	r := harry.get("/jobs/"+own.ID+"/confirm/stop", header("Sec-Fetch-Site", "cross-site"), header("Sec-Fetch-Mode", "navigate"))
	wantStatus(t, "cross-site link to a stop confirmation", r, http.StatusForbidden)
	if n := denied(own.ID); n != 0 {
		t.Errorf("a cross-site link recorded %d denied entries under harry's name", n)
	}
	r = harry.get("/jobs/"+own.ID+"/confirm/stop", header("Sec-Fetch-Site", "none"))
	wantStatus(t, "harry opens the stop confirmation himself", r, http.StatusForbidden)
	if n := denied(own.ID); n != 1 {
		t.Errorf("harry's own attempt: %d denied entries, want 1", n)
	}

	// A job harry cannot see: 404 like a job that does not exist, audited.
	unknown := harry.action("00000000-0000-0000-0000-000000000000", "start")
	r = harry.action(other.ID, "start")
	wantStatus(t, "start an invisible job", r, http.StatusNotFound)
	wantStatus(t, "start an unknown job", unknown, http.StatusNotFound)
	mustNotContain(t, "invisible job's answer", r.Body, other.Name)
	if n := denied(other.ID); n != 1 {
		t.Errorf("attempt on an invisible job: %d denied entries, want 1", n)
	}
	if n := p.actionCount(other.ID, "start"); n != 0 {
		t.Errorf("EM got %d starts", n)
	}
}

// TestConcurrentSignIns: two sign-ins started at the same instant in one
// browser (two tabs) both complete, in either order.
func TestConcurrentSignIns(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	for trial := range 10 {
		c := p.newClient()
		c.get("/auth/signin")
		starts := make(chan *response, 2)
		// Both land on the audit log, which needs no EM round trip.
		for _, rt := range []string{"/audit", "/audit?kind=signin"} {
			go func() {
				req, _ := http.NewRequest(http.MethodGet, c.abs("/auth/login?return_to="+url.QueryEscape(rt)), nil)
				resp, err := c.hc.Do(req)
				if err != nil {
					starts <- nil
					return
				}
				resp.Body.Close()
				starts <- &response{&webtest.Page{Response: resp}}
			}()
		}
		a, b := <-starts, <-starts
		if a == nil || b == nil {
			t.Fatal("a sign-in start failed")
		}
		// Complete the later one first.
		for _, r := range []*response{b, a} {
			loc, final := c.completeLogin("audrey", r)
			if final == nil || final.StatusCode != http.StatusOK {
				t.Fatalf("trial %d: sign-in to %s did not land", trial, loc)
			}
		}
	}
}

// TestCSRFRenewedAndBodyOnly: every sign-in gives the session a new CSRF
// token, and the token counts only in the form body or the header, never in
// the URL.
func TestCSRFRenewedAndBodyOnly(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.newClient()
	pre := c.readCSRF(c.get("/auth/signin"))
	_, final := c.login("alice", "/jobs")
	first := c.readCSRF(final)
	_, final = c.login("alice", "/jobs")
	second := c.readCSRF(final)
	if pre == first || first == second {
		t.Errorf("CSRF token not renewed at sign-in: before %q, first %q, second %q", pre[:6], first[:6], second[:6])
	}
	wantStatus(t, "sign-out with the previous sign-in's token", c.postForm("/auth/signout", url.Values{"csrf": {first}}, sameOrigin), http.StatusForbidden)
	wantStatus(t, "sign-out with the token in the URL", c.postForm("/auth/signout?csrf="+url.QueryEscape(second), url.Values{}, sameOrigin), http.StatusForbidden)
	wantStatus(t, "still signed in", c.get("/jobs"), http.StatusOK)
	wantStatus(t, "sign-out with the token in the body", c.postForm("/auth/signout", url.Values{"csrf": {second}}, sameOrigin), http.StatusSeeOther)
}

// TestCSPReports: pages ask browsers to report violations; a report is
// logged (truncated), and a flood of them is refused.
func TestCSPReports(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	p := newPortal(t, portalOptions{logTo: &logs})
	c := p.newClient()
	csp := c.get("/auth/signin").Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "report-uri /csp-report") || !strings.Contains(csp, "report-to csp") {
		t.Errorf("CSP %q asks for no reports", csp)
	}
	report := `{"csp-report":{"document-uri":"http://portal/jobs","effective-directive":"script-src-elem","blocked-uri":"https://evil.example/x.js` + strings.Repeat("A", 4000) + `"}}`
	got := map[int]int{}
	for range 25 {
		got[c.do(http.MethodPost, "/csp-report", strings.NewReader(report), header("Content-Type", "application/csp-report")).StatusCode]++
	}
	if got[http.StatusNoContent] != 20 || got[http.StatusTooManyRequests] != 5 {
		t.Errorf("25 reports from one address: %v, want 20 × 204 and 5 × 429", got)
	}
	out := logs.String()
	if !strings.Contains(out, "content security policy violation") || !strings.Contains(out, "https://evil.example/x.js") {
		t.Fatalf("violation not logged")
	}
	if strings.Contains(out, strings.Repeat("A", 300)) {
		t.Error("the report's fields are logged untruncated")
	}
}

const erinSubject = "8d1c6a52-0f3e-4c1e-9a51-5b2f0c7e0a04"

// TestEndUserSessions: an administrator signs one person out of every
// browser from the status page; others may not.
func TestEndUserSessions(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	laptop, phone := p.newClient(), p.newClient()
	laptop.login("erin", "/")
	phone.login("erin", "/")
	audrey := p.signIn("audrey")
	wantStatus(t, "erin signed in", laptop.get("/jobs"), http.StatusOK)

	key := p.issuer + "|" + erinSubject
	wantStatus(t, "auditor ends sessions", audrey.postForm("/status/sessions", url.Values{"csrf": {audrey.csrf}, "user_key": {key}}, sameOrigin), http.StatusForbidden)
	wantStatus(t, "still signed in", laptop.get("/jobs"), http.StatusOK)

	alice := p.signIn("alice")
	status := alice.get("/status")
	if status.testid("end-sessions-form").Length() != 1 {
		t.Fatal("the status page has no form to end a person's sessions")
	}
	r := alice.postForm("/status/sessions", url.Values{"csrf": {alice.csrf}, "user_key": {key}}, sameOrigin)
	wantStatus(t, "admin ends erin's sessions", r, http.StatusOK)
	if msg := r.testid("status-sessions-message").Text(); !strings.Contains(msg, "Ended 2 sessions") {
		t.Errorf("message %q", msg)
	}
	wantStatus(t, "erin's laptop", laptop.get("/jobs"), http.StatusSeeOther)
	wantStatus(t, "erin's phone", phone.get("/jobs"), http.StatusSeeOther)
	wantStatus(t, "alice", alice.get("/jobs"), http.StatusOK)
}

// TestBackChannelLogout: signing out at the identity provider (the demo IdP
// sends a Back-Channel Logout token) ends the user's other portal sessions;
// a forged token ends nothing.
func TestBackChannelLogout(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	other := p.newClient()
	other.login("erin", "/")
	c := p.newClient()
	_, final := c.login("erin", "/")
	c.csrf = c.readCSRF(final)

	forged := p.newClient().postForm("/auth/backchannel-logout", url.Values{"logout_token": {"eyJhbGciOiJub25lIn0.e30."}})
	wantStatus(t, "forged logout token", forged, http.StatusBadRequest)
	wantStatus(t, "still signed in", other.get("/jobs"), http.StatusOK)

	r := c.postForm("/auth/signout", url.Values{"csrf": {c.csrf}}, sameOrigin)
	wantStatus(t, "sign-out", r, http.StatusSeeOther)
	end := r.Header.Get("Location")
	if !strings.HasPrefix(end, p.issuer) {
		t.Fatalf("sign-out did not lead to the IdP: %q", end)
	}
	// The browser follows to the IdP, which signs the user out there and
	// tells the portal before it redirects back.
	for hops := 0; strings.HasPrefix(end, p.issuer) && hops < 5; hops++ {
		r = c.get(end)
		end = r.Header.Get("Location")
	}
	wantStatus(t, "erin's other browser after the IdP sign-out", other.get("/jobs"), http.StatusSeeOther)
}
