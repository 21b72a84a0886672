package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/emclient/emsim"
)

// TestErrorsLandInTheNotificationRegion: an htmx request that fails is aimed
// at #messages, and every page and card has that region (a missing target
// made htmx throw "Invalid re-target" and the person saw nothing).
func TestErrorsLandInTheNotificationRegion(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.signIn("alice")
	erin := p.jobNamed("Erin's laptop")

	r := c.get("/jobs/00000000-0000-0000-0000-000000000000/card", htmx("job-card-x", "/jobs"))
	wantStatus(t, "htmx card of a missing job", r, http.StatusNotFound)
	target := r.Header.Get("HX-Retarget")
	if target != "#messages" || r.Doc().Find("[data-error-fragment]").Length() != 1 {
		t.Fatalf("HX-Retarget %q, want #messages with an error fragment:\n%s", target, r.Body)
	}
	for _, path := range []string{"/jobs", "/jobs/" + erin.ID, "/embed/jobs/" + erin.ID, "/jobs/" + erin.ID + "/confirm/start", "/status"} {
		page := c.get(path)
		wantStatus(t, path, page, http.StatusOK)
		region := page.Doc().Find(target)
		if region.Length() != 1 || region.AttrOr("role", "") != "status" || region.AttrOr("aria-live", "") == "" {
			t.Errorf("%s: no notification region %s with role=status and aria-live", path, target)
		}
	}
}

// TestExpiredSessionLeadsToSignIn: after a sign-out in another tab, pressing
// an action (a POST whose CSRF token died with the session) asks to sign in
// and comes back to the page, instead of a CSRF error; so does a poll.
func TestExpiredSessionLeadsToSignIn(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.signIn("alice")
	erin := p.jobNamed("Erin's laptop")
	wantStatus(t, "job page", c.get("/jobs/"+erin.ID), http.StatusOK)
	wantStatus(t, "sign out (another tab)", c.postForm("/auth/signout", url.Values{"csrf": {c.csrf}}, sameOrigin), http.StatusSeeOther)

	back := "/auth/signin?return_to=" + url.QueryEscape("/jobs/"+erin.ID)
	r := c.action(erin.ID, "start")
	wantStatus(t, "htmx POST after the session ended", r, http.StatusUnauthorized)
	if got := r.Header.Get("HX-Redirect"); got != back {
		t.Errorf("HX-Redirect %q, want %q", got, back)
	}
	r = c.get("/jobs/"+erin.ID+"/card", htmx("job-card-"+erin.ID, "/jobs/"+erin.ID), background)
	wantStatus(t, "poll after the session ended", r, http.StatusUnauthorized)
	if got := r.Header.Get("HX-Redirect"); got != back {
		t.Errorf("poll: HX-Redirect %q, want %q", got, back)
	}
	// Without JavaScript: the sign-in page, returning to the form's page.
	r = c.postForm("/jobs/"+erin.ID+"/actions/start", url.Values{"csrf": {c.csrf}}, sameOrigin,
		header("Referer", c.abs("/jobs/"+erin.ID+"/confirm/start")))
	wantStatus(t, "plain POST after the session ended", r, http.StatusUnauthorized)
	if r.testid("signin").Length() != 1 || !strings.Contains(r.testid("signin-message").Text(), "session has ended") {
		t.Errorf("plain POST: no sign-in page with a message:\n%s", truncate(r.Body, 3000))
	}
	if v, _ := r.Doc().Find(`[data-testid="signin-form"] input[name="return_to"]`).Attr("value"); v != "/jobs/"+erin.ID+"/confirm/start" {
		t.Errorf("plain POST: return_to %q", v)
	}
	if n := p.actionCount(erin.ID, "start"); n != 0 {
		t.Errorf("EM got %d start calls from a signed-out session", n)
	}
}

// TestActionPastTheDeadlineHasABody: EM takes the action and never answers.
// The answer comes at the request deadline with the status fragment (it was
// rendered with the expired request context: 200 and nothing), saying the
// action may still happen, and the following goes on in the background.
func TestActionPastTheDeadlineHasABody(t *testing.T) {
	t.Parallel()
	p := newPortal(t, portalOptions{requestTimeout: 3 * time.Second, emTimeout: time.Hour})
	c := p.signIn("alice")
	erin := p.jobNamed("Erin's laptop")
	wantStatus(t, "job page", c.get("/jobs/"+erin.ID), http.StatusOK)

	p.sim.SetFaults(emsim.Faults{BlackHole: true, Methods: []string{http.MethodPost}, Paths: []string{"/agents/jobs/" + erin.ID}})
	r := c.action(erin.ID, "start")
	wantStatus(t, "start with EM silent", r, http.StatusOK)
	if st := r.testid("action-status").AttrOr("data-state", ""); st != "unknown" {
		t.Fatalf("state %q, want unknown:\n%s", st, r.Body)
	}
	mustContain(t, "timed-out action", r.testid("status-message").Text(), "answer was lost or did not come in time", "may still happen")
	p.sim.SetFaults(emsim.Faults{})
	r = c.get("/jobs/"+erin.ID+"/status", htmx("status-"+erin.ID, "/jobs/"+erin.ID), background)
	if st := r.testid("action-status").AttrOr("data-state", ""); st != "unknown" {
		t.Errorf("poll after the timeout: state %q, want unknown (still checking)", st)
	}
}

// TestCardPollsWhileActionInProgress: right after Start, before EM confirms,
// the card refreshes itself (it used to poll only once EM said "running",
// and kept showing Start for the whole run), and a settled card does not.
func TestCardPollsWhileActionInProgress(t *testing.T) {
	t.Parallel()
	p := newPortal(t, portalOptions{sessionSpeed: 60 * time.Second})
	c := p.signIn("alice")
	erin := p.jobNamed("Erin's laptop")
	if c.get("/jobs/"+erin.ID).testid("card-poller").Length() != 0 {
		t.Fatal("a settled card polls")
	}
	wantStatus(t, "start", c.action(erin.ID, "start"), http.StatusOK)
	card := c.get("/jobs/"+erin.ID+"/card", htmx("job-card-"+erin.ID, "/jobs/"+erin.ID), background)
	if !strings.Contains(card.testid("card-poller").AttrOr("hx-trigger", ""), "every") {
		t.Errorf("the card does not poll while the start is in progress:\n%s", truncate(card.Body, 3000))
	}
	row := c.get("/jobs/"+erin.ID+"/row", htmx("job-row-"+erin.ID, "/jobs"), background)
	if row.testid("row-poller").AttrOr("hx-get", "") != "/jobs/"+erin.ID+"/row" {
		t.Errorf("the list row does not poll while the start is in progress:\n%s", truncate(row.Body, 3000))
	}
}

// TestBackToConfirmationOfDoneAction: without JavaScript, Back leads to the
// confirmation of an action already done; it says so (and how it went)
// instead of offering it as if nothing happened.
func TestBackToConfirmationOfDoneAction(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.signIn("alice")
	erin := p.jobNamed("Erin's laptop")
	if r := c.get("/jobs/" + erin.ID + "/confirm/start"); r.testid("confirm-already").Length() != 0 {
		t.Fatalf("a fresh confirmation says the action was already sent:\n%s", truncate(r.Body, 3000))
	}
	wantStatus(t, "start", c.action(erin.ID, "start"), http.StatusOK)
	c.waitAction(erin.ID)
	r := c.get("/jobs/" + erin.ID + "/confirm/start")
	wantStatus(t, "confirmation after the start", r, http.StatusOK)
	mustContain(t, "confirmation after the start", r.testid("confirm-already").Text(),
		"Start was already sent by Alice Admin at", "Backup finished", "Confirm only if it should be done again.")
}

// TestViewRefreshedAfterActionKeepsWatching: the refresh app.js sends right
// after an action (X-Action-Sent) may reach a replica that has not read the
// new run yet; the view then polls once more instead of settling.
func TestViewRefreshedAfterActionKeepsWatching(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.signIn("alice")
	erin := p.jobNamed("Erin's laptop")
	row := c.get("/jobs/"+erin.ID+"/row", htmx("job-row-"+erin.ID, "/jobs"), background)
	if row.testid("row-poller").Length() != 0 {
		t.Fatal("a settled row polls")
	}
	row = c.get("/jobs/"+erin.ID+"/row", htmx("job-row-"+erin.ID, "/jobs"), background, header("X-Action-Sent", "1"))
	if !strings.Contains(row.testid("row-poller").AttrOr("hx-trigger", ""), "every 1s") {
		t.Errorf("the row refreshed after an action does not look again:\n%s", truncate(row.Body, 3000))
	}
}

// TestViewKeepsWatchingForSecondAction: a second action on a job whose
// first one ended moments ago (its outcome still shown) must not be hidden
// by it: the view refreshed after the new action was sent keeps watching
// until the replica reads the new run. (The browser suite saw the job page
// settle on the old run, never offering Stop for the new backup.)
func TestViewKeepsWatchingForSecondAction(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.signIn("alice")
	erin := p.jobNamed("Erin's laptop")
	wantStatus(t, "start", c.action(erin.ID, "start"), http.StatusOK)
	c.waitAction(erin.ID)
	card := c.get("/jobs/"+erin.ID+"/card", htmx("job-card-"+erin.ID, "/jobs/"+erin.ID), background)
	if card.testid("card-poller").Length() != 0 {
		t.Fatalf("the card polls once the first action has ended:\n%s", truncate(card.Body, 3000))
	}
	card = c.get("/jobs/"+erin.ID+"/card", htmx("job-card-"+erin.ID, "/jobs/"+erin.ID), background, header("X-Action-Sent", "1"))
	if !strings.Contains(card.testid("card-poller").AttrOr("hx-trigger", ""), "every 1s") {
		t.Errorf("the card refreshed after a second action settles on the first one:\n%s", truncate(card.Body, 3000))
	}
	row := c.get("/jobs/"+erin.ID+"/row", htmx("job-row-"+erin.ID, "/jobs"), background, header("X-Action-Sent", "1"))
	if !strings.Contains(row.testid("row-poller").AttrOr("hx-trigger", ""), "every 1s") {
		t.Errorf("the row refreshed after a second action settles on the first one:\n%s", truncate(row.Body, 3000))
	}
}

// TestEmbeddedMineListPollsWhileLive: the embedded "My backups" list is a view
// of its jobs like any other: it refreshes itself (the whole list, the page
// selecting its own section) while one of them has an action in progress, and
// not once all have settled.
func TestEmbeddedMineListPollsWhileLive(t *testing.T) {
	t.Parallel()
	p := newPortal(t, portalOptions{sessionSpeed: 60 * time.Second})
	erin := p.signIn("erin")
	job := p.jobNamed("Erin's laptop")
	r := erin.get("/embed/my-backups")
	wantStatus(t, "embedded list", r, http.StatusOK)
	if r.Doc().Find(`[data-testid="embed-mine-row"][data-job-id="`+job.ID+`"]`).Length() != 1 {
		t.Fatalf("Erin's job is not in her embedded list:\n%s", truncate(r.Body, 3000))
	}
	if r.testid("embed-mine-poller").Length() != 0 {
		t.Fatal("a settled embedded list polls")
	}
	alice := p.signIn("alice")
	wantStatus(t, "start", alice.action(job.ID, "start"), http.StatusOK)
	r = erin.get("/embed/my-backups")
	poller := r.testid("embed-mine-poller")
	if poller.AttrOr("hx-get", "") != "/embed/my-backups" || poller.AttrOr("hx-select", "") != "#embed-mine" ||
		!strings.Contains(poller.AttrOr("hx-trigger", ""), "every") {
		t.Errorf("the embedded list does not refresh itself while a start is in progress:\n%s", truncate(r.Body, 3000))
	}
}
