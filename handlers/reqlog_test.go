package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestLogLinesCarryRequestAndUser: a line a handler logs while serving a
// signed-in user's request names the request (the id its answer carries, the
// one an error page shows) and the user, once each.
func TestLogLinesCarryRequestAndUser(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	p := newPortal(t, portalOptions{logTo: &logs})
	c := p.signIn("alice")
	r := c.postForm("/auth/signout", url.Values{"csrf": {c.csrf}}, sameOrigin)
	wantStatus(t, "sign out", r, http.StatusSeeOther)
	id := r.Header.Get("X-Request-Id")
	if id == "" {
		t.Fatal("no X-Request-Id")
	}
	var line string
	for l := range strings.Lines(logs.String()) {
		if strings.Contains(l, `msg="signed out"`) {
			line = l
		}
	}
	if line == "" {
		t.Fatalf("no sign-out line in\n%s", logs.String())
	}
	if strings.Count(line, "request_id=") != 1 || !strings.Contains(line, "request_id="+id) {
		t.Errorf("sign-out line %q does not name request %s once", line, id)
	}
	if strings.Count(line, "user=") != 1 || !strings.Contains(line, "user=") {
		t.Errorf("sign-out line %q does not name the user once", line)
	}
}

// TestAccessLineNamesUser: the access line of a signed-in request names its
// request id and the user (by the key loadUser made), with the same user a
// handler's line of the same request names; a signed-out request's names
// nobody.
func TestAccessLineNamesUser(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	p := newPortal(t, portalOptions{logTo: &logs})
	c := p.signIn("alice")
	r := c.postForm("/auth/signout", url.Values{"csrf": {c.csrf}}, sameOrigin)
	wantStatus(t, "sign out", r, http.StatusSeeOther)
	id := r.Header.Get("X-Request-Id")
	field := func(line, key string) string {
		_, v, ok := strings.Cut(line, " "+key+"=")
		if !ok {
			return ""
		}
		v, _, _ = strings.Cut(strings.TrimSpace(v), " ")
		return v
	}
	var access, signedOut string
	for l := range strings.Lines(logs.String()) {
		if field(l, "request_id") != id {
			continue
		}
		switch {
		case strings.Contains(l, "msg=request "):
			access = l
		case strings.Contains(l, `msg="signed out"`):
			signedOut = l
		}
	}
	if access == "" || signedOut == "" {
		t.Fatalf("no access or sign-out line of request %s in\n%s", id, logs.String())
	}
	if u := field(access, "user"); u == "" || u != field(signedOut, "user") || !strings.Contains(u, "|") {
		t.Errorf("access line names user %q, the handler's line %q", u, field(signedOut, "user"))
	}
	anon := p.newClient().get("/auth/signin")
	for l := range strings.Lines(logs.String()) {
		if field(l, "request_id") == anon.Header.Get("X-Request-Id") && strings.Contains(l, "msg=request ") && strings.Contains(l, " user=") {
			t.Errorf("signed-out request's access line names a user: %q", l)
		}
	}
}
