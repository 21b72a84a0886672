package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/audit"
)

// handoffCode is the one-time code on the popup's /embed/done page, "" when
// there is none.
func handoffCode(t *testing.T, popup *client) string {
	t.Helper()
	r := popup.get("/embed/done")
	wantStatus(t, "/embed/done", r, http.StatusOK)
	code, _ := r.Doc().Find("[data-embed-handoff]").Attr("data-embed-handoff")
	return code
}

// signedOutFrame is a browser with a cookie jar of its own (a partitioned
// frame) showing the signed-out embedded card; it has the card's CSRF token.
func signedOutFrame(t *testing.T, p *testPortal, path string) *client {
	t.Helper()
	f := p.newClient()
	r := f.get(path)
	wantStatus(t, "signed-out card", r, http.StatusOK)
	if r.testid("embed-signin").Length() != 1 {
		t.Fatalf("the frame is not signed out:\n%s", truncate(r.Body, 2000))
	}
	f.csrf = f.readCSRF(r) // the signed-out card carries a token of its own session
	return f
}

// redeem posts a code the way app.js does: same-origin fetch, token header.
func (c *client) redeem(code string, opts ...reqOpt) *response {
	c.t.Helper()
	return c.postForm("/embed/handoff", url.Values{"code": {code}}, append([]reqOpt{sameOrigin, c.withToken}, opts...)...)
}

func TestEmbedHandoffMintedOnlyWhenSignedIn(t *testing.T) {
	p := newPortal(t, portalOptions{embedOrigins: []string{"https://intranet.example.com"}})
	anon := p.newClient()
	r := anon.get("/embed/done")
	wantStatus(t, "/embed/done signed out", r, http.StatusOK)
	if strings.Contains(r.Body, "data-embed-handoff") || r.testid("embed-done-failed").Length() != 1 {
		t.Errorf("a signed-out popup got a hand-off code or no failure:\n%s", truncate(r.Body, 2000))
	}
	code := handoffCode(t, p.signIn("alice"))
	if len(code) != 43 {
		t.Fatalf("hand-off code %q: want 32 bytes base64url", code)
	}
	if code2 := handoffCode(t, p.signIn("alice")); code2 == code || code2 == "" {
		t.Errorf("second code %q: want a fresh one", code2)
	}
}

func TestEmbedHandoffSignsFrameIn(t *testing.T) {
	p := newPortal(t, portalOptions{embedOrigins: []string{"https://intranet.example.com"}})
	job := p.jobNamed("Erin's laptop")
	card := "/embed/jobs/" + job.ID
	popup := p.signIn("erin")
	frame := signedOutFrame(t, p, card)
	code := handoffCode(t, popup)

	r := frame.redeem(code)
	wantStatus(t, "redeem", r, http.StatusNoContent)
	if frame.sessionCookie() == nil || frame.sessionCookie().Value == popup.sessionCookie().Value {
		t.Fatal("the frame has no session of its own")
	}
	r = frame.get(card)
	wantStatus(t, "card after the hand-off", r, http.StatusOK)
	if r.testid("job-title").Text() != job.Name || r.testid("embed-signin").Length() != 0 {
		t.Fatalf("the frame is not signed in:\n%s", truncate(r.Body, 2000))
	}
	// The popup's own session is untouched.
	if r := popup.get("/jobs"); r.StatusCode != http.StatusOK {
		t.Errorf("popup after the hand-off: %d", r.StatusCode)
	}

	// Single use: the same code again, from another frame or the same one.
	other := signedOutFrame(t, p, card)
	r = other.redeem(code)
	wantStatus(t, "second redeem", r, http.StatusBadRequest)
	mustContain(t, "second redeem", r.Body, "expired or was already used")
	if r := other.get(card); r.testid("embed-signin").Length() != 1 {
		t.Error("a used code signed a second frame in")
	}

	var in, failed int
	for _, e := range p.auditEntries(audit.Filter{}) {
		switch {
		case e.Kind == audit.KindSignIn && e.Embedded:
			in++
			if e.UserName != "Erin Enduser" {
				t.Errorf("embedded sign-in audited for %q", e.UserName)
			}
		case e.Kind == audit.KindSignInFailed && e.Embedded:
			failed++
		}
	}
	if in != 1 || failed != 1 {
		t.Errorf("audit: %d embedded sign-ins and %d failures, want 1 and 1", in, failed)
	}
}

// The identity comes from the code alone: a frame signed in as someone else,
// sending other fields, ends up as the popup's user.
func TestEmbedHandoffIdentityFromCode(t *testing.T) {
	p := newPortal(t, portalOptions{embedOrigins: []string{"https://intranet.example.com"}})
	code := handoffCode(t, p.signIn("alice"))
	frame := p.signIn("harry") // a jar of its own, signed in as harry
	r := frame.postForm("/embed/handoff", url.Values{"code": {code}, "user": {"harry"}, "sub": {"harry"}}, sameOrigin, frame.withToken)
	wantStatus(t, "redeem", r, http.StatusNoContent)
	r = frame.get("/jobs")
	wantStatus(t, "jobs", r, http.StatusOK)
	if got := r.testid("user-name").Text(); got != "Alice Admin" {
		t.Errorf("the frame is signed in as %q, want Alice Admin", got)
	}
}

func TestEmbedHandoffExpired(t *testing.T) {
	p := newPortal(t, portalOptions{embedOrigins: []string{"https://intranet.example.com"}, handoffTTL: 50 * time.Millisecond})
	code := handoffCode(t, p.signIn("erin"))
	frame := signedOutFrame(t, p, "/embed/my-backups")
	time.Sleep(120 * time.Millisecond)
	wantStatus(t, "expired code", frame.redeem(code), http.StatusBadRequest)
	if r := frame.get("/embed/my-backups"); r.testid("embed-signin").Length() != 1 {
		t.Error("an expired code signed the frame in")
	}
}

// Like every POST: the token of the frame's session and a same-origin request.
// A refused request does not use the code up.
func TestEmbedHandoffCSRF(t *testing.T) {
	p := newPortal(t, portalOptions{embedOrigins: []string{"https://intranet.example.com"}})
	code := handoffCode(t, p.signIn("erin"))
	frame := signedOutFrame(t, p, "/embed/my-backups")
	popupTokenFrame := p.signIn("harry") // a valid token, of another session

	tests := []struct {
		name string
		r    func() *response
	}{
		{"no token", func() *response {
			return frame.postForm("/embed/handoff", url.Values{"code": {code}}, sameOrigin)
		}},
		{"another session's token", func() *response {
			return frame.postForm("/embed/handoff", url.Values{"code": {code}}, sameOrigin, header("X-CSRF-Token", popupTokenFrame.csrf))
		}},
		{"posted by the parent site", func() *response {
			return frame.postForm("/embed/handoff", url.Values{"code": {code}}, frame.withToken,
				header("Origin", "https://intranet.example.com"), header("Sec-Fetch-Site", "cross-site"))
		}},
		{"code in the query, token in a text/plain body", func() *response {
			return frame.do(http.MethodPost, "/embed/handoff?code="+url.QueryEscape(code), strings.NewReader("csrf="+frame.csrf),
				sameOrigin, header("Content-Type", "text/plain"))
		}},
	}
	for _, tt := range tests {
		wantStatus(t, tt.name, tt.r(), http.StatusForbidden)
	}
	// Token in the header, code in the query: the code is read from the body only.
	r := frame.do(http.MethodPost, "/embed/handoff?code="+url.QueryEscape(code), nil, sameOrigin, frame.withToken)
	wantStatus(t, "code in the query", r, http.StatusBadRequest)

	wantStatus(t, "proper redeem", frame.redeem(code), http.StatusNoContent)
}

func TestEmbedHandoffFailuresLimited(t *testing.T) {
	p := newPortal(t, portalOptions{embedOrigins: []string{"https://intranet.example.com"}})
	code := handoffCode(t, p.signIn("erin"))
	frame := signedOutFrame(t, p, "/embed/my-backups")
	bogus := strings.Repeat("A", 43)
	for i := range 10 {
		wantStatus(t, "bogus code "+string(rune('0'+i)), frame.redeem(bogus), http.StatusBadRequest)
	}
	r := frame.redeem(code)
	wantStatus(t, "after ten failures", r, http.StatusTooManyRequests)
	if r := frame.get("/embed/my-backups"); r.testid("embed-signin").Length() != 1 {
		t.Error("a throttled redeem signed the frame in")
	}
}

// Same-site parent: the frame shares the popup's cookies. The redeem is
// accepted and changes nothing (no token renewal racing the session).
func TestEmbedHandoffSameJar(t *testing.T) {
	p := newPortal(t, portalOptions{embedOrigins: []string{"https://intranet.example.com"}})
	c := p.signIn("erin")
	code := handoffCode(t, c)
	before := c.sessionCookie().Value
	wantStatus(t, "redeem in the same jar", c.redeem(code), http.StatusNoContent)
	if c.sessionCookie().Value != before {
		t.Error("the redeem renewed the shared session")
	}
	if r := c.get("/embed/my-backups"); r.testid("embed-mine").Length() != 1 {
		t.Error("the card is not signed in")
	}
	wantStatus(t, "used code", c.redeem(code), http.StatusBadRequest)
}

// The code travels in page bodies and a POST body only: never in a URL, a
// redirect or a log line.
func TestEmbedHandoffCodeNotLogged(t *testing.T) {
	var logs lockedBuffer
	p := newPortal(t, portalOptions{embedOrigins: []string{"https://intranet.example.com"}, logTo: &logs})
	popup := p.signIn("erin")
	frame := signedOutFrame(t, p, "/embed/my-backups")
	r := popup.get("/embed/done")
	code, _ := r.Doc().Find("[data-embed-handoff]").Attr("data-embed-handoff")
	if code == "" {
		t.Fatal("no code")
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			if strings.Contains(v, code) {
				t.Errorf("response header %s carries the code", k)
			}
		}
	}
	wantStatus(t, "redeem", frame.redeem(code), http.StatusNoContent)
	// The sign-in renewed the card's CSRF token; the card reloads and reads it.
	frame.csrf = frame.readCSRF(frame.get("/embed/my-backups"))
	wantStatus(t, "reuse", frame.redeem(code), http.StatusBadRequest)
	frame.get("/embed/my-backups")
	out := logs.String()
	if !strings.Contains(out, "embedded sign-in hand-off refused") || !strings.Contains(out, "/embed/handoff") {
		t.Fatalf("the debug log lacks the hand-off lines; is it captured?\n%s", truncate(out, 3000))
	}
	if strings.Contains(out, code) {
		t.Error("the hand-off code is in the log")
	}
}

// Same-site parent, as a browser does it: the card was rendered signed out
// (its token is the signed-out one), then the popup signs the shared cookie
// jar in, then the card redeems with the token it has. The sign-in renewed
// the session's token, but the hand-off still accepts the card's.
func TestEmbedHandoffSignedOutCardSameJar(t *testing.T) {
	p := newPortal(t, portalOptions{embedOrigins: []string{"https://intranet.example.com"}})
	frame := signedOutFrame(t, p, "/embed/my-backups")
	frame.login("erin", "/embed/done")
	code := handoffCode(t, frame)
	wantStatus(t, "redeem with the signed-out card's token", frame.redeem(code), http.StatusNoContent)
	// Elsewhere the signed-out token is no longer accepted.
	r := frame.postForm("/auth/signout", url.Values{"csrf": {frame.csrf}}, sameOrigin)
	wantStatus(t, "sign-out with the signed-out token", r, http.StatusForbidden)
}
