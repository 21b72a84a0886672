package handlers_test

// Failure behaviour of the whole portal (issue 8): each test breaks EM or the
// IdP the way production does and checks what people see.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/emclient/emsim"
)

// wantEMTrouble: the page says in words that EM cannot be reached, either
// from the failed call itself or from the circuit breaker that followed.
func wantEMTrouble(t *testing.T, r *response) {
	t.Helper()
	title := r.testid("error-title").Text()
	if title != "Enterprise Manager is not answering" && title != "Backup server unreachable" {
		t.Errorf("error title %q, want EM unreachable in words\n%s", title, truncate(r.Body, 2000))
	}
}

// emGauge counts the requests EM is serving right now and tells waiters
// about every change, so tests wait for the count, not for time.
type emGauge struct {
	mu      sync.Mutex
	n       int64
	changed chan struct{} // closed and replaced at every change
}

func (g *emGauge) add(d int64) {
	g.mu.Lock()
	g.n += d
	if g.changed != nil {
		close(g.changed)
	}
	g.changed = make(chan struct{})
	g.mu.Unlock()
}

func (g *emGauge) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.add(1)
		defer g.add(-1)
		h.ServeHTTP(w, r)
	})
}

// await waits until cond holds for the count; the limit only guards
// against a hang.
func (g *emGauge) await(t *testing.T, what string, cond func(n int64) bool) {
	t.Helper()
	limit := time.After(time.Minute)
	for {
		g.mu.Lock()
		if g.changed == nil {
			g.changed = make(chan struct{})
		}
		n, changed := g.n, g.changed
		g.mu.Unlock()
		if cond(n) {
			return
		}
		select {
		case <-changed:
		case <-limit:
			t.Fatalf("%s: still not the case (EM serving %d requests)", what, n)
		}
	}
}

// fetch is a GET safe to call from any goroutine (no t.Fatal).
func (c *client) fetch(path string) (int, string, error) {
	resp, err := c.hc.Get(c.abs(path))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func wantRetry(t *testing.T, r *response, href string) {
	t.Helper()
	if got, ok := r.testid("error-retry").Attr("href"); !ok || got != href {
		t.Errorf("retry button href = %q (present %t), want %q", got, ok, href)
	}
}

// TestSlowEM: EM stops answering for one job. The page answers at the request
// deadline with an error and a retry button, the EM calls behind it end with
// it (the EM client's own timeout is an hour here, so nothing else can end
// them), and other jobs are unaffected.
func TestSlowEM(t *testing.T) {
	t.Parallel()
	var g emGauge
	// The deadline is what the stuck page runs into; it is long enough for
	// the other pages (sign-in, another job) on a loaded machine.
	p := newPortal(t, portalOptions{requestTimeout: 3 * time.Second, emTimeout: time.Hour, wrapEM: g.wrap})
	c := p.signIn("alice")
	fleet := p.sim.Jobs()
	slow, fine := fleet[0], fleet[1]
	p.sim.SetFaults(emsim.Faults{BlackHole: true, Paths: []string{slow.ID}})

	r := c.get("/jobs/" + slow.ID)
	wantStatus(t, "job page with EM not answering", r, http.StatusServiceUnavailable)
	wantEMTrouble(t, r)
	wantRetry(t, r, "/jobs/"+slow.ID)
	mustNotContain(t, "timeout page", r.Body, leaks...)

	r = c.get("/jobs/"+slow.ID+"/card", htmx("job-card-"+slow.ID, "/jobs/"+slow.ID))
	wantStatus(t, "htmx card with EM not answering", r, http.StatusServiceUnavailable)
	if r.Doc().Find("[data-error-fragment]").Length() != 1 {
		t.Errorf("no error fragment:\n%s", r.Body)
	}
	wantRetry(t, r, "/jobs/"+slow.ID) // the page, not the fragment

	g.await(t, "the EM calls of the timed-out pages to end", func(n int64) bool { return n == 0 })
	wantStatus(t, "another job while one is stuck", c.get("/jobs/"+fine.ID), http.StatusOK)
}

// TestEMDownCircuit: EM failing opens the circuit; pages then answer without
// asking EM, with a banner saying since when; when EM is back the circuit
// closes by itself.
func TestEMDownCircuit(t *testing.T) {
	t.Parallel()
	const cooldown = 15 * time.Second
	// The breaker runs on a clock the test moves: the cooldown passes when
	// the test says so, not while the machine is busy.
	var clockMu sync.Mutex
	clock := time.Now()
	emNow := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return clock }
	p := newPortal(t, portalOptions{breakerThreshold: 3, breakerCooldown: cooldown, emClock: emNow})
	c := p.signIn("alice") // the list is cached from here on
	harry := p.signIn("harry")
	fleet := p.sim.Jobs()

	p.sim.SetFaults(emsim.Faults{Status: http.StatusServiceUnavailable})
	r := c.get("/jobs/" + fleet[0].ID)
	wantStatus(t, "job page with EM at 503", r, http.StatusServiceUnavailable)
	since, down := p.em.Down()
	if !down {
		t.Fatal("the circuit did not open")
	}

	p.sim.ResetStats()
	r = c.get("/jobs")
	wantStatus(t, "cached list while EM is down", r, http.StatusOK)
	banner := r.testid("em-down-banner")
	if banner.Length() != 1 || !strings.Contains(banner.Text(), "Enterprise Manager unreachable since") {
		t.Fatalf("no outage banner on the list:\n%s", truncate(r.Body, 3000))
	}
	if dt, _ := banner.Find("time").Attr("datetime"); dt != since.Format(time.RFC3339) {
		t.Errorf("banner time %q, want %q", dt, since.Format(time.RFC3339))
	}
	r = c.get("/jobs/" + fleet[1].ID)
	wantStatus(t, "cold job page while open", r, http.StatusServiceUnavailable)
	if title := r.testid("error-title").Text(); title != "Backup server unreachable" {
		t.Errorf("error title %q", title)
	}
	wantRetry(t, r, "/jobs/"+fleet[1].ID)
	if r.testid("em-down-banner").Length() != 1 {
		t.Error("no banner on the error page")
	}
	if r := c.action(fleet[2].ID, "start"); r.StatusCode < 500 {
		t.Errorf("action while open: %d", r.StatusCode)
	}
	if n := p.emRequests(); n != 0 {
		t.Errorf("EM got %d requests while the circuit was open", n)
	}

	r = c.get("/status")
	wantStatus(t, "status page", r, http.StatusOK)
	if st, _ := r.testid("status-em-circuit").Attr("data-state"); st != "open" {
		t.Errorf("status page circuit %q", st)
	}
	mustContain(t, "status page", r.testid("status-em-last-error").Text(), "503")
	mustContain(t, "status page", r.Body, p.issuer, strings.TrimPrefix(p.emSrv.URL, "http://"))
	wantStatus(t, "status page for a helpdesk user", harry.get("/status"), http.StatusForbidden)

	// EM back: after the cooldown a probe closes the circuit; no restart.
	p.sim.SetFaults(emsim.Faults{})
	clockMu.Lock()
	clock = clock.Add(cooldown)
	clockMu.Unlock()
	// The first page after the cooldown carries the probe (its other EM call
	// may be turned away while the probe is out); the probe closes the circuit.
	for range 3 {
		if r = c.get("/jobs/" + fleet[1].ID); r.StatusCode == http.StatusOK {
			break
		}
	}
	wantStatus(t, "the job page after the cooldown", r, http.StatusOK)
	if r.testid("em-down-banner").Length() != 0 {
		t.Error("banner still shown after recovery")
	}
	if _, down := p.em.Down(); down {
		t.Error("still down after recovery")
	}
	if st, _ := c.get("/status").testid("status-em-circuit").Attr("data-state"); st != "closed" {
		t.Errorf("status page after recovery: circuit %q", st)
	}
}

// TestEMSessionsDropped: EM forgets every logon session while people load
// pages: one new logon, nobody sees an error.
func TestEMSessionsDropped(t *testing.T) {
	t.Parallel()
	// Deadlines far above what 16 cold pages take even under -race on a busy
	// machine: this test is about logons, not about slowness.
	p := newPortal(t, portalOptions{emTimeout: time.Minute, requestTimeout: time.Minute})
	c := p.signIn("alice")
	fleet := p.sim.Jobs()
	before := p.sim.Stats().Logons
	p.sim.ExpireSessions()

	var wg sync.WaitGroup
	errs := make(chan string, len(fleet))
	for _, j := range fleet[:16] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, body, err := c.fetch("/jobs/" + j.ID)
			if err != nil || status != http.StatusOK {
				errs <- fmt.Sprintf("%s: %d %v %s", j.ID, status, err, truncate(body, 300))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if after := p.sim.Stats().Logons; after != before+1 {
		t.Errorf("logons %d → %d, want exactly one more", before, after)
	}
}

// TestEMBadAnswers: 500, 503, garbage and a 50 MB body for one job give a
// clear error page for that job, and nothing else is affected.
func TestEMBadAnswers(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.signIn("alice")
	fleet := p.sim.Jobs()
	for i, tc := range []struct {
		name   string
		faults emsim.Faults
		status int
		title  string
	}{
		{"500", emsim.Faults{Status: http.StatusInternalServerError}, http.StatusBadGateway, "Enterprise Manager reported an error"},
		{"503", emsim.Faults{Status: http.StatusServiceUnavailable}, http.StatusServiceUnavailable, "Enterprise Manager is not answering"},
		{"garbage", emsim.Faults{Garbage: true}, http.StatusBadGateway, "Enterprise Manager sent an answer AgentDesk cannot read"},
		{"50 MB", emsim.Faults{HugeBody: 50 << 20}, http.StatusBadGateway, "Enterprise Manager sent an answer AgentDesk cannot read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad, good := fleet[i], fleet[10+i]
			tc.faults.Paths = []string{bad.ID}
			p.sim.SetFaults(tc.faults)
			defer p.sim.SetFaults(emsim.Faults{})
			r := c.get("/jobs/" + bad.ID)
			wantStatus(t, "bad job", r, tc.status)
			if title := r.testid("error-title").Text(); title != tc.title {
				t.Errorf("title %q, want %q", title, tc.title)
			}
			wantRetry(t, r, "/jobs/"+bad.ID)
			mustNotContain(t, "error page", r.Body, append(leaks, "garbage", "xxxxxxxx")...)
			wantStatus(t, "another job", c.get("/jobs/"+good.ID), http.StatusOK)
			wantStatus(t, "the list", c.get("/jobs"), http.StatusOK)
		})
	}
	if _, down := p.em.Down(); down {
		t.Error("faults limited to single jobs opened the circuit for everyone")
	}
}

// TestActionConnectionReset: EM carries the start out but the connection drops
// before its answer. The action is not sent again; the status says "state
// unknown" until the job's sessions show what happened, then the outcome.
func TestActionConnectionReset(t *testing.T) {
	t.Parallel()
	// Hold the follower's session lookup (page size 1) so the unknown state can
	// be seen; the job page's own session query (page size 10) passes.
	var hold atomic.Bool
	release := make(chan struct{})
	gate := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// The portal's search for the session an action created (emclient.FindActionSession asks for 10).
			if hold.Load() && r.URL.Path == "/api/query" && r.URL.Query().Get("pageSize") == "10" {
				select {
				case <-release:
				case <-r.Context().Done():
					return
				}
			}
			h.ServeHTTP(w, r)
		})
	}
	p := newPortal(t, portalOptions{wrapEM: gate})
	c := p.signIn("alice")
	erin := p.jobNamed("Erin's laptop")
	wantStatus(t, "job page", c.get("/jobs/"+erin.ID), http.StatusOK)

	p.sim.SetFaults(emsim.Faults{ResetAfterRead: true, Methods: []string{http.MethodPost}, Paths: []string{"/agents/jobs/" + erin.ID}})
	hold.Store(true)
	r := c.action(erin.ID, "start")
	wantStatus(t, "start with the answer lost", r, http.StatusOK)
	if st, _ := r.testid("action-status").Attr("data-state"); st != "unknown" {
		t.Fatalf("state %q, want unknown\n%s", st, r.Body)
	}
	mustContain(t, "status fragment", r.Body, "State unknown", "answer was lost", "The action may still happen; AgentDesk keeps checking.")
	r = c.get("/jobs/"+erin.ID+"/status", htmx("status-"+erin.ID, "/jobs/"+erin.ID), background)
	if st, _ := r.testid("action-status").Attr("data-state"); st != "unknown" {
		t.Fatalf("poll while EM cannot tell: state %q, want unknown", st)
	}

	hold.Store(false)
	close(release)
	r = c.waitAction(erin.ID)
	if st, _ := r.testid("action-status").Attr("data-state"); st != "finished" {
		t.Errorf("final state %q, want finished\n%s", st, r.Body)
	}
	if n := p.actionCount(erin.ID, "start"); n != 1 {
		t.Errorf("EM got the start %d times, want exactly 1", n)
	}
}

// TestIdPDownAtStart: the portal starts without its IdP; sign-in says 503 and
// works by itself once the IdP is there.
func TestIdPDownAtStart(t *testing.T) {
	t.Parallel()
	// The test polls the sign-in page faster than the per-address sign-in
	// rate allows a person to.
	p := newPortal(t, portalOptions{idpLater: true, anonymousBurst: 1 << 20})
	anon := p.newClient()
	wantStatus(t, "/livez without IdP", anon.get("/livez"), http.StatusOK)
	r := anon.get("/auth/signin?return_to=%2Fjobs")
	wantStatus(t, "sign-in page without IdP", r, http.StatusServiceUnavailable)
	if r.testid("signin-unavailable").Length() != 1 {
		t.Errorf("sign-in page does not say the IdP is unavailable:\n%s", truncate(r.Body, 2000))
	}
	wantStatus(t, "start sign-in without IdP", anon.get("/auth/login?return_to=%2Fjobs"), http.StatusServiceUnavailable)

	p.startIdP()
	// The portal's background discovery finds the IdP (the limit only guards
	// against a hang).
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := p.idpReady(ctx); err != nil {
		t.Fatalf("sign-in did not recover: %v", err)
	}
	wantStatus(t, "sign-in page with the IdP back", anon.get("/auth/signin"), http.StatusOK)
	c := p.signIn("alice")
	wantStatus(t, "jobs after a late IdP", c.get("/jobs"), http.StatusOK)
}

// softTB turns a harness t.Fatalf into a value the test can inspect.
type softTB struct {
	testing.TB
	msg string
}

func (s *softTB) Helper() {}
func (s *softTB) Fatalf(format string, args ...any) {
	s.msg = fmt.Sprintf(format, args...)
	panic(s)
}

// TestIdPDownLater: with the IdP gone, signed-in people keep working; a
// sign-in whose code cannot be redeemed gets a 503 page, and sign-in works
// again once the IdP is back.
func TestIdPDownLater(t *testing.T) {
	t.Parallel()
	var tokenDown atomic.Bool
	dropToken := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tokenDown.Load() && strings.HasSuffix(r.URL.Path, "/token") {
				conn, _, err := w.(http.Hijacker).Hijack()
				if err == nil {
					conn.(*net.TCPConn).SetLinger(0)
					conn.Close()
				}
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	p := newPortal(t, portalOptions{wrapIdP: dropToken})
	c := p.signIn("alice")

	tokenDown.Store(true)
	late := p.newClient()
	soft := &softTB{TB: t}
	late.t = soft
	func() {
		defer func() {
			if r := recover(); r != nil && r != soft {
				panic(r)
			}
		}()
		late.login("harry", "/jobs")
	}()
	if !strings.HasPrefix(soft.msg, "callback: 503") || !strings.Contains(soft.msg, "identity provider could not be reached") {
		t.Errorf("callback with the token endpoint down: %s", truncate(soft.msg, 1500))
	}
	tokenDown.Store(false)
	p.signIn("harry")

	p.stopIdP()
	wantStatus(t, "list with the IdP gone", c.get("/jobs"), http.StatusOK)
	wantStatus(t, "job page with the IdP gone", c.get("/jobs/"+p.sim.Jobs()[0].ID), http.StatusOK)
}

// TestInFlightLimit: beyond the limit the portal answers 503 with Retry-After
// at once instead of queueing; the probes are not limited.
func TestInFlightLimit(t *testing.T) {
	t.Parallel()
	var g emGauge
	// The slow page holds the only slot until its deadline: long enough for
	// the two requests below to come while it does, even on a loaded machine.
	p := newPortal(t, portalOptions{maxInFlight: 1, requestTimeout: 10 * time.Second, emTimeout: time.Hour, wrapEM: g.wrap})
	c := p.signIn("alice")
	slow := p.sim.Jobs()[0]
	p.sim.SetFaults(emsim.Faults{BlackHole: true, Paths: []string{slow.ID}})

	done := make(chan int, 1)
	go func() {
		status, _, _ := c.fetch("/jobs/" + slow.ID)
		done <- status
	}()
	g.await(t, "the slow page to reach EM", func(n int64) bool { return n > 0 })
	r := c.get("/jobs")
	wantStatus(t, "second request over the limit", r, http.StatusServiceUnavailable)
	if r.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if r.testid("busy").Length() != 1 {
		t.Errorf("no busy page:\n%s", r.Body)
	}
	wantStatus(t, "/livez while saturated", p.newClient().get("/livez"), http.StatusOK)
	if status := <-done; status != http.StatusServiceUnavailable {
		t.Errorf("the slow page answered %d", status)
	}
	p.sim.SetFaults(emsim.Faults{})
	wantStatus(t, "after the slow page", c.get("/jobs"), http.StatusOK)
}

// TestBodyLimit: a body larger than any form is refused before it is parsed,
// with or without a Content-Length, and nothing is sent to EM.
func TestBodyLimit(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.signIn("alice")
	erin := p.jobNamed("Erin's laptop")
	big := url.Values{"csrf": {c.csrf}, "pad": {strings.Repeat("x", 100<<10)}}.Encode()
	path := "/jobs/" + erin.ID + "/actions/start"
	opts := []reqOpt{header("Content-Type", "application/x-www-form-urlencoded"), sameOrigin, c.withToken}

	r := c.do(http.MethodPost, path, strings.NewReader(big), opts...)
	wantStatus(t, "100 KiB form", r, http.StatusRequestEntityTooLarge)
	// A reader of unknown length is sent chunked.
	r = c.do(http.MethodPost, path, struct{ io.Reader }{strings.NewReader(big)}, opts...)
	wantStatus(t, "100 KiB chunked form", r, http.StatusRequestEntityTooLarge)
	if n := p.actionCalls(); n != 0 {
		t.Errorf("EM got %d actions", n)
	}
}

// lockedBuffer collects log output from many goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// teeWriter keeps a copy of what a handler writes.
type teeWriter struct {
	http.ResponseWriter
	body strings.Builder
}

func (w *teeWriter) Write(p []byte) (int, error) {
	w.body.Write(p)
	return w.ResponseWriter.Write(p)
}

// secretSet is what must never reach a log line.
type secretSet struct {
	mu   sync.Mutex
	seen map[string]string // value → what it is
}

func (s *secretSet) add(what, v string) {
	if len(v) < 8 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[string]string{}
	}
	s.seen[v] = what
}

func (s *secretSet) count(what string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, w := range s.seen {
		if w == what {
			n++
		}
	}
	return n
}

// TestNoSecretsInLogs runs the main flows with debug logging and looks for
// every secret the portal handles in the log output.
func TestNoSecretsInLogs(t *testing.T) {
	t.Parallel()
	const emPassword = "em-Pa55-w0rd-7f3a9c"
	var logs lockedBuffer
	var secrets secretSet
	secrets.add("EM password", emPassword)
	secrets.add("client secret", "test-client-secret")
	wrapEM := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(w, r)
			secrets.add("EM session token", w.Header().Get("X-RestSvcSessionId"))
		})
	}
	wrapIdP := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			secrets.add("state", q.Get("state"))
			secrets.add("nonce", q.Get("nonce"))
			secrets.add("PKCE challenge", q.Get("code_challenge"))
			if strings.HasSuffix(r.URL.Path, "/token") {
				b, _ := io.ReadAll(r.Body)
				r.Body = io.NopCloser(strings.NewReader(string(b)))
				if f, err := url.ParseQuery(string(b)); err == nil {
					secrets.add("PKCE verifier", f.Get("code_verifier"))
					secrets.add("authorization code", f.Get("code"))
				}
			}
			tw := &teeWriter{ResponseWriter: w}
			h.ServeHTTP(tw, r)
			if u, err := url.Parse(w.Header().Get("Location")); err == nil {
				secrets.add("authorization code", u.Query().Get("code"))
			}
			if strings.HasSuffix(r.URL.Path, "/token") {
				var tok struct {
					IDToken      string `json:"id_token"`
					AccessToken  string `json:"access_token"`
					RefreshToken string `json:"refresh_token"`
				}
				if err := json.Unmarshal([]byte(tw.body.String()), &tok); err == nil {
					secrets.add("ID token", tok.IDToken)
					secrets.add("access token", tok.AccessToken)
					secrets.add("refresh token", tok.RefreshToken)
				}
			}
		})
	}
	p := newPortal(t, portalOptions{logTo: &logs, emPassword: emPassword, wrapEM: wrapEM, wrapIdP: wrapIdP})

	c := p.signIn("alice")
	secrets.add("portal session cookie", c.sessionCookie().Value)
	secrets.add("CSRF token", c.csrf)
	erinJob := p.jobNamed("Erin's laptop")
	wantStatus(t, "job page", c.get("/jobs/"+erinJob.ID), http.StatusOK)
	wantStatus(t, "start", c.action(erinJob.ID, "start"), http.StatusOK)
	c.waitAction(erinJob.ID)
	p.sim.ExpireSessions() // a second EM logon, a second token
	wantStatus(t, "job page after EM dropped its sessions", c.get("/jobs/"+p.sim.Jobs()[3].ID), http.StatusOK)
	status := c.get("/status")
	wantStatus(t, "status page", status, http.StatusOK)
	wantStatus(t, "a replayed callback", c.get("/auth/callback?code=replayed-code-123456&state=replayed-state-123456"), http.StatusBadRequest)
	e := p.signIn("erin")
	secrets.add("portal session cookie", e.sessionCookie().Value)
	wantStatus(t, "sign out", c.postForm("/auth/signout", url.Values{"csrf": {c.csrf}}, sameOrigin), http.StatusSeeOther)

	for _, what := range []string{"EM session token", "authorization code", "state", "ID token", "portal session cookie", "PKCE verifier"} {
		if secrets.count(what) == 0 {
			t.Fatalf("the test saw no %s: it would prove nothing", what)
		}
	}
	if secrets.count("EM session token") < 2 {
		t.Fatalf("the test saw %d EM tokens, want the first and the one after re-logon", secrets.count("EM session token"))
	}
	secrets.mu.Lock()
	for v, what := range secrets.seen {
		if (what == "EM password" || what == "EM session token" || what == "client secret") && strings.Contains(status.Body, v) {
			t.Errorf("the status page shows the %s", what)
		}
	}
	secrets.mu.Unlock()
	out := logs.String()
	if !strings.Contains(out, "level=DEBUG") || !strings.Contains(out, "request_id=") {
		t.Fatalf("debug logs missing; the scan would prove nothing:\n%s", truncate(out, 2000))
	}
	secrets.mu.Lock()
	defer secrets.mu.Unlock()
	for v, what := range secrets.seen {
		if i := strings.Index(out, v); i >= 0 {
			line := out[strings.LastIndexByte(out[:i], '\n')+1:]
			if j := strings.IndexByte(line, '\n'); j >= 0 {
				line = line[:j]
			}
			t.Errorf("the logs contain the %s:\n%s", what, truncate(line, 600))
		}
	}
}

// send is a request safe to call from any goroutine (no t.Fatal).
func (c *client) send(method, path string, form url.Values, opts ...reqOpt) (int, string, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.abs(path), body)
	if err != nil {
		return 0, "", err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, o := range opts {
		o(req)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// TestConcurrentUsers: two people with different permissions hammer the list,
// job pages, fragments and actions at the same time (CI runs it under -race).
// No answer may show one of them a job of the other's that they may not see.
func TestConcurrentUsers(t *testing.T) {
	t.Parallel()
	// Deadlines far beyond any request: under -race on a loaded machine a
	// page may take seconds, and a 503 from a deadline is not what this
	// test looks for.
	p := newPortal(t, portalOptions{sessionSpeed: 200 * time.Millisecond, requestTimeout: 2 * time.Minute, emTimeout: 2 * time.Minute})
	type user struct {
		name    string
		c       *client
		allowed map[string]bool
		foreign []string
	}
	var users []*user
	for _, name := range []string{"erin", "harry"} {
		u := &user{name: name, c: p.signIn(name), allowed: map[string]bool{}}
		for _, id := range jobIDs(u.c.get("/jobs?size=500")) {
			u.allowed[strings.ToLower(id)] = true
		}
		for _, j := range p.sim.Jobs() {
			if !u.allowed[strings.ToLower(j.ID)] {
				u.foreign = append(u.foreign, j.ID)
			}
		}
		if len(u.allowed) == 0 || len(u.foreign) == 0 {
			t.Fatalf("%s sees %d jobs of %d: the test needs both kinds", name, len(u.allowed), len(p.sim.Jobs()))
		}
		users = append(users, u)
	}

	var wg sync.WaitGroup
	problems := make(chan string, 1000)
	for _, u := range users {
		own := make([]string, 0, len(u.allowed))
		for id := range u.allowed {
			own = append(own, id)
		}
		for w := 0; w < 3; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := u.c
				for i := 0; i < 6; i++ {
					mine := own[(w+i)%len(own)]
					theirs := u.foreign[(w*7+i)%len(u.foreign)]
					type step struct {
						method, path string
						form         url.Values
						opts         []reqOpt
					}
					steps := []step{
						{"GET", "/jobs", nil, nil},
						{"GET", "/jobs?q=a&size=500", nil, []reqOpt{htmx("job-table", "/jobs")}},
						{"GET", "/jobs/" + mine, nil, nil},
						{"GET", "/jobs/" + mine + "/card", nil, []reqOpt{htmx("job-card-"+mine, "/jobs/"+mine)}},
						{"GET", "/jobs/" + mine + "/status", nil, []reqOpt{htmx("status-"+mine, "/jobs/"+mine), background}},
						{"GET", "/jobs/" + theirs, nil, nil},
						{"GET", "/jobs/" + theirs + "/card", nil, []reqOpt{htmx("job-card-"+theirs, "/jobs/"+theirs)}},
						{"POST", "/jobs/" + mine + "/actions/start", url.Values{}, []reqOpt{sameOrigin, c.withToken, htmx("status-"+mine, "/jobs/"+mine)}},
						{"POST", "/jobs/" + theirs + "/actions/start", url.Values{}, []reqOpt{sameOrigin, c.withToken, htmx("status-"+theirs, "/jobs/"+theirs)}},
					}
					for _, s := range steps {
						status, body, err := c.send(s.method, s.path, s.form, s.opts...)
						switch {
						case err != nil:
							problems <- fmt.Sprintf("%s %s %s: %v", u.name, s.method, s.path, err)
						case status >= 500:
							problems <- fmt.Sprintf("%s %s %s: %d %s", u.name, s.method, s.path, status, truncate(body, 400))
						case strings.Contains(s.path, theirs) && status != http.StatusNotFound && status != http.StatusForbidden:
							problems <- fmt.Sprintf("%s %s %s (not theirs): %d", u.name, s.method, s.path, status)
						}
						for _, f := range u.foreign {
							if strings.Contains(strings.ToLower(body), strings.ToLower(f)) && !strings.Contains(s.path, f) {
								problems <- fmt.Sprintf("%s %s %s shows job %s they may not see", u.name, s.method, s.path, f)
							}
						}
					}
				}
			}()
		}
	}
	wg.Wait()
	close(problems)
	n := 0
	for pr := range problems {
		if n++; n <= 20 {
			t.Error(pr)
		}
	}
	if p.sim.Stats().ActionCalls == nil {
		t.Fatal("no stats")
	}
}
