package handlers

import (
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/emclient"
	"github.com/agentdesk/agentdesk/jobs"
	"github.com/agentdesk/agentdesk/policy"
	"github.com/agentdesk/agentdesk/views"
)

const rowTestPolicy = `
roles:
  admin:    { actions: [view, start, stop, retry, enable, disable] }
  helpdesk: { actions: [view, start, retry], jobs: { servers: ["vbr-berlin.corp.example"] } }
  toggler:  { actions: [view, enable, disable] }
  auditor:  { actions: [view] }
bindings:
  - { group: admins,   roles: [admin] }
  - { group: helpdesk, roles: [helpdesk] }
  - { group: togglers, roles: [toggler] }
  - { group: auditors, roles: [auditor] }
`

func rowTestGrants(t *testing.T) map[string]*policy.Grant {
	t.Helper()
	pol, err := policy.Parse([]byte(rowTestPolicy))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*policy.Grant{"none": nil}
	for _, g := range []string{"admins", "helpdesk", "togglers", "auditors"} {
		out[g] = pol.For(policy.Subject{Key: g, Groups: []string{g}})
	}
	return out
}

// rowTestJob is a job as a list snapshot holds it: a new *Job each time, as
// each snapshot (or job read) makes one.
func rowTestJob(enabled bool, last *jobs.Session) *jobs.Job {
	links := emclient.Links{{Rel: "Start"}, {Rel: "Stop"}, {Rel: "Retry"}, {Rel: "ToggleScheduleEnabled"}}
	return &jobs.Job{
		ID: "0f3c2b1a-1111-4222-8333-444455556666", UID: "urn:veeam:AgentBackupJob:0f3c2b1a-1111-4222-8333-444455556666",
		Name: "Erin's laptop", Server: "vbr-berlin.corp.example", Platform: "AgentForWindows",
		ScheduleConfigured: true, ScheduleEnabled: enabled, Computers: []string{"erin-laptop"},
		Entity: &emclient.AgentBackupJob{Links: links}, Last: last,
	}
}

func actionsOf(r views.JobRow) []string {
	var out []string
	for _, b := range r.Actions {
		out = append(out, b.Action)
	}
	return out
}

// freshRow is the row made without the memo: what jobRow must give.
func freshRow(h *Handler, g *policy.Grant, l jobs.Live) views.JobRow {
	r := h.newRowEntry(l).row
	r.Actions = h.buttons(g, l)
	return r
}

// TestJobRowFollowsItsInputs: a job's list row is remembered, yet every
// change of what it is made from (the job read anew, the portal's action on
// it and each step of that action, the user's grant) gives the row those
// inputs make, never the one remembered from others; and going back to
// earlier inputs gives their row again. Each step is checked against the
// row made without the memo, and the buttons also against what a person
// would expect.
func TestJobRowFollowsItsInputs(t *testing.T) {
	h := &Handler{set: settings{base: "/backup"}}
	grants := rowTestGrants(t)
	start := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	ok := &jobs.Session{ID: "s1", State: "Stopped", Result: "Success", Start: start}
	failed := &jobs.Session{ID: "s2", State: "Stopped", Result: "Failed", Start: start}
	running := &jobs.Session{ID: "s3", State: "Working", Progress: 40, Start: start}
	idle := rowTestJob(true, ok)
	busy := rowTestJob(true, running)
	run := jobs.RunState{JobID: idle.ID, Action: jobs.Start, By: "Alice", State: jobs.RunStarting, StartedAt: start}
	accepted := run
	accepted.State, accepted.Unlocked = jobs.RunRunning, true
	found := accepted
	found.SessionID, found.Progress = "s3", 10
	further := found
	further.Progress = 60
	ended := further
	ended.State, ended.EndedAt, ended.Progress = jobs.RunFinished, start.Add(time.Minute), 100

	steps := []struct {
		name string
		l    jobs.Live
		want map[string][]string // buttons by grant
	}{
		{"idle", jobs.Live{Job: idle},
			map[string][]string{"admins": {"start", "disable"}, "helpdesk": {"start"}, "togglers": {"disable"}}},
		{"expecting", jobs.Live{Job: idle, Expecting: true},
			map[string][]string{"admins": {"start", "disable"}, "helpdesk": {"start"}, "togglers": {"disable"}}},
		{"start sent", jobs.Live{Job: idle, HasRun: true, Run: run}, nil},
		{"start accepted", jobs.Live{Job: idle, HasRun: true, Run: accepted},
			map[string][]string{}},
		{"session found", jobs.Live{Job: busy, HasRun: true, Run: found},
			map[string][]string{"admins": {"stop", "disable"}, "togglers": {"disable"}}},
		{"progress", jobs.Live{Job: busy, HasRun: true, Run: further},
			map[string][]string{"admins": {"stop", "disable"}, "togglers": {"disable"}}},
		{"ended", jobs.Live{Job: rowTestJob(true, failed), HasRun: true, Run: ended},
			map[string][]string{"admins": {"start", "retry", "disable"}, "helpdesk": {"start", "retry"}, "togglers": {"disable"}}},
		{"schedule disabled", jobs.Live{Job: rowTestJob(false, failed)},
			map[string][]string{"admins": {"start", "retry", "enable"}, "helpdesk": {"start", "retry"}, "togglers": {"enable"}}},
		{"idle again", jobs.Live{Job: idle},
			map[string][]string{"admins": {"start", "disable"}, "helpdesk": {"start"}, "togglers": {"disable"}}},
	}
	// Twice through, and each grant twice per step, in turns: a row
	// remembered for one user or one step must not reach another.
	for round := range 2 {
		for _, st := range steps {
			for range 2 {
				for _, name := range []string{"admins", "helpdesk", "togglers", "auditors", "none"} {
					g := grants[name]
					got := h.jobRow(g, st.l)
					if want := freshRow(h, g, st.l); !reflect.DeepEqual(got, want) {
						t.Errorf("round %d, %s, %s: row\n%+v\nwant\n%+v", round, st.name, name, got, want)
					}
					if st.want != nil && !slices.Equal(actionsOf(got), st.want[name]) {
						t.Errorf("round %d, %s, %s: buttons %q, want %q", round, st.name, name, actionsOf(got), st.want[name])
					}
				}
			}
		}
	}
	// The progress shown is the run's, step by step.
	if r := h.jobRow(grants["admins"], steps[5].l); r.Progress != 60 || !r.Running || r.Poll == "" || r.RowURL != "/backup/jobs/"+idle.ID+"/row" {
		t.Errorf("a running row: %+v", r)
	}
	// The buttons are the confirmations' openers, below the base path.
	r := h.jobRow(grants["admins"], jobs.Live{Job: idle})
	want := []views.ActionButton{
		{Action: "start", Label: "Start", ConfirmURL: "/backup/jobs/" + idle.ID + "/confirm/start"},
		{Action: "disable", Label: "Disable schedule", ConfirmURL: "/backup/jobs/" + idle.ID + "/confirm/disable", Danger: true},
	}
	if !slices.Equal(r.Actions, want) {
		t.Errorf("buttons %+v, want %+v", r.Actions, want)
	}
}

// TestJobRowGrantChange: the same job in the same state, asked for by the
// same person before and after the policy changed what they may do (a new
// Grant each request, as the handlers compute it), shows the new buttons.
func TestJobRowGrantChange(t *testing.T) {
	h := &Handler{}
	l := jobs.Live{Job: rowTestJob(true, nil)}
	before, err := policy.Parse([]byte("roles: { helpdesk: { actions: [view, start] } }\nbindings: [{ group: hd, roles: [helpdesk] }]\n"))
	if err != nil {
		t.Fatal(err)
	}
	after, err := policy.Parse([]byte("roles: { helpdesk: { actions: [view, start, disable] } }\nbindings: [{ group: hd, roles: [helpdesk] }]\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := policy.Subject{Key: "harry", Groups: []string{"hd"}}
	if got := actionsOf(h.jobRow(before.For(s), l)); !slices.Equal(got, []string{"start"}) {
		t.Fatalf("before: %q", got)
	}
	if got := actionsOf(h.jobRow(after.For(s), l)); !slices.Equal(got, []string{"start", "disable"}) {
		t.Errorf("after the policy changed: %q, want start and disable", got)
	}
	if got := actionsOf(h.jobRow(before.For(s), l)); !slices.Equal(got, []string{"start"}) {
		t.Errorf("after it changed back: %q, want start", got)
	}
}

// TestRowMemoBounded: the memo keeps at most rowLimit rows, and is safe to
// use from many requests at once (go test -race).
func TestRowMemoBounded(t *testing.T) {
	h := &Handler{}
	g := rowTestGrants(t)["admins"]
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range rowLimit/4 + 100 {
				j := rowTestJob(i%2 == 0, nil)
				j.ID = fmt.Sprintf("job-%d-%d", w, i)
				if r := h.jobRow(g, jobs.Live{Job: j}); r.ID != j.ID {
					t.Errorf("row %q for job %q", r.ID, j.ID)
				}
			}
		})
	}
	wg.Wait()
	if n := len(h.rows.m); n > rowLimit {
		t.Errorf("%d rows remembered, limit %d", n, rowLimit)
	}
}

// BenchmarkListRows is the model side of a warm list page: 50 rows of
// settled jobs (no action of the portal on them), as an administrator and
// as a helpdesk person (a role limited to one server, some of whose jobs'
// buttons it may not press) see them.
//
//	go test -run '^$' -bench ListRows -benchmem ./handlers/
func BenchmarkListRows(b *testing.B) {
	h := &Handler{}
	pol, err := policy.Parse([]byte(rowTestPolicy))
	if err != nil {
		b.Fatal(err)
	}
	start := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	page := make([]*jobs.Job, 50)
	for i := range page {
		last := &jobs.Session{State: "Stopped", Result: []string{"Success", "Failed", "Warning"}[i%3], Start: start}
		page[i] = rowTestJob(i%4 != 0, last)
		page[i].ID = fmt.Sprintf("%08d-1111-4222-8333-444455556666", i)
		if i%2 == 1 {
			page[i].Server = "vbr-munich.corp.example"
		}
	}
	for _, who := range []string{"admins", "helpdesk"} {
		b.Run(who, func(b *testing.B) {
			g := pol.For(policy.Subject{Groups: []string{who}})
			h.listRows(b.Context(), g, start, page, nil)
			b.ReportAllocs()
			cpu0, n := processCPU(), 0
			for b.Loop() {
				h.listRows(b.Context(), g, start, page, nil)
				n++
			}
			b.ReportMetric(float64(processCPU()-cpu0)/float64(n), "cpu-ns/op")
		})
	}
}

// TestListPageFollowsItsInputs: a list page's rows are served again while
// they fit, yet a change of any row's inputs (a job's run state, a job read
// anew, the user's grant, another page) gives the rows those inputs make,
// and several people in turns each get their own; each answer is checked
// against the rows made one by one without any memo.
func TestListPageFollowsItsInputs(t *testing.T) {
	h := &Handler{set: settings{base: "/backup"}}
	grants := rowTestGrants(t)
	asOf := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	ok := &jobs.Session{ID: "s1", State: "Stopped", Result: "Success", Start: asOf.Add(-time.Hour)}
	mkPage := func(enabled ...bool) []*jobs.Job {
		var out []*jobs.Job
		for i, e := range enabled {
			j := rowTestJob(e, ok)
			j.ID = fmt.Sprintf("job-%d", i)
			out = append(out, j)
		}
		return out
	}
	page := mkPage(true, true, false)
	// A run the list knows of, changed before the snapshot was taken (one
	// changed after it is read on its own, from the jobs service).
	awaiting := map[string]jobs.RunState{"job-1": {JobID: "job-1", Action: jobs.Start, State: jobs.RunStarting, StartedAt: asOf.Add(-time.Minute)}}
	ended := map[string]jobs.RunState{"job-1": {JobID: "job-1", Action: jobs.Start, State: jobs.RunFinished, StartedAt: asOf.Add(-time.Minute), EndedAt: asOf.Add(-time.Second)}}
	reread := mkPage(true, false, false) // the next snapshot: job-1's schedule turned off
	steps := []struct {
		name string
		page []*jobs.Job
		runs map[string]jobs.RunState
	}{
		{"settled", page, nil},
		{"action sent", page, awaiting},
		{"action ended", page, ended},
		{"settled again", page, nil},
		{"next snapshot", reread, nil},
		{"a shorter page", reread[:2], nil},
		{"another page", reread[1:], nil},
		{"first snapshot again", page, nil},
	}
	fresh := func(g *policy.Grant, page []*jobs.Job, runs map[string]jobs.RunState) []views.JobRow {
		out := []views.JobRow{}
		for _, j := range page {
			out = append(out, freshRow(h, g, h.liveRow(t.Context(), asOf, j, runs)))
		}
		return out
	}
	for round := range 2 {
		for _, st := range steps {
			for range 2 {
				for _, name := range []string{"admins", "helpdesk", "togglers", "auditors", "none"} {
					g := grants[name]
					got := h.listRows(t.Context(), g, asOf, st.page, st.runs)
					if want := fresh(g, st.page, st.runs); !reflect.DeepEqual(got, want) {
						t.Errorf("round %d, %s, %s: rows\n%+v\nwant\n%+v", round, st.name, name, got, want)
					}
				}
			}
		}
	}
	// And the buttons a person expects: job-1 while its start is with EM,
	// then with its schedule off.
	if got := h.listRows(t.Context(), grants["admins"], asOf, page, awaiting)[1]; got.Actions != nil || got.Poll == "" {
		t.Errorf("while the start is with EM: %+v", got)
	}
	if got := actionsOf(h.listRows(t.Context(), grants["admins"], asOf, reread, nil)[1]); !slices.Equal(got, []string{"start", "enable"}) {
		t.Errorf("after the schedule was turned off: %q", got)
	}
	if got := actionsOf(h.listRows(t.Context(), grants["helpdesk"], asOf, reread, nil)[1]); !slices.Equal(got, []string{"start"}) {
		t.Errorf("the helpdesk: %q", got)
	}
}
