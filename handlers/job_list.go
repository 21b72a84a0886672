package handlers

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/agentdesk/agentdesk/handlers/hx"
	"github.com/agentdesk/agentdesk/jobs"
	"github.com/agentdesk/agentdesk/policy"
	"github.com/agentdesk/agentdesk/views"
)

const listPageSize = 50

// listJobs shows every job the user may see, filtered, sorted and paged in the
// portal over one cached snapshot (EM is asked once per TTL, whoever asks).
func (h *Handler) listJobs(c echo.Context) error {
	ctx := c.Request().Context()
	f := views.ParseJobFilter(c.QueryParams())
	snap, err := h.svc.Jobs.List(ctx)
	if err != nil {
		return err
	}
	g := h.grant(c)
	q := strings.ToLower(f.Q)
	matched := make([]*jobs.Job, 0, len(snap.Jobs))
	servers := map[string]bool{}
	for _, j := range snap.Jobs {
		if !jobs.Visible(g, j) {
			continue
		}
		servers[j.Server] = true
		if matchJob(f, q, j) {
			matched = append(matched, j)
		}
	}
	sortJobs(matched, f.Sort, f.Desc)

	size := f.PageSize
	if size <= 0 || size > 500 {
		size = listPageSize
	}
	m := views.JobList{Path: h.paths().Jobs(), Filter: f, Total: len(matched), AsOf: snap.AsOf,
		Refreshing: snap.Refreshing, RefreshFailed: snap.RefreshFailed}
	for s := range servers {
		m.Servers = append(m.Servers, s)
	}
	sort.Strings(m.Servers)
	m.Pages = max(1, (len(matched)+size-1)/size)
	m.Filter.Page = min(max(f.Page, 1), m.Pages)
	lo := (m.Filter.Page - 1) * size
	hi := min(lo+size, len(matched))
	m.Rows = make([]views.JobRow, 0, hi-lo)
	runs := h.svc.Jobs.RunStates(ctx)
	for _, j := range matched[lo:hi] {
		m.Rows = append(m.Rows, h.jobRow(g, h.liveRow(ctx, snap.AsOf, j, runs)))
	}
	if htmxOf(c).Fragment() {
		// The address bar shows the canonical URL of what is on screen.
		hx.Response{PushURL: m.URL(m.Filter)}.Apply(c.Response().Header())
	}
	return h.render(c, http.StatusOK, views.JobListPage(h.layout(c, "Jobs"), m), views.JobTable(m))
}

// matchJob reports whether j passes the filter; q is its search words in
// lower case.
func matchJob(f views.JobFilter, q string, j *jobs.Job) bool {
	// The search box promises name, description or computer.
	if q != "" && !j.Matches(q) {
		return false
	}
	if f.Platform != "" && platformLabel(j.Platform) != f.Platform {
		return false
	}
	if f.Server != "" && !strings.EqualFold(j.Server, f.Server) {
		return false
	}
	// As the Schedule column says: a job without a schedule is neither enabled
	// nor disabled ("Not scheduled").
	enabled := j.ScheduleConfigured && j.ScheduleEnabled
	disabled := j.ScheduleConfigured && !j.ScheduleEnabled
	if f.Schedule == "enabled" && !enabled || f.Schedule == "disabled" && !disabled {
		return false
	}
	if f.Result != "" && lastResult(j) != f.Result {
		return false
	}
	return true
}

// lastResult is the result the list shows: None while running or never run.
func lastResult(j *jobs.Job) string {
	if j.Last == nil || j.Last.Running() || j.Last.Result == "" {
		return views.ResultNone
	}
	return j.Last.Result
}

var resultRank = map[string]int{views.ResultSuccess: 0, views.ResultWarning: 1, views.ResultFailed: 2, views.ResultNone: 3}

// sortJobs orders the list by a column. The snapshot comes sorted by name, so
// a stable sort keeps name order among equal keys without comparing names
// again; descending reverses first, so ties run by name descending too. Times
// compare to the second, as rows show them: rows whose times look the same
// stay in name order, not in an order set by fractions nobody can see.
func sortJobs(js []*jobs.Job, key string, desc bool) {
	if desc {
		slices.Reverse(js)
	}
	by := map[string]func(a, b *jobs.Job) int{
		"platform": func(a, b *jobs.Job) int { return strings.Compare(a.Platform, b.Platform) },
		"server":   func(a, b *jobs.Job) int { return strings.Compare(a.Server, b.Server) },
		"schedule": func(a, b *jobs.Job) int { return boolCmp(a.ScheduleEnabled, b.ScheduleEnabled) },
		"result":   func(a, b *jobs.Job) int { return resultRank[lastResult(a)] - resultRank[lastResult(b)] },
		"lastrun":  func(a, b *jobs.Job) int { return cmp.Compare(lastRun(a).Unix(), lastRun(b).Unix()) },
		"nextrun":  func(a, b *jobs.Job) int { return cmp.Compare(a.NextRun.Unix(), b.NextRun.Unix()) },
	}[key]
	if by == nil { // by name: already in order
		return
	}
	if desc {
		slices.SortStableFunc(js, func(a, b *jobs.Job) int { return by(b, a) })
		return
	}
	slices.SortStableFunc(js, by)
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

func lastRun(j *jobs.Job) time.Time {
	if j.Last == nil {
		return time.Time{}
	}
	return j.Last.Start
}

// liveRow is a job of the list snapshot with the portal's action on it. A job
// an action changed after the snapshot was taken is read on its own (cached
// per job), so the row does not show the state from before the action.
func (h *Handler) liveRow(ctx context.Context, asOf time.Time, j *jobs.Job, runs map[string]jobs.RunState) jobs.Live {
	st, ok := runs[j.ID]
	if !ok {
		return jobs.Live{Job: j, AsOf: asOf}
	}
	if st.Changed.After(asOf) {
		if l, err := h.svc.Jobs.Live(ctx, j.ID); err == nil {
			return l
		}
	}
	return jobs.Live{Job: j, AsOf: asOf, Run: st, HasRun: true}
}

// jobRow maps a job onto a list row with the buttons this user may press.
func (h *Handler) jobRow(g *policy.Grant, l jobs.Live) views.JobRow {
	j := l.Job
	r := views.JobRow{
		ID:                 j.ID,
		Name:               j.Name,
		URL:                h.paths().Job(j.ID),
		Platform:           platformLabel(j.Platform),
		Server:             j.Server,
		Kind:               kindLabel(j.Kind),
		ScheduleConfigured: j.ScheduleConfigured,
		ScheduleEnabled:    j.ScheduleEnabled,
		NextRun:            j.NextRun,
		Running:            j.Running(),
		Actions:            h.buttons(g, l),
		Poll:               pollEvery(l),
		Live:               l.HasRun || l.Expecting || !l.Settled(),
	}
	if r.Poll != "" {
		r.RowURL = h.paths().JobRow(j.ID)
	}
	if j.Last != nil {
		r.LastRunAt = j.Last.Start
		r.LastResult = lastResult(j)
		if r.Running {
			r.Progress = l.Progress()
		}
	}
	return r
}

func platformLabel(p string) string {
	switch p {
	case "AgentForWindows":
		return views.PlatformWindows
	case "AgentForLinux":
		return views.PlatformLinux
	}
	return p
}

// kindLabel names a job kind EM stated; "" when it stated none (always, so
// far: see jobs.KindJob).
func kindLabel(k string) string {
	switch k {
	case jobs.KindPolicy:
		return views.KindPolicy
	case jobs.KindJob:
		return views.KindJob
	}
	return ""
}
