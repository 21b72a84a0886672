package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentdesk/agentdesk/auth/demoidp"
	"github.com/agentdesk/agentdesk/emclient/emsim"
)

// benchConfig is `agentdesk loadtest bench`: the side-by-side run behind
// BENCHMARKS.md. The portal and every baseline it is compared with run in
// turn on CPU 0; the EM simulator, the identity provider and the load
// generator on CPU 1, so the ratios compare like with like on one core.
type benchConfig struct {
	users          int
	jobs           int
	jobsLarge      int
	duration       time.Duration // each throughput measurement, portal and baseline alike
	coldDuration   time.Duration // each cold-page variant at each concurrency
	listLoad       time.Duration // the continuous list load on the large fleet
	slices         int
	emLatency      time.Duration
	starts         int
	listTTL        time.Duration // of the 10,000-job portal; 0: the portal's default
	backupDuration time.Duration
	pin            string
	verbose        bool
	// profile, when set, is a directory where each portal measurement
	// leaves the CPU profile of the portal process during its slices
	// (KEY-N.prof, N the slice), read from the child's pprof endpoint.
	profile string
	args    []string
	// prefix is what the binary needs before "bench" or "child" to reach
	// Main: ["loadtest"] for `agentdesk loadtest`, nothing for a load tool
	// binary of its own or a test binary.
	prefix []string
}

const (
	// firstListLimit is how long the first list is waited for.
	firstListLimit = 3 * time.Minute
	envPinned      = "AGENTDESK_LOADTEST_PINNED"
	slowLimit      = time.Second
)

func benchMain(args []string, stdout io.Writer) error {
	cfg, err := parseBench(args, stdout)
	if err != nil {
		return err
	}
	cfg.prefix = argsPrefix(os.Args, args)
	taskset, pinned := "", false
	if cfg.pin == "auto" {
		if p, err := exec.LookPath("taskset"); err == nil && (runtime.NumCPU() >= 2 || os.Getenv(envPinned) != "") {
			taskset, pinned = p, true
		}
	}
	if pinned && os.Getenv(envPinned) == "" {
		// Start again on CPU 1 so that the Go runtime sizes itself to it.
		return reexec(taskset, cfg, stdout)
	}
	budget := 2*time.Duration(cfg.slices)*cfg.duration*3 + 6*cfg.coldDuration + cfg.listLoad + 10*time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	b := &bench{cfg: cfg, taskset: taskset, profiles: map[string]int{}}
	rep, err := b.run(ctx)
	if rep != nil {
		rep.write(stdout)
	}
	return err
}

func parseBench(args []string, stdout io.Writer) (benchConfig, error) {
	fs := flag.NewFlagSet("loadtest bench", flag.ContinueOnError)
	fs.SetOutput(stdout)
	cfg := benchConfig{args: args}
	fs.IntVar(&cfg.users, "users", 32, "concurrent signed-in users (closed loop)")
	fs.IntVar(&cfg.jobs, "jobs", 2000, "fleet of the page measurements")
	fs.IntVar(&cfg.jobsLarge, "jobs-large", 10000, "fleet of the first list, the search and the continuous list load")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "time of each throughput measurement, split in -slices alternating with its baseline")
	fs.DurationVar(&cfg.coldDuration, "cold-duration", 6*time.Second, "time of each cold-page variant (raw EM, portal, minimal portal) at 1 and at -users users")
	fs.DurationVar(&cfg.listLoad, "list-load", 60*time.Second, "continuous list load on the large fleet")
	fs.IntVar(&cfg.slices, "slices", 2, "alternating slices per measurement, so machine noise lands on portal and baseline alike")
	fs.DurationVar(&cfg.emLatency, "em-latency", 250*time.Microsecond, "latency emsim adds to every EM call (Start is measured at 0)")
	fs.IntVar(&cfg.starts, "starts", 20, "Start actions timed, and as many raw EM starts")
	fs.DurationVar(&cfg.listTTL, "list-ttl", 0, "list snapshot TTL of the 10,000-job portal (0: the portal's default), to span more refreshes in -list-load")
	fs.DurationVar(&cfg.backupDuration, "backup-duration", 2*time.Second, "how long a simulated backup runs")
	fs.StringVar(&cfg.pin, "pin", "auto", "auto: portal and baselines on CPU 0, EM and load generator on CPU 1 with taskset when there are two CPUs; off: no pinning")
	quick := fs.Bool("quick", false, "tiny fleets and durations: checks the tool, measures nothing")
	fs.BoolVar(&cfg.verbose, "v", false, "log the children's warnings to stderr")
	fs.StringVar(&cfg.profile, "profile", "", "directory for CPU profiles of the portal process during each of its measured slices (KEY-N.prof; read them with go tool pprof)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if *quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name, v := range map[string]string{"users": "3", "jobs": "60", "jobs-large": "300", "duration": "400ms",
			"cold-duration": "300ms", "list-load": "1s", "starts": "3", "backup-duration": "300ms"} {
			if !set[name] {
				fs.Set(name, v)
			}
		}
	}
	if cfg.users < 1 || cfg.users > 500 || cfg.jobs < cfg.users || cfg.jobsLarge < cfg.users || cfg.slices < 1 || cfg.starts < 1 ||
		cfg.jobs < 2*cfg.starts+1 || cfg.duration <= 0 || cfg.coldDuration <= 0 || cfg.listLoad <= 0 ||
		cfg.duration > 10*time.Minute || cfg.coldDuration > 10*time.Minute || cfg.listLoad > 30*time.Minute {
		return cfg, errors.New("loadtest bench: -users 1–500; -jobs and -jobs-large ≥ -users, -jobs ≥ 2×-starts+1; durations positive and bounded; -slices and -starts ≥ 1")
	}
	if cfg.pin != "auto" && cfg.pin != "off" {
		return cfg, errors.New("loadtest bench: -pin is auto or off")
	}
	return cfg, nil
}

// argsPrefix is what came between the program's name and "bench".
func argsPrefix(osArgs, args []string) []string {
	n := len(osArgs) - len(args) - 1 // args[0] was "bench", removed by Main
	if n < 1 || !slices.Equal(osArgs[n+1:], args) {
		return nil
	}
	return slices.Clone(osArgs[1:n])
}

func reexec(taskset string, cfg benchConfig, stdout io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	argv := append(append(append([]string{"-c", "1", exe}, cfg.prefix...), "bench"), cfg.args...)
	cmd := exec.Command(taskset, argv...)
	cmd.Env = append(os.Environ(), envPinned+"=1", envChild+"=1")
	cmd.Stdout, cmd.Stderr = stdout, os.Stderr
	return cmd.Run()
}

type bench struct {
	cfg      benchConfig
	profiles map[string]int // slices profiled so far, per measurement
	taskset  string
	log      *slog.Logger
	tr       *http.Transport
	stop     []func()
}

func (b *bench) progress(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "[%s] "+format+"\n", append([]any{time.Now().Format("15:04:05")}, a...)...)
}

func (b *bench) close() {
	for i := len(b.stop) - 1; i >= 0; i-- {
		b.stop[i]()
	}
}

// browser is what a browser sends with a page request; DisableCompression on
// the transport keeps the answer as it came over the wire.
func browser(r *http.Request) {
	r.Header.Set("Accept", "text/html,application/xhtml+xml")
	r.Header.Set("Accept-Encoding", "gzip, deflate, br, zstd")
}

func (b *bench) run(ctx context.Context) (*benchReport, error) {
	defer b.close()
	rep := newBenchReport(b.cfg, b.taskset != "")
	defer rep.finish()
	b.log = slog.New(slog.DiscardHandler)
	if b.cfg.verbose {
		b.log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	b.tr = &http.Transport{MaxIdleConns: 8 * b.cfg.users, MaxIdleConnsPerHost: 4 * b.cfg.users, IdleConnTimeout: time.Minute, DisableCompression: true}
	b.stop = append(b.stop, b.tr.CloseIdleConnections)

	// Listeners first: the identity provider must know every portal's address.
	lns := map[string]net.Listener{}
	for _, name := range []string{"warm", "cold", "large", "minimal", "trivialA", "trivialB", "idp", "emA", "emB"} {
		ln, err := listenLoopback()
		if err != nil {
			return nil, err
		}
		lns[name] = ln
		b.stop = append(b.stop, func() { ln.Close() })
	}
	e := &benchEnv{lns: lns, issuer: "http://" + lns["idp"].Addr().String(), secret: "bench-client-secret"}
	urlOf := e.url
	idp, err := demoidp.New(demoidp.Config{
		Issuer: e.issuer, ClientID: benchClientID, ClientSecret: e.secret,
		RedirectURIs:           []string{urlOf("warm") + "/auth/callback", urlOf("cold") + "/auth/callback", urlOf("large") + "/auth/callback"},
		PostLogoutRedirectURIs: []string{urlOf("warm") + "/auth/signin", urlOf("cold") + "/auth/signin", urlOf("large") + "/auth/signin"},
		Users:                  demoidp.DemoUsers(), Logger: b.log,
	})
	if err != nil {
		return nil, err
	}
	b.stop = append(b.stop, serve(lns["idp"], idp))
	if e.tmp, err = os.MkdirTemp("", "agentdesk-bench-"); err != nil {
		return nil, err
	}
	b.stop = append(b.stop, func() { os.RemoveAll(e.tmp) })
	if err := b.pages(ctx, rep, e); err != nil {
		return rep, err
	}
	return rep, b.largeList(ctx, rep, e)
}

// benchEnv is what the phases share: the listeners (by name), the identity
// provider's issuer and client secret, a scratch directory.
type benchEnv struct {
	lns            map[string]net.Listener
	issuer, secret string
	tmp            string
}

func (e *benchEnv) url(name string) string { return "http://" + e.lns[name].Addr().String() }

// portalArgs are the flags of a portal child serving on listener name.
func (e *benchEnv) portalArgs(name, emURL string, extra ...string) []string {
	return append([]string{"-em", emURL, "-issuer", e.issuer, "-secret", e.secret, "-base", e.url(name)}, extra...)
}

// pages measures on a fleet of -jobs: warm job page and list against the
// trivial server, cold job pages against raw EM and the minimal portal, Start.
func (b *bench) pages(ctx context.Context, rep *benchReport, e *benchEnv) error {
	lns, urlOf, portalArgs, tmp := e.lns, e.url, e.portalArgs, e.tmp
	b.progress("fleet A: emsim with %d jobs, EM latency %s", b.cfg.jobs, b.cfg.emLatency)
	simA := emsim.New(emsim.Config{Seed: 1, Jobs: b.cfg.jobs, SessionSpeed: b.cfg.backupDuration, Logger: b.log})
	simA.SetFaults(emsim.Faults{Latency: b.cfg.emLatency})
	stopEMA := serve(lns["emA"], simA)
	fleet := make([]string, 0, b.cfg.jobs)
	for _, j := range simA.Jobs() {
		fleet = append(fleet, j.ID)
	}
	warm, err := b.startChild(ctx, "portal", lns["warm"], portalArgs("warm", urlOf("emA"))...)
	if err != nil {
		return err
	}
	users, err := b.signInN(ctx, urlOf("warm"), b.cfg.users, "/jobs")
	if err != nil {
		return err
	}
	jobID := fleet[len(fleet)/2]
	jobBody, err := b.capture(users[0], "/jobs/"+jobID, "/job", tmp)
	if err != nil {
		return err
	}
	listBody, err := b.capture(users[0], "/jobs", "/list", tmp)
	if err != nil {
		return err
	}
	_, _, plain, err := users[0].do(http.MethodGet, "/jobs", nil)
	if err != nil {
		return err
	}
	rows := len(jobIDs(plain))
	trivA, err := b.startTrivial(ctx, "trivialA", lns["trivialA"], tmp, jobBody, listBody)
	if err != nil {
		return err
	}

	b.progress("warm job page: portal vs trivial server, %s each", b.cfg.duration)
	p, t := b.alternate(ctx, b.cfg.duration,
		profiled{b.portalGet(users, "/jobs/"+jobID), warm, "warm-job"}, b.plainGet(urlOf("trivialA")+"/job"))
	rep.add(row{key: "warm-job", what: fmt.Sprintf("warm job page (%s), pages/s", kb(jobBody.size)),
		portal: p, base: t, baseWhat: "trivial net/http server, same bytes", kind: throughput, target: 0.40})

	b.progress("warm list: portal vs trivial server, %s each", b.cfg.duration)
	p, t = b.alternate(ctx, b.cfg.duration,
		profiled{b.portalGet(users, "/jobs"), warm, "warm-list"}, b.plainGet(urlOf("trivialA")+"/list"))
	rep.add(row{key: "warm-list", what: fmt.Sprintf("warm list, %d rows of %d jobs (%s), pages/s", rows, b.cfg.jobs, kb(listBody.size)),
		portal: p, base: t, baseWhat: "trivial net/http server, same bytes", kind: throughput, target: 0.35})

	// Cold job pages: the portal with a 250 ms cache, the minimal portal and
	// the two EM calls made directly, paced alike (no job reopened within
	// coldTTL+50ms by the same worker).
	cold, err := b.startChild(ctx, "portal", lns["cold"], portalArgs("cold", urlOf("emA"), "-job-ttl", coldTTL.String(), "-list-ttl", coldTTL.String())...)
	if err != nil {
		return err
	}
	minimal, err := b.startChild(ctx, "minimal", lns["minimal"], "-em", urlOf("emA"))
	if err != nil {
		return err
	}
	coldUsers, err := b.signInN(ctx, urlOf("cold"), b.cfg.users, "/jobs")
	if err != nil {
		return err
	}
	fleetFile := filepath.Join(tmp, "fleetA.ids")
	if err := writeIDs(fleetFile, fleet); err != nil {
		return err
	}
	emCount := func() int64 { return emRequests(simA) }
	minimalHC := &http.Client{Transport: b.tr, Timeout: time.Minute}
	for _, n := range slices.Compact([]int{1, b.cfg.users}) {
		b.progress("cold job page, %d user(s): raw EM, portal, minimal portal, %s each", n, b.cfg.coldDuration)
		rs := b.alternateN(ctx, b.cfg.coldDuration, emCount,
			rawWorker{n: n, emURL: urlOf("emA"), fleet: fleetFile},
			profiled{b.paced(n, fleet, func(i int, id string) (int, int64, error) {
				return hit(coldUsers[i].hc, urlOf("cold")+"/jobs/"+id, browser)
			}), cold, fmt.Sprintf("cold-job-%d", n)},
			b.paced(n, fleet, func(i int, id string) (int, int64, error) {
				return hit(minimalHC, urlOf("minimal")+"/jobs/"+id, browser)
			}))
		rep.add(row{key: fmt.Sprintf("cold-job-%d", n), what: fmt.Sprintf("cold job page, EM %s, %d user(s)", b.cfg.emLatency, n),
			portal: rs[1], base: rs[2], raw: rs[0], baseWhat: "minimal net/http + html/template portal, same 2 EM calls", kind: overhead, target: 1.2})
	}
	cold.stop()
	minimal.stop()

	b.progress("Start: %d starts through the portal, %d raw EM start + task GET, EM latency 0", b.cfg.starts, b.cfg.starts)
	simA.SetFaults(emsim.Faults{})
	rep.add(b.starts(ctx, users[0], simA, urlOf("emA"), tmp, fleet))
	warm.stop()
	trivA.stop()
	stopEMA()
	return nil
}

// largeList measures on a fleet of -jobs-large: the first list against the
// fetch-and-decode floor, the search against the trivial server, and the
// continuous list load.
func (b *bench) largeList(ctx context.Context, rep *benchReport, e *benchEnv) error {
	lns, urlOf, portalArgs, tmp := e.lns, e.url, e.portalArgs, e.tmp
	b.progress("fleet B: emsim with %d jobs", b.cfg.jobsLarge)
	simB := emsim.New(emsim.Config{Seed: 2, Jobs: b.cfg.jobsLarge, SessionSpeed: b.cfg.backupDuration, Logger: b.log})
	simB.SetFaults(emsim.Faults{Latency: b.cfg.emLatency})
	walksB := &listWalks{next: simB}
	stopEMB := serve(lns["emB"], walksB)
	defer stopEMB()
	b.progress("fetch-and-decode floor")
	floor1, err := b.floor(ctx, urlOf("emB"))
	if err != nil {
		return err
	}
	large, err := b.startChild(ctx, "portal", lns["large"], portalArgs("large", urlOf("emB"), "-list-ttl", b.cfg.listTTL.String())...)
	if err != nil {
		return err
	}
	// Signed in on a job page, which does not load the list.
	first, err := b.signInN(ctx, urlOf("large"), 1, "/jobs/"+simB.Jobs()[0].ID)
	if err != nil {
		return err
	}
	b.progress("first /jobs with %d jobs", b.cfg.jobsLarge)
	// The first list's time is what its user waits: from the first request
	// to the first 200 that shows job rows, asking again (as the "still
	// loading" page says) after every other answer. Those are reported.
	var firstList time.Duration
	var firstFails []string
	t0 := time.Now()
	for time.Since(t0) < firstListLimit && ctx.Err() == nil {
		t1 := time.Now()
		code, _, page, err := first[0].do(http.MethodGet, "/jobs", nil)
		if err == nil && code == http.StatusOK && len(jobIDs(page)) > 0 {
			firstList = time.Since(t0)
			break
		}
		if err == nil {
			err = fmt.Errorf("status %d", code)
			if code == http.StatusOK {
				err = errors.New("200 without job rows")
			}
		}
		firstFails = append(firstFails, fmt.Sprintf("%v after %s", err, time.Since(t1).Round(time.Millisecond)))
		pause(ctx, 200*time.Millisecond, t0.Add(firstListLimit))
	}
	firstRSS := large.peakRSSKB()
	floor2, err := b.floor(ctx, urlOf("emB"))
	if err != nil {
		return err
	}
	rep.addFloor(b.cfg.jobsLarge, firstList, firstFails, firstRSS, floor1, floor2)

	more, err := b.signInN(ctx, urlOf("large"), b.cfg.users-1, "/jobs/"+simB.Jobs()[0].ID)
	if err != nil {
		return err
	}
	largeUsers := append(first, more...)
	// A word of the first job's name: a filter that keeps a share of the fleet.
	word, _, _ := strings.Cut(strings.ToLower(simB.Jobs()[0].Name), " ")
	search := "/jobs?q=" + url.QueryEscape(word) + "&sort=lastrun&desc=1"
	var searchBody captured
	for t0 := time.Now(); ; { // the list may be down or loading (see the first list)
		if searchBody, err = b.capture(largeUsers[0], search, "/search", tmp); err == nil || time.Since(t0) > time.Minute || ctx.Err() != nil {
			break
		}
		pause(ctx, 200*time.Millisecond, t0.Add(time.Minute))
	}
	searchRow := row{key: "search", portal: newStats(), base: newStats(), baseWhat: "trivial net/http server, same bytes", kind: throughput, p50Target: 20 * time.Millisecond}
	b.progress("search over %d jobs: portal vs trivial server, %s each", b.cfg.jobsLarge, b.cfg.duration)
	if err != nil {
		// No bytes for the trivial server: the portal alone, failures and all.
		searchRow.what = fmt.Sprintf("%d jobs, filtered and sorted search (`%s`; the portal never answered it with 200 before the measurement), pages/s", b.cfg.jobsLarge, search)
		searchRow.portal = b.measure(ctx, b.cfg.duration, nil, b.portalGet(largeUsers, search))
	} else {
		_, _, plain, _ := largeUsers[0].do(http.MethodGet, search, nil)
		trivB, err := b.startTrivial(ctx, "trivialB", lns["trivialB"], tmp, searchBody)
		if err != nil {
			return err
		}
		searchRow.what = fmt.Sprintf("%d jobs, filtered and sorted search (`%s`, %d rows, %s), pages/s", b.cfg.jobsLarge, search, len(jobIDs(plain)), kb(searchBody.size))
		searchRow.portal, searchRow.base = b.alternate(ctx, b.cfg.duration, profiled{b.portalGet(largeUsers, search), large, "search"}, b.plainGet(urlOf("trivialB")+"/search"))
		trivB.stop()
	}
	rep.add(searchRow)

	b.progress("continuous list load on %d jobs for %s", b.cfg.jobsLarge, b.cfg.listLoad)
	seq := make([]int, len(largeUsers))
	before := simB.Stats().Requests["GET /query"]
	walksBefore := walksB.n.Load()
	load := b.measure(ctx, b.cfg.listLoad, nil, profiled{worker(func(i int, _ time.Time) (int, int64, error) {
		u := largeUsers[i]
		q := listQueries[(i+seq[i])%len(listQueries)]
		seq[i]++
		return hit(u.hc, u.base.String()+q, browser)
	}), large, "list-load"})
	load.emCalls = simB.Stats().Requests["GET /query"] - before
	rep.addListLoad(b.cfg.jobsLarge, load, walksB.n.Load()-walksBefore, floor1.Pages, large.peakRSSKB())
	large.stop()
	return nil
}

// captured is a page as the portal sent it to a browser.
type captured struct {
	path, contentType, contentEncoding, file string
	size                                     int
}

// capture fetches target as a browser would and keeps the bytes for the
// trivial server, under path.
func (b *bench) capture(u *user, target, path, dir string) (captured, error) {
	// The third answer: the bytes a warm page goes out with. The first ones
	// can differ in size (a chunk's first response packs it quickly,
	// views.Chunk.Packed), which would not be the same bytes as measured.
	var (
		code int
		h    http.Header
		data []byte
		err  error
	)
	for range 3 {
		code, h, data, err = u.do(http.MethodGet, target, nil, browser)
		if err != nil {
			return captured{}, err
		}
		if code != http.StatusOK {
			return captured{}, fmt.Errorf("loadtest bench: GET %s answered %d", target, code)
		}
	}
	c := captured{path: path, contentType: h.Get("Content-Type"), contentEncoding: h.Get("Content-Encoding"),
		file: filepath.Join(dir, strings.Trim(path, "/")+".body"), size: len(data)}
	return c, os.WriteFile(c.file, data, 0o600)
}

func (b *bench) startTrivial(ctx context.Context, name string, ln net.Listener, dir string, bodies ...captured) (*child, error) {
	var spec []body
	for _, c := range bodies {
		spec = append(spec, body{Path: c.path, ContentType: c.contentType, ContentEncoding: c.contentEncoding, File: c.file})
	}
	raw, _ := json.Marshal(spec)
	file := filepath.Join(dir, name+".json")
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		return nil, err
	}
	return b.startChild(ctx, "trivial", ln, "-spec", file)
}

func (b *bench) signInN(ctx context.Context, base string, n int, returnTo string) ([]*user, error) {
	users := make([]*user, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := range users {
		u, err := newUser("alice", base, b.tr) // the administrator sees every job
		if err != nil {
			return nil, err
		}
		u.returnTo = returnTo
		users[i] = u
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if ctx.Err() != nil {
				errs[i] = ctx.Err()
				return
			}
			errs[i] = u.signIn("demo")
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("loadtest bench: sign-in at %s: %w", base, err)
	}
	return users, nil
}

// hit sends one GET and reads the answer to the end, keeping only its size.
func hit(hc *http.Client, target string, opts ...reqOpt) (int, int64, error) {
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		return 0, 0, err
	}
	for _, o := range opts {
		o(req)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, n, err
}

// worker is one closed-loop request of worker i; until is when the
// measurement ends.
type worker func(i int, until time.Time) (code int, n int64, err error)

func (b *bench) portalGet(users []*user, target string) worker {
	return func(i int, _ time.Time) (int, int64, error) {
		return hit(users[i].hc, users[i].base.String()+target, browser)
	}
}

func (b *bench) plainGet(target string) worker {
	hc := &http.Client{Transport: b.tr, Timeout: time.Minute}
	return func(int, time.Time) (int, int64, error) { return hit(hc, target, browser) }
}

// paced is worker i of n opening job pages on its own share of the fleet,
// never reopening a job within coldTTL+50ms; the idle wait is not timed.
func (b *bench) paced(n int, fleet []string, open func(i int, id string) (int, int64, error)) pacedWorker {
	return pacedWorker{n: n, fleet: fleet, open: open}
}

// rawWorker is n workers making a cold job page's EM calls from a child on
// the portal's CPU (child raw), paced as the cold pages.
type rawWorker struct {
	n            int
	emURL, fleet string // fleet: file of job ids
}

type pacedWorker struct {
	n     int
	fleet []string
	open  func(i int, id string) (int, int64, error)
}

// stats are the requests of one measurement.
type stats struct {
	lat      []time.Duration // 200 answers
	answered []time.Duration // every answer, whatever its status
	codes    map[int]int
	errs     int
	slow     int
	bytes    int64
	elapsed  time.Duration
	emCalls  int64
	first    string
}

func newStats() *stats { return &stats{codes: map[int]int{}} }

func (s *stats) record(d time.Duration, code int, n int64, err error) {
	if err != nil {
		s.errs++
		if s.first == "" {
			s.first = err.Error()
		}
		return
	}
	s.codes[code]++
	s.answered = append(s.answered, d)
	if d > slowLimit { // failures count too: a 503 after 15 s is slow
		s.slow++
	}
	if code != http.StatusOK {
		s.errs++
		if s.first == "" {
			s.first = "status " + strconv.Itoa(code)
		}
		return
	}
	s.bytes += n
	s.lat = append(s.lat, d)
}

func (s *stats) merge(o *stats) {
	s.lat = append(s.lat, o.lat...)
	s.answered = append(s.answered, o.answered...)
	for k, v := range o.codes {
		s.codes[k] += v
	}
	s.errs += o.errs
	s.slow += o.slow
	s.bytes += o.bytes
	s.elapsed += o.elapsed
	s.emCalls += o.emCalls
	if s.first == "" {
		s.first = o.first
	}
}

func (s *stats) rate() float64 {
	if s.elapsed <= 0 {
		return 0
	}
	return float64(len(s.lat)) / s.elapsed.Seconds()
}

func (s *stats) pct(q float64) time.Duration {
	slices.Sort(s.lat)
	return percentile(s.lat, q)
}

// profiled is a worker whose slices are profiled in the child serving it
// when the bench runs with -profile.
type profiled struct {
	w   any
	c   *child
	key string
}

// profile reads a CPU profile of c lasting about d into the -profile
// directory; the returned function waits for it.
func (b *bench) profile(c *child, key string, d time.Duration) func() {
	if b.cfg.profile == "" || c == nil || c.pprof == "" {
		return func() {}
	}
	seconds := max(1, int(d/time.Second))
	b.profiles[key]++
	file := filepath.Join(b.cfg.profile, fmt.Sprintf("%s-%d.prof", key, b.profiles[key]))
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := func() error {
			resp, err := http.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", c.pprof, seconds))
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("pprof: %s", resp.Status)
			}
			f, err := os.Create(file)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, resp.Body); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		}()
		if err != nil {
			b.progress("profile %s: %v", file, err)
		}
	}()
	return func() { <-done }
}

// measure runs b.cfg.users closed-loop workers (n for a paced worker) for d.
func (b *bench) measure(ctx context.Context, d time.Duration, emCount func() int64, w any) *stats {
	if p, ok := w.(profiled); ok {
		wait := b.profile(p.c, p.key, d)
		defer wait()
		w = p.w
	}
	var before int64
	if emCount != nil {
		before = emCount()
	}
	if r, ok := w.(rawWorker); ok {
		s, err := b.rawChild(ctx, r.emURL, r.fleet, "job", r.n, d)
		if err != nil {
			s.errs++
			s.first = err.Error()
		}
		if emCount != nil {
			s.emCalls = emCount() - before
		}
		return s
	}
	n := b.cfg.users
	if p, ok := w.(pacedWorker); ok {
		n = p.n
	}
	per := make([]*stats, n)
	start := time.Now()
	until := start.Add(d)
	var wg sync.WaitGroup
	for i := range n {
		per[i] = newStats()
		wg.Go(func() {
			switch w := w.(type) {
			case worker:
				for time.Now().Before(until) && ctx.Err() == nil {
					t0 := time.Now()
					code, nb, err := w(i, until)
					per[i].record(time.Since(t0), code, nb, err)
				}
			case pacedWorker:
				coldLoop(ctx, i, w.n, w.fleet, until, func(id string) {
					t0 := time.Now()
					code, nb, err := w.open(i, id)
					per[i].record(time.Since(t0), code, nb, err)
				})
			}
		})
	}
	wg.Wait()
	all := newStats()
	for _, s := range per {
		all.merge(s)
	}
	all.elapsed = time.Since(start)
	if emCount != nil {
		all.emCalls = emCount() - before
	}
	return all
}

// alternate measures a and c in alternating slices of d/slices each.
func (b *bench) alternate(ctx context.Context, d time.Duration, a, c any) (*stats, *stats) {
	rs := b.alternateN(ctx, d, nil, a, c)
	return rs[0], rs[1]
}

func (b *bench) alternateN(ctx context.Context, d time.Duration, emCount func() int64, ws ...any) []*stats {
	out := make([]*stats, len(ws))
	for i := range out {
		out[i] = newStats()
	}
	slice := d / time.Duration(b.cfg.slices)
	for range b.cfg.slices {
		for i, w := range ws {
			out[i].merge(b.measure(ctx, slice, emCount, w))
		}
	}
	return out
}

// rawChild runs a raw child (child.go) and returns what it measured.
func (b *bench) rawChild(ctx context.Context, emURL, ids, action string, n int, d time.Duration) (*stats, error) {
	s := newStats()
	c, err := b.startChild(ctx, "raw", nil, "-em", emURL, "-ids", ids, "-action", action, "-users", strconv.Itoa(n), "-duration", d.String())
	if err != nil {
		return s, err
	}
	err = c.wait()
	var r rawReport
	if err == nil {
		err = json.Unmarshal(c.stdout.Bytes(), &r)
	}
	if err != nil {
		return s, fmt.Errorf("loadtest bench: raw EM child: %w (%s)", err, strings.TrimSpace(c.stderr.String()))
	}
	s.lat, s.answered, s.errs, s.first, s.elapsed = r.Lat, r.Lat, r.Errs, r.First, r.Elapsed
	s.codes[http.StatusOK] = len(r.Lat)
	for _, d := range r.Lat {
		if d > slowLimit {
			s.slow++
		}
	}
	return s, nil
}

func writeIDs(file string, ids []string) error {
	return os.WriteFile(file, []byte(strings.Join(ids, "\n")+"\n"), 0o600)
}

// starts times Start as a user clicks it on an open job page, and the raw EM
// action POST followed by one task GET, on distinct idle jobs.
func (b *bench) starts(ctx context.Context, u *user, sim *emsim.Server, emURL, tmp string, fleet []string) row {
	portal := newStats()
	var emPer []int64
	calls := map[string]int{} // the EM requests of one Start, by how often that set was seen
	origin := u.base.Scheme + "://" + u.base.Host
	for k := range b.cfg.starts {
		id := fleet[len(fleet)-1-k]
		u.do(http.MethodGet, "/jobs/"+id, nil, browser) // the page is open first
		before := sim.Stats().Requests
		t0 := time.Now()
		code, _, _, err := u.do(http.MethodPost, "/jobs/"+id+"/actions/start", strings.NewReader(""), htmx, func(r *http.Request) {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("X-CSRF-Token", u.csrf)
			r.Header.Set("Origin", origin)
			r.Header.Set("Sec-Fetch-Site", "same-origin")
		})
		d := time.Since(t0)
		n, set := requestsSince(before, sim.Stats().Requests)
		emPer = append(emPer, n)
		calls[set]++
		portal.record(d, code, 0, err)
		portal.elapsed += d
	}
	var ids []string
	for k := range b.cfg.starts {
		ids = append(ids, fleet[len(fleet)-1-b.cfg.starts-k])
	}
	file := filepath.Join(tmp, "starts.ids")
	raw := newStats()
	if err := writeIDs(file, ids); err != nil {
		raw.errs++
		raw.first = err.Error()
	} else if raw, err = b.rawChild(ctx, emURL, file, "start", 1, time.Minute); err != nil {
		raw.errs++
		raw.first = err.Error()
	}
	raw.elapsed = 0
	for _, d := range raw.lat {
		raw.elapsed += d
	}
	slices.Sort(emPer)
	usual := ""
	for set, n := range calls {
		if usual == "" || n > calls[usual] || (n == calls[usual] && set < usual) {
			usual = set
		}
	}
	return row{key: "start", what: "Start, job page opened first, EM 0 ms (POST to answer)", portal: portal, base: raw,
		baseWhat: "raw EM action POST + task GET", kind: latency, emPerStart: emPer[len(emPer)/2], emCalls: usual}
}

// requestsSince is how many EM requests were made between two Stats, and
// which, as "METHOD route" terms in order.
func requestsSince(before, after map[string]int64) (int64, string) {
	var n int64
	var terms []string
	for _, k := range slices.Sorted(maps.Keys(after)) {
		if d := after[k] - before[k]; d > 0 {
			n += d
			t := "`" + k + "`"
			if d > 1 {
				t = fmt.Sprintf("%d × %s", d, t)
			}
			terms = append(terms, t)
		}
	}
	return n, strings.Join(terms, " + ")
}

func (b *bench) floor(ctx context.Context, emURL string) (floorReport, error) {
	c, err := b.startChild(ctx, "floor", nil, "-em", emURL)
	if err != nil {
		return floorReport{}, err
	}
	err = c.wait()
	var r floorReport
	if err == nil {
		err = json.Unmarshal(c.stdout.Bytes(), &r)
	}
	if err != nil {
		return r, fmt.Errorf("loadtest bench: floor: %w (%s)", err, strings.TrimSpace(c.stderr.String()))
	}
	return r, nil
}

// child is a process of this binary (see child.go), pinned to CPU 0 when the
// run is pinned.
type child struct {
	pprof          string // base URL of the child's pprof endpoint, with -profile
	cmd            *exec.Cmd
	stdin          io.WriteCloser
	stdout, stderr bytes.Buffer
	done           chan error
}

func (b *bench) startChild(ctx context.Context, mode string, ln net.Listener, args ...string) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	argv := append(append(append([]string{exe}, b.cfg.prefix...), "child", mode), args...)
	if b.cfg.verbose {
		argv = append(argv, "-v")
	}
	if b.taskset != "" {
		argv = append([]string{b.taskset, "-c", "0"}, argv...)
	}
	c := &child{cmd: exec.Command(argv[0], argv[1:]...), done: make(chan error, 1)}
	c.cmd.Env = append(os.Environ(), envChild+"=1")
	c.cmd.Stdout = &c.stdout
	c.cmd.Stderr = &c.stderr
	if b.cfg.verbose {
		c.cmd.Stderr = io.MultiWriter(&c.stderr, os.Stderr)
	}
	if ln != nil {
		f, err := ln.(*net.TCPListener).File()
		if err != nil {
			return nil, err
		}
		defer f.Close()
		c.cmd.ExtraFiles = []*os.File{f}
	}
	if ln != nil && mode == "portal" && b.cfg.profile != "" {
		// The pprof endpoint on a listener of its own (file descriptor 4),
		// so that reading a profile never queues behind the load.
		pln, err := listenLoopback()
		if err != nil {
			return nil, err
		}
		defer pln.Close()
		f, err := pln.(*net.TCPListener).File()
		if err != nil {
			return nil, err
		}
		defer f.Close()
		c.cmd.ExtraFiles = append(c.cmd.ExtraFiles, f)
		c.cmd.Args = append(c.cmd.Args, "-pprof")
		c.pprof = "http://" + pln.Addr().String()
	}
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { c.done <- c.cmd.Wait() }()
	b.stop = append(b.stop, c.stop)
	if ln == nil {
		return c, nil
	}
	// Ready when it answers /livez.
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := hc.Get("http://" + ln.Addr().String() + "/livez")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c, nil
			}
		}
		select {
		case err := <-c.done:
			c.done <- err
			return nil, fmt.Errorf("loadtest bench: child %s ended: %v: %s", mode, err, strings.TrimSpace(c.stderr.String()))
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (c *child) wait() error {
	err := <-c.done
	c.done <- err
	return err
}

// stop closes the child's standard input, which ends it; it is killed after
// 10 s. Stopping twice is harmless.
func (c *child) stop() {
	c.stdin.Close()
	select {
	case err := <-c.done:
		c.done <- err
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		c.wait()
	}
}

// peakRSSKB is the child's VmHWM so far (0 when unknown).
func (c *child) peakRSSKB() int64 { return procStatusKB(strconv.Itoa(c.cmd.Process.Pid), "VmHWM") }

func procStatusKB(pid, field string) int64 {
	raw, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// listWalks counts the walks of the agent job query EM is asked for (its
// first page): one per list refresh, however the refresh reads the rest.
type listWalks struct {
	next http.Handler
	n    atomic.Int64
}

func (l *listWalks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, "/query") {
		q := r.URL.Query()
		if q.Get("type") == "AgentBackupJob" && (q.Get("page") == "" || q.Get("page") == "1") {
			l.n.Add(1)
		}
	}
	l.next.ServeHTTP(w, r)
}

func emRequests(sim *emsim.Server) int64 {
	var n int64
	for _, v := range sim.Stats().Requests {
		n += v
	}
	return n
}

func kb(n int) string { return strconv.FormatFloat(float64(n)/1024, 'f', 1, 64) + " KB" }
