package handlers_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/agentdesk/agentdesk/audit"
	"github.com/agentdesk/agentdesk/auth/demoidp"
	"github.com/agentdesk/agentdesk/emclient"
	"github.com/agentdesk/agentdesk/emclient/emsim"
	"github.com/agentdesk/agentdesk/jobs"
)

// fleetFacts reads the test fleet (seed 1, fleetSize jobs) once through the
// jobs service, to pick the jobs the self-service tests need owners for: the
// IdP's users must exist before the portal does.
func fleetFacts(t *testing.T) (failed, many *jobs.Job) {
	t.Helper()
	sim := emsim.New(emsim.Config{Seed: 1, Jobs: fleetSize, Logger: slog.New(slog.DiscardHandler), HistoryEnd: fleetHistoryEnd})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	em, err := emclient.New(emclient.Config{BaseURL: srv.URL, Username: "svc", Password: "secret", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	svc := jobs.NewService(em, jobs.Options{Logger: slog.New(slog.DiscardHandler), Recorder: jobs.LogRecorder{Logger: slog.New(slog.DiscardHandler)}})
	defer svc.Close()
	snap, err := svc.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	hostname := func(j *jobs.Job) bool { return len(j.Computers) > 0 && strings.Contains(j.Computers[0], ".") }
	// EM states no kind; the simulator knows which of its jobs are agent policies.
	policy := map[string]bool{}
	for _, j := range sim.Jobs() {
		policy[j.ID] = j.Policy
	}
	for _, j := range snap.Jobs {
		switch {
		case failed == nil && !policy[j.ID] && j.Last != nil && !j.Last.Running() && j.Last.Result == "Failed" && hostname(j):
			failed = j
		case many == nil && !policy[j.ID] && len(j.Computers) > 1 && hostname(j):
			many = j
		}
	}
	if failed == nil || many == nil {
		t.Fatalf("the fleet lacks a failed server-managed job (%v) or a job of several computers (%v)", failed, many)
	}
	return failed, many
}

// endUser is a demo-IdP account that owns one computer, like erin.
func endUser(name, computer string) demoidp.User {
	return demoidp.User{Subject: "sub-" + name, Username: name, Password: "demo", Name: strings.ToUpper(name[:1]) + name[1:] + " Enduser",
		Email: name + "@corp.example", Groups: []string{"employees"}, Computer: computer}
}

var ageWords = regexp.MustCompile(`^Last backed up (just now|\d+ (minute|minutes|hour|hours|day|days) ago)$|^Never backed up$|^No successful backup in the last \d+ runs$`)

// TestHomePerUserKind: staff go to the jobs list; an end user gets "My
// backups" with only the jobs protecting her computer, the age of the last
// good backup in words, and the "Back up now" button. Reading it sends EM no
// action.
func TestHomePerUserKind(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	for _, u := range []string{"alice", "harry", "audrey"} {
		c := p.signIn(u)
		r := c.get("/")
		if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/jobs" {
			t.Errorf("%s: GET / = %d → %q, want 303 → /jobs", u, r.StatusCode, r.Header.Get("Location"))
		}
	}
	erin := p.jobNamed("Erin's laptop")
	c := p.signIn("erin")
	before := p.actionCalls()
	r := c.get("/")
	wantStatus(t, "erin's home", r, http.StatusOK)
	if got := r.testid("page-title").Text(); got != "My backups" {
		t.Errorf("title %q", got)
	}
	cards := r.testid("backup-card")
	if cards.Length() != 1 {
		t.Fatalf("erin sees %d cards, want 1", cards.Length())
	}
	if id, _ := cards.Attr("data-job-id"); id != erin.ID {
		t.Errorf("card for %q, want Erin's laptop %s", id, erin.ID)
	}
	if got := strings.TrimSpace(r.testid("backup-name").Text()); got != "Erin's laptop" {
		t.Errorf("card name %q", got)
	}
	age := strings.TrimSpace(strings.SplitN(r.testid("backup-age").Text(), "(", 2)[0])
	if !ageWords.MatchString(age) {
		t.Errorf("age in words %q", age)
	}
	btn := r.testid("back-up-now")
	if strings.TrimSpace(btn.Contents().First().Text()) != "Back up now" {
		t.Errorf("button %q", btn.Text())
	}
	if href, _ := btn.Attr("href"); href != "/jobs/"+erin.ID+"/confirm/start?view=mine" {
		t.Errorf("button opens %q", href)
	}
	if r.testid("backup-covers").Length() != 0 {
		t.Error("a one-computer job says it covers others")
	}
	mustContain(t, "erin's nav", r.testid("site-header").Text(), "My backups")
	if n := p.actionCalls() - before; n != 0 {
		t.Errorf("the home page made %d EM action calls", n)
	}

	// The confirmation from the card says what happens, under the card's label.
	conf := c.get("/jobs/"+erin.ID+"/confirm/start?view=mine", htmx("confirm-"+erin.ID, "/"))
	wantStatus(t, "confirm", conf, http.StatusOK)
	mustContain(t, "confirmation", conf.testid("confirm-title").Text(), "Back up now")
	mustContain(t, "confirmation", conf.testid("confirm-text").Text(), "erin-laptop.corp.example")

	// Back up now from the home page: the status follows the card of this page.
	form := url.Values{}
	st := c.postForm("/jobs/"+erin.ID+"/actions/start", form, sameOrigin, c.withToken, htmx("status-"+erin.ID, "/"))
	wantStatus(t, "back up now", st, http.StatusOK)
	if poll, _ := st.testid("action-status").Attr("hx-get"); poll != "/jobs/"+erin.ID+"/status?view=mine" {
		t.Errorf("status polls %q", poll)
	}
	p.waitRun(erin.ID)
	last := c.get("/jobs/"+erin.ID+"/status?view=mine", htmx("status-"+erin.ID, "/"), background)
	if loader, _ := last.testid("refresh-loader").Attr("hx-get"); loader != "/jobs/"+erin.ID+"/card?view=mine" {
		t.Errorf("finished status reloads %q, want the self-service card", loader)
	}
	card := c.get("/jobs/"+erin.ID+"/card?view=mine", htmx("job-card-"+erin.ID, "/"))
	wantStatus(t, "card", card, http.StatusOK)
	if card.testid("backup-card").Length() != 1 || strings.Contains(card.Body, "<html") {
		t.Errorf("card fragment:\n%s", truncate(card.Body, 1500))
	}
	if got := p.actionCount(erin.ID, "start"); got != 1 {
		t.Errorf("EM starts = %d", got)
	}
}

// TestMyBackupsWarnings: the staleness threshold and a failed last run each
// give their warning; a job of several computers says that backing up now
// covers the others too, and so does its confirmation (as for agent policies).
func TestMyBackupsWarnings(t *testing.T) {
	t.Parallel()
	failed, pol := fleetFacts(t)
	users := []demoidp.User{endUser("frank", failed.Computers[0]), endUser("paula", pol.Computers[0])}

	t.Run("failed and stale", func(t *testing.T) {
		t.Parallel()
		p := newPortal(t, portalOptions{users: users, staleAfter: time.Nanosecond})
		r := p.signIn("frank").get("/")
		wantStatus(t, "frank's home", r, http.StatusOK)
		card := r.Doc().Find(`[data-testid="backup-card"][data-job-id="` + failed.ID + `"]`)
		if card.Length() != 1 {
			t.Fatalf("no card for the failed job %s", failed.Name)
		}
		if card.Find(`[data-testid="warning-failed"]`).Length() != 1 {
			t.Error("no warning for the failed last run")
		}
		if card.Find(`[data-testid="warning-stale"]`).Length() != 1 {
			t.Error("no staleness warning with a 1ns threshold")
		}
	})
	t.Run("fresh enough", func(t *testing.T) {
		t.Parallel()
		p := newPortal(t, portalOptions{users: users, staleAfter: 365 * 24 * time.Hour})
		r := p.signIn("erin").get("/")
		if r.testid("warning-stale").Length() != 0 && !strings.Contains(r.testid("backup-age").Text(), "Never") {
			t.Error("staleness warning with a one-year threshold")
		}
	})
	t.Run("job covering many", func(t *testing.T) {
		t.Parallel()
		p := newPortal(t, portalOptions{users: users})
		c := p.signIn("paula")
		r := c.get("/")
		card := r.Doc().Find(`[data-testid="backup-card"][data-job-id="` + pol.ID + `"]`)
		if card.Length() != 1 {
			t.Fatalf("no card for %s", pol.Name)
		}
		want := "This backup job covers " + strconv.Itoa(len(pol.Computers)) + " computers: backing up now starts it on all of them."
		if got := strings.TrimSpace(card.Find(`[data-testid="backup-covers"]`).Text()); got != want {
			t.Errorf("covers %q, want %q", got, want)
		}
		if card.Find(`[data-testid="back-up-now"]`).Length() != 1 {
			t.Fatal("no Back up now")
		}
		conf := c.get("/jobs/"+pol.ID+"/confirm/start?view=mine", htmx("confirm-"+pol.ID, "/"))
		if got := strings.TrimSpace(conf.testid("confirm-text").Text()); got != want {
			t.Errorf("confirmation %q, want %q", got, want)
		}
		// An agent policy (of protection groups, in the test fleet) says so too,
		// without calling itself a policy: EM states no kind.
		alice := p.signIn("alice")
		for _, j := range p.sim.Jobs() {
			if !j.Policy {
				continue
			}
			conf := alice.get("/jobs/"+j.ID+"/confirm/start", htmx("confirm-"+j.ID, "/jobs/"+j.ID))
			if conf.StatusCode != http.StatusOK {
				continue // running now
			}
			mustContain(t, "policy confirmation", conf.testid("confirm-text").Text(), "This backup job covers", "backing up now starts it on")
			break
		}
	})
}

// TestDeepLinkEveryAction: /jobs/{id}?action=X opens X's confirmation when the
// user may do it and it is possible, else the job page with a note saying why;
// never an EM action.
func TestDeepLinkEveryAction(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	alice := p.signIn("alice")
	// A server-managed job, idle, schedule on, last run failed: start, retry
	// and disable are possible; stop and enable are not.
	var job listRow
	for _, r := range listRows(t, alice.get("/jobs?result=Failed&schedule=enabled&size=100")) {
		if !p.isPolicy(r.id) && strings.Contains(strings.Join(r.actions, ","), "retry") {
			job = r
			break
		}
	}
	if job.id == "" {
		t.Fatal("no retryable, enabled job in the fleet")
	}
	before := p.actionCalls()
	for _, tt := range []struct {
		action  string
		confirm bool
		note    string
	}{
		{"start", true, ""},
		{"retry", true, ""},
		{"disable", true, ""},
		{"stop", false, "not possible now: The job is not running"},
		{"enable", false, "not possible now: The schedule is already enabled."},
		{"explode", false, "does not know"},
	} {
		t.Run(tt.action, func(t *testing.T) {
			r := alice.get("/jobs/" + job.id + "?action=" + tt.action)
			wantStatus(t, "deep link", r, http.StatusOK)
			panel := r.testid("confirm-panel")
			if got := panel.Length() == 1; got != tt.confirm {
				t.Fatalf("confirmation shown = %v, want %v", got, tt.confirm)
			}
			if tt.confirm {
				if a, _ := panel.Find("form").Attr("action"); a != "/jobs/"+job.id+"/actions/"+tt.action {
					t.Errorf("confirmation posts to %q", a)
				}
				if r.testid("link-note").Length() != 0 {
					t.Error("a note next to the confirmation")
				}
				if tt.action == "disable" && r.testid("confirm-duration").Find("option").Length() < 2 {
					t.Error("the disable confirmation offers no duration")
				}
				return
			}
			mustContain(t, "note", r.testid("link-note").Text(), tt.note)
			if r.testid("job-card").Length() != 1 {
				t.Error("the note comes without the job page")
			}
		})
	}
	// Allowed to see, not to do: harry (helpdesk Berlin: view, start, retry)
	// may not disable; erin may not stop her laptop's backup.
	harry := p.signIn("harry")
	var berlin listRow
	for _, r := range listRows(t, harry.get("/jobs?schedule=enabled&size=100")) {
		berlin = r
		break
	}
	r := harry.get("/jobs/" + berlin.id + "?action=disable")
	if r.testid("confirm-panel").Length() != 0 {
		t.Error("harry got a disable confirmation")
	}
	mustContain(t, "harry's note", r.testid("link-note").Text(), "you may not do that. Ask an AgentDesk administrator")
	erin := p.jobNamed("Erin's laptop")
	r = p.signIn("erin").get("/jobs/" + erin.ID + "?action=stop")
	mustContain(t, "erin's note", r.testid("link-note").Text(), "you may not do that. Ask the helpdesk")
	if n := p.actionCalls() - before; n != 0 {
		t.Errorf("deep links made %d EM action calls", n)
	}
}

// disableFor posts the disable confirmation with a duration, as the form does.
func (c *client) disableFor(jobID, duration string) *response {
	c.t.Helper()
	form := url.Values{"desired": {"disabled"}, "duration": {duration}}
	return c.postForm("/jobs/"+jobID+"/actions/disable", form, sameOrigin, c.withToken, htmx("status-"+jobID, "/jobs/"+jobID))
}

// TestTimeBoxedDisable: disabling for a (test-sized) while is audited with its
// duration, and the schedule comes back by itself, audited under the timed
// re-enable's name. The holds service runs on a clock the test moves, and the
// test runs its loop's step (Tick) itself: however loaded the machine, the
// hold cannot end before the test looks, and the re-enable is over when Tick
// returns. (The banner is checked with a 4-hour hold, below.)
func TestTimeBoxedDisable(t *testing.T) {
	t.Parallel()
	var clockMu sync.Mutex
	clock := time.Now()
	now := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return clock }
	p := newPortal(t, portalOptions{holdDurations: []time.Duration{700 * time.Millisecond, 4 * time.Hour}, holdsClock: now})
	erin := p.jobNamed("Erin's laptop")
	alice := p.signIn("alice")

	// Only the offered durations are accepted.
	if r := alice.disableFor(erin.ID, "2h"); r.StatusCode != http.StatusBadRequest {
		t.Errorf("a duration not offered: %d", r.StatusCode)
	}
	if n := p.actionCalls(); n != 0 {
		t.Fatalf("refused duration reached EM: %d calls", n)
	}
	conf := alice.get("/jobs/"+erin.ID+"/confirm/disable", htmx("confirm-"+erin.ID, "/jobs/"+erin.ID))
	var offered []string
	conf.testid("confirm-duration").Find("option").Each(func(_ int, s *goquery.Selection) { offered = append(offered, s.AttrOr("value", "?")) })
	if strings.Join(offered, ",") != ",700ms,4h0m0s" {
		t.Errorf("offered durations %q", offered)
	}

	st := alice.disableFor(erin.ID, "700ms")
	wantStatus(t, "disable for 700ms", st, http.StatusOK)
	alice.waitAction(erin.ID)
	if s, _ := p.sim.JobState(erin.ID); s.ScheduleEnabled {
		t.Fatal("the schedule is still on")
	}
	// Not due yet: nothing happens.
	if n, err := p.holds.Tick(context.Background()); err != nil || n != 0 {
		t.Fatalf("Tick before the hold is due: %d, %v", n, err)
	}
	// It comes back by itself once due; Tick returns when EM's toggle is
	// verified and audited.
	clockMu.Lock()
	clock = clock.Add(time.Hour)
	clockMu.Unlock()
	if n, err := p.holds.Tick(context.Background()); err != nil || n != 1 {
		t.Fatalf("Tick after the hold is due: %d, %v; want 1 hold closed", n, err)
	}
	if s, _ := p.sim.JobState(erin.ID); !s.ScheduleEnabled {
		t.Fatal("the schedule did not come back")
	}
	entries := func(action string) []audit.Entry {
		pg, err := p.audit.Query(context.Background(), audit.Filter{JobID: erin.ID, Action: action})
		if err != nil {
			t.Fatal(err)
		}
		return pg.Entries
	}
	dis := entries("disable")
	if len(dis) != 1 || dis[0].UserName != "Alice Admin" || !strings.Contains(dis[0].Message, "AgentDesk enables it again at") {
		t.Errorf("disable audit: %+v", dis)
	}
	en := entries("enable")
	if len(en) != 1 || en[0].UserName != "AgentDesk (timed re-enable of Alice Admin's disable)" || en[0].Result != audit.ResultPerformed {
		t.Errorf("enable audit: %+v", en)
	}
	if n := p.actionCount(erin.ID, "toggleScheduleEnabled"); n != 2 {
		t.Errorf("EM toggles = %d, want 2", n)
	}
	if page := alice.get("/jobs/" + erin.ID); page.testid("hold-banner").Length() != 0 {
		t.Error("the banner outlived the hold")
	}
}

// TestEnableNowEndsHold: a 4-hour disable shows its banner to staff and to
// the end user; "Enable now" on it is the enable action and ends the hold.
func TestEnableNowEndsHold(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	erin := p.jobNamed("Erin's laptop")
	alice := p.signIn("alice")
	wantStatus(t, "disable for 4h", alice.disableFor(erin.ID, "4h0m0s"), http.StatusOK)
	alice.waitAction(erin.ID)
	ctx := context.Background()
	if h, err := p.holds.Pending(ctx, erin.ID); err != nil || h == nil {
		t.Fatalf("no pending hold: %v", err)
	}
	page := alice.get("/jobs/" + erin.ID)
	banner := strings.Join(strings.Fields(page.testid("hold-text").Text()), " ")
	if !regexp.MustCompile(`^Schedule disabled by Alice Admin at \d\d:\d\d UTC; it comes back at (\d{4}-\d\d-\d\d )?\d\d:\d\d UTC \(in (3 hours 59 minutes|4 hours)\)\.$`).MatchString(banner) {
		t.Errorf("banner %q", banner)
	}
	// The card refreshes itself while the hold lasts, so the banner does not
	// outlive the hold (it said "comes back at 11:41" after it came back).
	if !strings.Contains(page.testid("card-poller").AttrOr("hx-trigger", ""), "every 60s") {
		t.Error("a card with a hold banner does not refresh itself")
	}
	// The end user sees it on her card, without the button she may not use.
	home := p.signIn("erin").get("/")
	if home.testid("hold-banner").Length() != 1 {
		t.Error("erin's card has no hold banner")
	}
	if home.testid("card-poller").Length() != 1 {
		t.Error("erin's card with a hold banner does not refresh itself")
	}
	if home.testid("hold-enable").Length() != 0 {
		t.Error("erin, who may not enable, is offered enable-now")
	}
	href, _ := page.testid("hold-enable").Attr("href")
	if href != "/jobs/"+erin.ID+"/confirm/enable" {
		t.Fatalf("enable-now opens %q", href)
	}
	wantStatus(t, "enable", alice.action(erin.ID, "enable"), http.StatusOK)
	alice.waitAction(erin.ID)
	if h, _ := p.holds.Pending(ctx, erin.ID); h != nil {
		t.Errorf("the hold is still pending after enable-now: %+v", h)
	}
	if s, _ := p.sim.JobState(erin.ID); !s.ScheduleEnabled {
		t.Error("the schedule is off")
	}
}
