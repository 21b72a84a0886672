package handlers_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/emclient/emsim"
	"github.com/agentdesk/agentdesk/jobs"
	"github.com/agentdesk/agentdesk/views"
)

// rowWith returns the first list row (as the admin sees it) for which keep holds.
func rowWith(t *testing.T, c *client, query string, keep func(listRow) bool) listRow {
	t.Helper()
	for _, r := range listRows(t, c.get("/jobs?size=100&"+query)) {
		if keep(r) {
			return r
		}
	}
	t.Fatalf("no job in /jobs?%s fits", query)
	return listRow{}
}

func offers(action string) func(listRow) bool {
	return func(r listRow) bool { return slices.Contains(r.actions, action) }
}

func stateOf(r *response) string {
	return r.testid("action-status").AttrOr("data-state", "")
}

// TestConfirm: the confirmation exists as a page (no JavaScript) and as the
// htmx panel, and only for actions that make sense now.
func TestConfirm(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.signIn("alice")
	erin := p.jobNamed("Erin's laptop")
	before := p.actionCalls()

	page := c.get("/jobs/" + erin.ID + "/confirm/start")
	wantStatus(t, "confirm page", page, http.StatusOK)
	mustContain(t, "confirm page", page.Body, "<html")
	form := page.testid("confirm-form")
	if a, _ := form.Attr("action"); a != "/jobs/"+erin.ID+"/actions/start" {
		t.Errorf("confirm form posts to %q", a)
	}
	if m, _ := form.Attr("method"); m != "post" {
		t.Errorf("confirm form method %q", m)
	}
	if v := form.Find(`input[name="csrf"]`).AttrOr("value", ""); v == c.csrf || csrfSecret(t, v) != csrfSecret(t, c.csrf) {
		t.Errorf("confirm form token %q, want the session's, masked anew", v)
	}
	if txt := page.testid("confirm-text").Text(); !strings.Contains(txt, "erin-laptop.corp.example") {
		t.Errorf("confirm text %q does not say which computer", txt)
	}

	panel := c.get("/jobs/"+erin.ID+"/confirm/start", htmx("confirm-"+erin.ID, "/jobs/"+erin.ID))
	wantStatus(t, "confirm panel", panel, http.StatusOK)
	mustNotContain(t, "confirm panel", panel.Body, "<html", "<body")
	if panel.testid("confirm-panel").Length() != 1 {
		t.Fatalf("no confirm panel:\n%s", panel.Body)
	}
	if hx, _ := panel.testid("confirm-form").Attr("hx-post"); hx != "/jobs/"+erin.ID+"/actions/start" {
		t.Errorf("panel hx-post %q", hx)
	}

	disable := c.get("/jobs/"+erin.ID+"/confirm/disable", htmx("confirm-"+erin.ID, "/jobs/"+erin.ID))
	wantStatus(t, "confirm disable", disable, http.StatusOK)
	if v := disable.Doc().Find(`input[name="desired"]`).AttrOr("value", ""); v != "disabled" {
		t.Errorf("disable confirmation carries desired=%q", v)
	}

	// Nothing to stop, retry after a success, enable what is enabled: refused.
	for _, a := range []string{"stop", "retry", "enable"} {
		r := c.get("/jobs/" + erin.ID + "/confirm/" + a)
		wantStatus(t, "confirm "+a, r, http.StatusConflict)
	}
	wantStatus(t, "confirm unknown action", c.get("/jobs/"+erin.ID+"/confirm/delete"), http.StatusNotFound)
	if p.actionCalls() != before {
		t.Errorf("confirmations called EM")
	}
}

// TestStartAndFollow: a start is sent once, and its status is followed to the end.
func TestStartAndFollow(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.signIn("alice")
	erin := p.jobNamed("Erin's laptop")

	r := c.action(erin.ID, "start")
	wantStatus(t, "POST start", r, http.StatusOK)
	mustNotContain(t, "status fragment", r.Body, "<html")
	if st := stateOf(r); st != views.StateRunning {
		t.Fatalf("status after POST = %q, want running:\n%s", st, r.Body)
	}
	if poll, _ := r.testid("action-status").Attr("hx-get"); poll != "/jobs/"+erin.ID+"/status" {
		t.Errorf("status polls %q", poll)
	}
	// The open confirmation is cleared out of band.
	mustContain(t, "status fragment", r.Body, `id="confirm-`+erin.ID+`"`, `hx-swap-oob="true"`)

	final := c.waitAction(erin.ID)
	if st := stateOf(final); st != views.StateFinished && st != views.StateFailed {
		t.Fatalf("final state %q:\n%s", st, final.Body)
	}
	// When done, the fragment makes the page reload the job card.
	if u, _ := final.testid("refresh-loader").Attr("hx-get"); u != "/jobs/"+erin.ID+"/card" {
		t.Errorf("finished status reloads %q", u)
	}
	if n := p.actionCount(erin.ID, "start"); n != 1 {
		t.Errorf("EM got %d start calls, want 1", n)
	}
	// The job's history now begins with the session this start created.
	page := c.get("/jobs/" + erin.ID)
	if first := page.testid("session-row").First(); first.Find(`[data-testid="session-start"] time`).Length() == 0 {
		t.Errorf("no session start time on the job page")
	}
}

// TestNoScriptActionPost: the confirmation form works without htmx: POST with
// the token in the form, then a redirect to the job page.
func TestNoScriptActionPost(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.signIn("alice")
	erin := p.jobNamed("Erin's laptop")
	form := url.Values{"csrf": {c.csrf}}
	r := c.postForm("/jobs/"+erin.ID+"/actions/start", form, sameOrigin)
	wantStatus(t, "POST start without htmx", r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/jobs/"+erin.ID {
		t.Errorf("redirect to %q", loc)
	}
	c.waitAction(erin.ID)
	if n := p.actionCount(erin.ID, "start"); n != 1 {
		t.Errorf("EM got %d start calls, want 1", n)
	}
}

// TestDoubleClickStart: two starts at once send one EM call; the other person
// hears who is already doing it.
func TestDoubleClickStart(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.signIn("alice")
	erin := p.jobNamed("Erin's laptop")
	c.get("/jobs/" + erin.ID) // warm the job: both POSTs race for the lock, not for EM reads
	// EM answers this job slowly, so the first start holds the lock while the
	// second arrives; this widens the race window, it asserts no timing.
	p.sim.SetFaults(emsim.Faults{Latency: 300 * time.Millisecond, Paths: []string{"/agents/jobs/" + erin.ID}})

	var wg sync.WaitGroup
	answers := make([]*response, 2)
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = c.action(erin.ID, "start")
		}()
	}
	wg.Wait()
	p.sim.SetFaults(emsim.Faults{})

	var ok, refused *response
	for _, a := range answers {
		switch a.StatusCode {
		case http.StatusOK:
			ok = a
		case http.StatusConflict:
			refused = a
		default:
			t.Fatalf("unexpected answer %d:\n%s", a.StatusCode, a.Body)
		}
	}
	if ok == nil || refused == nil {
		t.Fatalf("want one 200 and one 409, got %d and %d", answers[0].StatusCode, answers[1].StatusCode)
	}
	if st := stateOf(refused); st != views.StateRefused {
		t.Errorf("refused answer state %q", st)
	}
	if msg := refused.testid("status-message").Text(); !strings.Contains(msg, "Already being done by Alice") {
		t.Errorf("refused answer says %q", msg)
	}
	c.waitAction(erin.ID)
	if n := p.actionCount(erin.ID, "start"); n != 1 {
		t.Errorf("EM got %d start calls, want exactly 1", n)
	}
}

// TestStartWhileRunning: a second start after EM accepted the first (lock
// released, backup still running) is refused without calling EM.
func TestStartWhileRunning(t *testing.T) {
	t.Parallel()
	locker := &signalLocker{MemoryLocker: jobs.NewMemoryLocker(nil), unlocked: make(chan struct{}, 1)}
	p := newPortal(t, portalOptions{sessionSpeed: 20 * time.Second, locker: locker})
	c := p.signIn("alice")
	erin := p.jobNamed("Erin's laptop")
	wantStatus(t, "first start", c.action(erin.ID, "start"), http.StatusOK)
	// The lock is released once EM's task finishes, and the backup is still
	// running then (for 20 s).
	select {
	case <-locker.unlocked:
	case <-time.After(time.Minute): // only against a hang
		t.Fatal("the job lock was not released after EM's task finished")
	}
	r := c.action(erin.ID, "start")
	wantStatus(t, "second start", r, http.StatusConflict)
	mustNotContain(t, "second start", r.testid("status-message").Text(), "Already being done")
	if n := p.actionCount(erin.ID, "start"); n != 1 {
		t.Errorf("EM got %d start calls, want 1", n)
	}
	// The first start's progress is still what viewers see.
	if st := c.get("/jobs/"+erin.ID+"/status", htmx("status-"+erin.ID, "/jobs/"+erin.ID), background); stateOf(st) != views.StateRunning {
		t.Errorf("status after the refused second start: %q\n%s", stateOf(st), st.Body)
	}
}

// TestScheduleToggle: disable and enable set EM's state; asking for the state
// the schedule already has is refused without an EM call.
func TestScheduleToggle(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.signIn("alice")
	job := rowWith(t, c, "schedule=enabled", offers("disable"))
	if st, _ := p.sim.JobState(job.id); !st.ScheduleEnabled {
		t.Fatalf("%q is not enabled in EM", job.name)
	}

	wantStatus(t, "disable", c.action(job.id, "disable"), http.StatusOK)
	final := c.waitAction(job.id)
	if st := stateOf(final); st != views.StateFinished {
		t.Fatalf("disable ended %q:\n%s", st, final.Body)
	}
	if st, _ := p.sim.JobState(job.id); st.ScheduleEnabled {
		t.Fatalf("EM still has the schedule of %q enabled", job.name)
	}
	toggles := p.actionCount(job.id, "toggleScheduleEnabled")
	if toggles != 1 {
		t.Fatalf("EM got %d toggles, want 1", toggles)
	}

	// Disable again: refused, nothing sent, EM still disabled.
	r := c.action(job.id, "disable")
	wantStatus(t, "disable again", r, http.StatusConflict)
	if msg := r.testid("status-message").Text(); !strings.Contains(msg, "already disabled") {
		t.Errorf("second disable says %q", msg)
	}
	if n := p.actionCount(job.id, "toggleScheduleEnabled"); n != toggles {
		t.Errorf("second disable reached EM")
	}
	if st, _ := p.sim.JobState(job.id); st.ScheduleEnabled {
		t.Errorf("a refused disable toggled the schedule back on")
	}
	// The page now offers enable instead of disable.
	card := c.get("/jobs/"+job.id+"/card", htmx("job-card-"+job.id, "/jobs/"+job.id))
	if card.Doc().Find(`[data-action="disable"]`).Length() != 0 || card.Doc().Find(`[data-action="enable"]`).Length() != 1 {
		t.Errorf("after disabling, the card offers: %s", card.testid("actions").Text())
	}
	// A desired state that contradicts the action is refused.
	r = c.postForm("/jobs/"+job.id+"/actions/enable", url.Values{"desired": {"disabled"}}, sameOrigin, c.withToken, htmx("status-"+job.id, "/jobs/"+job.id))
	wantStatus(t, "enable with desired=disabled", r, http.StatusBadRequest)

	// A job without a schedule is never toggled, whatever is posted.
	unscheduled := rowWith(t, c, "", func(r listRow) bool { return r.schedule == "Not scheduled" })
	for _, a := range []string{"enable", "disable"} {
		r := c.action(unscheduled.id, a)
		wantStatus(t, a+" "+unscheduled.name, r, http.StatusConflict)
		if msg := r.testid("status-message").Text(); !strings.Contains(msg, "no schedule") {
			t.Errorf("%s on a job without schedule says %q", a, msg)
		}
	}
	if n := p.actionCount(unscheduled.id, "toggleScheduleEnabled"); n != 0 {
		t.Errorf("a job without a schedule was toggled %d times", n)
	}

	wantStatus(t, "enable", c.action(job.id, "enable"), http.StatusOK)
	c.waitAction(job.id)
	if st, _ := p.sim.JobState(job.id); !st.ScheduleEnabled {
		t.Errorf("enable did not enable the schedule in EM")
	}
	if n := p.actionCount(job.id, "toggleScheduleEnabled"); n != 2 {
		t.Errorf("EM got %d toggles, want 2", n)
	}
}

// TestStopOnlyWhileRunning: stop is refused for an idle job and works on a
// running one.
func TestStopOnlyWhileRunning(t *testing.T) {
	t.Parallel()
	p := newPortal(t, portalOptions{sessionSpeed: 20 * time.Second})
	c := p.signIn("alice")
	erin := p.jobNamed("Erin's laptop")

	if c.get("/jobs/"+erin.ID).Doc().Find(`[data-action="stop"]`).Length() != 0 {
		t.Errorf("idle job offers stop")
	}
	r := c.action(erin.ID, "stop")
	wantStatus(t, "stop idle job", r, http.StatusConflict)
	if p.actionCount(erin.ID, "stop") != 0 {
		t.Fatalf("stop of an idle job reached EM")
	}

	wantStatus(t, "start", c.action(erin.ID, "start"), http.StatusOK)
	// Wait until the card shows the job running and offers stop.
	running := false
	for range 200 {
		card := c.get("/jobs/"+erin.ID+"/card", htmx("job-card-"+erin.ID, "/jobs/"+erin.ID), background)
		if card.testid("job-running").Length() == 1 && card.Doc().Find(`[data-action="stop"]`).Length() == 1 {
			running = true
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if !running {
		t.Fatal("the started job never showed as running with a stop button")
	}
	r = c.action(erin.ID, "stop")
	wantStatus(t, "stop running job", r, http.StatusOK)
	final := c.waitAction(erin.ID)
	if st := stateOf(final); st != views.StateFinished {
		t.Errorf("stop ended %q:\n%s", st, final.Body)
	}
	if n := p.actionCount(erin.ID, "stop"); n != 1 {
		t.Errorf("EM got %d stop calls, want 1", n)
	}
}

// TestRetryOnlyAfterFailure: retry works on a job whose last run failed and
// is refused after a success without an EM call. Whether EM lets an agent
// policy be retried is EM's to say (no kind is stated): its refusal reaches
// the user in EM's own words, whether EM refuses with a failed task or with an
// HTTP error.
func TestRetryOnlyAfterFailure(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.signIn("alice")
	failed := rowWith(t, c, "result=Failed", func(r listRow) bool { return !p.isPolicy(r.id) && offers("retry")(r) })
	failedPolicy := rowWith(t, c, "result=Failed", func(r listRow) bool { return p.isPolicy(r.id) && offers("retry")(r) })
	succeeded := rowWith(t, c, "result=Success", func(r listRow) bool { return !p.isPolicy(r.id) })
	if offers("retry")(succeeded) {
		t.Errorf("retry offered after a success")
	}
	r := c.action(succeeded.id, "retry")
	wantStatus(t, "retry "+succeeded.name, r, http.StatusConflict)
	if p.actionCount(succeeded.id, "retry") != 0 {
		t.Errorf("retry of %q reached EM", succeeded.name)
	}

	emSays := "Retry is not available for backup policy"
	for _, status := range []int{0, http.StatusBadRequest} {
		p.sim.SetRefusal(emsim.Refusal{Status: status})
		r := c.action(failedPolicy.id, "retry")
		if status == 0 {
			wantStatus(t, "retry of a policy", r, http.StatusOK)
			r = c.waitAction(failedPolicy.id)
		}
		st, _ := r.testid("action-status").Attr("data-state")
		if msg := r.testid("status-message").Text(); st != "failed" || !strings.Contains(msg, emSays) {
			t.Errorf("refusal (EM status %d): state %q, message %q; want EM's words %q", status, st, msg, emSays)
		}
	}
	p.sim.SetRefusal(emsim.Refusal{})

	r = c.action(failed.id, "retry")
	wantStatus(t, "retry "+failed.name, r, http.StatusOK)
	c.waitAction(failed.id)
	if n := p.actionCount(failed.id, "retry"); n != 1 {
		t.Errorf("EM got %d retry calls, want 1", n)
	}
	wantStatus(t, "unknown action", c.action(failed.id, "delete"), http.StatusNotFound)
}

// TestNoButtonsWhileTaskRuns: between confirming Start and EM finishing its
// task, the card offers no second Start (nor anything but Stop).
func TestNoButtonsWhileTaskRuns(t *testing.T) {
	t.Parallel()
	// emsim keeps a task Running for a twentieth of the backup's length.
	p := newPortal(t, portalOptions{sessionSpeed: 60 * time.Second})
	c := p.signIn("alice")
	erin := p.jobNamed("Erin's laptop")
	before := c.get("/jobs/" + erin.ID + "/card")
	if before.testid("action-start").Length() == 0 {
		t.Fatalf("no Start button before the action:\n%s", before.Body)
	}
	wantStatus(t, "POST start", c.action(erin.ID, "start"), http.StatusOK)
	card := c.get("/jobs/"+erin.ID+"/card", htmx("job-card-"+erin.ID, "/jobs/"+erin.ID))
	for _, a := range []string{"start", "retry", "enable", "disable"} {
		if card.testid("action-"+a).Length() > 0 {
			t.Errorf("the card offers %s while the start's EM task runs", a)
		}
	}
}

// TestStartNoSessionYetStatus: EM accepted the start but its session queries
// show no new session (its database lags the backup server): the status says
// so in plain words instead of "done", and follows the backup once EM shows it.
func TestStartNoSessionYetStatus(t *testing.T) {
	t.Parallel()
	var hide atomic.Bool
	looked := make(chan struct{}, 1)
	lag := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// The search for an action's session (emclient.FindActionSession asks for 10).
			if hide.Load() && r.URL.Path == "/api/query" && r.URL.Query().Get("pageSize") == "10" {
				select {
				case looked <- struct{}{}:
				default:
				}
				w.Header().Set("Content-Type", "application/xml; charset=utf-8")
				io.WriteString(w, `<QueryResult xmlns="http://www.veeam.com/ent/v1.0"><Entities><BackupJobSessions/></Entities><PagingInfo PageNum="1" PageSize="10" PagesCount="1"/></QueryResult>`)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	p := newPortal(t, portalOptions{wrapEM: lag, sessionWait: 20 * time.Millisecond})
	c := p.signIn("alice")
	erin := p.jobNamed("Erin's laptop")
	wantStatus(t, "job page", c.get("/jobs/"+erin.ID), http.StatusOK)
	hide.Store(true)
	wantStatus(t, "start", c.action(erin.ID, "start"), http.StatusOK)
	const plain = "EM accepted the start but shows no new session yet"
	timeout := time.After(30 * time.Second)
	for {
		r := c.get("/jobs/"+erin.ID+"/status", htmx("status-"+erin.ID, "/jobs/"+erin.ID), background)
		st, _ := r.testid("action-status").Attr("data-state")
		if strings.Contains(r.testid("status-message").Text(), plain) {
			if st != "running" {
				t.Fatalf("state %q while EM shows no session, want running", st)
			}
			card := c.get("/jobs/"+erin.ID+"/card", htmx("job-card-"+erin.ID, "/jobs/"+erin.ID))
			if card.testid("action-start").Length() != 0 || card.testid("job-card").Length() == 0 {
				t.Error("Start offered again while the first start's session is looked for")
			}
			break
		}
		if st != "running" {
			t.Fatalf("the start ended without its session: %s", r.Body)
		}
		select {
		case <-looked:
		case <-timeout:
			t.Fatalf("no plain-words status: %s", r.Body)
		}
	}
	hide.Store(false)
	fin := c.waitAction(erin.ID)
	if msg := fin.testid("status-message").Text(); !strings.Contains(msg, "Backup finished") {
		t.Fatalf("after EM showed the session: %s", msg)
	}
}

// signalLocker is the in-process locker that reports each release.
type signalLocker struct {
	*jobs.MemoryLocker
	unlocked chan struct{}
}

func (l *signalLocker) Unlock(ctx context.Context, key, holder string) error {
	err := l.MemoryLocker.Unlock(ctx, key, holder)
	select {
	case l.unlocked <- struct{}{}:
	default:
	}
	return err
}
