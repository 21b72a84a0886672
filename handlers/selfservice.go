package handlers

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/agentdesk/agentdesk/handlers/paths"
	"github.com/agentdesk/agentdesk/jobs"
	"github.com/agentdesk/agentdesk/policy"
	"github.com/agentdesk/agentdesk/views"
)

// DefaultStaleAfter is the age at which an end user's backup counts as overdue.
const DefaultStaleAfter = 48 * time.Hour

// DefaultHoldDurations are the choices of a time-boxed disable.
var DefaultHoldDurations = []time.Duration{time.Hour, 4 * time.Hour, 8 * time.Hour, 24 * time.Hour}

// myBackupsMax bounds the cards of "My backups": each costs a job read.
const myBackupsMax = 20

// home is "My backups" for end users (people who see jobs only because they
// protect their own computers) and the jobs list for everyone else.
func (h *Handler) home(c echo.Context) error {
	if !h.grant(c).SelfServiceOnly() {
		return c.Redirect(http.StatusSeeOther, h.paths().Jobs())
	}
	return h.showMyBackups(c)
}

// showMyBackups lists the jobs protecting the user's computers with the age of
// their last good backup.
//
// The last good backup needs each job's first page of sessions, read per job.
// That is not the N+1 the jobs list avoids: an end user has one or a few jobs,
// each read is the job page's own cached read (the entity and that same page
// of sessions, one EM round trip when cold, none when warm), and staff pages
// never come here: they show the list snapshot's last result only.
func (h *Handler) showMyBackups(c echo.Context) error {
	ctx := c.Request().Context()
	snap, err := h.svc.Jobs.List(ctx)
	if err != nil {
		return err
	}
	g := h.grant(c)
	var ids []string
	for _, j := range snap.Jobs {
		if jobs.Visible(g, j) && g.Owns(j.PolicyJob()) {
			ids = append(ids, j.ID)
		}
	}
	m := views.MyBackups{StaleAfter: h.set.staleAfter, JobsURL: h.paths().Jobs()}
	if len(ids) > myBackupsMax {
		m.More = len(ids) - myBackupsMax
		ids = ids[:myBackupsMax]
	}
	cards := make([]views.BackupCard, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := h.svc.Jobs.Live(ctx, id)
			if err != nil {
				errs[i] = err
				return
			}
			cards[i], errs[i] = h.backupCard(ctx, g, l)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	m.Cards = cards
	return h.write(c, http.StatusOK, views.MyBackupsPage(h.layout(c, "My backups"), m))
}

// showMyBackupCard is /jobs/{id}/card?view=mine: one card of "My backups",
// swapped in after an action and polled while the backup runs.
func (h *Handler) showMyBackupCard(c echo.Context, l jobs.Live) error {
	card, err := h.backupCard(c.Request().Context(), h.grant(c), l)
	if err != nil {
		return err
	}
	return h.write(c, http.StatusOK, views.BackupCardView(card, h.set.staleAfter))
}

// backupCard maps a job onto an end user's card. It takes no echo.Context:
// "My backups" builds its cards in parallel.
func (h *Handler) backupCard(ctx context.Context, g *policy.Grant, l jobs.Live) (views.BackupCard, error) {
	j := l.Job
	page, err := h.svc.Jobs.Sessions(ctx, j.ID, 1, sessionPageSize)
	if err != nil {
		return views.BackupCard{}, err
	}
	now := time.Now()
	card := views.BackupCard{
		JobID: j.ID, Name: j.Name, URL: h.paths().Job(j.ID), CardURL: h.paths().JobCard(j.ID, paths.MineView),
		Computers: j.Computers, Covers: coversText(j), Now: now, Running: j.Running(), Poll: pollEvery(l),
	}
	if card.Running {
		card.Progress = l.Progress()
	}
	if good := jobs.LastGood(page.Sessions); good != nil {
		card.LastGood = good.End
		if card.LastGood.IsZero() {
			card.LastGood = good.Start
		}
	} else if page.Pages > 1 {
		card.NoGood = fmt.Sprintf("No successful backup in the last %d runs", len(page.Sessions))
	}
	card.Stale = card.LastGood.IsZero() || now.Sub(card.LastGood) > h.set.staleAfter
	for _, s := range page.Sessions {
		if s.Running() {
			continue
		}
		if s.Result == "Failed" {
			card.LastFailed, card.FailedAt, card.FailureMessage = true, s.Start, s.FailureMessage
		}
		break
	}
	pj := policyJob(j)
	switch err := h.applicable(j, jobs.Start); {
	case !g.Can(pj, policy.Start):
		card.BackUpNote = "You may not start this backup yourself; ask the helpdesk."
	case j.Running():
		// The running indicator says it.
	case l.HasRun && l.Run.Awaiting():
		// The action in progress (its status) says it.
	case err != nil:
		card.BackUpNote = err.Error()
	default:
		b := h.button(j, jobs.Start)
		b.Label = backUpNowLabel
		b.ConfirmURL = paths.InView(b.ConfirmURL, paths.MineView)
		card.BackUp = &b
	}
	hold, err := h.holdBanner(ctx, g, j)
	if err != nil {
		return views.BackupCard{}, err
	}
	if hold != nil {
		hold.Enable = mineButton(hold.Enable)
	}
	card.Hold = hold
	if card.Poll == "" {
		card.Poll = holdPoll(hold)
	}
	if l.HasRun {
		st := h.mineState(h.actionState(l.Run, false))
		if st.State == views.StateRunning || st.State == views.StateUnknown {
			card.Status = &st
		}
	}
	return card, nil
}

const backUpNowLabel = "Back up now"

// mineButton makes an action's confirmation come back to "My backups".
func mineButton(b *views.ActionButton) *views.ActionButton {
	if b != nil {
		b.ConfirmURL = paths.InView(b.ConfirmURL, paths.MineView)
	}
	return b
}

// mineState points an action's polling and final refresh at the card of "My
// backups" rather than the job page's card.
func (h *Handler) mineState(st views.ActionState) views.ActionState {
	if st.PollURL != "" {
		st.PollURL = h.paths().JobStatus(st.JobID, paths.MineView)
	}
	if st.CardURL != "" {
		st.CardURL = h.paths().JobCard(st.JobID, paths.MineView)
	}
	return st
}

// fromMine reports an htmx request made from "My backups".
func (h *Handler) fromMine(c echo.Context) bool {
	if paths.ViewOf(c.QueryParams()) == paths.MineView {
		return true
	}
	u := htmxOf(c).CurrentURL
	if u == nil {
		return false
	}
	p := strings.TrimRight(u.Path, "/")
	return p == h.set.base
}

// coversText says when backing up now reaches more than one computer: an agent
// policy, or a job of several computers or of protection groups.
func coversText(j *jobs.Job) string {
	computers, groups, others := 0, 0, 0
	if j.Entity != nil && j.Entity.JobInfo != nil {
		for _, inc := range j.Entity.JobInfo.Includes {
			switch includeKind(inc.HierarchyObjRef) {
			case "Protection group":
				groups++
			case "Computer":
				computers++
			default:
				others++
			}
		}
	} else {
		computers = len(j.Computers)
	}
	if others > 0 {
		// EM does not say what these are: they may hold many computers.
		return fmt.Sprintf("This %s covers %s: backing up now starts it on every computer they hold.",
			map[bool]string{true: "backup policy", false: "backup job"}[j.Kind == jobs.KindPolicy], plural(computers+groups+others, "protected object", "protected objects"))
	}
	if j.Kind != jobs.KindPolicy && groups == 0 && computers <= 1 {
		return ""
	}
	what := "backup job"
	if j.Kind == jobs.KindPolicy {
		what = "backup policy"
	}
	switch {
	case groups == 0 && computers == 1:
		return fmt.Sprintf("This %s covers 1 computer: %s.", what, j.Computers[0])
	case groups == 0:
		return fmt.Sprintf("This %s covers %d computers: backing up now starts it on all of them.", what, computers)
	}
	var parts []string
	if computers > 0 {
		parts = append(parts, plural(computers, "computer", "computers"))
	}
	parts = append(parts, plural(groups, "protection group", "protection groups"))
	return fmt.Sprintf("This %s covers %s: backing up now starts it on every computer in them.", what, strings.Join(parts, " and "))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// holdBanner is the job's pending time-boxed disable, while its schedule is
// off. A hold whose schedule is on again (enabled in the console, or the
// disable failed) has nothing to announce; the loop closes it when it is due.
func (h *Handler) holdBanner(ctx context.Context, g *policy.Grant, j *jobs.Job) (*views.HoldBanner, error) {
	if h.svc.Holds == nil || j.ScheduleEnabled {
		return nil, nil
	}
	hold, err := h.svc.Holds.Pending(ctx, j.ID)
	if err != nil || hold == nil {
		return nil, err
	}
	b := &views.HoldBanner{JobID: j.ID, By: hold.ByName, DisabledAt: hold.DisabledAt, ReenableAt: hold.ReenableAt,
		Now: time.Now().UTC(), Message: hold.Message}
	if b.By == "" {
		b.By = "someone"
	}
	if g.Can(policyJob(j), policy.Enable) && h.applicable(j, jobs.Enable) == nil {
		btn := h.button(j, jobs.Enable)
		b.Enable = &btn
	}
	return b, nil
}

// durationChoices are the options of the disable confirmation: indefinitely
// first (the default, as before), then the configured durations.
func (h *Handler) durationChoices() []views.KV {
	if h.svc.Holds == nil {
		return nil
	}
	out := []views.KV{{Key: "", Value: "Until someone enables it again"}}
	for _, d := range h.set.holdDurations {
		out = append(out, views.KV{Key: d.String(), Value: "For " + views.DurationWords(d)})
	}
	return out
}

// holdDuration reads the disable's "duration" field: 0 for indefinitely, else
// one of the configured durations; anything else is refused.
func (h *Handler) holdDuration(c echo.Context) (time.Duration, error) {
	v := strings.TrimSpace(c.FormValue("duration"))
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || h.svc.Holds == nil || !slices.Contains(h.set.holdDurations, d) {
		return 0, echo.NewHTTPError(http.StatusBadRequest, "This duration is not one AgentDesk offers.")
	}
	return d, nil
}

// holdNote is what the audit log and the user read about a time-boxed disable.
func holdNote(d time.Duration, until time.Time) string {
	return fmt.Sprintf("AgentDesk enables it again at %s (after %s).", until.UTC().Format("2006-01-02 15:04 MST"), views.DurationWords(d))
}

func orSomeone(name string) string {
	if name == "" {
		return "someone"
	}
	return name
}
