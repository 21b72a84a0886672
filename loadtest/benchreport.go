package loadtest

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The kinds of row the report compares.
const (
	throughput = iota // pages/s against a baseline's pages/s
	overhead          // latency over raw EM against the minimal portal's
	latency           // latency against a baseline's latency
	floorRow          // first list against the fetch-and-decode floor
	loadRow           // continuous load, judged by failures alone
)

// row is one line of the table, with its detail.
type row struct {
	key, what string
	portal    *stats
	base      *stats
	raw       *stats // overhead rows: the EM calls made directly
	baseWhat  string
	kind      int
	target    float64       // throughput: ratio ≥ target; overhead: ratio ≤ target
	p50Target time.Duration // throughput rows judged by the portal's p50 instead

	emPerStart int64
	emCalls    string // the EM requests of the usual Start

	// floorRow
	firstList      time.Duration // until the first 200 with rows; 0: none
	firstFails     []string
	firstRSSKB     int64
	floor1, floor2 floorReport
	// loadRow
	refreshes       int64 // list refreshes started (agent job query walks)
	pagesPerRefresh int   // EM query pages of a full read (the floor's)
	loadRSSKB       int64

	ratio float64 // NaN when there is none
	met   bool
}

type benchReport struct {
	cfg       benchConfig
	pinned    bool
	started   time.Time
	load0     string
	load1     string
	rows      []*row
	elapsedAt time.Duration
}

func newBenchReport(cfg benchConfig, pinned bool) *benchReport {
	return &benchReport{cfg: cfg, pinned: pinned, started: time.Now(), load0: loadAvg()}
}

func (r *benchReport) finish() {
	r.load1 = loadAvg()
	r.elapsedAt = time.Since(r.started)
}

func (r *benchReport) row(key string) *row {
	for _, x := range r.rows {
		if x.key == key {
			return x
		}
	}
	return nil
}

func (r *benchReport) add(x row) {
	x.ratio = math.NaN()
	switch x.kind {
	case throughput:
		if x.base.rate() > 0 {
			x.ratio = x.portal.rate() / x.base.rate()
		}
		if x.p50Target > 0 {
			x.met = x.portal.errs == 0 && len(x.portal.lat) > 0 && x.portal.pct(.5) <= x.p50Target
		} else {
			x.met = x.portal.errs == 0 && x.ratio >= x.target
		}
	case overhead:
		raw := x.raw.pct(.5)
		mine, theirs := x.portal.pct(.5)-raw, x.base.pct(.5)-raw
		if theirs > 0 {
			x.ratio = float64(mine) / float64(theirs)
		}
		x.met = x.portal.errs == 0 && (mine <= 0 || x.ratio <= x.target)
	case latency:
		if b := x.base.pct(.5); b > 0 {
			x.ratio = float64(x.portal.pct(.5)) / float64(b)
		}
		x.met = x.portal.errs == 0 && x.emPerStart <= 2
	}
	r.rows = append(r.rows, &x)
}

func (r *benchReport) addFloor(jobs int, first time.Duration, fails []string, rssKB int64, f1, f2 floorReport) {
	best := time.Duration(min(f1.Elapsed, f2.Elapsed))
	bestRSS := min(f1.PeakRSSKB, f2.PeakRSSKB)
	x := row{key: "first-list", kind: floorRow, what: fmt.Sprintf("first `/jobs` with %d jobs (time, peak RSS of the portal process)", jobs),
		firstList: first, firstFails: fails, firstRSSKB: rssKB, floor1: f1, floor2: f2, ratio: math.NaN()}
	if first > 0 && best > 0 {
		x.ratio = float64(first) / float64(best)
	}
	x.met = first > 0 && float64(first) <= 1.3*float64(best) && bestRSS > 0 && float64(rssKB) <= 2*float64(bestRSS)
	r.rows = append(r.rows, &x)
}

func (r *benchReport) addListLoad(jobs int, s *stats, refreshes int64, fullPages int, rssKB int64) {
	x := row{key: "list-load", kind: loadRow, portal: s, refreshes: refreshes, pagesPerRefresh: fullPages, loadRSSKB: rssKB, ratio: math.NaN(),
		what: fmt.Sprintf("%d jobs, %s continuous list load, %d users", jobs, r.cfg.listLoad, r.cfg.users)}
	if r.cfg.listTTL > 0 {
		x.what += fmt.Sprintf(", list TTL %s", r.cfg.listTTL)
	}
	x.met = s.codes[503] == 0 && s.slow == 0 && s.errs == 0
	r.rows = append(r.rows, &x)
}

func ms2(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/1e6, 'f', 1, 64) + " ms"
}

func mb(kB int64) string { return strconv.FormatFloat(float64(kB)/1024, 'f', 0, 64) + " MB" }

func yes(b bool) string {
	if b {
		return "**met**"
	}
	return "not met"
}

func fmtRatio(x float64, suffix string) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "n/a"
	}
	return strconv.FormatFloat(x, 'f', 2, 64) + suffix
}

func errNote(s *stats) string {
	if s.errs == 0 {
		return ""
	}
	return fmt.Sprintf(", **%d failed** (first: %s)", s.errs, s.first)
}

func (x *row) cells() (portal, base, ratio, target string) {
	switch x.kind {
	case throughput:
		portal = fmt.Sprintf("%.0f (p50 %s, p99 %s)%s", x.portal.rate(), ms2(x.portal.pct(.5)), ms2(x.portal.pct(.99)), errNote(x.portal))
		base = fmt.Sprintf("%s: %.0f (p50 %s)%s", x.baseWhat, x.base.rate(), ms2(x.base.pct(.5)), errNote(x.base))
		ratio = fmtRatio(x.ratio, "")
		target = "≥ " + strconv.FormatFloat(x.target, 'f', 2, 64)
		if x.p50Target > 0 {
			target = "p50 ≤ " + ms2(x.p50Target)
		}
	case overhead:
		raw := x.raw.pct(.5)
		portal = fmt.Sprintf("p50 %s, p99 %s, %.0f pages/s; over raw EM +%s; %.2f EM calls/page%s", ms2(x.portal.pct(.5)), ms2(x.portal.pct(.99)),
			x.portal.rate(), ms2(x.portal.pct(.5)-raw), perPage(x.portal), errNote(x.portal))
		base = fmt.Sprintf("%s: p50 %s, p99 %s, %.0f pages/s; over raw EM +%s. Raw EM (2 calls in parallel): p50 %s, p99 %s%s",
			x.baseWhat, ms2(x.base.pct(.5)), ms2(x.base.pct(.99)), x.base.rate(), ms2(x.base.pct(.5)-raw), ms2(raw), ms2(x.raw.pct(.99)), errNote(x.base))
		ratio = fmtRatio(x.ratio, " (overhead ÷ minimal's overhead)")
		target = "≤ " + strconv.FormatFloat(x.target, 'f', 1, 64)
	case latency:
		portal = fmt.Sprintf("p50 %s, p99 %s; %d EM requests during the POST (median; usually %s)%s", ms2(x.portal.pct(.5)), ms2(x.portal.pct(.99)), x.emPerStart, x.emCalls, errNote(x.portal))
		base = fmt.Sprintf("%s: p50 %s%s", x.baseWhat, ms2(x.base.pct(.5)), errNote(x.base))
		ratio = fmtRatio(x.ratio, "×")
		target = "≤ 2 EM round trips"
	case floorRow:
		bestRSS := min(x.floor1.PeakRSSKB, x.floor2.PeakRSSKB)
		portal = fmt.Sprintf("%s, peak RSS %s", x.firstList.Round(time.Millisecond), mb(x.firstRSSKB))
		if x.firstList == 0 {
			portal = fmt.Sprintf("no list, peak RSS %s", mb(x.firstRSSKB))
		}
		if n := len(x.firstFails); n > 0 {
			shown := x.firstFails[:min(n, 3)]
			more := ""
			if n > 3 {
				more = fmt.Sprintf("; … %d more", n-3)
			}
			portal += fmt.Sprintf(", time to the first 200 with job rows; **%d answers before it** (%s%s)", n, strings.Join(shown, "; "), more)
		}
		base = fmt.Sprintf("fetch + decode into minimal structs (%d query pages, %.0f MB of XML): %s / %s, peak RSS %s / %s (before / after)",
			x.floor1.Pages, float64(x.floor1.Bytes)/(1<<20), x.floor1.Elapsed.Round(time.Millisecond), x.floor2.Elapsed.Round(time.Millisecond),
			mb(x.floor1.PeakRSSKB), mb(x.floor2.PeakRSSKB))
		ratio = fmt.Sprintf("time %s, RSS %s", fmtRatio(x.ratio, "×"), fmtRatio(float64(x.firstRSSKB)/float64(bestRSS), "×"))
		target = "time ≤ 1.3×, RSS ≤ 2×"
	case loadRow:
		s := x.portal
		other := s.errs - s.codes[503]
		slices.Sort(s.answered)
		portal = fmt.Sprintf("%d requests, %d answered 200 (%.0f/s, p50 %s, p99 %s); every answer p50 %s, p99 %s; **%d × 503**, **%d slower than 1 s**, %d other failures; %d list refreshes started, %d EM query pages (a full read is %d); peak RSS %s",
			len(s.lat)+s.errs, len(s.lat), s.rate(), ms2(s.pct(.5)), ms2(s.pct(.99)),
			ms2(percentile(s.answered, .5)), ms2(percentile(s.answered, .99)), s.codes[503], s.slow, other, x.refreshes, s.emCalls, x.pagesPerRefresh, mb(x.loadRSSKB))
		base, ratio, target = "—", "—", "no 503, none > 1 s"
	}
	return
}

func perPage(s *stats) float64 {
	n := len(s.lat) + s.errs
	if n == 0 {
		return 0
	}
	return float64(s.emCalls) / float64(n)
}

func (r *benchReport) write(w io.Writer) {
	fmt.Fprintf(w, "\n## Side-by-side run, %s\n\n", r.started.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "Command: `%s` (what `%s` builds and runs)\n\n",
		strings.Join(append(append(append([]string{filepath.Base(os.Args[0])}, r.cfg.prefix...), "bench"), r.cfg.args...), " "),
		strings.Join(append([]string{"scripts/bench.sh"}, r.cfg.args...), " "))
	fmt.Fprintf(w, "- Machine: %d CPUs (%s), %s, %s/%s\n", cpus(), cpuModel(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if r.pinned {
		fmt.Fprintf(w, "- Pinning: portal and every baseline (trivial server, minimal portal, floor) in turn on CPU 0 (`taskset -c 0`); EM simulator, identity provider and load generator on CPU 1 (GOMAXPROCS %d)\n", runtime.GOMAXPROCS(0))
	} else {
		fmt.Fprintf(w, "- Pinning: **none** (-pin off, one CPU, or no taskset): portal, baselines, EM and load generator share the CPUs\n")
	}
	fmt.Fprintf(w, "- Load average (1/5/15 min) at start: %s; at end: %s (the machine is shared: read the ratios, not the absolute figures)\n", r.load0, r.load1)
	fmt.Fprintf(w, "- %d users (closed loop, signed in as the administrator), fleets of %d and %d jobs, EM latency %s, %s per throughput pair in %d alternating slices, %s per cold variant, %s list load; wall time %s\n\n",
		r.cfg.users, r.cfg.jobs, r.cfg.jobsLarge, r.cfg.emLatency, r.cfg.duration, r.cfg.slices, r.cfg.coldDuration, r.cfg.listLoad, r.elapsedAt.Round(time.Second))
	fmt.Fprintln(w, "| what | AgentDesk | baseline (same run, same CPU) | ratio | target | |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, x := range r.rows {
		p, b, ra, t := x.cells()
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", x.what, p, b, ra, t, yes(x.met))
	}
	fmt.Fprintln(w)
}

func loadAvg() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "n/a"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "n/a"
	}
	return strings.Join(f[:3], " ")
}

// cpus counts the machine's CPUs: runtime.NumCPU sees only this process's
// affinity, one CPU once pinned.
func cpus() int {
	raw, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.NumCPU()
	}
	n := 0
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "processor") {
			n++
		}
	}
	return n
}

func cpuModel() string {
	raw, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return "unknown CPU"
}
