package handlers_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestCSRF: an action POST needs the session's token AND a same-origin browser
// context; each request below lacks exactly one of them.
func TestCSRF(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.signIn("alice")
	job := p.jobNamed("Erin's laptop")
	path := "/jobs/" + job.ID + "/actions/start"
	hx := htmx("status-"+job.ID, "/jobs/"+job.ID)
	form := func(v url.Values) *strings.Reader { return strings.NewReader(v.Encode()) }
	urlencoded := header("Content-Type", "application/x-www-form-urlencoded")

	tests := []struct {
		name string
		send func() *response
	}{
		{"no token", func() *response {
			return c.do(http.MethodPost, path, form(url.Values{}), urlencoded, sameOrigin, hx)
		}},
		{"wrong token in header", func() *response {
			return c.do(http.MethodPost, path, form(url.Values{}), urlencoded, sameOrigin, hx, header("X-CSRF-Token", c.csrf+"x"))
		}},
		{"wrong token in form", func() *response {
			return c.do(http.MethodPost, path, form(url.Values{"csrf": {"AAAA" + c.csrf[4:]}}), urlencoded, sameOrigin)
		}},
		{"another session's token", func() *response {
			other := p.signIn("alice")
			return c.do(http.MethodPost, path, form(url.Values{}), urlencoded, sameOrigin, hx, header("X-CSRF-Token", other.csrf))
		}},
		{"cross-site with the right token", func() *response {
			return c.do(http.MethodPost, path, form(url.Values{"csrf": {c.csrf}}), urlencoded, c.withToken, hx,
				header("Origin", "https://evil.example"), header("Sec-Fetch-Site", "cross-site"))
		}},
		{"cross-origin Origin without fetch metadata", func() *response {
			return c.do(http.MethodPost, path, form(url.Values{"csrf": {c.csrf}}), urlencoded, c.withToken,
				header("Origin", "https://evil.example"))
		}},
		{"same-site sibling subdomain", func() *response {
			return c.do(http.MethodPost, path, form(url.Values{"csrf": {c.csrf}}), urlencoded, c.withToken, hx,
				header("Origin", "https://other.corp.example"), header("Sec-Fetch-Site", "same-site"))
		}},
		{"text/plain body with the token", func() *response {
			return c.do(http.MethodPost, path, strings.NewReader("csrf="+c.csrf), header("Content-Type", "text/plain"), sameOrigin)
		}},
		{"token in the query string", func() *response {
			return c.do(http.MethodPost, path+"?csrf="+url.QueryEscape(c.csrf), nil, sameOrigin)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := p.actionCalls()
			r := tt.send()
			wantStatus(t, tt.name, r, http.StatusForbidden)
			if p.actionCalls() != before {
				t.Errorf("%s reached EM", tt.name)
			}
		})
	}
	// The legitimate request passes, both ways a browser sends it.
	r := c.action(job.ID, "start")
	wantStatus(t, "htmx POST with token", r, http.StatusOK)
	c.waitAction(job.ID)
	r = c.do(http.MethodPost, path, form(url.Values{"csrf": {c.csrf}}), urlencoded, sameOrigin)
	wantStatus(t, "form POST with token", r, http.StatusSeeOther)
	c.waitAction(job.ID)
	if n := p.actionCount(job.ID, "start"); n != 2 {
		t.Errorf("legitimate POSTs made %d EM calls, want 2", n)
	}
}

// TestCSRFTokenMaskedPerPage: pages are compressed and reflect what the user
// typed, so the session's secret must never appear twice the same (BREACH).
// Each page carries its own masking of it; every one of them is accepted, and
// a forged one is not.
func TestCSRFTokenMaskedPerPage(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.signIn("alice")
	first := c.get("/jobs?q=erin")
	second := c.get("/jobs?q=erin")
	t1, t2 := c.readCSRF(first), c.readCSRF(second)
	if t1 == t2 {
		t.Fatalf("two pages carry the same token %q", t1)
	}
	// Unmasked, both are the same secret, which neither page shows.
	s := csrfSecret(t, t1)
	if csrfSecret(t, t2) != s {
		t.Fatal("the two tokens unmask to different secrets")
	}
	for _, page := range []*response{first, second} {
		if strings.Contains(page.Body, s) {
			t.Error("a page shows the bare secret")
		}
	}

	erin := p.jobNamed("Erin's laptop")
	form := func(v url.Values) *strings.Reader { return strings.NewReader(v.Encode()) }
	urlencoded := header("Content-Type", "application/x-www-form-urlencoded")
	// The first page's token in htmx's header, the second's in a form field.
	c.csrf = t1
	wantStatus(t, "first page's token", c.action(erin.ID, "start"), http.StatusOK)
	c.waitAction(erin.ID)
	r := c.do(http.MethodPost, "/jobs/"+erin.ID+"/actions/start", form(url.Values{"csrf": {t2}}), urlencoded, sameOrigin)
	wantStatus(t, "second page's token", r, http.StatusSeeOther)
	c.waitAction(erin.ID)

	forged := base64.RawURLEncoding.EncodeToString(make([]byte, len(t1)*3/4))
	before := p.actionCalls()
	r = c.do(http.MethodPost, "/jobs/"+erin.ID+"/actions/start", form(url.Values{"csrf": {forged}}), urlencoded, sameOrigin)
	wantStatus(t, "forged token", r, http.StatusForbidden)
	if p.actionCalls() != before {
		t.Error("a forged token reached EM")
	}
}

// csrfSecret unmasks a page's CSRF token: base64(pad ‖ pad⊕secret).
func csrfSecret(t *testing.T, tok string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) == 0 || len(b)%2 != 0 {
		t.Fatalf("token %q is not a masked token: %v", tok, err)
	}
	pad, masked := b[:len(b)/2], b[len(b)/2:]
	for i := range masked {
		masked[i] ^= pad[i]
	}
	return string(masked)
}
