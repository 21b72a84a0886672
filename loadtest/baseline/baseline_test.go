package baseline

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/emclient/emsim"
)

func newSim(t *testing.T, jobs int) (*emsim.Server, string) {
	t.Helper()
	sim := emsim.New(emsim.Config{Seed: 3, Jobs: jobs})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv.URL
}

func TestFloorReadsEveryJobAndSession(t *testing.T) {
	sim, emURL := newSim(t, 1200) // more than one 1,000-job page
	r, err := Floor(context.Background(), emURL, "svc", "secret", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if r.Jobs != len(sim.Jobs()) || r.Sessions == 0 || r.Pages < 3 || r.Bytes == 0 || r.Elapsed <= 0 {
		t.Errorf("floor %+v, want %d jobs over at least 2 job pages and a session page", r, len(sim.Jobs()))
	}
	if got := sim.Stats().Requests["GET /query"]; got != int64(r.Pages) {
		t.Errorf("EM answered %d queries, floor counted %d pages", got, r.Pages)
	}
}

func TestPortalShowsTheJobFromTwoEMCalls(t *testing.T) {
	sim, emURL := newSim(t, 5)
	p := httptest.NewServer(Portal(emURL, "svc", "secret"))
	defer p.Close()
	job := sim.Jobs()[2]
	get := func(path string) (int, string) {
		resp, err := http.Get(p.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	get("/jobs/" + job.ID) // logs on
	sim.ResetStats()
	code, body := get("/jobs/" + job.ID)
	if code != http.StatusOK || !strings.Contains(body, "<h1>"+html.EscapeString(job.Name)+"</h1>") {
		t.Errorf("job page: %d\n%s", code, body)
	}
	st := sim.Stats()
	if st.Requests["GET /agents/jobs/{id}"] != 1 || st.Requests["GET /query"] != 1 || st.Logons != 0 {
		t.Errorf("EM calls for one page: %+v", st)
	}
	if code, _ := get("/jobs/not-a-guid"); code != http.StatusNotFound {
		t.Errorf("bad id: %d", code)
	}
}

func TestRawStartsAndReadsTheTask(t *testing.T) {
	sim, emURL := newSim(t, 3)
	id := sim.Jobs()[0].ID
	if err := NewRaw(emURL, "svc", "secret").Start(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if n := sim.Stats().ActionCalls[emsim.ActionKey(id, "start")]; n != 1 {
		t.Errorf("EM carried out %d starts, want 1", n)
	}
}
