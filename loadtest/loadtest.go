// Package loadtest is the load tool (go run ./cmd/loadtest): virtual users who sign in through
// the demo identity provider and browse, poll and act on a portal for a fixed
// time, with the raw Enterprise Manager calls measured in the same run as the
// baseline the portal's overhead is judged against.
//
// By default it builds the whole demo in this process, on loopback: emsim
// (with -em-latency), the demo IdP and two portals, one as shipped and one
// whose cache keeps nothing (its job pages are all cold). With -portal it
// drives a running `agentdesk demo` instead; then only the scenario mix runs,
// since the EM simulator's counters and the cold portal are out of reach.
package loadtest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/agentdesk/agentdesk/emclient"
)

type config struct {
	portal         string
	users          int
	duration       time.Duration
	emLatency      time.Duration
	jobs           int
	mix            map[string]int
	pollInterval   time.Duration
	actInterval    time.Duration
	think          time.Duration
	backupDuration time.Duration
	password       string
	phases         map[string]bool
	verbose        bool
}

var scenarios = []string{"browse", "list", "job", "poll", "act"}

// Main runs the load test; args are the flags after "loadtest". "bench" first
// runs the side-by-side benchmark instead (bench.go); "child" is one of its
// child processes.
func Main(args []string, stdout io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "bench":
			return benchMain(args[1:], stdout)
		case "child":
			return childMain(args[1:], stdout)
		}
	}
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stdout)
	var cfg config
	fs.StringVar(&cfg.portal, "portal", "", "URL of a running `agentdesk demo` on loopback; empty: build the demo stack in this process")
	fs.IntVar(&cfg.users, "users", 32, "virtual users (signed-in sessions), at most 2000")
	fs.DurationVar(&cfg.duration, "duration", 30*time.Second, "length of each phase, at most 10m")
	fs.DurationVar(&cfg.emLatency, "em-latency", 0, "latency emsim adds to every EM call (in-process only)")
	fs.IntVar(&cfg.jobs, "jobs", 48, "simulated fleet size (in-process only)")
	mix := fs.String("mix", "browse=70,poll=25,act=5", "share of users per scenario: browse (list pages with filters + job pages), list, job, poll (card+status every -poll-interval, X-Background), act (start/disable/enable with CSRF)")
	fs.DurationVar(&cfg.pollInterval, "poll-interval", 5*time.Second, "how often a polling user refreshes the job card and status")
	fs.DurationVar(&cfg.actInterval, "act-interval", 5*time.Second, "pause of an acting user between two actions")
	fs.DurationVar(&cfg.think, "think", 0, "pause of a browsing user between two pages (0: closed loop, as fast as the portal answers)")
	fs.DurationVar(&cfg.backupDuration, "backup-duration", 3*time.Second, "how long a simulated backup runs (in-process only)")
	fs.StringVar(&cfg.password, "password", "demo", "password of the demo users")
	phases := fs.String("phases", "raw,cold,mix", "phases to run, in-process: raw (EM baseline), cold (cold job pages), mix (the scenario mix)")
	fs.BoolVar(&cfg.verbose, "v", false, "log the stack's warnings to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.users < 1 || cfg.users > 2000 {
		return errors.New("loadtest: -users must be between 1 and 2000")
	}
	if cfg.duration <= 0 || cfg.duration > 10*time.Minute {
		return errors.New("loadtest: -duration must be between 0 and 10m")
	}
	if cfg.jobs < 1 || cfg.jobs > 100000 {
		return errors.New("loadtest: -jobs must be between 1 and 100000")
	}
	var err error
	if cfg.mix, err = parseMix(*mix); err != nil {
		return err
	}
	cfg.phases = map[string]bool{}
	for _, p := range strings.Split(*phases, ",") {
		cfg.phases[strings.TrimSpace(p)] = true
	}
	// However the phases go, the whole run is bounded.
	ctx, cancel := context.WithTimeout(context.Background(), 3*cfg.duration+5*time.Minute)
	defer cancel()
	return run(ctx, cfg, stdout)
}

func parseMix(s string) (map[string]int, error) {
	out := map[string]int{}
	total := 0
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 0 || !slices.Contains(scenarios, k) {
			return nil, fmt.Errorf("loadtest: -mix %q: want name=weight,… with names %s", s, strings.Join(scenarios, ", "))
		}
		out[k] += n
		total += n
	}
	if total == 0 {
		return nil, errors.New("loadtest: -mix has no weight")
	}
	return out, nil
}

// assign gives each user a scenario, in proportion to the weights (largest
// remainder), every scenario with a weight getting at least one user when
// there are enough users.
func assign(users int, mix map[string]int) []string {
	total := 0
	for _, w := range mix {
		total += w
	}
	counts := map[string]int{}
	type rem struct {
		name string
		r    float64
	}
	var rems []rem
	left := users
	for _, name := range scenarios {
		w := mix[name]
		if w == 0 {
			continue
		}
		exact := float64(users) * float64(w) / float64(total)
		counts[name] = int(exact)
		left -= int(exact)
		rems = append(rems, rem{name, exact - float64(int(exact))})
	}
	sort.SliceStable(rems, func(i, j int) bool { return rems[i].r > rems[j].r })
	for i := 0; left > 0 && len(rems) > 0; i++ {
		counts[rems[i%len(rems)].name]++
		left--
	}
	for _, r := range rems { // a weighted scenario with no user yet takes one from the largest
		if counts[r.name] == 0 {
			big := ""
			for _, n := range scenarios {
				if big == "" || counts[n] > counts[big] {
					big = n
				}
			}
			if counts[big] > 1 {
				counts[big]--
				counts[r.name]++
			}
		}
	}
	var out []string
	for _, name := range scenarios {
		for range counts[name] {
			out = append(out, name)
		}
	}
	return out
}

// result is one phase's latencies by operation.
type result struct {
	name     string
	what     string
	elapsed  time.Duration
	lat      map[string][]time.Duration
	errs     map[string]int
	lastErr  string
	emCalls  int64 // -1: unknown
	requests int
}

func (r *result) merge(u *user) {
	for op, ds := range u.lat {
		r.lat[op] = append(r.lat[op], ds...)
		r.requests += len(ds)
	}
	for op, n := range u.errs {
		r.errs[op] += n
	}
	if r.lastErr == "" {
		r.lastErr = u.last
	}
}

func newResult(name, what string) *result {
	return &result{name: name, what: what, lat: map[string][]time.Duration{}, errs: map[string]int{}, emCalls: -1}
}

func run(ctx context.Context, cfg config, stdout io.Writer) error {
	log := slog.New(slog.DiscardHandler)
	if cfg.verbose {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	tr := &http.Transport{MaxIdleConns: 4 * cfg.users, MaxIdleConnsPerHost: 2 * cfg.users, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()

	var st *stack
	var warmURL string
	if cfg.portal != "" {
		if _, err := checkLoopback(cfg.portal); err != nil {
			return err
		}
		warmURL = strings.TrimRight(cfg.portal, "/")
	} else {
		var err error
		fmt.Fprintf(stdout, "starting the demo stack in process (emsim with %d jobs, EM latency %s)…\n", cfg.jobs, cfg.emLatency)
		if st, err = startStack(ctx, cfg, log); err != nil {
			return fmt.Errorf("loadtest: start the stack: %w", err)
		}
		defer st.close()
		warmURL = st.warm.url
	}

	// Every scenario user signs in to the portal as shipped.
	roles := assign(cfg.users, cfg.mix)
	users, err := signInAll(ctx, warmURL, cfg, tr, func(i int) string {
		if roles[i] == "act" {
			return "alice" // the administrator may act on every job
		}
		return []string{"alice", "harry", "audrey"}[i%3]
	})
	if err != nil {
		return err
	}
	// The admin's view of the fleet: the job ids the phases spread over.
	admin := users[0]
	if admin.name != "alice" {
		return errors.New("loadtest: the first user must be alice")
	}
	_, _, page, err := admin.do(http.MethodGet, "/jobs?size=500", nil)
	if err != nil {
		return err
	}
	fleet := jobIDs(page)
	if len(fleet) == 0 {
		return errors.New("loadtest: the jobs list shows no job")
	}
	visible := map[string][]string{}
	for _, u := range users {
		if visible[u.name] == nil {
			_, _, p, err := u.do(http.MethodGet, "/jobs", nil)
			if err != nil {
				return err
			}
			visible[u.name] = jobIDs(p)
		}
	}

	var results []*result
	if st != nil && (cfg.phases["raw"] || cfg.phases["cold"]) {
		// The raw baseline and the cold pages run in alternating slices, so
		// that whatever else the machine does lands on both alike.
		fmt.Fprintf(stdout, "phases raw and cold: %d workers each, %s each, in alternating slices…\n", cfg.users, cfg.duration)
		em, err := emclient.New(emclient.Config{BaseURL: st.emURL, Username: "svc", Password: "secret", Timeout: 30 * time.Second, Logger: log})
		if err != nil {
			return err
		}
		defer func() {
			cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			em.Close(cctx)
		}()
		coldUsers, err := signInAll(ctx, st.cold.url, cfg, tr, func(int) string { return "alice" })
		if err != nil {
			return err
		}
		raw := newResult("raw", "emclient → emsim directly: AgentJob ∥ sessions query (the EM round trip of a cold job page), paced as the cold phase")
		cold := newResult("cold", "GET /jobs/{id} on the cold portal, each job reopened only after its cache entry expired: every page pays its EM round trip")
		raw.emCalls, cold.emCalls = 0, 0
		rawWorkers := make([]*user, cfg.users)
		for i := range rawWorkers {
			rawWorkers[i] = &user{lat: map[string][]time.Duration{}, errs: map[string]int{}}
		}
		slices := max(1, min(6, int(cfg.duration/time.Second)))
		slice := cfg.duration / time.Duration(slices)
		for range slices {
			if cfg.phases["raw"] {
				d, calls := timedSlice(ctx, st, slice, len(rawWorkers), func(i int, until time.Time) {
					rawLoop(ctx, em, rawWorkers[i], i, len(rawWorkers), fleet, until)
				})
				raw.elapsed += d
				raw.emCalls += calls
			}
			if cfg.phases["cold"] {
				d, calls := timedSlice(ctx, st, slice, len(coldUsers), func(i int, until time.Time) {
					u := coldUsers[i]
					coldLoop(ctx, i, len(coldUsers), fleet, until, func(id string) {
						u.timed("job-cold", http.MethodGet, "/jobs/"+id, nil, []int{http.StatusOK})
					})
				})
				cold.elapsed += d
				cold.emCalls += calls
			}
		}
		for _, w := range rawWorkers {
			raw.merge(w)
		}
		for _, u := range coldUsers {
			cold.merge(u)
		}
		if cfg.phases["raw"] {
			results = append(results, raw)
		}
		if cfg.phases["cold"] {
			results = append(results, cold)
		}
	}
	var mix *result
	if st == nil || cfg.phases["mix"] {
		fmt.Fprintf(stdout, "phase mix: %d users (%s) for %s…\n", cfg.users, describeRoles(roles), cfg.duration)
		mix = newResult("mix", "the scenario mix on the portal as shipped (cache on)")
		var before int64
		if st != nil {
			before = st.emRequests()
		}
		start := time.Now()
		until := start.Add(cfg.duration)
		var wg sync.WaitGroup
		acting := 0
		for i, u := range users {
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			ids := visible[u.name]
			switch roles[i] {
			case "browse", "list", "job":
				wg.Go(func() { browse(ctx, u, roles[i], ids, rng, cfg.think, until) })
			case "poll":
				id := ids[i%len(ids)]
				wg.Go(func() { poll(ctx, u, id, cfg.pollInterval, rng, until) })
			case "act":
				id := fleet[(len(fleet)-1-acting)%len(fleet)] // one job each, from the end of the list
				acting++
				wg.Go(func() { act(ctx, u, id, cfg.actInterval, until) })
			}
		}
		wg.Wait()
		mix.elapsed = time.Since(start)
		if st != nil {
			mix.emCalls = st.emRequests() - before
		}
		for _, u := range users {
			mix.merge(u)
		}
		results = append(results, mix)
	}
	report(stdout, cfg, st, roles, results)
	return nil
}

func describeRoles(roles []string) string {
	counts := map[string]int{}
	for _, r := range roles {
		counts[r]++
	}
	var parts []string
	for _, s := range scenarios {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", s, counts[s]))
		}
	}
	return strings.Join(parts, ", ")
}

// signInAll signs in cfg.users users, eight at a time.
func signInAll(ctx context.Context, base string, cfg config, tr http.RoundTripper, name func(int) string) ([]*user, error) {
	users := make([]*user, cfg.users)
	errs := make([]error, cfg.users)
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := range users {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		u, err := newUser(name(i), base, tr)
		if err != nil {
			return nil, err
		}
		users[i] = u
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = u.signIn(cfg.password)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("loadtest: sign-in: %w", err)
	}
	return users, nil
}

var listQueries = []string{
	"/jobs", "/jobs?q=laptop", "/jobs?platform=Windows", "/jobs?sort=lastrun&desc=1",
	"/jobs?result=Failed", "/jobs?schedule=enabled&sort=server", "/jobs?page=2",
}

// browse is a person at the list: filter, sort, page, open a job, go back.
func browse(ctx context.Context, u *user, kind string, ids []string, rng *rand.Rand, think time.Duration, until time.Time) {
	for i := 0; time.Now().Before(until) && ctx.Err() == nil; i++ {
		if kind == "list" || (kind == "browse" && i%2 == 0) || len(ids) == 0 {
			u.timed("list", http.MethodGet, listQueries[rng.IntN(len(listQueries))], nil, []int{http.StatusOK})
		} else {
			u.timed("job", http.MethodGet, "/jobs/"+ids[rng.IntN(len(ids))], nil, []int{http.StatusOK})
		}
		if think > 0 {
			pause(ctx, think, until)
		}
	}
}

// poll is an open job page: htmx refreshes the card and the status fragment
// in the background.
func poll(ctx context.Context, u *user, id string, every time.Duration, rng *rand.Rand, until time.Time) {
	// Open pages do not all refresh in step.
	pause(ctx, time.Duration(rng.Int64N(int64(every)+1)), until)
	for time.Now().Before(until) && ctx.Err() == nil {
		u.timed("card", http.MethodGet, "/jobs/"+id+"/card", nil, []int{http.StatusOK}, htmx, background)
		u.timed("status", http.MethodGet, "/jobs/"+id+"/status", nil, []int{http.StatusOK, http.StatusNoContent, http.StatusSeeOther}, htmx, background)
		pause(ctx, every, until)
	}
}

// act starts the job's backup, disables and enables its schedule, in turn,
// following each action's status fragment until it ends.
func act(ctx context.Context, u *user, id string, every time.Duration, until time.Time) {
	actions := []string{"start", "disable", "enable"}
	for i := 0; time.Now().Before(until) && ctx.Err() == nil; i++ {
		a := actions[i%len(actions)]
		form := url.Values{}
		switch a {
		case "disable":
			form.Set("desired", "disabled")
		case "enable":
			form.Set("desired", "enabled")
		}
		origin := u.base.Scheme + "://" + u.base.Host
		// 409 is the portal refusing (job lock held, schedule already in the
		// asked state): an answer, counted apart from the actions sent to EM.
		code, _ := u.timed("act", http.MethodPost, "/jobs/"+id+"/actions/"+a, strings.NewReader(form.Encode()), []int{http.StatusOK, http.StatusConflict},
			htmx, func(r *http.Request) {
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.Header.Set("X-CSRF-Token", u.csrf)
				r.Header.Set("Origin", origin)
				r.Header.Set("Sec-Fetch-Site", "same-origin")
			})
		if code == http.StatusConflict {
			last := len(u.lat["act"]) - 1
			u.lat["act-refused"] = append(u.lat["act-refused"], u.lat["act"][last])
			u.lat["act"] = u.lat["act"][:last]
		}
		if code == http.StatusOK {
			for k := 0; k < 120 && time.Now().Before(until) && ctx.Err() == nil; k++ {
				pause(ctx, time.Second, until)
				_, b := u.timed("act-status", http.MethodGet, "/jobs/"+id+"/status", nil, []int{http.StatusOK}, htmx, background)
				if s := actionState(b); s != "running" && s != "unknown" {
					break
				}
			}
		}
		pause(ctx, every, until)
	}
}

func pause(ctx context.Context, d time.Duration, until time.Time) {
	if left := time.Until(until); d > left {
		d = left
	}
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// coldLoop is worker i of n opening job pages on its own share of the fleet
// (so no two workers share one EM flight), never opening a job again before the
// cold portal has forgotten it. The raw baseline runs the same loop, so both
// phases offer EM the same load.
func coldLoop(ctx context.Context, i, n int, fleet []string, until time.Time, open func(id string)) {
	var mine []string
	for k := i; k < max(len(fleet), n); k += n {
		mine = append(mine, fleet[k%len(fleet)])
	}
	last := make([]time.Time, len(mine))
	for k := 0; ctx.Err() == nil; k = (k + 1) % len(mine) {
		pause(ctx, time.Until(last[k].Add(coldTTL+50*time.Millisecond)), until)
		if !time.Now().Before(until) {
			return
		}
		open(mine[k])
		last[k] = time.Now()
	}
}

// timedSlice runs n workers until d has passed and returns the time taken and
// the EM requests made meanwhile.
func timedSlice(ctx context.Context, st *stack, d time.Duration, n int, work func(i int, until time.Time)) (time.Duration, int64) {
	before := st.emRequests()
	start := time.Now()
	until := start.Add(d)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { work(i, until) })
	}
	wg.Wait()
	return time.Since(start), st.emRequests() - before
}

// rawLoop makes the EM calls of a cold job page directly: the job entity and
// the first page of its sessions, in parallel, as jobs.Service.Job does (the
// backup servers it also asks for stay cached for minutes).
func rawLoop(ctx context.Context, em *emclient.Client, w *user, i, n int, fleet []string, until time.Time) {
	coldLoop(ctx, i, n, fleet, until, func(id string) {
		t0 := time.Now()
		var inner sync.WaitGroup
		var e1, e2 error
		inner.Go(func() { _, e1 = em.AgentJob(ctx, id) })
		inner.Go(func() {
			_, e2 = em.Query(ctx, emclient.Query{
				Type: "BackupJobSession", Entities: true,
				Filter: emclient.And(emclient.Or(emclient.Eq("JobUid", "urn:veeam:AgentBackupJob:"+id), emclient.Eq("JobUid", "urn:veeam:Job:"+id)),
					emclient.Eq("JobType", "AgentBackup")),
				SortDesc: "CreationTime", PageSize: 10, Page: 1,
			})
		})
		inner.Wait()
		if err := errors.Join(e1, e2); err != nil {
			w.errs["raw-job"]++
			if w.last == "" {
				w.last = err.Error()
			}
			return
		}
		w.lat["raw-job"] = append(w.lat["raw-job"], time.Since(t0))
	})
}

func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*q+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) + " ms" }

func report(w io.Writer, cfg config, st *stack, roles []string, results []*result) {
	fmt.Fprintln(w)
	if st != nil {
		fmt.Fprintln(w, "AgentDesk load test: in-process stack on loopback (emsim, demo IdP, portals and load generator share this process)")
	} else {
		fmt.Fprintf(w, "AgentDesk load test: portal at %s (EM counters, raw baseline and cold pages not available in this mode)\n", cfg.portal)
	}
	fmt.Fprintf(w, "CPUs %d, GOMAXPROCS %d, %s; EM latency %s, fleet %d jobs, %d users (%s), %s per phase\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), cfg.emLatency, cfg.jobs, cfg.users, describeRoles(roles), cfg.duration)
	p50 := map[string]time.Duration{}
	p99 := map[string]time.Duration{}
	for _, r := range results {
		fmt.Fprintf(w, "\nphase %s: %s\n", r.name, r.what)
		fmt.Fprintf(w, "  %-11s %8s %9s %10s %10s %10s %7s\n", "op", "count", "per s", "p50", "p95", "p99", "errors")
		ops := make([]string, 0, len(r.lat))
		for op := range r.lat {
			ops = append(ops, op)
		}
		for op := range r.errs {
			if r.lat[op] == nil {
				ops = append(ops, op)
			}
		}
		sort.Strings(ops)
		for _, op := range ops {
			ds := r.lat[op]
			slices.Sort(ds)
			fmt.Fprintf(w, "  %-11s %8d %9.1f %10s %10s %10s %7d\n", op, len(ds), float64(len(ds))/r.elapsed.Seconds(),
				ms(percentile(ds, .50)), ms(percentile(ds, .95)), ms(percentile(ds, .99)), r.errs[op])
			p50[op], p99[op] = percentile(ds, .50), percentile(ds, .99)
		}
		fmt.Fprintf(w, "  total %d requests in %s: %.1f per s\n", r.requests, r.elapsed.Round(time.Millisecond), float64(r.requests)/r.elapsed.Seconds())
		if r.emCalls >= 0 && r.requests > 0 {
			label := "per portal request"
			if r.name == "raw" {
				label = "per measured page (2 expected)"
			}
			fmt.Fprintf(w, "  EM calls %d: %.3f %s\n", r.emCalls, float64(r.emCalls)/float64(r.requests), label)
		}
		if r.lastErr != "" {
			fmt.Fprintf(w, "  first error: %s\n", r.lastErr)
		}
	}
	if raw, ok := p50["raw-job"]; ok {
		if cold, ok := p50["job-cold"]; ok {
			fmt.Fprintf(w, "\nportal overhead of a cold job page over its raw EM calls (same run):\n")
			fmt.Fprintf(w, "  p50 %s − %s = %s (ratio %.2f)\n", ms(cold), ms(raw), ms(cold-raw), ratio(cold, raw))
			fmt.Fprintf(w, "  p99 %s − %s = %s (ratio %.2f)\n", ms(p99["job-cold"]), ms(p99["raw-job"]), ms(p99["job-cold"]-p99["raw-job"]), ratio(p99["job-cold"], p99["raw-job"]))
			if j, ok := p50["job"]; ok {
				fmt.Fprintf(w, "  warm job page p50 %s (%.2f of the raw EM round trip)\n", ms(j), ratio(j, raw))
			}
		}
	}
	if st != nil {
		stats := st.sim.Stats()
		fmt.Fprintf(w, "\nEM logons during the whole run: %d (one per EM client: 2 portals + the raw baseline; re-logons would add to it)\n", stats.Logons)
	}
	rss, hwm := procStatus("VmRSS"), procStatus("VmHWM")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(w, "memory of this process (%s): VmRSS %s, peak VmHWM %s, Go heap in use %.1f MB, goroutines %d\n",
		map[bool]string{true: "load generator + emsim + IdP + 2 portals", false: "load generator only"}[st != nil],
		rss, hwm, float64(ms.HeapInuse)/(1<<20), runtime.NumGoroutine())
}

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// procStatus reads one field of /proc/self/status ("" where there is none).
func procStatus(field string) string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "n/a"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "n/a"
}
