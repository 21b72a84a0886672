package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/emclient"
	"github.com/agentdesk/agentdesk/jobs"
)

// emGate holds the EM requests about one job until the test lets them
// through, one wave at a time. Requests sent in parallel arrive in the same
// wave; a request sent after another one's answer can only arrive in the
// next. So the number of waves before an action's POST is the number of
// sequential EM round trips the portal made before sending it, counted
// without any timing.
type emGate struct {
	mu     sync.Mutex
	jobID  string // armed for this job; "" lets everything through
	held   []heldRequest
	arrive chan struct{}
}

type heldRequest struct {
	key     string
	release chan struct{}
}

func newEMGate() *emGate { return &emGate{arrive: make(chan struct{}, 64)} }

func (g *emGate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		if g.jobID == "" || !aboutJob(r, g.jobID) {
			g.mu.Unlock()
			next.ServeHTTP(w, r)
			return
		}
		h := heldRequest{key: emRequestKey(r), release: make(chan struct{})}
		g.held = append(g.held, h)
		g.mu.Unlock()
		g.arrive <- struct{}{}
		<-h.release
		next.ServeHTTP(w, r)
	})
}

// aboutJob: the request names the job (its entity, an action on it, a query
// filtered by it), or is the backup server list a job page loads with the job.
func aboutJob(r *http.Request, jobID string) bool {
	q, _ := url.QueryUnescape(r.URL.RawQuery)
	return strings.Contains(strings.ToLower(r.URL.Path), jobID) || strings.Contains(strings.ToLower(q), jobID) ||
		r.URL.Path == "/api/backupServers"
}

// emRequestKey names a request the way the waves below spell them.
func emRequestKey(r *http.Request) string {
	q := r.URL.Query()
	path := strings.TrimPrefix(r.URL.Path, "/api")
	if i := strings.LastIndexByte(path, '/'); i >= 0 && emclient.ValidID(path[i+1:]) {
		path = path[:i+1] + "{id}"
	}
	switch {
	case path == "/query":
		return r.Method + " /query?type=" + q.Get("type") + "&pageSize=" + q.Get("pageSize")
	case q.Get("action") != "":
		return r.Method + " " + path + "?action=" + q.Get("action")
	}
	return r.Method + " " + path
}

// waves sends the action from the job's page and returns the EM requests
// about the job from the click until the action's POST, wave by wave, and
// the answer's status. want is what the test expects: each wave is collected
// when as many requests as want has for it arrived (a limit only keeps a
// broken build from hanging), so a wave the portal sends in fewer or more
// requests, or later, shows up as a difference.
func (g *emGate) waves(t *testing.T, c *client, jobID, action string, want [][]string) ([][]string, int) {
	t.Helper()
	g.mu.Lock()
	g.jobID = jobID
	g.mu.Unlock()
	answered := make(chan int, 1)
	go func() { answered <- c.action(jobID, action).StatusCode }()
	var got [][]string
	for i, w := range want {
		for n := 0; n < len(w); {
			select {
			case <-g.arrive:
				n++
			case code := <-answered:
				g.releaseAll()
				t.Fatalf("%s: answered %d after waves %q; want %q", action, code, append(got, g.keys()), want)
			case <-time.After(time.Minute):
				t.Fatalf("%s: wave %d: %q arrived; want %q (so far %q)", action, i+1, g.keys(), w, got)
			}
		}
		wave := g.keys()
		got = append(got, wave)
		last := i == len(want)-1
		if last {
			g.mu.Lock()
			g.jobID = "" // the follow of the action is not part of its answer
			g.mu.Unlock()
		}
		g.releaseAll()
		if last && !slices.ContainsFunc(wave, func(k string) bool { return strings.HasPrefix(k, "POST ") }) {
			t.Fatalf("%s: the last wave expected, %q, has no action POST (so far %q)", action, wave, got)
		}
	}
	select {
	case code := <-answered:
		return got, code
	case <-time.After(time.Minute):
		t.Fatalf("%s: no answer after its POST", action)
	}
	return got, 0
}

func (g *emGate) keys() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var ks []string
	for _, h := range g.held {
		ks = append(ks, h.key)
	}
	slices.Sort(ks)
	return ks
}

func (g *emGate) releaseAll() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, h := range g.held {
		close(h.release)
	}
	g.held = nil
}

// stepClock is the jobs service's clock: it moves a microsecond per reading
// (so that what happens later reads later) and by what the test says.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Microsecond)
	return c.t
}

func (c *stepClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// The EM requests of each kind, as the waves spell them.
const (
	getJob        = "GET /agents/jobs/{id}"
	getNewest     = "GET /query?type=BackupJobSession&pageSize=1"
	getFirstPage  = "GET /query?type=BackupJobSession&pageSize=10"
	getServers    = "GET /backupServers"
	postStart     = "POST /agents/jobs/{id}?action=start"
	postStop      = "POST /agents/jobs/{id}?action=stop"
	postRetry     = "POST /agents/jobs/{id}?action=retry"
	postToggle    = "POST /agents/jobs/{id}?action=toggleScheduleEnabled"
	pollEveryTest = 50 * time.Millisecond // the harness's jobs.Options.PollEvery
)

// TestActionRoundTrips counts the EM round trips between a click on an
// action and the portal's answer (issue 17: Start answered within 2), with
// the job page open just before, open a while ago, or not open at all. The
// task poll that follows the answer is not counted.
//
// Before this change every action read the job (entity, first session page
// and the backup servers, in parallel) for the policy, then read it again
// under the lock, then sent the POST: three round trips without the page,
// two with it.
func TestActionRoundTrips(t *testing.T) {
	t.Parallel()
	gate := newEMGate()
	clock := &stepClock{t: time.Now()}
	p := newPortal(t, portalOptions{wrapEM: gate.wrap, jobsNow: clock.Now, sessionSpeed: time.Hour})
	alice := p.signIn("alice")
	ctx := context.Background()
	snap, err := p.svc.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Jobs for each case, each used once: idle ones to start and toggle,
	// one whose last run failed to retry.
	used := map[string]bool{}
	pick := func(what string, ok func(*jobs.Job) bool) string {
		t.Helper()
		for _, j := range snap.Jobs {
			if !used[j.ID] && !j.Running() && ok(j) {
				used[j.ID] = true
				return j.ID
			}
		}
		t.Fatalf("no job %s in the fleet", what)
		return ""
	}
	idle := func(*jobs.Job) bool { return true }
	failed := func(j *jobs.Job) bool { return j.Last != nil && j.Last.Result == "Failed" }
	enabled := func(j *jobs.Job) bool { return j.ScheduleConfigured && j.ScheduleEnabled }
	disabled := func(j *jobs.Job) bool { return j.ScheduleConfigured && !j.ScheduleEnabled }
	// running starts a job in EM itself (as its console would): the portal
	// has no run of it and no copy of it cached.
	running := func() string {
		t.Helper()
		id := pick("to run", idle)
		if _, err := p.em.JobAction(ctx, id, emclient.ActionStart); err != nil {
			t.Fatal(err)
		}
		return id
	}
	open := func(id string) {
		t.Helper()
		if r := alice.get("/jobs/" + id); r.StatusCode != http.StatusOK {
			t.Fatalf("job page: %d", r.StatusCode)
		}
	}
	openAWhileAgo := func(id string) { open(id); clock.Advance(2 * pollEveryTest) }

	tests := []struct {
		name   string
		job    func() string
		before func(id string) // the page, if any
		action string
		want   [][]string
	}{
		{"start/page open", func() string { return pick("to start", idle) }, open, "start",
			[][]string{{postStart}}},
		{"start/page open a while ago", func() string { return pick("to start", idle) }, openAWhileAgo, "start",
			[][]string{{getNewest}, {postStart}}},
		{"start/page not open", func() string { return pick("to start", idle) }, nil, "start",
			[][]string{{getJob, getNewest}, {postStart}}},
		{"stop/page open a while ago", running, openAWhileAgo, "stop",
			[][]string{{getNewest}, {postStop}}},
		{"stop/page not open", running, nil, "stop",
			[][]string{{getJob, getNewest}, {postStop}}},
		{"retry/page not open", func() string { return pick("whose last run failed", failed) }, nil, "retry",
			[][]string{{getJob, getNewest}, {postRetry}}},
		{"disable schedule/page open", func() string { return pick("with its schedule on", enabled) }, open, "disable",
			[][]string{{getJob}, {postToggle}}},
		{"enable schedule/page not open", func() string { return pick("with its schedule off", disabled) }, nil, "enable",
			[][]string{{getJob, getNewest}, {postToggle}}},
	}
	for _, tt := range tests {
		id := tt.job()
		if tt.before != nil {
			tt.before(id)
		}
		got, code := gate.waves(t, alice, id, tt.action, tt.want)
		if code != http.StatusOK {
			t.Errorf("%s: answered %d", tt.name, code)
		}
		if !slices.EqualFunc(got, tt.want, slices.Equal) {
			t.Errorf("%s: EM requests before the answer, by round trip:\n got  %q\n want %q", tt.name, got, tt.want)
		}
		t.Logf("%-32s %d EM round trips, %d requests", tt.name, len(got), countAll(got))
		emAction := tt.action
		if emAction == "enable" || emAction == "disable" {
			emAction = "toggleScheduleEnabled"
		}
		if n := p.actionCount(id, emAction); n != 1 {
			t.Errorf("%s: EM got %d %s actions, want 1", tt.name, n, emAction)
		}
	}
}

func countAll(waves [][]string) int {
	n := 0
	for _, w := range waves {
		n += len(w)
	}
	return n
}
