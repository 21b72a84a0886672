package handlers

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/jobs"
	"github.com/agentdesk/agentdesk/policy"
	"github.com/agentdesk/agentdesk/views"
)

// TestQueryListMatchesReference: the list's query over the snapshot's cached
// visibility, searches and sort orders (queryList) shows exactly what the
// straightforward walk it replaced shows (referenceList: every job tested for
// visibility and the filter, then copied and stable-sorted, on every
// request): the same jobs in the same order, the same total, pages, page and
// servers, across grants, searches, filters, sort columns, both directions,
// pages past the end and page sizes. The snapshot's caches are warm from
// earlier queries while later ones run, queries run concurrently (go test
// -race), there are more grants than the cache keeps, and a second snapshot
// of the same jobs with newer results is asked after the first: no answer
// may come from another grant's, search's or snapshot's entry.
func TestQueryListMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 42))
	asOf := time.Date(2026, 12, 5, 18, 0, 0, 0, time.UTC)
	fleet := genFleet(r, 1500, asOf)
	grants := genGrants(t)
	if len(grants) <= 64 {
		t.Fatalf("%d grants: want more than the snapshot keeps (64)", len(grants))
	}

	filters := genFilters(r, 600)
	// check reports a difference; Errorf, not Fatalf: it runs in goroutines.
	check := func(t *testing.T, snap *jobs.Snapshot, g *policy.Grant, f views.JobFilter) {
		t.Helper()
		m, page := queryList(snap, g, f)
		want := referenceList(snap, g, f)
		got := listAnswer{ids: jobIDs(page), total: m.Total, pages: m.Pages, page: m.Filter.Page, servers: m.Servers}
		if !got.equal(want) {
			t.Errorf("grant %s, filter %+v:\n got %s\nwant %s", g.VisibilityKey(), f, got, want)
		}
	}

	snap := jobs.NewSnapshot(fleet, asOf)
	// Every sort, both ways, for every grant, first and a later page.
	for _, g := range grants {
		for _, col := range views.SortColumns() {
			for _, desc := range []bool{false, true} {
				check(t, snap, g, views.JobFilter{Sort: col, Desc: desc, Page: 1 + len(col)%3})
			}
		}
	}
	if t.Failed() {
		return
	}
	// Filters drawn at random, grants in turn, from several goroutines at
	// once on one snapshot.
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < len(filters); i += 4 {
				check(t, snap, grants[(i*7)%len(grants)], filters[i])
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	// A copy of the snapshot, as the service hands out, answers alike.
	cp := *snap
	cp.Refreshing = true
	for i := range 50 {
		check(t, &cp, grants[i%len(grants)], filters[i])
	}

	// The next snapshot: the same jobs, read again, with newer sessions and
	// schedules. Its answers are its own, not the first snapshot's.
	next := make([]*jobs.Job, len(fleet))
	for i, j := range fleet {
		c := *j
		if r.IntN(3) == 0 {
			c.Last = genSession(r, asOf.Add(time.Minute))
		}
		if r.IntN(5) == 0 {
			c.ScheduleEnabled = !c.ScheduleEnabled
		}
		next[i] = &c
	}
	r.Shuffle(len(next), func(a, b int) { next[a], next[b] = next[b], next[a] })
	snap2 := jobs.NewSnapshot(next, asOf.Add(15*time.Second))
	for i, f := range filters[:300] {
		g := grants[(i*5)%len(grants)]
		check(t, snap2, g, f)
		check(t, snap, g, f)
	}
}

// referenceList is the list's query as it was before the snapshot's index: it
// is the definition queryList must keep.
func referenceList(snap *jobs.Snapshot, g *policy.Grant, f views.JobFilter) listAnswer {
	q := strings.ToLower(f.Q)
	matched := make([]*jobs.Job, 0, len(snap.Jobs))
	servers := map[string]bool{}
	for _, j := range snap.Jobs {
		if !jobs.Visible(g, j) {
			continue
		}
		servers[j.Server] = true
		if referenceMatch(f, q, j) {
			matched = append(matched, j)
		}
	}
	referenceSort(matched, f.Sort, f.Desc)
	size := f.PageSize
	if size <= 0 || size > 500 {
		size = listPageSize
	}
	a := listAnswer{total: len(matched)}
	for s := range servers {
		a.servers = append(a.servers, s)
	}
	sort.Strings(a.servers)
	a.pages = max(1, (len(matched)+size-1)/size)
	a.page = min(max(f.Page, 1), a.pages)
	lo := (a.page - 1) * size
	hi := min(lo+size, len(matched))
	a.ids = jobIDs(matched[lo:hi])
	return a
}

func referenceMatch(f views.JobFilter, q string, j *jobs.Job) bool {
	if q != "" && !j.Matches(q) {
		return false
	}
	if f.Platform != "" && platformLabel(j.Platform) != f.Platform {
		return false
	}
	if f.Server != "" && !strings.EqualFold(j.Server, f.Server) {
		return false
	}
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

func referenceSort(js []*jobs.Job, key string, desc bool) {
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
	if by == nil {
		return
	}
	if desc {
		slices.SortStableFunc(js, func(a, b *jobs.Job) int { return by(b, a) })
		return
	}
	slices.SortStableFunc(js, by)
}

type listAnswer struct {
	ids                []string
	total, pages, page int
	servers            []string
}

func (a listAnswer) equal(b listAnswer) bool {
	return slices.Equal(a.ids, b.ids) && a.total == b.total && a.pages == b.pages && a.page == b.page &&
		slices.Equal(a.servers, b.servers)
}

func (a listAnswer) String() string {
	return fmt.Sprintf("total %d, page %d of %d, servers %v, ids %v", a.total, a.page, a.pages, a.servers, a.ids)
}

func jobIDs(js []*jobs.Job) []string {
	out := make([]string, len(js))
	for i, j := range js {
		out[i] = j.ID
	}
	return out
}

// genFleet makes n jobs whose every list column has many ties (names that
// differ in case only, equal times within a second, one of a few servers),
// so that any slip in the order of equal jobs shows.
func genFleet(r *rand.Rand, n int, asOf time.Time) []*jobs.Job {
	words := []string{"Ceph", "laptop", "SQL", "web", "Berlin", "münchen", "build", "CEPH-mon", "Ørestad", "db"}
	servers := []string{"vbr-a.corp.example", "vbr-b.corp.example", "VBR-B.corp.example", "vbr-c.corp.example"}
	out := make([]*jobs.Job, n)
	for i := range out {
		name := words[r.IntN(len(words))] + " " + words[r.IntN(len(words))]
		if r.IntN(4) == 0 {
			name = strings.ToUpper(name)
		}
		j := &jobs.Job{
			ID:                 fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
			Name:               name,
			Server:             servers[r.IntN(len(servers))],
			Platform:           []string{"AgentForWindows", "AgentForLinux"}[r.IntN(2)],
			Kind:               []string{"", jobs.KindJob, jobs.KindPolicy}[r.IntN(3)],
			Description:        []string{"", "Nightly", "ceph storage nodes", "Sicherung"}[r.IntN(4)],
			ScheduleConfigured: r.IntN(5) != 0,
			ScheduleEnabled:    r.IntN(2) == 0,
		}
		if r.IntN(4) != 0 {
			// Whole minutes plus a fraction: many equal to the second.
			j.NextRun = asOf.Add(time.Duration(r.IntN(30))*time.Minute + time.Duration(r.IntN(1000))*time.Millisecond)
		}
		for range r.IntN(3) {
			j.Computers = append(j.Computers, fmt.Sprintf("pc-%03d.corp.example", r.IntN(120)))
		}
		if r.IntN(6) != 0 {
			j.Last = genSession(r, asOf)
		}
		j.UID = "urn:veeam:AgentBackupJob:" + j.ID
		out[i] = j
	}
	return out
}

func genSession(r *rand.Rand, asOf time.Time) *jobs.Session {
	s := &jobs.Session{
		ID:     fmt.Sprintf("s-%d", r.Int()),
		State:  []string{"Stopped", "Stopped", "Stopped", "Working", ""}[r.IntN(5)],
		Result: []string{"Success", "Warning", "Failed", "", "None"}[r.IntN(5)],
		Start:  asOf.Add(-time.Duration(r.IntN(40))*time.Hour - time.Duration(r.IntN(1000))*time.Millisecond),
	}
	return s
}

// genGrants are grants of several policies for users of many kinds, more
// than the snapshot keeps: each user's own computers make a grant of its own.
func genGrants(t testing.TB) []*policy.Grant {
	p, err := policy.Parse([]byte(`
roles:
  admin:   { actions: [view, start, stop, retry, enable, disable] }
  a:       { actions: [view, start], jobs: { servers: [vbr-a.corp.example] } }
  b:       { actions: [view], jobs: { servers: [vbr-b.corp.example] } }
  ceph:    { actions: [view], jobs: [ { names: ["ceph*"] }, { platforms: [linux], kinds: [policy] } ] }
  win:     { actions: [view, stop], jobs: { platforms: [windows], kinds: [job] } }
  mine:    { actions: [view, start], jobs: { own_computers: true } }
  auditor: { audit: true }
bindings:
  - { group: admins, roles: [admin] }
  - { group: a, roles: [a] }
  - { group: b, roles: [b] }
  - { group: ceph, roles: [ceph] }
  - { group: win, roles: [win] }
  - { group: audit, roles: [auditor] }
  - { claim: { name: computer, present: true }, roles: [mine] }
self_service: { computer_claims: [computer], match: hostname }
`))
	if err != nil {
		t.Fatal(err)
	}
	out := []*policy.Grant{nil, policy.Unrestricted("test")}
	for _, gs := range [][]string{{"admins"}, {"a"}, {"b"}, {"a", "b"}, {"ceph"}, {"win"}, {"ceph", "win"}, {"audit"}, nil} {
		out = append(out, p.For(policy.Subject{Groups: gs}))
	}
	for i := range 70 {
		gs := [][]string{nil, {"a"}, {"ceph"}}[i%3]
		pc := fmt.Sprintf("pc-%03d", i)
		if i%2 == 0 {
			pc += ".corp.example"
		}
		out = append(out, p.For(policy.Subject{Groups: gs, Claims: map[string]string{"computer": pc}}))
	}
	return out
}

func genFilters(r *rand.Rand, n int) []views.JobFilter {
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	out := make([]views.JobFilter, n)
	for i := range out {
		f := views.JobFilter{
			Q:        pick("", "", "ceph", "CEPH", "ce", "ceph-", "lap", "pc-01", "pc-0", "ørestad", "nightly", "zz-none", "a b"),
			Platform: pick("", "", views.PlatformWindows, views.PlatformLinux),
			Server:   pick("", "", "", "vbr-b.corp.example", "VBR-A.CORP.EXAMPLE", "nowhere"),
			Schedule: pick("", "", "enabled", "disabled"),
			Result:   pick("", "", "", views.ResultSuccess, views.ResultWarning, views.ResultFailed, views.ResultNone),
			Sort:     pick(views.SortColumns()...),
			Desc:     r.IntN(2) == 0,
			Page:     []int{1, 1, 2, 5, 40, 1000}[r.IntN(6)],
			PageSize: []int{0, 0, 10, 25, 500, 501}[r.IntN(6)],
		}
		out[i] = f
	}
	return out
}

// BenchmarkQueryList10k is the list's query alone (no session, no rendering)
// over 10,000 jobs: queryList on a snapshot whose caches are warm, against
// the walk it replaced (referenceList), for an administrator (sees every job)
// and a user of one server's jobs.
//
//	go test -run '^$' -bench QueryList10k -benchmem -count 5 ./handlers/
func BenchmarkQueryList10k(b *testing.B) {
	r := rand.New(rand.NewPCG(17, 42))
	asOf := time.Date(2026, 12, 5, 18, 0, 0, 0, time.UTC)
	snap := jobs.NewSnapshot(genFleet(r, 10000, asOf), asOf)
	grants := genGrants(b)
	users := []struct {
		name string
		g    *policy.Grant
	}{{"admin", grants[2]}, {"one-server", grants[3]}}
	queries := []struct {
		name string
		f    views.JobFilter
	}{
		{"first-page", views.JobFilter{Sort: "name", Page: 1}},
		{"search-lastrun-desc", views.JobFilter{Q: "ceph", Sort: "lastrun", Desc: true, Page: 1}},
		{"filter-result", views.JobFilter{Platform: views.PlatformLinux, Schedule: "enabled", Sort: "result", Page: 2}},
		{"page-100", views.JobFilter{Sort: "nextrun", Page: 100}},
	}
	// The first request after a refresh works out what the snapshot keeps:
	// the grant's visible jobs, the search's and the order.
	b.Run("search-lastrun-desc/admin/first-on-a-snapshot", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			fresh := jobs.NewSnapshot(slices.Clone(snap.Jobs), asOf)
			b.StartTimer()
			queryList(fresh, users[0].g, queries[1].f)
		}
	})
	for _, q := range queries {
		for _, u := range users {
			b.Run(q.name+"/"+u.name+"/reference", func(b *testing.B) {
				for b.Loop() {
					referenceList(snap, u.g, q.f)
				}
			})
			b.Run(q.name+"/"+u.name+"/indexed", func(b *testing.B) {
				queryList(snap, u.g, q.f) // the snapshot's caches fill on first use
				for b.Loop() {
					queryList(snap, u.g, q.f)
				}
			})
		}
	}
}

// BenchmarkListIndexMemory10k reports what a 10,000-job snapshot's list
// caches hold once every column has been sorted both ways and ten grants and
// ten searches asked: the Go heap in use after a GC, less the same snapshot's
// before any query.
//
//	go test -run '^$' -bench ListIndexMemory10k -benchtime 1x ./handlers/
func BenchmarkListIndexMemory10k(b *testing.B) {
	r := rand.New(rand.NewPCG(17, 42))
	asOf := time.Date(2026, 12, 5, 18, 0, 0, 0, time.UTC)
	grants := genGrants(b)[:10]
	for b.Loop() {
		snap := jobs.NewSnapshot(genFleet(r, 10000, asOf), asOf)
		before := heapInUse()
		for i, g := range grants {
			for _, col := range views.SortColumns() {
				queryList(snap, g, views.JobFilter{Sort: col, Desc: i%2 == 0, Q: fmt.Sprintf("pc-%02d", i)})
			}
		}
		after := heapInUse()
		b.ReportMetric(float64(after-before)/1024, "index-KB/snapshot")
		runtime.KeepAlive(snap)
	}
}

// heapInUse is the Go heap in use after a GC.
func heapInUse() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}
