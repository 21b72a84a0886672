package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/agentdesk/agentdesk/jobs"
	"github.com/agentdesk/agentdesk/policy"
	"github.com/agentdesk/agentdesk/views"
)

// buttons are the actions both EM (the job's links and state) and the policy
// allow. What is not shown here is refused by postAction too.
func (h *Handler) buttons(g *policy.Grant, l jobs.Live) []views.ActionButton {
	// While an action the portal sent is still with EM (its task not finished),
	// the job's state is about to change and the job's lock is held: offer
	// nothing, so nobody presses Start twice while the views catch up. Stop
	// too would only be refused as "already being done"; it comes with the
	// next refresh, once EM has confirmed (Live: within about PollEvery).
	// The run may be followed by another replica: Live has it either way.
	// Once EM has accepted it and while its session is looked for, only Stop.
	j := l.Job
	if l.HasRun && l.Run.Awaiting() {
		return nil
	}
	onlyStop := l.HasRun && l.Run.Active() && l.Run.SessionID == ""
	var out []views.ActionButton
	for _, a := range []jobs.Action{jobs.Start, jobs.Stop, jobs.Retry, jobs.Enable, jobs.Disable} {
		if onlyStop && a != jobs.Stop {
			continue
		}
		if h.applicable(j, a) == nil && g.Can(policyJob(j), policyAction(a)) {
			out = append(out, h.button(j, a))
		}
	}
	return out
}

// notPossible is why an action cannot be done now, as a sentence shown to
// the user (hence capitalised and punctuated, unlike Go error strings).
type notPossible string

func (n notPossible) Error() string { return string(n) }

// applicable says why EM would not do the action now, or nil.
func (h *Handler) applicable(j *jobs.Job, a jobs.Action) error {
	links := j.Entity.Links
	switch a {
	case jobs.Start:
		if !links.Has("Start") {
			return notPossible("Enterprise Manager does not offer Start for this job.")
		}
		if j.Running() {
			return notPossible("The job is already running.")
		}
	case jobs.Stop:
		if !links.Has("Stop") {
			return notPossible("Enterprise Manager does not offer Stop for this job.")
		}
		if !j.Running() {
			return notPossible("The job is not running, so there is nothing to stop.")
		}
	case jobs.Retry:
		if !links.Has("Retry") {
			return notPossible("Enterprise Manager does not offer Retry for this job.")
		}
		if j.Running() || j.Last == nil || j.Last.Result != "Failed" {
			return notPossible("Retry is possible only after a failed run.")
		}
	case jobs.Enable, jobs.Disable:
		if err := toggleable(j); err != nil {
			return err
		}
		if j.ScheduleEnabled == (a == jobs.Enable) {
			return notPossible(fmt.Sprintf("The schedule is already %s.", map[bool]string{true: "enabled", false: "disabled"}[j.ScheduleEnabled]))
		}
	}
	return nil
}

// toggleable says why the job's schedule cannot be switched at all, or nil;
// whether it already has the wanted state is a separate question.
func toggleable(j *jobs.Job) error {
	if !j.Entity.Links.Has("ToggleScheduleEnabled") {
		return notPossible("Enterprise Manager does not offer schedule changes for this job.")
	}
	if !j.ScheduleConfigured {
		return notPossible("The job has no schedule.")
	}
	return nil
}

var actionLabels = map[jobs.Action]string{
	jobs.Start: "Start", jobs.Stop: "Stop", jobs.Retry: "Retry",
	jobs.Enable: "Enable schedule", jobs.Disable: "Disable schedule",
}

func (h *Handler) button(j *jobs.Job, a jobs.Action) views.ActionButton {
	base := h.set.base + "/jobs/" + j.ID
	return views.ActionButton{
		Action:     string(a),
		Label:      actionLabels[a],
		ConfirmURL: base + "/confirm/" + string(a),
		PostURL:    base + "/actions/" + string(a),
		Confirm:    confirmText(j, a),
		Danger:     a == jobs.Stop || a == jobs.Disable,
	}
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

// actionFor reads the action from the URL and checks the user may run it on the
// job; the job must be visible to them first.
func (h *Handler) actionFor(c echo.Context) (*jobs.Job, jobs.Action, error) {
	a, ok := jobs.ParseAction(c.Param("action"))
	if !ok {
		return nil, "", echo.NewHTTPError(http.StatusNotFound)
	}
	ctx := c.Request().Context()
	j, _, err := h.svc.Jobs.Job(ctx, c.Param("id"))
	if err != nil {
		return nil, "", err
	}
	g := h.grant(c)
	if !g.Visible(policyJob(j)) {
		// Audited, but answered exactly like a job that does not exist.
		if h.deniedWorthAuditing(c) && h.svc.Audit != nil {
			at := jobs.Attempt{At: time.Now(), Actor: h.actor(c), Action: a, JobID: j.ID, JobUID: j.UID, JobName: j.Name, Server: j.Server}
			if err := h.svc.Audit.Refused(ctx, at, jobs.Outcome{Result: "denied", Message: "not allowed by policy: the job is not visible to this user (answered as not found)"}); err != nil {
				h.logFor(c).Error("audit write failed", "err", err)
			}
		}
		return nil, "", jobs.ErrNotFound
	}
	if !g.Can(policyJob(j), policyAction(a)) {
		if h.deniedWorthAuditing(c) {
			h.svc.Jobs.RecordDenied(ctx, h.actor(c), j, a)
		}
		return nil, "", echo.NewHTTPError(http.StatusForbidden)
	}
	return j, a, nil
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
	m := views.Confirm{JobID: j.ID, JobName: j.Name, Action: b, CancelURL: h.set.base + "/jobs/" + j.ID, CSRFToken: h.csrfToken(c)}
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

// confirmAction shows what the action will do before anything is sent.
func (h *Handler) confirmAction(c echo.Context) error {
	j, a, err := h.actionFor(c)
	if err != nil {
		return err
	}
	if err := h.applicable(j, a); err != nil {
		return echo.NewHTTPError(http.StatusConflict, err.Error())
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

// postAction runs the action: policy, then the job's lock, the audit record, and
// one EM call. The answer is a status fragment that follows the EM task.
func (h *Handler) postAction(c echo.Context) error {
	j, a, err := h.actionFor(c)
	if err != nil {
		return err
	}
	// Enable and disable carry the state the user saw and wants; the service
	// re-reads EM under the lock and refuses if it is already so.
	if d := c.FormValue("desired"); d != "" && d != "enabled" && d != "disabled" {
		return echo.NewHTTPError(http.StatusBadRequest, "The requested schedule state is neither “enabled” nor “disabled”, so nothing was sent to Enterprise Manager.")
	}
	if d := c.FormValue("desired"); d != "" && (a == jobs.Enable) != (d == "enabled") {
		return echo.NewHTTPError(http.StatusBadRequest, "The requested schedule state does not match the action.")
	}
	// For enable/disable only the current state is left to the service (fresh,
	// under the lock); a job without a schedule is never toggled.
	check := h.applicable(j, a)
	if a == jobs.Enable || a == jobs.Disable {
		check = toggleable(j)
	}
	if check != nil {
		return h.refused(c, j, a, check.Error(), "")
	}
	var hold time.Duration
	if a == jobs.Disable {
		if hold, err = h.holdDuration(c); err != nil {
			return err
		}
	}
	var run *jobs.Run
	if hold > 0 {
		run, err = h.disableFor(c, j, hold)
	} else {
		run, err = h.svc.Jobs.Act(c.Request().Context(), h.actor(c), j.ID, a)
	}
	if run != nil && err == nil && (a == jobs.Enable || a == jobs.Disable) && hold == 0 {
		// A person decided about the schedule: earlier time-boxed disables
		// of the job are over ("Enable now" on the banner ends its hold).
		h.settleHolds(c, j, 0, fmt.Sprintf("Schedule %sd by %s at %s.", a, orSomeone(h.actor(c).Name), time.Now().UTC().Format("2006-01-02 15:04 MST")))
	}
	var busy *jobs.BusyError
	switch {
	case errors.As(err, &busy):
		return h.refused(c, j, a, fmt.Sprintf("Already being done by %s. Wait until it finishes.", busy.By), busy.By)
	case errors.Is(err, jobs.ErrAlready):
		return h.refused(c, j, a, fmt.Sprintf("The schedule is already %s; nothing was changed.", map[jobs.Action]string{jobs.Enable: "enabled", jobs.Disable: "disabled"}[a]), "")
	case errors.Is(err, jobs.ErrNotApplicable):
		return h.refused(c, j, a, "Not possible now: the job's state has changed. The page has been refreshed.", "")
	case run == nil && err != nil:
		return err
	}
	if !isHTMX(c) {
		return c.Redirect(http.StatusSeeOther, h.set.base+"/jobs/"+j.ID)
	}
	st := h.actionState(run.Snapshot(), fromList(c))
	if h.fromMine(c) {
		st = h.mineState(st)
	}
	st.ClearConfirm = true
	return h.write(c, http.StatusOK, views.ActionStatus(st))
}

func (h *Handler) refused(c echo.Context, j *jobs.Job, a jobs.Action, msg, by string) error {
	st := views.ActionState{
		JobID: j.ID, Action: string(a), Label: actionLabels[a], State: views.StateRefused, Message: msg, By: by,
		CardURL: h.set.base + "/jobs/" + j.ID + "/card", ClearConfirm: true,
	}
	if fromList(c) {
		st.RowURL = h.set.base + "/jobs/" + j.ID + "/row"
	}
	if !isHTMX(c) {
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
		if !isHTMX(c) {
			return c.Redirect(http.StatusSeeOther, h.set.base+"/jobs/"+j.ID)
		}
		return h.write(c, http.StatusOK, views.EmptyStatus(j.ID))
	}
	st := h.actionState(run, c.QueryParam("view") == "row")
	if c.QueryParam("view") == "mine" {
		st = h.mineState(st)
	}
	return h.write(c, http.StatusOK, views.ActionStatus(st))
}

// fromList reports an htmx request made from the jobs list, whose finished
// actions refresh a row rather than the job card.
func fromList(c echo.Context) bool {
	u, err := url.Parse(c.Request().Header.Get("HX-Current-URL"))
	return err == nil && strings.HasSuffix(strings.TrimRight(u.Path, "/"), "/jobs")
}

func (h *Handler) actionState(s jobs.RunState, row bool) views.ActionState {
	base := h.set.base + "/jobs/" + s.JobID
	st := views.ActionState{
		JobID: s.JobID, Action: string(s.Action), Label: actionLabels[s.Action], Message: s.Message,
		Progress: s.Progress, TaskID: s.TaskID, PollURL: base + "/status", CardURL: base + "/card", By: s.By,
	}
	if row {
		st.PollURL += "?view=row"
		st.RowURL = base + "/row"
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
	a := jobs.Actor{IP: c.RealIP(), UserAgent: c.Request().UserAgent(), Embedded: h.fromEmbed(c)}
	if u != nil {
		a.Key, a.Name, a.Email, a.Groups = u.Key(), u.Name, u.Email, u.Groups
	}
	return a
}
