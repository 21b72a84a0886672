package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestHTMXRequestKinds: an htmx swap gets the fragment; a plain request, a
// boosted link and a history restore get the whole page; every answer names
// the request headers that chose between them (Vary).
func TestHTMXRequestKinds(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.signIn("alice")
	for _, tc := range []struct {
		name string
		opts []reqOpt
		page bool
	}{
		{name: "plain", page: true},
		{name: "swap", opts: []reqOpt{htmx("job-table", "/jobs")}},
		{name: "background swap", opts: []reqOpt{htmx("job-table", "/jobs"), background}},
		{name: "boosted", opts: []reqOpt{htmx("", "/jobs"), header("HX-Boosted", "true")}, page: true},
		{name: "history restore", opts: []reqOpt{htmx("", "/jobs"), header("HX-History-Restore-Request", "true")}, page: true},
		{name: "HX-Request other than true", opts: []reqOpt{header("HX-Request", "1")}, page: true},
	} {
		r := c.get("/jobs", tc.opts...)
		wantStatus(t, tc.name, r, http.StatusOK)
		if page := strings.Contains(r.Body, "<html"); page != tc.page {
			t.Errorf("%s: whole page %t, want %t", tc.name, page, tc.page)
		}
		if r.testid("job-table").Length() != 1 {
			t.Errorf("%s: no job table", tc.name)
		}
		// Only a swap changes the address bar.
		if push := r.Header.Get("HX-Push-Url"); (push != "") == tc.page {
			t.Errorf("%s: HX-Push-Url %q", tc.name, push)
		}
		vary := strings.Join(r.Header.Values("Vary"), ",")
		for _, h := range []string{"HX-Request", "HX-Boosted", "HX-History-Restore-Request", "HX-Target"} {
			if !strings.Contains(vary, h) {
				t.Errorf("%s: Vary %q lacks %s", tc.name, vary, h)
			}
		}
	}
}

// TestSignedOutHTMXReturnsToItsPage: a signed-out htmx request (a swap or a
// boosted link) gets 401 and HX-Redirect to the sign-in, which returns to the
// page the request came from (HX-Current-URL), or to the request's own
// address when that header is absent or not a URL.
func TestSignedOutHTMXReturnsToItsPage(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.newClient()
	id := p.jobNamed("Erin's laptop").ID
	card := "/jobs/" + id + "/card"
	signIn := func(returnTo string) string { return "/auth/signin?return_to=" + url.QueryEscape(returnTo) }
	for _, tc := range []struct {
		name string
		opts []reqOpt
		want string
	}{
		{name: "swap", opts: []reqOpt{htmx("job-card-"+id, "/jobs/"+id+"?spage=2")}, want: signIn("/jobs/" + id + "?spage=2")},
		{name: "boosted", opts: []reqOpt{htmx("", "/jobs"), header("HX-Boosted", "true")}, want: signIn("/jobs")},
		{name: "no HX-Current-URL", opts: []reqOpt{htmx("job-card-"+id, "")}, want: signIn(card)},
		{name: "malformed HX-Current-URL", opts: []reqOpt{htmx("job-card-"+id, ""), header("HX-Current-URL", "http://[::1%zz]/jobs")}, want: signIn(card)},
	} {
		r := c.get(card, tc.opts...)
		wantStatus(t, tc.name, r, http.StatusUnauthorized)
		if got := r.Header.Get("HX-Redirect"); got != tc.want {
			t.Errorf("%s: HX-Redirect %q, want %q", tc.name, got, tc.want)
		}
	}
	// Without htmx: a plain redirect, no HX-Redirect.
	r := c.get(card, header("HX-Current-URL", "http://"+strings.TrimPrefix(p.URL, "http://")+"/jobs"))
	wantStatus(t, "plain", r, http.StatusSeeOther)
	if r.Header.Get("HX-Redirect") != "" || r.Header.Get("Location") != signIn(card) {
		t.Errorf("plain: HX-Redirect %q, Location %q", r.Header.Get("HX-Redirect"), r.Header.Get("Location"))
	}
}
