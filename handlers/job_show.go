package handlers

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/agentdesk/agentdesk/emclient"
	"github.com/agentdesk/agentdesk/handlers/paths"
	"github.com/agentdesk/agentdesk/jobs"
	"github.com/agentdesk/agentdesk/policy"
	"github.com/agentdesk/agentdesk/views"
)

const sessionPageSize = 10

// visibleJob loads a job the user may see. A job they may not see is reported as
// missing, so its existence does not leak.
func (h *Handler) visibleJob(c echo.Context) (*jobs.Job, time.Time, error) {
	id := c.Param("id")
	j, asOf, err := h.svc.Jobs.Job(c.Request().Context(), id)
	if err != nil {
		return nil, time.Time{}, err
	}
	if !jobs.Visible(h.grant(c), j) {
		return nil, time.Time{}, jobs.ErrNotFound
	}
	return j, asOf, nil
}

// liveJob loads a job the user may see, as its live views show it: EM's job
// and the portal's action on it (jobs.Live).
func (h *Handler) liveJob(c echo.Context) (jobs.Live, error) {
	l, err := h.svc.Jobs.Live(c.Request().Context(), c.Param("id"))
	if err != nil {
		return jobs.Live{}, err
	}
	if !jobs.Visible(h.grant(c), l.Job) {
		return jobs.Live{}, jobs.ErrNotFound
	}
	// app.js sends X-Action-Sent with every view's refresh right after an
	// action on the job was sent (views.liveRefresh).
	l.Expecting = htmxOf(c).ActionSent
	return l, nil
}

// Poll intervals of the live views: quicker while an action awaits EM, so a
// Start turns into Running (with Stop) within about a second, and every 2 s
// while a backup runs. The EM cost does not depend on them (jobs.Live).
const (
	pollAwaiting = "1s"
	pollRunning  = "2s"
)

// pollEvery is how often a view of the job refreshes itself; "" once the job
// has settled, which stops the polling.
func pollEvery(l jobs.Live) string {
	switch {
	case l.HasRun && l.Run.Awaiting(), l.Expecting && !(l.HasRun && l.Run.Active()):
		return pollAwaiting
	case !l.Settled():
		return pollRunning
	}
	return ""
}

// holdPoll is how often a settled card with a time-boxed disable refreshes
// itself, so its banner ("comes back at 11:41, in less than a minute") gives
// way to the enabled schedule when the hold ends: each minute, and every few
// seconds once the end is near or past.
func holdPoll(b *views.HoldBanner) string {
	if b == nil {
		return ""
	}
	if b.ReenableAt.Sub(b.Now) < 2*time.Minute {
		return "5s"
	}
	return "60s"
}

// showJob is the job page: everything EM says about the job.
func (h *Handler) showJob(c echo.Context) error {
	l, err := h.liveJob(c)
	if err != nil {
		return err
	}
	j := l.Job
	m, err := h.jobDetail(c, l)
	if err != nil {
		return err
	}
	// A deep link such as /jobs/{id}?action=retry (from a helpdesk ticket)
	// opens that confirmation; it never runs the action by itself.
	if q := c.QueryParam("action"); q != "" {
		m.Confirm, m.LinkNote = h.deepLink(c, j, m.Actions, q)
	}
	full := views.JobPage(h.layout(c, j.Name), m)
	switch htmxOf(c).Target {
	case "sessions-" + j.ID:
		return h.render(c, http.StatusOK, full, views.JobSessions(m))
	case "job-card-" + j.ID:
		return h.render(c, http.StatusOK, full, views.JobCard(m))
	}
	// Other htmx requests (boosted links, history) get the whole page.
	return h.write(c, http.StatusOK, full)
}

// showJobRow is one row of the list, swapped in after an action started from
// the list finishes.
func (h *Handler) showJobRow(c echo.Context) error {
	l, err := h.liveJob(c)
	if err != nil {
		return err
	}
	return h.write(c, http.StatusOK, views.JobRowView(h.jobRow(h.grant(c), l)))
}

// showJobCard is the fragment swapped in after an action and polled while the
// job runs.
func (h *Handler) showJobCard(c echo.Context) error {
	l, err := h.liveJob(c)
	if err != nil {
		return err
	}
	j := l.Job
	if paths.ViewOf(c.QueryParams()) == paths.MineView {
		return h.showMyBackupCard(c, l)
	}
	m, err := h.jobDetail(c, l)
	if err != nil {
		return err
	}
	if h.fromEmbed(c) {
		h.embedDetail(&m) // the refreshed card of an embedded card stays embedded
	}
	return h.render(c, http.StatusOK, views.JobPage(h.layout(c, j.Name), m), views.JobCard(m))
}

// showJobHistory is the job page's audit section, loaded when it is opened.
// It exists only for users who may read the audit log; anything but the
// section's own htmx request is sent to the audit page filtered to the job.
func (h *Handler) showJobHistory(c echo.Context) error {
	if !h.mayAudit(c) {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	j, _, err := h.visibleJob(c)
	if err != nil {
		return err
	}
	if !htmxOf(c).Fragment() {
		return c.Redirect(http.StatusSeeOther, h.auditURLForJob(j.ID))
	}
	rows, err := h.jobHistory(c.Request().Context(), j)
	if err != nil {
		return err
	}
	return h.write(c, http.StatusOK, views.JobHistory(rows))
}

// showSessionComputers lists the per-computer sessions of one backup session;
// loaded when the user expands the session, so the page itself stays one EM
// round trip.
func (h *Handler) showSessionComputers(c echo.Context) error {
	j, _, err := h.visibleJob(c)
	if err != nil {
		return err
	}
	sid := strings.ToLower(c.Param("sid"))
	if !emclient.ValidID(sid) {
		return jobs.ErrInvalidID
	}
	ctx := c.Request().Context()
	b, err := h.svc.Jobs.Session(ctx, sid)
	if err != nil {
		return err
	}
	if emclient.IDFromUID(b.JobUID) != j.ID {
		return jobs.ErrNotFound
	}
	kids, err := h.svc.Jobs.Children(ctx, j, b)
	if err != nil {
		return err
	}
	now := time.Now()
	rows := make([]views.SessionRow, 0, len(kids))
	for _, k := range kids {
		rows = append(rows, sessionRow(k, now))
	}
	title := "Computers of " + b.Name
	return h.render(c, http.StatusOK,
		views.SessionComputersPage(h.layout(c, title), title, h.paths().Job(j.ID), rows),
		views.SessionComputers(rows))
}

func (h *Handler) jobDetail(c echo.Context, l jobs.Live) (views.JobDetail, error) {
	j, asOf := l.Job, l.AsOf
	ctx := c.Request().Context()
	g := h.grant(c)
	spage, _ := strconv.Atoi(c.QueryParam("spage"))
	if spage < 1 {
		spage = 1
	}
	page, err := h.svc.Jobs.Sessions(ctx, j.ID, spage, sessionPageSize)
	if err != nil {
		return views.JobDetail{}, err
	}
	if page.Pages > 0 && spage > page.Pages {
		// Past the end (an old link, a shortened history): show the last page,
		// as the jobs list does, rather than an empty history.
		if page, err = h.svc.Jobs.Sessions(ctx, j.ID, page.Pages, sessionPageSize); err != nil {
			return views.JobDetail{}, err
		}
	}
	srv, err := h.svc.Jobs.Server(ctx, j.ServerID)
	if err != nil {
		srv = nil // the page names the server as the job does
	}
	m, ok := h.details.get(j, page, srv)
	if !ok {
		m = h.jobModel(j, page, srv)
		h.details.put(j, page, srv, m)
	}
	m.Actions = h.buttons(g, l)
	m.AsOf = asOf
	m.Poll = pollEvery(l)
	if m.Running {
		m.Progress = l.Progress()
	}
	m.Why = whyLines(g, policyJob(j))
	if m.Hold, err = h.holdBanner(ctx, g, j); err != nil {
		return views.JobDetail{}, err
	}
	if m.Poll == "" {
		m.Poll = holdPoll(m.Hold)
	}
	if h.mayAudit(c) {
		// The entries themselves are read when the section is opened
		// (showJobHistory): most views of a job never open it.
		m.HistoryURL, m.HistoryLoadURL = h.auditURLForJob(j.ID), h.paths().JobHistory(j.ID)
	}
	if l.HasRun {
		st := h.actionState(l.Run, false)
		if st.State == views.StateRunning || st.State == views.StateUnknown {
			m.Status = &st
		}
	}
	return m, nil
}

// jobModel is the part of a job page's model made from the job, its page of
// sessions and its backup server alone (see detailMemo).
func (h *Handler) jobModel(j *jobs.Job, page *jobs.SessionPage, srv *emclient.BackupServer) views.JobDetail {
	e := j.Entity
	m := views.JobDetail{
		ID:                 j.ID,
		UID:                j.UID,
		Name:               j.Name,
		JobType:            e.JobType,
		Platform:           platformLabel(j.Platform),
		Kind:               kindLabel(j.Kind),
		Description:        j.Description,
		URL:                h.paths().Job(j.ID),
		CardURL:            h.paths().JobCard(j.ID, paths.JobView),
		JobsURL:            h.paths().Jobs(),
		ScheduleConfigured: j.ScheduleConfigured,
		ScheduleEnabled:    j.ScheduleEnabled,
		NextRun:            j.NextRun,
		Schedule:           j.ScheduleWords(),
		Running:            j.Running(),
		SessionsPage:       page.Page,
		SessionsPages:      page.Pages,
	}
	if j.Last != nil {
		m.LastResult = lastResult(j)
		m.LastRunAt = j.Last.Start
	}
	f := h.facts.of(e)
	m.ScheduleRaw, m.Links, m.Includes, m.JobGuest, m.Retention = f.scheduleRaw, f.links, f.includes, f.jobGuest, f.retention
	if srv != nil {
		m.Server = views.BackupServer{Name: srv.Name, Version: srv.Version, Port: srv.Port, Description: srv.Description}
	} else {
		m.Server = views.BackupServer{Name: j.Server}
	}
	now := time.Now()
	for _, s := range page.Sessions {
		row := sessionRow(s, now)
		row.ChildrenURL = h.paths().SessionComputers(j.ID, s.ID)
		m.Sessions = append(m.Sessions, row)
	}
	return m
}

// whyLines says, one line per reason, what the user may do with the job and why:
// "You can see, start and retry this job because you are in helpdesk-berlin."
func whyLines(g *policy.Grant, j policy.Job) []string {
	var reasons []string
	jobVerbs := map[string][]string{}
	schedVerbs := map[string][]string{}
	for _, a := range policy.AllActions() {
		why := g.Why(j, a)
		if why == "" {
			continue
		}
		if _, seen := jobVerbs[why]; !seen {
			if _, seen := schedVerbs[why]; !seen {
				reasons = append(reasons, why)
			}
		}
		switch a {
		case policy.Enable:
			schedVerbs[why] = append(schedVerbs[why], "enable")
		case policy.Disable:
			schedVerbs[why] = append(schedVerbs[why], "disable")
		case policy.View:
			jobVerbs[why] = append(jobVerbs[why], "see")
		default:
			jobVerbs[why] = append(jobVerbs[why], string(a))
		}
	}
	lines := make([]string, 0, len(reasons))
	for _, r := range reasons {
		var parts []string
		if v := jobVerbs[r]; len(v) > 0 {
			parts = append(parts, joinWords(v, "and")+" this job")
		}
		if v := schedVerbs[r]; len(v) > 0 {
			parts = append(parts, joinWords(v, "or")+" its schedule")
		}
		lines = append(lines, "You can "+strings.Join(parts, ", and ")+" because "+r+".")
	}
	return lines
}

func joinWords(xs []string, conj string) string {
	if len(xs) < 2 {
		return strings.Join(xs, "")
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " " + conj + " " + xs[len(xs)-1]
}

func sessionRow(s *jobs.Session, now time.Time) views.SessionRow {
	r := views.SessionRow{
		ID: s.ID, Name: s.Name, State: views.PlainEM(views.EMSessionState, s.State), Result: s.Result, Start: s.Start, End: s.End,
		Duration: s.Duration(now), Progress: s.Progress, IsRetry: s.IsRetry, Computer: s.Computer,
	}
	if s.Running() {
		r.Result = views.ResultNone
	}
	if r.Result == views.ResultFailed || r.Result == views.ResultWarning {
		r.Reason = s.FailureMessage
	}
	return r
}

// includeKind is what an include's HierarchyObjRef says it is
// (urn:<platform>:AgentProtectionGroup:… or urn:<platform>:VeeamAgent:…), in
// words from the translation table; "" when it is absent: nothing else in
// EM's entity tells.
func includeKind(ref string) string {
	if p := strings.Split(ref, ":"); len(p) > 2 && p[2] != "" {
		return views.PlainEM(views.EMIncludeObjectType, p[2])
	}
	return ""
}

func guestKVs(g *emclient.GuestProcessingOptions) []views.KV {
	if g == nil {
		return nil
	}
	var kv []views.KV
	if v := g.VssSnapshotOptions; v != nil {
		kv = append(kv, views.KV{Key: "Application-aware processing (VSS)", Value: views.PlainEM(views.EMVssMode, v.VssSnapshotMode)},
			views.KV{Key: "Copy-only backup (leaves application logs alone)", Value: yesNo(v.IsCopyOnly)})
	}
	if w := g.WindowsGuestFSIndexingOptions; w != nil {
		kv = append(kv, views.KV{Key: "Windows file indexing", Value: indexing(w)})
	}
	if l := g.LinuxGuestFSIndexingOptions; l != nil {
		kv = append(kv, views.KV{Key: "Linux file indexing", Value: indexing(l)})
	}
	if s := g.SqlBackupOptions; s != nil {
		v := views.PlainEM(views.EMLogsProcessing, s.TransactionLogsProcessing)
		// Frequency and retention apply only when the logs are backed up;
		// EM keeps the values for the other modes too.
		if s.TransactionLogsProcessing == "Backup" {
			if s.BackupLogsFrequencyMin > 0 {
				v += fmt.Sprintf(", every %d minutes", s.BackupLogsFrequencyMin)
			}
			if s.UseDbBackupRetention {
				v += ", kept as long as the image backup"
			} else if s.RetainDays > 0 {
				v += fmt.Sprintf(", kept %d days", s.RetainDays)
			}
		}
		kv = append(kv, views.KV{Key: "SQL Server transaction logs", Value: v})
	}
	if g.WindowsCredentialsID != "" {
		kv = append(kv, views.KV{Key: "Windows credentials", Value: g.WindowsCredentialsID})
	}
	if g.LinuxCredentialsID != "" {
		kv = append(kv, views.KV{Key: "Linux credentials", Value: g.LinuxCredentialsID})
	}
	return kv
}

func indexing(o *emclient.GuestFSIndexingOptions) string {
	in, ex := o.IncludedIndexingFolders.Paths, o.ExcludedIndexingFolders.Paths
	switch {
	case o.FileSystemIndexingMode == "ExceptSpecifiedFolders" && len(ex) > 0:
		return "Every folder except " + strings.Join(ex, ", ")
	case o.FileSystemIndexingMode == "SpecifiedFolders" && len(in) > 0:
		return "Only " + strings.Join(in, ", ")
	case o.FileSystemIndexingMode == "Disabled" || o.FileSystemIndexingMode == "EveryFolders":
		return views.PlainEM(views.EMIndexingMode, o.FileSystemIndexingMode)
	}
	v := views.PlainEM(views.EMIndexingMode, o.FileSystemIndexingMode)
	if len(in) > 0 {
		v += "; only " + strings.Join(in, ", ")
	}
	if len(ex) > 0 {
		v += "; except " + strings.Join(ex, ", ")
	}
	return v
}

func retentionKVs(ji *emclient.AgentJobInfo) []views.KV {
	var kv []views.KV
	if s := ji.SimpleRetentionPolicy; s != nil {
		v := fmt.Sprintf("%d %s", s.RetainCycles, views.PlainEM(views.EMRetainLimitType, "Cycles"))
		if s.RetainLimitType == "Days" {
			v = fmt.Sprintf("%d %s", s.RetainDaysToKeep, views.PlainEM(views.EMRetainLimitType, "Days"))
		} else if s.RetainLimitType != "Cycles" && s.RetainLimitType != "" {
			v += " (" + views.PlainEM(views.EMRetainLimitType, s.RetainLimitType) + ")"
		}
		kv = append(kv, views.KV{Key: "Keep", Value: v})
	}
	if gfs := ji.GfsRetentionPolicy; gfs != nil {
		if !gfs.Enabled {
			kv = append(kv, views.KV{Key: "Long-term (GFS)", Value: "Off"})
		} else {
			for _, p := range []struct {
				name string
				p    *emclient.GfsPeriod
				unit string
				on   func(*emclient.GfsPeriod) string
			}{
				{"Weekly fulls", gfs.Weekly, "weeks", func(p *emclient.GfsPeriod) string {
					return "taken on " + views.PlainEM(views.EMGfsSelectedDay, p.SelectedDay)
				}},
				{"Monthly fulls", gfs.Monthly, "months", func(p *emclient.GfsPeriod) string {
					return "taken in " + views.PlainEM(views.EMGfsSelectedWeek, p.SelectedWeek)
				}},
				{"Yearly fulls", gfs.Yearly, "years", func(p *emclient.GfsPeriod) string {
					return "taken in " + views.PlainEM(views.EMGfsSelectedMonth, p.SelectedMonth)
				}},
			} {
				if p.p == nil || !p.p.Enabled {
					kv = append(kv, views.KV{Key: p.name, Value: "Off"})
					continue
				}
				kv = append(kv, views.KV{Key: p.name, Value: fmt.Sprintf("Keep %d %s, %s", p.p.RetentionPeriod, p.unit, p.on(p.p))})
			}
		}
	}
	return kv
}

// scheduleRaw lists EM's schedule values as they came, for the people who want
// to check the plain words against them.
func scheduleRaw(o *emclient.JobScheduleOptions) []views.KV {
	if o == nil || o.Standart == nil {
		return nil
	}
	s := o.Standart
	var kv []views.KV
	add := func(k, v string) { kv = append(kv, views.KV{Key: k, Value: v}) }
	if r := s.RetryOptions; r != nil {
		add("RetryOptions", fmt.Sprintf("RetryTimes=%d RetryTimeout=%d RetrySpecified=%t", r.RetryTimes, r.RetryTimeout, r.RetrySpecified))
	}
	add("WaitForBackupCompletion", strconv.FormatBool(s.WaitForBackupCompletion))
	add("BackupCompetitionWaitingPeriodMin", strconv.Itoa(s.BackupCompetitionWaitingPeriodMin))
	if d := s.OptionsDaily; d != nil {
		add("OptionsDaily", fmt.Sprintf("Enabled=%t Kind=%s Days=%s Time=%s TimeOffsetUtc=%d", d.Enabled, d.Kind, strings.Join(d.Days, ","), d.Time.Raw, d.TimeOffsetUtc))
	}
	if m := s.OptionsMonthly; m != nil {
		add("OptionsMonthly", fmt.Sprintf("Enabled=%t Time=%s TimeOffsetUtc=%d DayNumberInMonth=%s DayOfWeek=%s DayOfMonth=%d Months=%s", m.Enabled, m.Time.Raw, m.TimeOffsetUtc, m.DayNumberInMonth, m.DayOfWeek, m.DayOfMonth, strings.Join(m.Months, ",")))
	}
	if p := s.OptionsPeriodically; p != nil {
		add("OptionsPeriodically", fmt.Sprintf("Enabled=%t Kind=%s FullPeriod=%d", p.Enabled, p.Kind, p.FullPeriod))
		for _, d := range p.Schedule.Days {
			add("OptionsPeriodically "+d.Name, d.Hours)
		}
	}
	if ct := s.OptionsContinuous; ct != nil {
		add("OptionsContinuous", fmt.Sprintf("Enabled=%t", ct.Enabled))
	}
	if w := s.OptionsBackupWindow; w != nil {
		add("OptionsBackupWindow", fmt.Sprintf("Enabled=%t", w.Enabled))
		for _, d := range w.TimePeriods.Days {
			add("OptionsBackupWindow "+d.Name, d.Hours)
		}
	}
	if dc := s.OptionsDaisyChaining; dc != nil {
		add("OptionsDaisyChaining", fmt.Sprintf("Enabled=%t PreviousJobUid=%s", dc.Enabled, dc.PreviousJobUID))
	}
	return kv
}

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

// deepLink answers /jobs/{id}?action=<a>: the confirmation of that action when
// the user may run it and it is possible now, otherwise a note that says why
// the link opens only the job. Nothing is sent to EM either way.
func (h *Handler) deepLink(c echo.Context, j *jobs.Job, offered []views.ActionButton, q string) (*views.Confirm, string) {
	a, ok := jobs.ParseAction(q)
	if !ok {
		return nil, "This link asks for an action AgentDesk does not know, so it opens the job only."
	}
	for _, b := range offered {
		if b.Action == string(a) {
			conf := h.confirmModel(c, j, h.button(j, a))
			return &conf, ""
		}
	}
	label := map[jobs.Action]string{jobs.Start: "start this job", jobs.Stop: "stop this job", jobs.Retry: "retry this job",
		jobs.Enable: "enable this job's schedule", jobs.Disable: "disable this job's schedule"}[a]
	if g := h.grant(c); !g.Can(policyJob(j), policyAction(a)) {
		// End users ask the helpdesk; the helpdesk asks whoever administers AgentDesk.
		who := "an AgentDesk administrator"
		if g.SelfServiceOnly() {
			who = "the helpdesk"
		}
		return nil, fmt.Sprintf("This link asks to %s, but you may not do that. Ask %s if it needs doing.", label, who)
	}
	why := "it is not possible now."
	if err := h.applicable(j, a); err != nil {
		why = "that is not possible now: " + err.Error()
	}
	return nil, fmt.Sprintf("This link asks to %s, but %s", label, why)
}
