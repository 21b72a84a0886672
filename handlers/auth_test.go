package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestSignedOut: what people and htmx get without a session.
func TestSignedOut(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	erinID := p.jobNamed("Erin's laptop").ID
	c := p.newClient()

	r := c.get("/jobs")
	wantStatus(t, "GET /jobs", r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/auth/signin?return_to=%2Fjobs" {
		t.Errorf("Location %q", loc)
	}
	r = c.get("/jobs/" + erinID + "?spage=2")
	if loc := r.Header.Get("Location"); loc != "/auth/signin?return_to="+url.QueryEscape("/jobs/"+erinID+"?spage=2") {
		t.Errorf("deep page Location %q", loc)
	}

	// htmx: 401 and HX-Redirect back to the page the fragment belongs to.
	r = c.get("/jobs/"+erinID+"/card", htmx("job-card-"+erinID, "/jobs/"+erinID))
	wantStatus(t, "htmx without session", r, http.StatusUnauthorized)
	if hx := r.Header.Get("HX-Redirect"); hx != "/auth/signin?return_to="+url.QueryEscape("/jobs/"+erinID) {
		t.Errorf("HX-Redirect %q", hx)
	}
	mustNotContain(t, "htmx 401", r.Body, "<html")

	// POST without session: 401, never an action.
	before := p.actionCalls()
	r = c.postForm("/jobs/"+erinID+"/actions/start", url.Values{}, sameOrigin)
	if r.StatusCode != http.StatusUnauthorized && r.StatusCode != http.StatusForbidden {
		t.Errorf("POST without session: %d", r.StatusCode)
	}
	// Even with the sign-in page's token (an anonymous session's token).
	signin := c.get("/auth/signin")
	c.csrf = c.readCSRF(signin)
	r = c.action(erinID, "start")
	wantStatus(t, "POST with anonymous token", r, http.StatusUnauthorized)
	if r.Header.Get("HX-Redirect") == "" {
		t.Errorf("htmx POST without session has no HX-Redirect")
	}
	r = c.postForm("/jobs/"+erinID+"/actions/start", url.Values{"csrf": {c.csrf}}, sameOrigin)
	wantStatus(t, "form POST with anonymous token", r, http.StatusUnauthorized)
	if p.actionCalls() != before {
		t.Errorf("signed-out POSTs reached EM")
	}

	// The sign-in page shows the button and keeps the return path.
	r = c.get("/auth/signin?return_to=%2Fjobs%3Fq%3Dx")
	wantStatus(t, "sign-in page", r, http.StatusOK)
	if v := r.Doc().Find(`input[name="return_to"]`).AttrOr("value", ""); v != "/jobs?q=x" {
		t.Errorf("sign-in page return_to %q", v)
	}
}

// TestSignOut: sign-out is a POST with the token; it ends the session for good.
func TestSignOut(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.signIn("alice")
	old := c.sessionCookie()
	if old == nil {
		t.Fatal("no session cookie after sign-in")
	}

	r := c.get("/auth/signout")
	wantStatus(t, "GET /auth/signout", r, http.StatusMethodNotAllowed)
	if allow := r.Header.Get("Allow"); allow != http.MethodPost {
		t.Errorf("Allow %q", allow)
	}
	wantStatus(t, "still signed in after GET signout", c.get("/jobs"), http.StatusOK)
	wantStatus(t, "POST signout without token", c.postForm("/auth/signout", url.Values{}, sameOrigin), http.StatusForbidden)
	wantStatus(t, "still signed in after forged signout", c.get("/jobs"), http.StatusOK)

	r = c.postForm("/auth/signout", url.Values{"csrf": {c.csrf}}, sameOrigin)
	wantStatus(t, "POST signout", r, http.StatusSeeOther)
	loc, _ := url.Parse(r.Header.Get("Location"))
	if !strings.HasPrefix(r.Header.Get("Location"), p.issuer) && loc.Path != "/auth/signin" {
		t.Errorf("sign-out redirects to %q, want the IdP's end-session page or the sign-in page", r.Header.Get("Location"))
	}
	wantStatus(t, "after sign-out", c.get("/jobs"), http.StatusSeeOther)

	// The old cookie, replayed by someone who kept it, opens nothing.
	replay := p.newClient()
	r = replay.get("/jobs", header("Cookie", old.Name+"="+old.Value))
	wantStatus(t, "old cookie", r, http.StatusSeeOther)
	if !strings.HasPrefix(r.Header.Get("Location"), "/auth/signin") {
		t.Errorf("old cookie redirected to %q", r.Header.Get("Location"))
	}
}

// TestReturnToStaysLocal: whatever return_to says, sign-in ends on this portal.
func TestReturnToStaysLocal(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	payloads := []string{
		"//evil.example",
		`/\evil.example`,
		"https://evil.example",
		"/%2F%2Fevil.example",
		"javascript:alert(1)",
		" /jobs",
		"///evil.example/",
		"/\t/evil.example",
		"http:evil.example",
		"%2F%2Fevil.example",
	}
	for _, raw := range payloads {
		t.Run(raw, func(t *testing.T) {
			c := p.newClient()
			loc, final := c.login("audrey", raw)
			u, err := url.Parse(loc)
			if err != nil || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(loc, "/") ||
				strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, `/\`) || strings.Contains(loc, "evil") {
				t.Fatalf("return_to %q: sign-in redirects to %q", raw, loc)
			}
			if final == nil || final.StatusCode != http.StatusOK {
				t.Fatalf("return_to %q: did not land on a portal page", raw)
			}
		})
	}
	// A safe return path is honoured.
	erinID := p.jobNamed("Erin's laptop").ID
	loc, final := p.newClient().login("audrey", "/jobs/"+erinID+"?spage=2")
	if loc != "/jobs/"+erinID+"?spage=2" {
		t.Errorf("safe return_to became %q", loc)
	}
	if final.testid("job-title").Text() != "Erin's laptop" {
		t.Errorf("did not land on the job page")
	}
}
