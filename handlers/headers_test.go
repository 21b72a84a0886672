package handlers_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestSecurityHeaders: pages carry a nonce CSP, no framing, no sniffing, no
// caching, and the session cookie is HttpOnly and SameSite=Lax.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.signIn("alice")
	erin := p.jobNamed("Erin's laptop")
	anon := p.newClient()
	nonces := map[string]bool{}
	for _, path := range []string{"/jobs", "/jobs/" + erin.ID, "/auth/signin", "/jobs/not-a-guid"} {
		browser := c
		if path == "/auth/signin" {
			browser = anon // signed in, the sign-in page redirects
		}
		r := browser.get(path)
		wantStatus(t, path, r, map[bool]int{true: http.StatusOK, false: http.StatusBadRequest}[path != "/jobs/not-a-guid"])
		csp := r.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		mustNotContain(t, path+" CSP", csp, "unsafe-inline", "unsafe-eval")
		scripts := r.Doc().Find("script")
		if scripts.Length() == 0 {
			t.Errorf("%s: no scripts", path)
		}
		for i := range scripts.Length() {
			n := scripts.Eq(i).AttrOr("nonce", "")
			if n == "" || !strings.Contains(csp, "'nonce-"+n+"'") {
				t.Errorf("%s: script nonce %q not in CSP %q", path, n, csp)
			}
			nonces[n] = true
		}
		for k, want := range map[string]string{
			"X-Content-Type-Options": "nosniff",
			"X-Frame-Options":        "DENY",
			"Cache-Control":          "no-store",
			"Referrer-Policy":        "no-referrer",
			"Reporting-Endpoints":    `csp="/csp-report"`,
		} {
			if got := r.Header.Get(k); got != want {
				t.Errorf("%s: %s = %q, want %q", path, k, got, want)
			}
		}
		if r.Header.Get("X-Request-Id") == "" {
			t.Errorf("%s: no X-Request-Id", path)
		}
		// Plain HTTP: no HSTS.
		if r.Header.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: HSTS on plain HTTP", path)
		}
	}
	if len(nonces) < 4 {
		t.Errorf("nonces repeat across responses: %v", nonces)
	}
	// Fragments are not cached either.
	if cc := c.get("/jobs/"+erin.ID+"/card", htmx("job-card-"+erin.ID, "/jobs/"+erin.ID)).Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("fragment Cache-Control %q", cc)
	}

	// The cookies as the browser receives them: the sign-in page sets only
	// its CSRF cookie (no session is stored for an anonymous visit), starting
	// the sign-in sets the session cookie.
	fresh := p.newClient()
	cookieNamed := func(r *response, name string) *http.Cookie {
		for _, ck := range r.Cookies() {
			if ck.Name == name {
				return ck
			}
		}
		return nil
	}
	r := fresh.get("/auth/signin")
	if ck := cookieNamed(r, "agentdesk_session"); ck != nil {
		t.Errorf("the sign-in page sets a session cookie: %+v", ck)
	}
	start := fresh.get("/auth/login?return_to=%2F")
	if ck := cookieNamed(start, "agentdesk_session"); ck != nil {
		t.Errorf("starting a sign-in sets a session cookie: %+v", ck)
	}
	var tx *http.Cookie
	for _, ck := range start.Cookies() {
		if strings.HasPrefix(ck.Name, "agentdesk_tx_") {
			tx = ck
		}
	}
	if tx == nil || !tx.HttpOnly || tx.SameSite != http.SameSiteLaxMode || tx.Path != "/" || tx.MaxAge <= 0 || tx.MaxAge > 600 {
		t.Errorf("sign-in cookie %+v: want HttpOnly, SameSite=Lax, Path=/, at most 10 minutes", tx)
	}
	signedIn := p.newClient()
	signedIn.login("audrey", "/")
	for _, step := range []struct {
		name, cookie string
		r            *response
	}{
		{"sign-in page", "agentdesk_csrf", r},
		{"sign-in callback", "agentdesk_session", signedIn.lastCallback},
	} {
		cookie := cookieNamed(step.r, step.cookie)
		if cookie == nil {
			t.Fatalf("%s sets no %s cookie; Set-Cookie: %q", step.name, step.cookie, step.r.Header.Values("Set-Cookie"))
		}
		if !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/" || cookie.Domain != "" {
			t.Errorf("%s cookie %+v: want HttpOnly, SameSite=Lax, Path=/, no Domain", step.cookie, cookie)
		}
		if cookie.MaxAge != 0 || !cookie.Expires.IsZero() {
			t.Errorf("%s cookie persists: %+v", step.cookie, cookie)
		}
	}
}

// TestStaticAssets: assets are served under content-hash URLs, cached forever,
// without a session.
func TestStaticAssets(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.signIn("alice")
	page := c.get("/jobs")
	css, _ := page.Doc().Find(`link[rel="stylesheet"]`).Attr("href")
	js, _ := page.Doc().Find("script[src]").First().Attr("src")
	anon := p.newClient()
	for _, u := range []string{css, js} {
		if !strings.HasPrefix(u, "/static/") {
			t.Fatalf("asset URL %q", u)
		}
		r := anon.get(u)
		wantStatus(t, u, r, http.StatusOK)
		if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") || !strings.Contains(cc, "max-age=") {
			t.Errorf("%s: Cache-Control %q", u, cc)
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") && !strings.HasPrefix(ct, "text/javascript") {
			t.Errorf("%s: Content-Type %q", u, ct)
		}
		if len(r.Cookies()) != 0 {
			t.Errorf("%s sets cookies", u)
		}
	}
	if r := anon.get("/static/app.00000000.css"); r.StatusCode != http.StatusNotFound {
		t.Errorf("unknown hash: %d", r.StatusCode)
	}
}

// TestProbes: liveness needs nothing; readiness goes 503 once shutdown begins.
func TestProbes(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	anon := p.newClient()
	wantStatus(t, "/livez", anon.get("/livez"), http.StatusOK)
	r := anon.get("/readyz")
	wantStatus(t, "/readyz", r, http.StatusOK)
	if len(r.Cookies()) != 0 {
		t.Errorf("/readyz sets cookies")
	}
	// EM being down does not make the portal unready or dead.
	p.emSrv.Close()
	wantStatus(t, "/readyz with EM down", anon.get("/readyz"), http.StatusOK)
	p.h.Shutdown()
	wantStatus(t, "/readyz after Shutdown", anon.get("/readyz"), http.StatusServiceUnavailable)
	wantStatus(t, "/livez after Shutdown", anon.get("/livez"), http.StatusOK)
}
