package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/agentdesk/agentdesk/emclient"
	"github.com/agentdesk/agentdesk/emclient/emsim"
	"github.com/agentdesk/agentdesk/jobs"
	"github.com/agentdesk/agentdesk/metrics"
)

const token = "s3cret-token"

func scrape(t *testing.T, h http.Handler, auth string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// nopRecorder is the audit trail behind the counting decorator.
type nopRecorder struct{ beginErr error }

func (n nopRecorder) Begin(context.Context, jobs.Attempt) (string, error) {
	if n.beginErr != nil {
		return "", n.beginErr
	}
	return "audit-1", nil
}
func (nopRecorder) Finish(context.Context, string, jobs.Outcome) error        { return nil }
func (nopRecorder) Refused(context.Context, jobs.Attempt, jobs.Outcome) error { return nil }

// TestScrapeAfterTraffic drives a real EM client against emsim, the jobs cache,
// the action recorder and an echo route, then reads every series back.
func TestScrapeAfterTraffic(t *testing.T) {
	m := metrics.New()
	log := slog.New(slog.DiscardHandler)
	sim := emsim.New(emsim.Config{Jobs: 5, Logger: log})
	emSrv := httptest.NewServer(sim)
	defer emSrv.Close()
	em, err := emclient.New(emclient.Config{BaseURL: emSrv.URL, Username: "svc", Password: "secret", Observe: m.ObserveEM, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	svc := jobs.NewService(em, jobs.Options{Logger: log, Recorder: nopRecorder{}})
	defer svc.Close()
	m.EMLogons(em.Logons)
	m.CacheStats(svc.CacheStats)
	m.Sessions(func() (int, error) { return 3, nil })

	ctx := context.Background()
	for range 2 { // one miss, one hit
		if _, err := svc.List(ctx); err != nil {
			t.Fatal(err)
		}
	}
	rec := &metrics.Recorder{Next: nopRecorder{}, Metrics: m}
	at := jobs.Attempt{Action: jobs.Start}
	id, _ := rec.Begin(ctx, at)
	_ = rec.Finish(ctx, id, jobs.Outcome{Result: "performed"})
	_ = rec.Refused(ctx, jobs.Attempt{Action: jobs.Disable}, jobs.Outcome{Result: "denied"})

	e := echo.New()
	e.Use(m.Middleware)
	e.GET("/jobs/:id", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/jobs/42", nil))

	code, body := scrape(t, m.Handler(token), "Bearer "+token)
	if code != http.StatusOK {
		t.Fatalf("scrape: %d %s", code, body)
	}
	for _, want := range []string{
		`agentdesk_em_requests_total{endpoint="POST /sessionMngr/",status="201"} 1`,
		`agentdesk_em_request_duration_seconds_count{endpoint="POST /sessionMngr/"} 1`,
		`agentdesk_em_logons_total 1`,
		`agentdesk_cache_hits_total 1`,
		`agentdesk_cache_misses_total 1`,
		`agentdesk_sessions 3`,
		`agentdesk_actions_started_total{action="start"} 1`,
		`agentdesk_actions_total{action="start",outcome="performed"} 1`,
		`agentdesk_actions_total{action="disable",outcome="denied"} 1`,
		`agentdesk_http_request_duration_seconds_count{code="200",method="GET",route="/jobs/:id"} 1`,
		`agentdesk_http_requests_in_flight 0`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	if !strings.Contains(body, `agentdesk_em_requests_total{endpoint="GET /query"`) {
		t.Errorf("no query calls counted:\n%s", grep(body, "agentdesk_em_requests_total"))
	}
}

func grep(body, prefix string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestMetricsNeedTheToken(t *testing.T) {
	m := metrics.New()
	tests := []struct {
		name, configured, auth string
		want                   int
	}{
		{"no header", token, "", http.StatusUnauthorized},
		{"wrong token", token, "Bearer nope", http.StatusUnauthorized},
		{"token as basic auth", token, "Basic " + token, http.StatusUnauthorized},
		{"token prefix", token, "Bearer " + token[:4], http.StatusUnauthorized},
		{"right token", token, "Bearer " + token, http.StatusOK},
		{"scheme in lower case", token, "bearer " + token, http.StatusOK},
		{"scheme in upper case", token, "BEARER " + token, http.StatusOK},
		{"another scheme", token, "Basic " + token, http.StatusUnauthorized},
		{"no token configured", "", "Bearer ", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := scrape(t, m.Handler(tt.configured), tt.auth)
			if code != tt.want {
				t.Fatalf("status %d, want %d", code, tt.want)
			}
			if code != http.StatusOK && strings.Contains(body, "agentdesk_") {
				t.Error("an unauthorized scrape got metrics")
			}
		})
	}
}

// TestInFlightDuringRequest reads the gauge from inside a handler.
func TestInFlightDuringRequest(t *testing.T) {
	m := metrics.New()
	e := echo.New()
	e.Use(m.Middleware)
	h := m.Handler(token)
	var during string
	e.GET("/slow", func(c echo.Context) error {
		_, during = scrape(t, h, "Bearer "+token)
		return c.NoContent(http.StatusNoContent)
	})
	srv := httptest.NewServer(e)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/slow")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if !strings.Contains(during, "agentdesk_http_requests_in_flight 1") {
		t.Errorf("in-flight during the request:\n%s", grep(during, "agentdesk_http_requests_in_flight"))
	}
	_, after := scrape(t, h, "Bearer "+token)
	if !strings.Contains(after, "agentdesk_http_requests_in_flight 0") ||
		!strings.Contains(after, `agentdesk_http_request_duration_seconds_count{code="204",method="GET",route="/slow"} 1`) {
		t.Errorf("after the request:\n%s", grep(after, "agentdesk_http_re"))
	}
}

// TestRecorderPassesAuditErrors: a failing audit must still refuse the action,
// and the refusal is counted.
func TestRecorderPassesAuditErrors(t *testing.T) {
	m := metrics.New()
	boom := errors.New("audit store down")
	rec := &metrics.Recorder{Next: nopRecorder{beginErr: boom}, Metrics: m}
	if _, err := rec.Begin(context.Background(), jobs.Attempt{Action: jobs.Stop, At: time.Now()}); !errors.Is(err, boom) {
		t.Fatalf("Begin error = %v, want %v", err, boom)
	}
	_, body := scrape(t, m.Handler(token), "Bearer "+token)
	if !strings.Contains(body, `agentdesk_actions_total{action="stop",outcome="audit_error"} 1`) ||
		strings.Contains(body, `agentdesk_actions_started_total{action="stop"}`) {
		t.Errorf("audit error not counted as such:\n%s", grep(body, "agentdesk_actions"))
	}
}

func TestSessionsCountFailureIsNotZero(t *testing.T) {
	m := metrics.New()
	m.Sessions(func() (int, error) { return 0, errors.New("store down") })
	code, body := scrape(t, m.Handler(token), "Bearer "+token)
	if code != http.StatusOK || strings.Contains(body, "agentdesk_sessions 0") {
		t.Errorf("status %d; a failed count must not read as zero sessions:\n%s", code, grep(body, "agentdesk_sessions"))
	}
}

// TestEMAccountRefused: EM refusing the service account shows as a gauge and
// a counter, from a real client against emsim refusing the logon.
func TestEMAccountRefused(t *testing.T) {
	sim := emsim.New(emsim.Config{Jobs: 2})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	em, err := emclient.New(emclient.Config{BaseURL: srv.URL, Username: "svc", Password: "wrong", LogonBackoff: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	m.EMAccount(func() bool { _, _, r := em.AccountRefused(); return r }, em.LogonRefusals)
	_, body := scrape(t, m.Handler(token), "Bearer "+token)
	if !strings.Contains(body, "agentdesk_em_account_refused 0") {
		t.Errorf("before any logon:\n%s", grep(body, "agentdesk_em_"))
	}
	if _, err := em.AgentJobRefs(context.Background()); !errors.Is(err, emclient.ErrAccountRefused) {
		t.Fatalf("logon with a wrong password: %v", err)
	}
	_, body = scrape(t, m.Handler(token), "Bearer "+token)
	if !strings.Contains(body, "agentdesk_em_account_refused 1") || !strings.Contains(body, "agentdesk_em_logon_refusals_total 1") {
		t.Errorf("after a refused logon:\n%s", grep(body, "agentdesk_em_"))
	}
}

// TestRequestSeriesByLabels: each request is counted in the series of its
// own route, method and code, however the requests interleave (the series
// are looked up once and kept: a mix-up would count one in another's).
func TestRequestSeriesByLabels(t *testing.T) {
	m := metrics.New()
	e := echo.New()
	e.Use(m.Middleware)
	answer := func(c echo.Context) error {
		code, _ := strconv.Atoi(c.QueryParam("code"))
		if c.QueryParam("err") != "" {
			return echo.NewHTTPError(code)
		}
		return c.NoContent(code)
	}
	e.GET("/jobs/:id", answer)
	e.POST("/jobs/:id", answer)
	e.HEAD("/jobs/:id", answer)
	e.GET("/audit", answer)
	type req struct{ method, target string }
	reqs := []req{
		{"GET", "/jobs/1?code=200"}, {"GET", "/jobs/2?code=200"}, {"HEAD", "/jobs/1?code=200"},
		{"POST", "/jobs/1?code=303"}, {"GET", "/jobs/3?code=503&err=1"}, {"GET", "/audit?code=200"},
		{"GET", "/audit?code=403&err=1"}, {"GET", "/nowhere"}, {"POST", "/jobs/4?code=200"},
	}
	want := map[string]int{
		`code="200",method="GET",route="/jobs/:id"`:  0,
		`code="200",method="HEAD",route="/jobs/:id"`: 0,
		`code="303",method="POST",route="/jobs/:id"`: 0,
		`code="503",method="GET",route="/jobs/:id"`:  0,
		`code="200",method="GET",route="/audit"`:     0,
		`code="403",method="GET",route="/audit"`:     0,
		`code="404",method="GET",route="unmatched"`:  0,
		`code="200",method="POST",route="/jobs/:id"`: 0,
	}
	labels := []string{ // the series of reqs[i]
		`code="200",method="GET",route="/jobs/:id"`, `code="200",method="GET",route="/jobs/:id"`, `code="200",method="HEAD",route="/jobs/:id"`,
		`code="303",method="POST",route="/jobs/:id"`, `code="503",method="GET",route="/jobs/:id"`, `code="200",method="GET",route="/audit"`,
		`code="403",method="GET",route="/audit"`, `code="404",method="GET",route="unmatched"`, `code="200",method="POST",route="/jobs/:id"`,
	}
	// Every request several times, in an order that varies.
	for round := range 5 {
		for i := range reqs {
			j := (i*(round+2) + round) % len(reqs)
			r := reqs[j]
			e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(r.method, r.target, nil))
			want[labels[j]]++
		}
	}
	_, body := scrape(t, m.Handler(token), "Bearer "+token)
	got := grep(body, "agentdesk_http_request_duration_seconds_count")
	for l, n := range want {
		if line := fmt.Sprintf("agentdesk_http_request_duration_seconds_count{%s} %d", l, n); !strings.Contains(got, line) {
			t.Errorf("scrape lacks %q:\n%s", line, got)
		}
	}
	if lines := strings.Count(got, "\n") + 1; lines != len(want) {
		t.Errorf("%d series, want %d:\n%s", lines, len(want), got)
	}
}
