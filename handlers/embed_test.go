package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/agentdesk/agentdesk/audit"
)

// frameAncestors is the frame-ancestors directive of a response's CSP.
func frameAncestors(r *response) string {
	for _, d := range strings.Split(r.Header.Get("Content-Security-Policy"), ";") {
		if d = strings.TrimSpace(d); strings.HasPrefix(d, "frame-ancestors ") {
			return strings.TrimPrefix(d, "frame-ancestors ")
		}
	}
	return ""
}

// Only /embed/ pages may be framed, and only by the configured origins; every
// other page (the job page, fragments, sign-in) keeps 'none' and DENY.
func TestEmbedFramingHeaders(t *testing.T) {
	origins := []string{"https://intranet.example.com", "https://*.corp.example"}
	p := newPortal(t, portalOptions{embedOrigins: origins})
	c := p.signIn("alice")
	job := p.jobNamed("Erin's laptop")
	anon := p.newClient()

	tests := []struct {
		name      string
		c         *client
		path      string
		opts      []reqOpt
		status    int
		ancestors string
	}{
		{"embedded card", c, "/embed/jobs/" + job.ID, nil, http.StatusOK, strings.Join(origins, " ")},
		{"my backups", c, "/embed/my-backups", nil, http.StatusOK, strings.Join(origins, " ")},
		{"signed-out embedded card", anon, "/embed/jobs/" + job.ID, nil, http.StatusOK, strings.Join(origins, " ")},
		{"popup end", c, "/embed/done", nil, http.StatusOK, strings.Join(origins, " ")},
		{"job page", c, "/jobs/" + job.ID, nil, http.StatusOK, "'none'"},
		{"card fragment from an embedded card", c, "/jobs/" + job.ID + "/card", []reqOpt{htmx("job-card-"+job.ID, "/embed/jobs/"+job.ID)}, http.StatusOK, "'none'"},
		{"jobs list", c, "/jobs", nil, http.StatusOK, "'none'"},
		{"sign-in page", anon, "/auth/signin", nil, http.StatusOK, "'none'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.c.get(tt.path, tt.opts...)
			wantStatus(t, tt.path, r, tt.status)
			if got := frameAncestors(r); got != tt.ancestors {
				t.Errorf("frame-ancestors %q, want %q", got, tt.ancestors)
			}
			xfo := r.Header.Get("X-Frame-Options")
			if tt.ancestors == "'none'" {
				if xfo != "DENY" {
					t.Errorf("X-Frame-Options %q, want DENY", xfo)
				}
				if r.Header.Get("Cross-Origin-Opener-Policy") != "same-origin" {
					t.Errorf("Cross-Origin-Opener-Policy %q, want same-origin", r.Header.Get("Cross-Origin-Opener-Policy"))
				}
			} else if xfo != "" {
				t.Errorf("X-Frame-Options %q on an embed page: it contradicts frame-ancestors", xfo)
			}
		})
	}

	// The embedded page tells app.js where its height may go.
	r := c.get("/embed/jobs/" + job.ID)
	if got, _ := r.testid("embed-body").Attr("data-embed-origins"); got != strings.Join(origins, " ") {
		t.Errorf("data-embed-origins %q", got)
	}
	if r.testid("site-header").Length() != 0 {
		t.Error("the embedded card has the site header")
	}
	open := r.testid("embed-open")
	if href, _ := open.Attr("href"); href != "/jobs/"+job.ID || open.AttrOr("target", "") != "_blank" || open.AttrOr("rel", "") != "noopener" {
		t.Errorf("Open in AgentDesk link: href %q target %q rel %q", href, open.AttrOr("target", ""), open.AttrOr("rel", ""))
	}

	// No origins configured: the cards still render, framed by the portal only.
	p2 := newPortal(t)
	r = p2.signIn("alice").get("/embed/jobs/" + p2.jobNamed("Erin's laptop").ID)
	wantStatus(t, "embed without origins", r, http.StatusOK)
	if got := frameAncestors(r); got != "'self'" || r.Header.Get("X-Frame-Options") != "" {
		t.Errorf("without origins: frame-ancestors %q, X-Frame-Options %q; want 'self' and none", got, r.Header.Get("X-Frame-Options"))
	}
}

// csrfSetCookie is the signed-out CSRF cookie a response sets.
func csrfSetCookie(t *testing.T, r *response) string {
	t.Helper()
	for _, v := range r.Header.Values("Set-Cookie") {
		if strings.HasPrefix(v, "agentdesk_csrf=") || strings.HasPrefix(v, "__Host-agentdesk-csrf=") {
			return v
		}
	}
	t.Fatalf("no CSRF cookie set; Set-Cookie: %q", r.Header.Values("Set-Cookie"))
	return ""
}

func TestEmbedSessionCookie(t *testing.T) {
	tests := []struct {
		name      string
		crossSite bool
		want      []string
		bad       []string
	}{
		{"cross-site parent", true, []string{"SameSite=None", "Secure", "Partitioned", "HttpOnly"}, []string{"SameSite=Lax"}},
		{"same-site parent", false, []string{"SameSite=Lax", "HttpOnly"}, []string{"SameSite=None", "Partitioned"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPortal(t, portalOptions{embedOrigins: []string{"https://intranet.example.com"}, embedCrossSite: tt.crossSite})
			job := p.jobNamed("Erin's laptop")
			// The signed-out card stores nothing server-side: its CSRF token
			// is a cookie, with the session cookie's attributes.
			r := p.newClient().get("/embed/jobs/" + job.ID)
			wantStatus(t, "signed-out card", r, http.StatusOK)
			ck := csrfSetCookie(t, r)
			attrs := map[string]bool{}
			for _, a := range strings.Split(ck, ";") {
				attrs[strings.TrimSpace(a)] = true
			}
			for _, w := range tt.want {
				if !attrs[w] {
					t.Errorf("cookie %q lacks %s", ck, w)
				}
			}
			for _, b := range tt.bad {
				if attrs[b] {
					t.Errorf("cookie %q has %s", ck, b)
				}
			}
		})
	}
}

// A signed-out card shows a sign-in button (popup) and never redirects the
// frame to the identity provider; the popup's sign-in ends on /embed/done.
func TestEmbedSignedOut(t *testing.T) {
	p := newPortal(t, portalOptions{embedOrigins: []string{"https://intranet.example.com"}})
	job := p.jobNamed("Erin's laptop")
	c := p.newClient()
	for _, path := range []string{"/embed/jobs/" + job.ID, "/embed/my-backups"} {
		r := c.get(path)
		wantStatus(t, path, r, http.StatusOK)
		if loc := r.Header.Get("Location"); loc != "" {
			t.Errorf("%s redirects to %s", path, loc)
		}
		btn := r.testid("embed-signin-button")
		if got, _ := btn.Attr("data-embed-signin"); got != "/auth/login?return_to=%2Fembed%2Fdone" {
			t.Errorf("%s: sign-in button opens %q", path, got)
		}
		top := r.testid("embed-signin-top")
		if href, _ := top.Attr("href"); href != "/auth/login?return_to="+url.QueryEscape(path) || top.AttrOr("target", "") != "_top" {
			t.Errorf("%s: fallback link %q target %q", path, href, top.AttrOr("target", ""))
		}
		if r.testid("job-card").Length() != 0 || strings.Contains(r.Body, job.Name) {
			t.Errorf("%s: the signed-out card shows the job", path)
		}
		mustNotContain(t, path, r.Body, "<script>", "onclick")
	}

	// The popup: sign in with return_to=/embed/done, land on the page that
	// tells the card.
	loc, final := c.login("erin", "/embed/done")
	if loc != "/embed/done" || final == nil || final.testid("embed-done-ok").Length() != 1 {
		t.Fatalf("popup sign-in ended at %q:\n%v", loc, final)
	}
	if _, ok := final.testid("embed-done-ok").Attr("data-embed-done"); !ok {
		t.Error("the done page lacks the data-embed-done marker app.js acts on")
	}
	// The reloaded card is the job's card.
	r := c.get("/embed/jobs/" + job.ID)
	if r.testid("job-card").Length() != 1 || r.testid("embed-signin").Length() != 0 {
		t.Fatalf("after sign-in the card is not shown:\n%s", truncate(r.Body, 2000))
	}
	// /embed/done is not an open door: signed out it says the sign-in failed.
	r = p.newClient().get("/embed/done")
	if r.testid("embed-done-ok").Length() != 0 || r.testid("embed-done-failed").Length() != 1 {
		t.Error("/embed/done claims a sign-in without a session")
	}
}

// htmx requests of a framed card whose session ended get the signed-out card
// (retargeted into the frame), not HX-Redirect to the sign-in page.
func TestEmbedSessionEnded(t *testing.T) {
	p := newPortal(t, portalOptions{embedOrigins: []string{"https://intranet.example.com"}})
	job := p.jobNamed("Erin's laptop")
	c := p.signIn("alice")
	wantStatus(t, "sign out", c.postForm("/auth/signout", url.Values{"csrf": {c.csrf}}, sameOrigin), http.StatusSeeOther)

	for _, tc := range []struct{ name, path string }{
		{"card poll", "/jobs/" + job.ID + "/card"},
		{"status poll", "/jobs/" + job.ID + "/status"},
		{"confirmation", "/jobs/" + job.ID + "/confirm/start"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.get(tc.path, htmx("job-card-"+job.ID, "/embed/jobs/"+job.ID), background)
			if r.Header.Get("HX-Redirect") != "" {
				t.Fatalf("embedded request got HX-Redirect %q", r.Header.Get("HX-Redirect"))
			}
			wantStatus(t, tc.path, r, http.StatusUnauthorized)
			if r.Header.Get("HX-Retarget") != "#embed-root" || r.Header.Get("HX-Reswap") != "innerHTML" {
				t.Errorf("HX-Retarget %q HX-Reswap %q", r.Header.Get("HX-Retarget"), r.Header.Get("HX-Reswap"))
			}
			if r.testid("embed-signin-button").Length() != 1 {
				t.Errorf("no sign-in button in the fragment:\n%s", r.Body)
			}
			if top, _ := r.testid("embed-signin-top").Attr("href"); top != "/auth/login?return_to="+url.QueryEscape("/embed/jobs/"+job.ID) {
				t.Errorf("fallback returns to %q, want the embedded card", top)
			}
		})
	}
	// The same request from the portal's own page keeps HX-Redirect.
	r := c.get("/jobs/"+job.ID+"/card", htmx("job-card-"+job.ID, "/jobs/"+job.ID))
	if r.Header.Get("HX-Redirect") == "" {
		t.Error("a portal page's htmx request lost its HX-Redirect")
	}
}

// An action posted from an embedded card is the same action, audited with
// embedded=true; one from the job page is not.
func TestEmbedActionAudited(t *testing.T) {
	p := newPortal(t, portalOptions{embedOrigins: []string{"https://intranet.example.com"}})
	job := p.jobNamed("Erin's laptop")
	c := p.signIn("erin")
	emb := "/embed/jobs/" + job.ID

	r := c.get(emb)
	wantStatus(t, "embedded card", r, http.StatusOK)
	if r.testid("action-start").Length() != 1 {
		t.Fatalf("erin's embedded card offers no Start:\n%s", truncate(r.Body, 3000))
	}
	r = c.get("/jobs/"+job.ID+"/confirm/start", htmx("confirm-"+job.ID, emb))
	wantStatus(t, "confirmation", r, http.StatusOK)

	r = c.postForm("/jobs/"+job.ID+"/actions/start", url.Values{}, sameOrigin, c.withToken, htmx("status-"+job.ID, emb))
	wantStatus(t, "start from the embedded card", r, http.StatusOK)
	c.waitAction(job.ID)
	// The refreshed card stays an embedded card: its links stay in the frame.
	r = c.get("/jobs/"+job.ID+"/card", htmx("job-card-"+job.ID, emb))
	if href, _ := r.testid("refresh").Attr("href"); href != emb {
		t.Errorf("refreshed embedded card links to %q, want %q", href, emb)
	}
	if r.testid("why").Length() != 0 {
		t.Error("the embedded card lists the reasons (it is the compact card)")
	}

	// A CSRF-less post from the frame is refused like any other.
	r = c.postForm("/jobs/"+job.ID+"/actions/start", url.Values{}, sameOrigin, htmx("status-"+job.ID, emb))
	wantStatus(t, "start without token", r, http.StatusForbidden)
	r = c.postForm("/jobs/"+job.ID+"/actions/start", url.Values{}, c.withToken, htmx("status-"+job.ID, emb),
		header("Origin", "https://intranet.example.com"), header("Sec-Fetch-Site", "cross-site"))
	wantStatus(t, "start posted by the parent site", r, http.StatusForbidden)

	// And one from the job page, for contrast.
	wantStatus(t, "start from the job page", c.action(job.ID, "start"), http.StatusOK)
	c.waitAction(job.ID)

	var embedded, plain int
	for _, e := range p.auditEntries(audit.Filter{JobID: job.ID, Kind: audit.KindAction}) {
		if e.Action != "start" || e.Result == audit.ResultDenied {
			continue
		}
		if e.Embedded {
			embedded++
		} else {
			plain++
		}
	}
	if embedded != 1 || plain != 1 {
		t.Fatalf("audit: %d embedded and %d plain starts, want 1 and 1", embedded, plain)
	}
}

// The embedded card applies the same policy as the job page: a job the user may
// not see does not exist; "My backups" lists exactly the user's own computers' jobs.
func TestEmbedPolicy(t *testing.T) {
	p := newPortal(t)
	erin := p.signIn("erin")
	erinsJob := p.jobNamed("Erin's laptop")
	var other string
	for _, j := range p.sim.Jobs() {
		if j.ID != erinsJob.ID {
			other = j.ID
			break
		}
	}
	wantStatus(t, "erin's own card", erin.get("/embed/jobs/"+erinsJob.ID), http.StatusOK)
	r := erin.get("/embed/jobs/" + other)
	wantStatus(t, "someone else's job", r, http.StatusNotFound)
	mustNotContain(t, "404 page", r.Body, `data-testid="job-card"`)
	wantStatus(t, "no such job", erin.get("/embed/jobs/00000000-0000-0000-0000-000000000001"), http.StatusNotFound)
	wantStatus(t, "HEAD someone else's job", erin.do(http.MethodHead, "/embed/jobs/"+other, nil), http.StatusNotFound)

	r = erin.get("/embed/my-backups")
	wantStatus(t, "my backups", r, http.StatusOK)
	var ids []string
	r.testid("embed-mine-row").Each(func(_ int, s *goquery.Selection) { ids = append(ids, s.AttrOr("data-job-id", "")) })
	if len(ids) != 1 || ids[0] != erinsJob.ID {
		t.Fatalf("erin's backups: %v, want only %s", ids, erinsJob.ID)
	}
	if href, _ := r.testid("embed-mine-link").Attr("href"); href != "/embed/jobs/"+erinsJob.ID {
		t.Errorf("my backups links to %q, want the embedded card", href)
	}

	// The helpdesk sees many jobs, but owns no computer: an empty list.
	r = p.signIn("harry").get("/embed/my-backups")
	wantStatus(t, "harry's backups", r, http.StatusOK)
	if r.testid("embed-mine-row").Length() != 0 || r.testid("embed-mine-empty").Length() != 1 {
		t.Errorf("harry owns no computer, yet the card lists %d jobs", r.testid("embed-mine-row").Length())
	}
}

// TestEmbedDeepLinkNote: a card's deep link for an action the user may not run
// explains why, as the job page does, instead of silently ignoring it.
func TestEmbedDeepLinkNote(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.signIn("audrey")
	erin := p.jobNamed("Erin's laptop")
	before := p.actionCalls()
	r := c.get("/embed/jobs/" + erin.ID + "?action=start")
	wantStatus(t, "embed deep link", r, http.StatusOK)
	if r.testid("confirm-panel").Length() > 0 {
		t.Fatal("an auditor's deep link opened a confirmation")
	}
	if note := r.testid("link-note").Text(); !strings.Contains(note, "you may not do that") {
		t.Errorf("link note = %q", note)
	}
	if p.actionCalls() != before {
		t.Error("a deep link called EM")
	}
}
