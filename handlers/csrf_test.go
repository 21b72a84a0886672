package handlers_test

import (
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
