package jobs

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/emclient"
	"github.com/agentdesk/agentdesk/emclient/emsim"
)

// The 10,000-job list refresh, three ways against the same EM in the same run:
//
//	floor   plain net/http GETs of the same query pages, decoded by
//	        encoding/xml into structs holding only what the list shows
//	before  the list as it was: every job decoded into the full model
//	        (QueryPages), the snapshot built from those
//	after   Service.loadList: emclient's streaming row decoder, snapshot
//	        built from the rows (first list: sessions read whole)
//	after-incremental  a refresh of that snapshot (sessions since the last read)
//
// Each reports ns/op, B/op, allocs/op and peak-heap-MB: the highest live heap
// above the start seen while the refresh ran (sampled every 200µs from
// runtime/metrics). Set AGENTDESK_BENCH_EM to the URL of an
// `agentdesk emsim -jobs 10000 -tls=false` running in its own process, so the
// simulator's rendering is not counted in this process's heap; without it an
// in-process emsim of 10,000 jobs is used (its page rendering then shows in
// the heap figures too). MaxRSS per way: TestMeasureListRefresh under
// /usr/bin/time -v (scripts/listmem.sh).
func BenchmarkListRefresh10k(b *testing.B) {
	base := benchEM(b)
	ctx := context.Background()
	b.Run("floor", func(b *testing.B) {
		runPeak(b, func() int { return len(floorList(b, ctx, base).jobs) })
	})
	b.Run("before", func(b *testing.B) {
		em := benchClient(b, base)
		runPeak(b, func() int {
			snap, err := loadListFullModel(ctx, em, time.Now())
			if err != nil {
				b.Fatal(err)
			}
			return len(snap.Jobs)
		})
	})
	b.Run("after", func(b *testing.B) {
		s := benchService(b, base)
		runPeak(b, func() int {
			snap, err := s.loadList(ctx, nil)
			if err != nil {
				b.Fatal(err)
			}
			return len(snap.Jobs)
		})
	})
	b.Run("after-incremental", func(b *testing.B) {
		s := benchService(b, base)
		prev, err := s.loadList(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		runPeak(b, func() int {
			snap, err := s.loadList(ctx, prev)
			if err != nil {
				b.Fatal(err)
			}
			return len(snap.Jobs)
		})
	})
}

// runPeak runs fn b.N times, checking it read the whole fleet, and reports the
// highest live heap above the starting one.
func runPeak(b *testing.B, fn func() int) {
	b.ReportAllocs()
	var peak uint64
	for b.Loop() {
		b.StopTimer()
		runtime.GC()
		stop := startHeapSampler()
		b.StartTimer()
		n := fn()
		b.StopTimer()
		peak = max(peak, stop())
		b.StartTimer()
		if n < benchJobs {
			b.Fatalf("read %d jobs, want %d", n, benchJobs)
		}
	}
	b.ReportMetric(float64(peak)/1e6, "peak-heap-MB")
}

const benchJobs = 10000

var heapSample = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}

func heapObjects() uint64 {
	s := []metrics.Sample{heapSample[0]}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// startHeapSampler samples the live heap until the returned func is called,
// which reports the highest sample above the first.
func startHeapSampler() (stop func() uint64) {
	base := heapObjects()
	var peak atomic.Uint64
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(200 * time.Microsecond)
		defer t.Stop()
		for {
			if v := heapObjects(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-finished
		if v := heapObjects(); v > peak.Load() {
			peak.Store(v)
		}
		if p := peak.Load(); p > base {
			return p - base
		}
		return 0
	}
}

func benchEM(tb testing.TB) string {
	if u := os.Getenv("AGENTDESK_BENCH_EM"); u != "" {
		return strings.TrimRight(u, "/")
	}
	srv := httptest.NewServer(emsim.New(emsim.Config{Seed: 1, Jobs: benchJobs, Logger: slog.New(slog.DiscardHandler)}))
	tb.Cleanup(srv.Close)
	return srv.URL
}

func benchClient(tb testing.TB, base string) *emclient.Client {
	em, err := emclient.New(emclient.Config{BaseURL: base, Username: "svc", Password: "secret", Timeout: 5 * time.Minute, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { em.Close(context.Background()) })
	return em
}

func benchService(tb testing.TB, base string) *Service {
	s := NewService(benchClient(tb, base), Options{Logger: slog.New(slog.DiscardHandler), Recorder: LogRecorder{Logger: slog.New(slog.DiscardHandler)}, ListWait: 10 * time.Minute, ListRefreshTimeout: 10 * time.Minute})
	tb.Cleanup(s.Close)
	return s
}

// ---- floor: fetch and decode into minimal structs, nothing else ----

type floorJob struct {
	UID         string `xml:"UID,attr"`
	Name        string `xml:"Name,attr"`
	Platform    string
	Description string
	Configured  bool   `xml:"ScheduleConfigured"`
	Enabled     bool   `xml:"ScheduleEnabled"`
	NextRun     string `xml:"NextRun"`
	Links       []struct {
		Rel  string `xml:"Rel,attr"`
		Type string `xml:"Type,attr"`
		Name string `xml:"Name,attr"`
	} `xml:"Links>Link"`
	Includes []struct {
		Name            string
		DisplayName     string
		HierarchyObjRef string
	} `xml:"JobInfo>Includes>ObjectInAgentBackupJob"`
}

type floorSession struct {
	UID      string `xml:"UID,attr"`
	JobUID   string `xml:"JobUid"`
	Created  string `xml:"CreationTimeUTC"`
	Ended    string `xml:"EndTimeUTC"`
	State    string
	Result   string
	Progress int
}

type floorPage struct {
	Jobs     []floorJob     `xml:"Entities>AgentBackupJobs>AgentBackupJob"`
	Sessions []floorSession `xml:"Entities>BackupJobSessions>BackupJobSession"`
	Paging   struct {
		PagesCount int `xml:"PagesCount,attr"`
	} `xml:"PagingInfo"`
}

type floorResult struct {
	jobs   []floorJob
	latest map[string]floorSession
}

// floorList is the least a list refresh can do: log on, GET the same pages
// (jobs and the 30-day sessions, in parallel), decode each into the structs
// above and keep each job's newest session.
func floorList(tb testing.TB, ctx context.Context, base string) floorResult {
	hc := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Minute}
	defer hc.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/sessionMngr/?v=latest", nil)
	req.SetBasicAuth("svc", "secret")
	resp, err := hc.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	token := resp.Header.Get("X-RestSvcSessionId")
	pages := func(q url.Values, fn func(*floorPage)) {
		for page := 1; ; page++ {
			q.Set("page", fmt.Sprint(page))
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/query?"+strings.ReplaceAll(q.Encode(), "+", "%20"), nil)
			req.Header.Set("X-RestSvcSessionId", token)
			req.Header.Set("Accept", "application/xml")
			resp, err := hc.Do(req)
			if err != nil {
				tb.Error(err)
				return
			}
			var p floorPage
			err = xml.NewDecoder(resp.Body).Decode(&p)
			resp.Body.Close()
			if err != nil {
				tb.Error(err)
				return
			}
			fn(&p)
			if page >= p.Paging.PagesCount {
				return
			}
		}
	}
	var out floorResult
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		pages(url.Values{"type": {"AgentBackupJob"}, "format": {"Entities"}, "sortAsc": {"Name"}, "pageSize": {"1000"}},
			func(p *floorPage) { out.jobs = append(out.jobs, p.Jobs...) })
	}()
	go func() {
		defer wg.Done()
		out.latest = map[string]floorSession{}
		since := time.Now().Add(-sessionWindow).UTC().Format(time.RFC3339)
		pages(url.Values{"type": {"BackupJobSession"}, "format": {"Entities"}, "sortDesc": {"CreationTime"}, "pageSize": {"1000"},
			"filter": {`JobType=="AgentBackup";CreationTime>="` + since + `"`}},
			func(p *floorPage) {
				for _, s := range p.Sessions {
					if cur, ok := out.latest[s.JobUID]; !ok || s.Created > cur.Created {
						out.latest[s.JobUID] = s
					}
				}
			})
	}()
	wg.Wait()
	return out
}

// ---- before: the list as it was read until this change ----

// loadListFullModel is loadList before the row decoder: every entity into
// the full model through QueryPages.
func loadListFullModel(ctx context.Context, em *emclient.Client, now time.Time) (*Snapshot, error) {
	var (
		wg       sync.WaitGroup
		jobs     []emclient.AgentBackupJob
		sessions []emclient.BackupJobSession
		jobErr   error
		sessErr  error
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		jobErr = em.QueryPages(ctx, emclient.Query{Type: "AgentBackupJob", Entities: true, SortAsc: "Name", PageSize: 1000},
			func(r *emclient.QueryResult) error {
				if r.Entities != nil && r.Entities.AgentBackupJobs != nil {
					jobs = append(jobs, r.Entities.AgentBackupJobs.Jobs...)
				}
				return nil
			})
	}()
	go func() {
		defer wg.Done()
		since := now.Add(-sessionWindow).UTC()
		sessErr = em.QueryPages(ctx, emclient.Query{
			Type: "BackupJobSession", Entities: true,
			Filter:   emclient.And(emclient.Eq("JobType", "AgentBackup"), emclient.Ge("CreationTime", since)),
			SortDesc: "CreationTime", PageSize: 1000,
		}, func(r *emclient.QueryResult) error {
			if r.Entities != nil && r.Entities.BackupJobSessions != nil {
				sessions = append(sessions, r.Entities.BackupJobSessions.Sessions...)
			}
			return nil
		})
	}()
	wg.Wait()
	if jobErr != nil {
		return nil, jobErr
	}
	if sessErr != nil {
		return nil, sessErr
	}
	latest := make(map[string]*Session, len(jobs))
	for i := range sessions {
		id := emclient.IDFromUID(sessions[i].JobUID)
		if cur, ok := latest[id]; id != "" && (!ok || sessions[i].CreationTimeUTC.After(cur.Start)) {
			latest[id] = sessionFrom(&sessions[i])
		}
	}
	rows := make([]*Job, 0, len(jobs))
	for i := range jobs {
		j := jobFrom(&jobs[i])
		j.Last = latest[j.ID]
		rows = append(rows, j)
	}
	return NewSnapshot(rows, now), nil
}

// TestMeasureListRefresh runs one 10,000-job list refresh the way
// AGENTDESK_MEASURE_LIST names (floor, before, after) against
// AGENTDESK_BENCH_EM and prints its time and peak live heap; it exists to be
// run on its own under /usr/bin/time -v, one way per process, for MaxRSS
// (scripts/listmem.sh). Skipped unless AGENTDESK_MEASURE_LIST is set.
func TestMeasureListRefresh(t *testing.T) {
	way := os.Getenv("AGENTDESK_MEASURE_LIST")
	if way == "" {
		t.Skip("AGENTDESK_MEASURE_LIST not set")
	}
	base := benchEM(t)
	ctx := context.Background()
	var run func() int
	switch way {
	case "floor":
		run = func() int { return len(floorList(t, ctx, base).jobs) }
	case "before":
		em := benchClient(t, base)
		run = func() int {
			snap, err := loadListFullModel(ctx, em, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			return len(snap.Jobs)
		}
	case "after":
		s := benchService(t, base)
		run = func() int {
			snap, err := s.List(ctx) // the first list as a request sees it
			if err != nil {
				t.Fatal(err)
			}
			return len(snap.Jobs)
		}
	default:
		t.Fatalf("AGENTDESK_MEASURE_LIST=%q: want floor, before or after", way)
	}
	runtime.GC()
	stop := startHeapSampler()
	start := time.Now()
	n := run()
	took := time.Since(start)
	peak := stop()
	if n < benchJobs {
		t.Fatalf("read %d jobs", n)
	}
	fmt.Printf("list-refresh way=%s jobs=%d seconds=%.2f peak-heap-MB=%.1f\n", way, n, took.Seconds(), float64(peak)/1e6)
}
