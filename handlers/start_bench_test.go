package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/emclient"
	"github.com/agentdesk/agentdesk/emclient/emsim"
)

// emBeforePOST counts the EM requests about one job that arrive before the
// job's action POST, and the POST: the EM work that stands between a click
// and the portal's answer (what follows the POST is the follow).
type emBeforePOST struct {
	mu    sync.Mutex
	jobID string
	n     int
}

func (c *emBeforePOST) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		if c.jobID != "" {
			q, _ := url.QueryUnescape(r.URL.RawQuery)
			if strings.Contains(strings.ToLower(r.URL.Path), c.jobID) || strings.Contains(strings.ToLower(q), c.jobID) || r.URL.Path == "/api/backupServers" {
				c.n++
				if r.Method == http.MethodPost {
					c.jobID = ""
				}
			}
		}
		c.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func (c *emBeforePOST) arm(jobID string) {
	c.mu.Lock()
	c.jobID = jobID
	c.mu.Unlock()
}

func (c *emBeforePOST) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// BenchmarkStartLatency is the time from the POST of a Start (the click on
// Confirm) to the portal's answer, EM answering at once (emsim, 0 ms
// latency) and after 5 ms: with the job page opened just before, and
// without it, against the raw EM POST through the same client (the floor:
// one round trip). Each
// iteration starts another idle job and waits, untimed, until the portal has
// followed it to its end. em-requests/op counts the EM requests about the
// job before its POST, and the POST.
//
//	go test -run '^$' -bench StartLatency -benchtime 100x ./handlers/
func BenchmarkStartLatency(b *testing.B) {
	counter := &emBeforePOST{}
	p := newPortal(b, portalOptions{jobs: 1500, sessionSpeed: 5 * time.Millisecond, wrapEM: counter.wrap})
	c := p.signIn("alice")
	ctx := context.Background()
	snap, err := p.svc.List(ctx)
	if err != nil {
		b.Fatal(err)
	}
	var idle []string
	for _, j := range snap.Jobs {
		if !j.Running() {
			idle = append(idle, j.ID)
		}
	}
	next := func() string {
		if len(idle) == 0 {
			b.Fatal("out of idle jobs; use -benchtime Nx with a smaller N")
		}
		id := idle[0]
		idle = idle[1:]
		return id
	}
	for _, latency := range []time.Duration{0, 5 * time.Millisecond} {
		p.sim.SetFaults(emsim.Faults{Latency: latency})
		for _, mode := range []string{"raw-EM-POST", "page-open", "page-not-open"} {
			b.Run("em-"+latency.String()+"/"+mode, func(b *testing.B) {
				before := counter.count()
				for b.Loop() {
					b.StopTimer()
					id := next()
					if mode == "page-open" {
						if r := c.get("/jobs/" + id); r.StatusCode != http.StatusOK {
							b.Fatalf("job page: %d", r.StatusCode)
						}
					}
					counter.arm(id)
					b.StartTimer()
					if mode == "raw-EM-POST" {
						if _, err := p.em.JobAction(ctx, id, emclient.ActionStart); err != nil {
							b.Fatal(err)
						}
						continue
					}
					if r := c.action(id, "start"); r.StatusCode != http.StatusOK {
						b.Fatalf("start: %d %s", r.StatusCode, r.Body)
					}
					b.StopTimer()
					p.waitRun(id)
					b.StartTimer()
				}
				b.ReportMetric(float64(counter.count()-before)/float64(b.N), "em-requests/op")
			})
		}
	}
	p.sim.SetFaults(emsim.Faults{})
}
