package loadtest

import (
	"bytes"
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBenchFlagsAreBounded(t *testing.T) {
	for _, args := range [][]string{
		{"-users", "0"}, {"-users", "100", "-jobs", "50"}, {"-duration", "0s"}, {"-list-load", "31m"},
		{"-pin", "cpu3"}, {"-slices", "0"}, {"-starts", "40", "-jobs", "60"},
	} {
		if _, err := parseBench(args, &bytes.Buffer{}); err == nil {
			t.Errorf("parseBench(%v) accepted", args)
		}
	}
	cfg, err := parseBench([]string{"-quick", "-users", "2"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.users != 2 || cfg.jobs != 60 || cfg.listLoad != time.Second {
		t.Errorf("-quick with -users 2: %+v", cfg)
	}
}

func TestArgsPrefix(t *testing.T) {
	tests := []struct {
		osArgs, args, want []string
	}{
		{[]string{"agentdesk", "loadtest", "bench", "-quick"}, []string{"-quick"}, []string{"loadtest"}},
		{[]string{"loadtest", "bench"}, nil, []string{}},
		{[]string{"loadtest", "bench", "-users", "4"}, []string{"-users", "4"}, []string{}},
		{[]string{"loadtest.test", "-test.run", "X"}, []string{"-quick"}, nil},
	}
	for _, tt := range tests {
		if got := argsPrefix(tt.osArgs, tt.args); !slices.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
			t.Errorf("argsPrefix(%q, %q) = %q, want %q", tt.osArgs, tt.args, got, tt.want)
		}
	}
}

// TestBenchQuick runs the whole side-by-side benchmark on tiny fleets, with
// its children as processes of this test binary (see TestMain), and checks
// that every row of the table is there with sane figures. It judges
// the tool, not the portal's speed: no timing threshold.
func TestBenchQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole stack in child processes")
	}
	cfg, err := parseBench([]string{"-quick", "-pin", "off"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := (&bench{cfg: cfg}).run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep.write(&out)
	report := out.String()

	for _, key := range []string{"warm-job", "warm-list", "cold-job-1", "cold-job-3", "start", "first-list", "search", "list-load"} {
		x := rep.row(key)
		if x == nil {
			t.Errorf("no row %s:\n%s", key, report)
			continue
		}
		if !strings.Contains(report, "| "+x.what+" |") {
			t.Errorf("row %s is not in the table:\n%s", key, report)
		}
		switch x.kind {
		case throughput, overhead, latency:
			for name, s := range map[string]*stats{"portal": x.portal, "baseline": x.base} {
				if len(s.lat) == 0 || s.errs != 0 {
					t.Errorf("%s %s: %d answers, %d failed (%s)", key, name, len(s.lat), s.errs, s.first)
				}
			}
		}
		if x.kind != loadRow && (math.IsNaN(x.ratio) || math.IsInf(x.ratio, 0) || x.ratio <= 0) {
			t.Errorf("%s: ratio %v", key, x.ratio)
		}
	}
	for _, key := range []string{"cold-job-1", "cold-job-3"} {
		x := rep.row(key)
		if x == nil {
			continue
		}
		// The raw baseline makes exactly the two calls; the cold portal must
		// reach EM on its pages too, or the row measures a warm cache.
		if got := perPage(x.raw); got < 1.9 || got > 2.1 {
			t.Errorf("%s: raw EM calls per page %.2f, want 2", key, got)
		}
		if got := perPage(x.portal); got < 1 {
			t.Errorf("%s: cold portal made %.2f EM calls per page: not cold", key, got)
		}
		if len(x.raw.lat) == 0 {
			t.Errorf("%s: no raw EM sample", key)
		}
	}
	if x := rep.row("start"); x != nil && (len(x.portal.lat) != cfg.starts || len(x.base.lat) != cfg.starts) {
		t.Errorf("start: %d portal and %d raw samples, want %d each", len(x.portal.lat), len(x.base.lat), cfg.starts)
	}
	if x := rep.row("first-list"); x != nil {
		if x.firstList <= 0 || x.firstRSSKB <= 0 || x.floor1.PeakRSSKB <= 0 || x.floor1.Jobs != cfg.jobsLarge || x.floor1.Pages < 2 || x.floor1.Bytes <= 0 {
			t.Errorf("first list %s, RSS %d kB; floor %+v", x.firstList, x.firstRSSKB, x.floor1)
		}
	}
	if x := rep.row("list-load"); x != nil && (len(x.portal.lat)+x.portal.errs == 0 || x.pagesPerRefresh == 0) {
		t.Errorf("list load: %d requests, full read %d pages", len(x.portal.lat)+x.portal.errs, x.pagesPerRefresh)
	}
	for _, want := range []string{"bench -quick -pin off` (what `scripts/bench.sh -quick -pin off` builds and runs)", "Load average", "Pinning: **none**"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
}

func TestListWalksCountsFirstPagesOfTheJobQuery(t *testing.T) {
	w := &listWalks{next: http.NotFoundHandler()}
	for _, target := range []string{
		"/api/query?type=AgentBackupJob&format=Entities&pageSize=1000&page=1", // counted
		"/api/query?type=AgentBackupJob&format=Entities&pageSize=1000&page=2",
		"/api/query?type=BackupJobSession&format=Entities&page=1",
		"/api/query?type=AgentBackupJob", // counted: no page is the first
		"/api/agents/jobs?type=AgentBackupJob",
	} {
		w.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, target, nil))
	}
	if got := w.n.Load(); got != 2 {
		t.Errorf("counted %d walks, want 2", got)
	}
}

func TestRequestsSince(t *testing.T) {
	n, set := requestsSince(
		map[string]int64{"GET /agents/jobs/{id}": 4, "GET /query": 2, "GET /tasks/{id}": 1},
		map[string]int64{"GET /agents/jobs/{id}": 5, "GET /query": 2, "GET /tasks/{id}": 1, "POST /agents/jobs/{id}": 2})
	if want := "`GET /agents/jobs/{id}` + 2 × `POST /agents/jobs/{id}`"; n != 3 || set != want {
		t.Errorf("requestsSince = %d, %q; want 3, %q", n, set, want)
	}
}
