package handlers

import (
	"cmp"
	"context"
	"net/http"
	"strings"
	"sync"
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
	m, page := queryList(snap, g, f)
	m.Path, m.AsOf, m.Refreshing, m.RefreshFailed = h.paths().Jobs(), snap.AsOf, snap.Refreshing, snap.RefreshFailed
	m.Rows = h.listRows(ctx, g, snap.AsOf, page, h.svc.Jobs.RunStates(ctx))
	if htmxOf(c).Fragment() {
		// The address bar shows the canonical URL of what is on screen.
		hx.Response{PushURL: m.URL(m.Filter)}.Apply(c.Response().Header())
	}
	return h.render(c, http.StatusOK, views.JobListPage(h.layout(c, "Jobs"), m), views.JobTable(m))
}

// listRows are the rows of page, jobs of the snapshot taken at asOf, as g
// sees them with the portal's actions runs. A page made before is served
// again, the same slice, while each of its rows is still what its inputs
// make (pageMemo); the caller must not change it.
func (h *Handler) listRows(ctx context.Context, g *policy.Grant, asOf time.Time, page []*jobs.Job, runs map[string]jobs.RunState) []views.JobRow {
	if len(page) == 0 {
		return []views.JobRow{}
	}
	for _, p := range h.pages.get(page) {
		if p.still(h, ctx, g, asOf, page, runs) {
			return p.rows
		}
	}
	p := &listPage{entries: make([]*rowEntry, len(page)), allowed: make([]int, len(page)), rows: make([]views.JobRow, len(page))}
	for i, j := range page {
		e := h.rows.of(h.liveRow(ctx, asOf, j, runs), h.newRowEntry)
		p.entries[i], p.allowed[i] = e, e.allowed(g)
		p.rows[i] = e.row
		p.rows[i].Actions = e.buttons[p.allowed[i]]
	}
	h.pages.put(page, p)
	return p.rows
}

// pageLimit bounds the list pages remembered: those recently shown (the
// first page of each sort and filter mostly), pageVariants of each for
// people whose grants let them press different buttons. A page of 50 rows
// is ~15 KB, so at most ~4 MB; pages of an older snapshot are left to be
// dropped when the memo is full.
const (
	pageLimit    = 64
	pageVariants = 4
)

// pageMemo remembers the rows of recently shown list pages, by the page's
// first job and length; the rows themselves tell whether they still fit.
type pageMemo struct {
	mu sync.Mutex
	m  map[pageKey][]*listPage // most recent first
}

type pageKey struct {
	first *jobs.Job
	n     int
}

// listPage is one page of rows and the row entries and grant choices they
// were made from. It is not changed once made.
type listPage struct {
	entries []*rowEntry
	allowed []int // which of entries[i]'s buttons the grant allowed
	rows    []views.JobRow
}

// still reports whether p is the page jobRow would make of page now: each
// row's entry made from the same inputs, and g allowing the same buttons.
func (p *listPage) still(h *Handler, ctx context.Context, g *policy.Grant, asOf time.Time, page []*jobs.Job, runs map[string]jobs.RunState) bool {
	if len(p.entries) != len(page) {
		return false
	}
	for i, j := range page {
		e := p.entries[i]
		if !e.madeFrom(h.liveRow(ctx, asOf, j, runs)) || e.allowed(g) != p.allowed[i] {
			return false
		}
	}
	return true
}

func (pm *pageMemo) get(page []*jobs.Job) []*listPage {
	pm.mu.Lock()
	defer pm.mu.Unlock()
	return pm.m[pageKey{page[0], len(page)}]
}

// put remembers p first among the pages of its key.
func (pm *pageMemo) put(page []*jobs.Job, p *listPage) {
	k := pageKey{page[0], len(page)}
	pm.mu.Lock()
	defer pm.mu.Unlock()
	if pm.m == nil {
		pm.m = map[pageKey][]*listPage{}
	}
	old, ok := pm.m[k]
	if !ok && len(pm.m) >= pageLimit {
		for k := range pm.m { // any one: a map's order is unspecified
			delete(pm.m, k)
			break
		}
	}
	// A new slice: readers may be walking the old one.
	ps := make([]*listPage, 0, pageVariants)
	ps = append(ps, p)
	ps = append(ps, old[:min(len(old), pageVariants-1)]...)
	pm.m[k] = ps
}

// queryList is the list g sees of snap under f: the filter as applied (the
// page number within the pages there are), the total, the pages, the servers
// of every job g sees, and the page's jobs. The snapshot keeps what it works
// out (jobs.Visibility.Select): who sees which jobs, which jobs pass each
// filter, the jobs in each order; a request intersects those sets and walks
// one order as far as its page. Filters and sorts read the snapshot's data
// only: an action's newer state shows in the rows (liveRow), not in their
// order.
func queryList(snap *jobs.Snapshot, g *policy.Grant, f views.JobFilter) (views.JobList, []*jobs.Job) {
	size := f.PageSize
	if size <= 0 || size > 500 {
		size = listPageSize
	}
	vis := snap.VisibleTo(g)
	sel := vis.Select(jobs.Query{Filters: listFilters(f), SortKey: f.Sort, Compare: sortBy[f.Sort], Desc: f.Desc})
	m := views.JobList{Filter: f, Total: sel.Len(), Servers: vis.Servers()}
	m.Pages = max(1, (m.Total+size-1)/size)
	m.Filter.Page = min(max(f.Page, 1), m.Pages)
	return m, sel.Page((m.Filter.Page-1)*size, size)
}

// listFilters are the tests of the filter's choices. Each key names its test
// exactly (jobs.Filter): the snapshot keeps which jobs pass it.
func listFilters(f views.JobFilter) []jobs.Filter {
	var out []jobs.Filter
	// The search box promises name, description or computer.
	if q := strings.ToLower(f.Q); q != "" {
		out = append(out, jobs.Filter{Key: "q=" + q, Match: func(j *jobs.Job) bool { return j.Matches(q) }})
	}
	if p := f.Platform; p != "" {
		out = append(out, jobs.Filter{Key: "platform=" + p, Match: func(j *jobs.Job) bool { return platformLabel(j.Platform) == p }})
	}
	if s := f.Server; s != "" {
		out = append(out, jobs.Filter{Key: "server=" + s, Match: func(j *jobs.Job) bool { return strings.EqualFold(j.Server, s) }})
	}
	// As the Schedule column says: a job without a schedule is neither enabled
	// nor disabled ("Not scheduled").
	switch f.Schedule {
	case "enabled":
		out = append(out, jobs.Filter{Key: "schedule=enabled", Match: func(j *jobs.Job) bool { return j.ScheduleConfigured && j.ScheduleEnabled }})
	case "disabled":
		out = append(out, jobs.Filter{Key: "schedule=disabled", Match: func(j *jobs.Job) bool { return j.ScheduleConfigured && !j.ScheduleEnabled }})
	}
	if r := f.Result; r != "" {
		out = append(out, jobs.Filter{Key: "result=" + r, Match: func(j *jobs.Job) bool { return lastResult(j) == r }})
	}
	return out
}

// lastResult is the result the list shows: None while running or never run.
func lastResult(j *jobs.Job) string {
	if j.Last == nil || j.Last.Running() || j.Last.Result == "" {
		return views.ResultNone
	}
	return j.Last.Result
}

var resultRank = map[string]int{views.ResultSuccess: 0, views.ResultWarning: 1, views.ResultFailed: 2, views.ResultNone: 3}

// sortBy compares two jobs by a list column; the name column has none (the
// snapshot comes sorted by name). Each snapshot sorts its jobs once per
// column with these (jobs.Visibility.Sorted): stably, so equal keys stay in
// name order, and descending is that order reversed, so ties run by name
// descending. Times compare to the second, as rows show them: rows whose
// times look the same stay in name order, not in an order set by fractions
// nobody can see.
var sortBy = map[string]func(a, b *jobs.Job) int{
	"platform": func(a, b *jobs.Job) int { return strings.Compare(a.Platform, b.Platform) },
	"server":   func(a, b *jobs.Job) int { return strings.Compare(a.Server, b.Server) },
	"schedule": func(a, b *jobs.Job) int { return boolCmp(a.ScheduleEnabled, b.ScheduleEnabled) },
	"result":   func(a, b *jobs.Job) int { return resultRank[lastResult(a)] - resultRank[lastResult(b)] },
	"lastrun":  func(a, b *jobs.Job) int { return cmp.Compare(lastRun(a).Unix(), lastRun(b).Unix()) },
	"nextrun":  func(a, b *jobs.Job) int { return cmp.Compare(a.NextRun.Unix(), b.NextRun.Unix()) },
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
// The row as the job and the portal's action on it make it is remembered
// (rowMemo); only which of its buttons the user may press is asked of the
// grant on each call.
func (h *Handler) jobRow(g *policy.Grant, l jobs.Live) views.JobRow {
	e := h.rows.of(l, h.newRowEntry)
	r := e.row
	r.Actions = e.buttons[e.allowed(g)]
	return r
}

// newRowEntry works out what jobRow shows of l, whoever asks.
func (h *Handler) newRowEntry(l jobs.Live) *rowEntry {
	j := l.Job
	e := &rowEntry{job: j, run: l.Run, hasRun: l.HasRun, expecting: l.Expecting, pj: j.PolicyJob(), offered: offered(l)}
	e.row = views.JobRow{
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
		Poll:               pollEvery(l),
		Live:               l.HasRun || l.Expecting || !l.Settled(),
	}
	if e.row.Poll != "" {
		e.row.RowURL = h.paths().JobRow(j.ID)
	}
	if j.Last != nil {
		e.row.LastRunAt = j.Last.Start
		e.row.LastResult = lastResult(j)
		if e.row.Running {
			e.row.Progress = l.Progress()
		}
	}
	// The buttons of every subset of the offered actions, by the bits of
	// allowed: bit i stands for offered[i]. At most three actions are
	// offered at once (start or stop, retry, enable or disable), so that is
	// at most eight lists, kept in one array. The lists are shared by every
	// row made from this entry: nobody changes a row's buttons in place.
	n := len(e.offered)
	e.buttons = make([][]views.ActionButton, 1<<n)
	all := make([]views.ActionButton, 0, n<<max(n-1, 0))
	openers := make([]views.ActionButton, n)
	for i, a := range e.offered {
		openers[i] = h.opener(j, a)
	}
	for bits := 1; bits < len(e.buttons); bits++ {
		start := len(all)
		for i := range openers {
			if bits&(1<<i) != 0 {
				all = append(all, openers[i])
			}
		}
		e.buttons[bits] = all[start:len(all):len(all)]
	}
	return e
}

// rowLimit bounds the rows remembered: one per job, so a fleet of up to this
// many jobs keeps every row it has shown.
const rowLimit = 16384

// rowMemo remembers each job's list row, by job id, with what it was made
// from. A warm list then makes each row by comparing a pointer and a run
// state instead of building its addresses and buttons again.
type rowMemo struct {
	mu sync.Mutex
	m  map[string]*rowEntry
}

// rowEntry is one job's row and what it was made from. It is not changed
// once made; a row made from other inputs replaces it.
type rowEntry struct {
	// The inputs: the job as a list snapshot or the job cache holds it
	// (never changed once read: a job read again is a new *Job) and the
	// portal's action on it, as jobs.Live has them. The base path is the
	// handler's, fixed.
	job       *jobs.Job
	run       jobs.RunState
	hasRun    bool
	expecting bool

	row     views.JobRow // without Actions
	pj      policy.Job   // e.job as the policy sees it
	offered []jobs.Action
	buttons [][]views.ActionButton // by allowed's bits; buttons[0] is nil
}

// madeFrom reports whether e is what l makes. Without a run (HasRun
// false) nothing reads l.Run.
func (e *rowEntry) madeFrom(l jobs.Live) bool {
	return e.job == l.Job && e.hasRun == l.HasRun && e.expecting == l.Expecting && (!l.HasRun || e.run == l.Run)
}

// allowed is which of e's offered actions g allows, as the bits of buttons:
// jobs.Can, on the job as the policy sees it made once.
func (e *rowEntry) allowed(g *policy.Grant) int {
	bits := 0
	for i, a := range e.offered {
		if g.Can(e.pj, policy.Action(a)) {
			bits |= 1 << i
		}
	}
	return bits
}

// of is the entry l makes: the one remembered, or a new one from build.
func (rm *rowMemo) of(l jobs.Live, build func(jobs.Live) *rowEntry) *rowEntry {
	id := l.Job.ID
	rm.mu.Lock()
	e := rm.m[id]
	rm.mu.Unlock()
	if e != nil && e.madeFrom(l) {
		return e
	}
	e = build(l)
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if rm.m == nil {
		rm.m = map[string]*rowEntry{}
	}
	if _, ok := rm.m[id]; !ok && len(rm.m) >= rowLimit {
		for k := range rm.m { // any one: a map's order is unspecified
			delete(rm.m, k)
			break
		}
	}
	rm.m[id] = e
	return e
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
