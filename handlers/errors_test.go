package handlers_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/agentdesk/agentdesk/emclient/emsim"
)

// leaks are strings that would show internals on an error page.
var leaks = []string{"goroutine", ".go:", "panic", "emclient", "jobs:", "dial tcp", "connection refused", "read job", "Service Unavailable</", "urn:veeam"}

// TestBadAndUnknownJobIDs: a malformed id never reaches EM; an unknown one is a
// plain 404.
func TestBadAndUnknownJobIDs(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.signIn("alice")
	tests := []struct {
		path   string
		status int
		em     bool // EM may be asked
	}{
		{"/jobs/not-a-guid", http.StatusBadRequest, false},
		{"/jobs/1234", http.StatusBadRequest, false},
		{"/jobs/..%2F..%2Fapi%2FlogonSessions", http.StatusBadRequest, false},
		{"/jobs/00000000-0000-0000-0000-00000000000g", http.StatusBadRequest, false},
		{"/jobs/not-a-guid/card", http.StatusBadRequest, false},
		{"/jobs/not-a-guid/status", http.StatusBadRequest, false},
		{"/jobs/not-a-guid/confirm/start", http.StatusBadRequest, false},
		{"/jobs/7c9e6679-7425-40de-944b-e07fc1f90ae7", http.StatusNotFound, true},
		{"/jobs/7c9e6679-7425-40de-944b-e07fc1f90ae7/card", http.StatusNotFound, true},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			before := p.emRequests()
			r := c.get(tt.path)
			wantStatus(t, tt.path, r, tt.status)
			mustContain(t, tt.path, r.Body, "<html", `data-testid="error-title"`, `data-testid="error-request-id"`)
			mustNotContain(t, tt.path, r.Body, leaks...)
			if id := r.testid("error-request-id").Text(); id == "" || id != r.Header.Get("X-Request-Id") {
				t.Errorf("request id on the page %q, header %q", id, r.Header.Get("X-Request-Id"))
			}
			if !tt.em && p.emRequests() != before {
				t.Errorf("%s reached EM (%d requests)", tt.path, p.emRequests()-before)
			}
		})
	}
	// POSTing an action to a bad id is refused before EM too.
	before := p.emRequests()
	r := c.postForm("/jobs/not-a-guid/actions/start", nil, sameOrigin, c.withToken)
	wantStatus(t, "POST bad id", r, http.StatusBadRequest)
	if p.emRequests() != before {
		t.Errorf("POST to a bad id reached EM")
	}
}

// TestEMDown: when EM fails, people get a page in plain words, never the error.
func TestEMDown(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.signIn("alice") // warms the list; the job pages below are cold
	fleet := p.sim.Jobs()

	p.sim.SetFaults(emsim.Faults{Status: http.StatusServiceUnavailable})
	r := c.get("/jobs/" + fleet[0].ID)
	wantStatus(t, "job page with EM answering 503", r, http.StatusServiceUnavailable)
	mustContain(t, "503 page", r.Body, "<html")
	wantEMTrouble(t, r)
	mustNotContain(t, "503 page", r.Body, leaks...)

	// The same as an htmx request: the error fragment, aimed at the flash region.
	r = c.get("/jobs/"+fleet[1].ID+"/card", htmx("job-card-"+fleet[1].ID, "/jobs/"+fleet[1].ID))
	wantStatus(t, "htmx card with EM answering 503", r, http.StatusServiceUnavailable)
	mustNotContain(t, "error fragment", r.Body, append([]string{"<html", "<body"}, leaks...)...)
	if r.Doc().Find("[data-error-fragment]").Length() != 1 {
		t.Errorf("no error fragment:\n%s", r.Body)
	}
	if r.Header.Get("HX-Retarget") == "" || r.Header.Get("HX-Reswap") == "" {
		t.Errorf("error fragment without HX-Retarget/HX-Reswap")
	}

	// EM gone altogether.
	p.sim.SetFaults(emsim.Faults{})
	p.emSrv.Close()
	r = c.get("/jobs/" + fleet[2].ID)
	wantStatus(t, "job page with EM closed", r, http.StatusServiceUnavailable)
	wantEMTrouble(t, r)
	mustNotContain(t, "503 page", r.Body, leaks...)
	// An action with EM gone is not sent and says so in words.
	r = c.action(fleet[3].ID, "start")
	if r.StatusCode < 500 {
		t.Errorf("start with EM closed: %d", r.StatusCode)
	}
	mustNotContain(t, "action error", r.Body, leaks...)
}

// TestHTMXErrorFragment: htmx requests get the error as a fragment, never a page.
func TestHTMXErrorFragment(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.signIn("alice")
	for _, path := range []string{"/jobs/7c9e6679-7425-40de-944b-e07fc1f90ae7/card", "/jobs/bad/card", "/no/such/page"} {
		r := c.get(path, htmx("", "/jobs"))
		if r.StatusCode < 400 {
			t.Errorf("%s: %d", path, r.StatusCode)
		}
		mustNotContain(t, path, r.Body, "<html", "<body")
		if r.Doc().Find("[data-error-fragment]").Length() != 1 {
			t.Errorf("%s: no error fragment:\n%s", path, r.Body)
		}
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: Content-Type %q", path, r.Header.Get("Content-Type"))
		}
	}
	// Without htmx the same is a page.
	mustContain(t, "404 page", c.get("/no/such/page").Body, "<html", "Page not found")
}
