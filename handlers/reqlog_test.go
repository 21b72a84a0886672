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
