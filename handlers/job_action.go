package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/agentdesk/agentdesk/handlers/paths"
	"github.com/agentdesk/agentdesk/jobs"
	"github.com/agentdesk/agentdesk/policy"
	"github.com/agentdesk/agentdesk/views"
)

// buttons are the actions both EM (the job's links and state) and the policy
// allow. What is not shown here is refused by postAction too.
func (h *Handler) buttons(g *policy.Grant, l jobs.Live) []views.ActionButton {
	var out []views.ActionButton
	for _, a := range offered(l) {
		if jobs.Can(g, l.Job, a) {
			out = append(out, h.opener(l.Job, a))
		}
	}
	return out
}

// buttonOrder is the order in which views list the action buttons.
var buttonOrder = [...]jobs.Action{jobs.Start, jobs.Stop, jobs.Retry, jobs.Enable, jobs.Disable}

// offered are the actions EM (the job's links and state) and the portal's
// own action on the job allow now, in button order, whoever asks: buttons
// keeps those the policy allows the user.
func offered(l jobs.Live) []jobs.Action {
	// While an action the portal sent is still with EM (its task not finished),
	// the job's state is about to change and the job's lock is held: offer
	// nothing, so nobody presses Start twice while the views catch up. Stop
	// too would only be refused as "already being done"; it comes with the
	// next refresh, once EM has confirmed (Live: within about PollEvery).
	// The run may be followed by another replica: Live has it either way.
	// Once EM has accepted it and while its session is looked for, only Stop.
	if l.HasRun && l.Run.Awaiting() {
		return nil
	}
	onlyStop := l.HasRun && l.Run.Active() && l.Run.SessionID == ""
	var out []jobs.Action
	for _, a := range buttonOrder {
		if onlyStop && a != jobs.Stop {
			continue
		}
		if jobs.Applicable(l.Job, a) == nil {
			out = append(out, a)
		}
	}
	return out
}

// opener is an action's button as rows, cards and pages list it: it opens the
// confirmation, so it carries no confirmation text or POST target, which
// cost a list of 50 rows about a tenth of its CPU to word for nothing.
func (h *Handler) opener(j *jobs.Job, a jobs.Action) views.ActionButton {
	return views.ActionButton{
		Action:     string(a),
		Label:      actionLabels[a],
		ConfirmURL: h.paths().JobConfirm(j.ID, a),
		Danger:     a == jobs.Stop || a == jobs.Disable,
	}
}

// applicable says why EM would not do the action now, or nil: jobs.Applicable,
// the rule Do applies too. Its error reads as a sentence for the user.
func (h *Handler) applicable(j *jobs.Job, a jobs.Action) error {
	err := jobs.Applicable(j, a)
	var na *jobs.NotApplicableError
	if errors.As(err, &na) {
		return sentence(na.Reason)
	}
	return err
}

// sentence is an error whose text is shown to the user as it is.
type sentence string

func (s sentence) Error() string { return string(s) }

var actionLabels = map[jobs.Action]string{
	jobs.Start: "Start", jobs.Stop: "Stop", jobs.Retry: "Retry",
	jobs.Enable: "Enable schedule", jobs.Disable: "Disable schedule",
}

// button is an action's button as its confirmation shows it: the opener
// with what will happen and where the form posts.
func (h *Handler) button(j *jobs.Job, a jobs.Action) views.ActionButton {
	b := h.opener(j, a)
	b.PostURL = h.paths().JobAction(j.ID, a)
	b.Confirm = confirmText(j, a)
	return b
}

// confirmText says what will happen, in the words a helpdesk person would use on
// the phone.
func confirmText(j *jobs.Job, a jobs.Action) string {
	n := len(j.Computers)
	switch a {
	case jobs.Start:
		// An agent policy, or a job of several computers: say that "now"
		// reaches all of them, not only the one the caller has in mind.
		if covers := coversText(j); covers != "" {
			return covers
		}
		if n == 1 {
			return "Starts a backup of " + j.Computers[0] + " now."
		}
		return "Starts the backup now."
	case jobs.Stop:
		return "The running backup is stopped now; the restore point will be partial."
	case jobs.Retry:
		return "Runs the job again for the computers that failed in the last run."
	case jobs.Enable:
		return "Turns the schedule on: the job runs by itself again at its scheduled times."
	case jobs.Disable:
		return "Turns the schedule off: the job will not run by itself until someone enables it again."
	}
	return ""
}

// deniedWorthAuditing reports whether a refused action request is the user's
// own attempt. A GET that another site made the browser send (a link or
// redirect to a confirmation page, Sec-Fetch-Site cross-site or same-site)
// is not: recording it would put a "denied stop" under the name of whoever
// followed the link. Requests without Fetch Metadata (older browsers,
// scripts) and every POST are audited.
func (h *Handler) deniedWorthAuditing(c echo.Context) bool {
	r := c.Request()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return true
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		return false
	}
	return true
}

func (h *Handler) confirmModel(c echo.Context, j *jobs.Job, b views.ActionButton) views.Confirm {
	m := views.Confirm{JobID: j.ID, JobName: j.Name, Action: b, CancelURL: h.paths().Job(j.ID), CSRFToken: h.csrfToken(c)}
	switch jobs.Action(b.Action) {
	case jobs.Enable:
		m.Desired = "enabled"
	case jobs.Disable:
		m.Desired = "disabled"
		m.Durations = h.durationChoices()
	case jobs.Start:
		if h.fromMine(c) {
			m.Action.Label = backUpNowLabel
		}
	}
	return m
}

// confirmAction shows what the action will do before anything is sent, if
// the rules allow it now (jobs.Service.Check; a job the user may not see is
// answered as missing).
func (h *Handler) confirmAction(c echo.Context) error {
	a, ok := jobs.ParseAction(c.Param("action"))
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	j, err := h.svc.Jobs.Check(c.Request().Context(), h.actor(c), c.Param("id"), a, h.deniedWorthAuditing(c))
	var na *jobs.NotApplicableError
	switch {
	case errors.Is(err, jobs.ErrNotAllowed):
		return echo.NewHTTPError(http.StatusForbidden)
	case errors.As(err, &na):
		return echo.NewHTTPError(http.StatusConflict, na.Reason)
	case err != nil:
		return err
	}
	m := h.confirmModel(c, j, h.button(j, a))
	if st, ok := h.svc.Jobs.RunState(c.Request().Context(), j.ID); ok && st.Action == a {
		// Back to the confirmation of an action already sent (or a second
		// person about to repeat it): say so before anyone sends it again.
		m.Already = alreadyText(st)
	}
	return h.render(c, http.StatusOK, views.ConfirmPage(h.layout(c, actionLabels[a]+": "+j.Name), m), views.ConfirmPanel(m))
}

// alreadyText says that an action was sent a moment ago, and how it went.
func alreadyText(st jobs.RunState) string {
	s := fmt.Sprintf("%s was already sent by %s at %s", actionLabels[st.Action], orSomeone(st.By), st.StartedAt.UTC().Format("15:04 MST"))
	switch {
	case st.Active():
		s += " and is still in progress."
	case st.Message != "":
		s += ": " + strings.TrimSuffix(st.Message, ".") + "."
	default:
		s += "."
	}
	return s + " Confirm only if it should be done again."
}

// postAction runs the action: it reads the request and leaves every rule to
// the one action call (policy, lock, applicability, holds, audit, one EM
// call). The answer is a status fragment that follows the EM task.
func (h *Handler) postAction(c echo.Context) error {
	a, ok := jobs.ParseAction(c.Param("action"))
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	jobID := strings.ToLower(c.Param("id"))
	// Enable and disable carry the state the user saw and wants; the action
	// is decided on EM's state under the job's lock and refused if it is
	// already so.
	if d := c.FormValue("desired"); d != "" && d != "enabled" && d != "disabled" {
		return echo.NewHTTPError(http.StatusBadRequest, "The requested schedule state is neither “enabled” nor “disabled”, so nothing was sent to Enterprise Manager.")
	}
	if d := c.FormValue("desired"); d != "" && (a == jobs.Enable) != (d == "enabled") {
		return echo.NewHTTPError(http.StatusBadRequest, "The requested schedule state does not match the action.")
	}
	var opts jobs.ActOptions
	if a == jobs.Disable {
		d, err := h.holdDuration(c)
		if err != nil {
			return err
		}
		if d > 0 {
			opts.Until = time.Now().UTC().Add(d)
			opts.Note = holdNote(d, opts.Until)
		}
	}
	run, err := h.performer().Do(c.Request().Context(), h.actor(c), jobID, a, opts)
	var busy *jobs.BusyError
	var na *jobs.NotApplicableError
	switch {
	case errors.Is(err, jobs.ErrNotAllowed):
		return echo.NewHTTPError(http.StatusForbidden)
	case errors.As(err, &busy):
		return h.refused(c, jobID, a, fmt.Sprintf("Already being done by %s. Wait until it finishes.", busy.By), busy.By)
	case errors.Is(err, jobs.ErrAlready):
		return h.refused(c, jobID, a, fmt.Sprintf("The schedule is already %s; nothing was changed.", map[jobs.Action]string{jobs.Enable: "enabled", jobs.Disable: "disabled"}[a]), "")
	case errors.As(err, &na):
		return h.refused(c, jobID, a, na.Reason, "")
	case run == nil && err != nil:
		return err
	}
	if !htmxOf(c).Fragment() {
		return c.Redirect(http.StatusSeeOther, h.paths().Job(jobID))
	}
	st := h.actionState(run.Snapshot(), fromList(c))
	if h.fromMine(c) {
		st = h.mineState(st)
	}
	st.ClearConfirm = true
	return h.write(c, http.StatusOK, views.ActionStatus(st))
}

// performer is the one action call: the schedule holds' when they are
// kept (they wrap the jobs service's), else the jobs service's.
func (h *Handler) performer() interface {
	Do(ctx context.Context, actor jobs.Actor, jobID string, a jobs.Action, opts jobs.ActOptions) (*jobs.Run, error)
} {
	if h.svc.Holds != nil {
		return h.svc.Holds
	}
	return h.svc.Jobs
}

func (h *Handler) refused(c echo.Context, jobID string, a jobs.Action, msg, by string) error {
	st := views.ActionState{
		JobID: jobID, Action: string(a), Label: actionLabels[a], State: views.StateRefused, Message: msg, By: by,
		CardURL: h.paths().JobCard(jobID, paths.JobView), ClearConfirm: true,
	}
	if fromList(c) {
		st.RowURL = h.paths().JobRow(jobID)
	}
	if !htmxOf(c).Fragment() {
		return echo.NewHTTPError(http.StatusConflict, msg)
	}
	return h.write(c, http.StatusConflict, views.ActionStatus(st))
}

// showActionStatus is polled by the status fragment; it reads the run the
// service follows, so any number of viewers cost EM nothing extra.
func (h *Handler) showActionStatus(c echo.Context) error {
	j, _, err := h.visibleJob(c)
	if err != nil {
		return err
	}
	// Whichever replica follows the action (shared run state), any replica
	// answers this poll.
	run, ok := h.svc.Jobs.RunState(c.Request().Context(), j.ID)
	if !ok {
		// Nothing to follow any more (the outcome has aged out): an empty region
		// stops the polling; the card refreshes itself while the job runs.
		if !htmxOf(c).Fragment() {
			return c.Redirect(http.StatusSeeOther, h.paths().Job(j.ID))
		}
		return h.write(c, http.StatusOK, views.EmptyStatus(j.ID))
	}
	st := h.actionState(run, paths.ViewOf(c.QueryParams()) == paths.RowView)
	if paths.ViewOf(c.QueryParams()) == paths.MineView {
		st = h.mineState(st)
	}
	return h.write(c, http.StatusOK, views.ActionStatus(st))
}

// fromList reports an htmx request made from the jobs list, whose finished
// actions refresh a row rather than the job card.
func fromList(c echo.Context) bool {
	return strings.HasSuffix(strings.TrimRight(htmxOf(c).CurrentPath(), "/"), "/jobs")
}

func (h *Handler) actionState(s jobs.RunState, row bool) views.ActionState {
	st := views.ActionState{
		JobID: s.JobID, Action: string(s.Action), Label: actionLabels[s.Action], Message: s.Message,
		Progress: s.Progress, TaskID: s.TaskID, PollURL: h.paths().JobStatus(s.JobID, paths.JobView), CardURL: h.paths().JobCard(s.JobID, paths.JobView), By: s.By,
	}
	if row {
		st.PollURL = h.paths().JobStatus(s.JobID, paths.RowView)
		st.RowURL = h.paths().JobRow(s.JobID)
	}
	switch s.State {
	case jobs.RunStarting, jobs.RunRunning:
		st.State = views.StateRunning
		if st.Message == "" {
			st.Message = fmt.Sprintf("%s requested by %s; waiting for Enterprise Manager…", actionLabels[s.Action], s.By)
		}
	case jobs.RunUnknown:
		st.State = views.StateUnknown
		if !s.Active() {
			// Followed to the end without EM saying what became of it.
			st.State = views.StateUndetermined
		}
	case jobs.RunFailed:
		st.State = views.StateFailed
	default:
		st.State = views.StateFinished
	}
	return st
}

// actor is the person behind a request, for the audit trail.
func (h *Handler) actor(c echo.Context) jobs.Actor {
	u := h.currentUser(c)
	a := jobs.Actor{IP: c.RealIP(), UserAgent: c.Request().UserAgent(), Embedded: h.fromEmbed(c), Grant: h.grant(c)}
	if u != nil {
		a.Key, a.Name, a.Email, a.Groups = u.Key(), u.Name, u.Email, u.Groups
	}
	return a
}
