package views

import (
	"strings"
	"testing"
	"time"
)

// TestAuditEntryIsOneLine: the visible row says when, who, what in words,
// the job and the outcome; the user key, groups, address and browser are
// behind "More".
func TestAuditEntryIsOneLine(t *testing.T) {
	ua := "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36"
	m := AuditList{Path: "/audit", Rows: []AuditRow{{
		ID: "1", At: sampleAt, Kind: "action", KindLabel: "Action", Who: "Alice Admin", UserKey: "http://idp|8d1c",
		Groups: []string{"agentdesk-admins"}, IP: "127.0.0.1", UserAgent: ua, Action: "enable",
		JobName: `"Gold" tier`, JobURL: "/jobs/1", Result: "performed", Message: "Schedule enabled",
	}}}
	doc := parse(t, render(t, AuditPage(sampleLayout(), m)))
	row := byTestID(doc, "audit-row")
	if row.Find("br").Length() != 0 {
		t.Error("an audit row breaks lines")
	}
	if got := strings.TrimSpace(byTestID(doc, "audit-what").Text()); got != "Enabled the schedule" {
		t.Errorf("what = %q", got)
	}
	if got := byTestID(doc, "audit-result").Text(); got != "Done" {
		t.Errorf("outcome = %q", got)
	}
	visible := row.Clone()
	visible.Find("details").Remove()
	for _, hidden := range []string{"http://idp|8d1c", ua, "127.0.0.1", "agentdesk-admins"} {
		if strings.Contains(visible.Text(), hidden) {
			t.Errorf("%q shows on the row itself, want it under More", hidden)
		}
		if !strings.Contains(row.Find("details").Text(), hidden) {
			t.Errorf("%q is missing from the details", hidden)
		}
	}
}

// TestSessionWords: sessions say "Finished", not EM's "Stopped", and show
// EM's failure reason on the session and on the computer.
func TestSessionWords(t *testing.T) {
	d := sampleDetail("Erin's laptop", "")
	d.Sessions[1].State = PlainEM(EMSessionState, "Stopped")
	d.Sessions[1].Reason = "Disk full on the repository"
	d.Sessions[1].Children = []SessionRow{{ID: "c2", Name: "erin-laptop", State: PlainEM(EMSessionState, "Stopped"), Result: ResultFailed, Reason: "Agent unreachable", Duration: time.Minute}}
	doc := parse(t, render(t, JobPage(sampleLayout(), d)))
	if got := byTestID(doc, "session-state").Eq(1).Text(); got != "Finished" {
		t.Errorf("state = %q, want Finished", got)
	}
	if got := byTestID(doc, "session-reason").Text(); got != "Disk full on the repository" {
		t.Errorf("session reason = %q", got)
	}
	if got := byTestID(doc, "session-child-reason").Last().Text(); got != "Agent unreachable" {
		t.Errorf("computer reason = %q", got)
	}
}

// TestHeldEnableOffersOneButton: with a time-boxed disable, the banner's
// "Enable schedule now" is the only enable button on the card.
func TestHeldEnableOffersOneButton(t *testing.T) {
	d := sampleDetail("Erin's laptop", "")
	d.Actions = []ActionButton{{Action: "start", Label: "Start", ConfirmURL: "/jobs/1/confirm/start"}, {Action: "enable", Label: "Enable schedule", ConfirmURL: "/jobs/1/confirm/enable"}}
	d.Hold = &HoldBanner{JobID: d.ID, By: "Harry", DisabledAt: sampleAt, ReenableAt: sampleAt.Add(time.Hour), Now: sampleAt, Enable: &d.Actions[1]}
	doc := parse(t, render(t, JobPage(sampleLayout(), d)))
	if n := doc.Find(`[data-testid="job-card"] [data-action="enable"]`).Length(); n != 1 {
		t.Errorf("%d enable buttons on the card, want 1", n)
	}
}

// TestLastRunSortsNewestFirst: the first click on "Last run" shows the
// newest runs; a second click on the same column flips it.
func TestLastRunSortsNewestFirst(t *testing.T) {
	m := sampleList(3)
	m.Filter.Sort, m.Filter.Desc = "name", false
	if u := m.SortURL("lastrun"); !strings.Contains(u, "desc=1") {
		t.Errorf("first click on Last run = %s, want newest first", u)
	}
	m.Filter.Sort, m.Filter.Desc = "lastrun", true
	if u := m.SortURL("lastrun"); strings.Contains(u, "desc=1") {
		t.Errorf("second click on Last run = %s, want oldest first", u)
	}
}
