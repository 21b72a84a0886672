package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/agentdesk/agentdesk/store/pgtest"
	"github.com/agentdesk/agentdesk/store/redistest"
)

// roundRobin is the load balancer of the live test: every request goes to the
// next replica, so consecutive polls of one page reach different replicas.
// It counts the background polls each replica answered, and can drop
// connections to play a network failure.
type roundRobin struct {
	backends []*url.URL
	next     atomic.Uint64
	drop     atomic.Bool
	mu       sync.Mutex
	polls    map[string]int // replica host → background polls answered
}

func (rr *roundRobin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rr.drop.Load() {
		// A network failure as the browser sees it: the connection closes
		// without an answer.
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	target := rr.backends[rr.next.Add(1)%uint64(len(rr.backends))]
	if r.Header.Get("X-Background") == "1" {
		rr.mu.Lock()
		rr.polls[target.Host]++
		rr.mu.Unlock()
	}
	p := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = pr.In.Host // the portal checks Origin against Host
	}}
	p.ServeHTTP(w, r)
}

func (rr *roundRobin) pollCounts() map[string]int {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	out := make(map[string]int, len(rr.polls))
	for k, v := range rr.polls {
		out[k] = v
	}
	return out
}

// liveStack is two replicas sharing PostgreSQL and Redis behind a round-robin
// proxy, in front of one EM simulator.
type liveStack struct {
	URL   string // the proxy: the portal's public URL
	EM    string
	proxy *roundRobin
}

func startLiveStack(t *testing.T) *liveStack {
	t.Helper()
	redisURL := os.Getenv("AGENTDESK_TEST_REDIS")
	if redisURL == "" || os.Getenv(pgtest.Env) == "" {
		t.Skip("AGENTDESK_TEST_REDIS and AGENTDESK_TEST_POSTGRES must be set")
	}
	dbURL := pgtest.NewDatabase(t)
	_, redisPrefix := redistest.NewClient(t)
	// Backups run long enough to watch progress rise over several polls.
	em := startEMSimSpeed(t, "15s")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rr := &roundRobin{polls: map[string]int{}}
	proxy := &httptest.Server{Listener: ln, Config: &http.Server{Handler: rr}}
	proxy.Start()
	t.Cleanup(proxy.Close)
	public := proxy.URL
	issuer := startIdP(t, public)

	env := []string{
		"AGENTDESK_PUBLIC_URL=" + public + "/",
		"AGENTDESK_EM_URL=" + em, "AGENTDESK_EM_USER=svc", "AGENTDESK_EM_PASSWORD=secret",
		"AGENTDESK_OIDC_ISSUER=" + issuer, "AGENTDESK_OIDC_CLIENT_ID=agentdesk", "AGENTDESK_OIDC_CLIENT_SECRET=replica-test-secret",
		"AGENTDESK_OIDC_SCOPES=openid profile email groups", "AGENTDESK_OIDC_EXTRA_CLAIMS=preferred_username computer",
		// Sessions in Redis; locks, and so the shared run state, in PostgreSQL.
		"AGENTDESK_SESSION_STORE=redis", "AGENTDESK_LOCK_STORE=postgres",
		"AGENTDESK_DATABASE_URL=" + dbURL, "AGENTDESK_REDIS_URL=" + redisURL, "AGENTDESK_REDIS_PREFIX=" + redisPrefix,
		// A short deadline, so that an action EM never answers times out soon.
		"AGENTDESK_REQUEST_TIMEOUT=3s",
		"AGENTDESK_LOG_FORMAT=text", "AGENTDESK_LOG_LEVEL=debug",
	}
	portA, portB := freePort(t), freePort(t)
	startReplica(t, "A", portA, env)
	startReplica(t, "B", portB, env)
	for _, p := range []string{portA, portB} {
		u, _ := url.Parse("http://127.0.0.1:" + p)
		rr.backends = append(rr.backends, u)
	}
	return &liveStack{URL: public, EM: em, proxy: rr}
}

// TestLiveAcrossReplicas: the jobs list and the job page, open in two tabs
// of one browser and served by two replicas in turn, follow a Start pressed
// on the list without a reload: both show Running with Stop, the progress
// rises, and both settle on the result; Stop pressed on the job page works.
// Then failures: every one lands in the notification region in words, an
// expired sign-in leads to the sign-in and back, and an action EM never
// answers says it may still happen and then how it ended.
func TestLiveAcrossReplicas(t *testing.T) {
	st := startLiveStack(t)
	t.Cleanup(func() { emFaults(t, st.EM, "") })
	list := browser(t)
	signInAt(t, list, st.URL, "/jobs", "alice")
	do(t, list, "the jobs list", chromedp.WaitVisible(chromedp.CSS(`[data-testid="job-row"]`)))
	jobID := eval[string](t, list, `(() => { for (const r of document.querySelectorAll('[data-testid="job-row"]')) { if (r.querySelector('[data-testid="job-name"]').textContent.trim() === "Erin's laptop") return r.dataset.jobId; } return ''; })()`)
	if jobID == "" {
		t.Fatal("no Erin's laptop in the list")
	}
	row := fmt.Sprintf(`#job-row-%s`, jobID)

	page, cancel := chromedp.NewContext(list) // a second tab, same browser
	t.Cleanup(cancel)
	do(t, page, "the job page", chromedp.Navigate(st.URL+"/jobs/"+jobID), chromedp.WaitVisible(chromedp.CSS(`[data-testid="job-card"]`)))
	for _, tab := range []context.Context{list, page} {
		eval[bool](t, tab, `(window.__noReload = true)`)
	}

	t.Run("start from the list, both tabs follow", func(t *testing.T) {
		pressInRow(t, list, row, "start")
		confirmed := time.Now()
		running := fmt.Sprintf(`(() => { const r = document.querySelector(%q); return !!(r && r.querySelector('[data-testid="job-running"]') && r.querySelector('[data-testid="action-stop"]')); })()`, row)
		waitFor(t, list, "the list row to show Running with Stop", running, 30*time.Second)
		t.Logf("list: Running with Stop %v after the confirmation", time.Since(confirmed).Round(10*time.Millisecond))
		cardRunning := `(() => { const c = document.querySelector('[data-testid="job-card"]'); return !!(c && c.querySelector('[data-testid="job-running"]') && c.querySelector('[data-testid="action-stop"]')); })()`
		waitFor(t, page, "the job page to show Running with Stop", cardRunning, 30*time.Second)
		t.Logf("job page: Running with Stop %v after the confirmation", time.Since(confirmed).Round(10*time.Millisecond))

		progress := `(() => { const p = document.querySelector('[data-testid="job-card"] progress'); return p ? Number(p.value) : -1; })()`
		first := eval[int](t, page, progress)
		waitFor(t, page, "the progress to rise", fmt.Sprintf(`%s > %d`, progress, first), 30*time.Second)
		t.Logf("progress rose from %d%% to %d%%", first, eval[int](t, page, progress))

		settled := func(scope string) string {
			return fmt.Sprintf(`(() => { const s = document.querySelector(%q); return !!(s && !s.querySelector('[data-testid="job-running"]') && !s.querySelector('[data-poll]') && s.querySelector('[data-testid="job-last-result"] [data-result="Success"], [data-testid="job-last-result"] [data-result="Warning"], [data-testid="job-last-result"] [data-result="Failed"]')); })()`, scope)
		}
		waitFor(t, list, "the list row to settle on the result", settled(row), 60*time.Second)
		waitFor(t, page, "the job page to settle on the result", settled(`[data-testid="job-card"]`), 60*time.Second)
		for _, tab := range []context.Context{list, page} {
			if !eval[bool](t, tab, `window.__noReload === true`) {
				t.Fatal("a tab reloaded")
			}
		}
		polls := st.proxy.pollCounts()
		t.Logf("background polls per replica: %v", polls)
		if len(polls) != 2 {
			t.Errorf("the polls reached %d replicas, want both: %v", len(polls), polls)
		}
	})

	t.Run("stop from the job page", func(t *testing.T) {
		pressInRow(t, list, row, "start")
		do(t, page, "Stop offered on the job page", chromedp.WaitVisible(chromedp.CSS(`[data-testid="job-card"] [data-testid="action-stop"]`)))
		pressAndConfirm(t, page, `[data-testid="job-card"] [data-testid="action-stop"]`, "#confirm-"+jobID, "stop")
		waitFor(t, page, "the stop to be done", `(() => { const s = document.querySelector('[data-testid="action-status"]'); return !!(s && (s.dataset.state === 'finished' || s.dataset.state === 'failed')); })()`, 60*time.Second)
		waitFor(t, page, "the job page to settle", `(() => { const c = document.querySelector('[data-testid="job-card"]'); return !!(c && !c.querySelector('[data-testid="job-running"]') && !c.querySelector('[data-poll]') && c.querySelector('[data-testid="action-start"]')); })()`, 60*time.Second)
		waitFor(t, list, "the list row to settle", fmt.Sprintf(`(() => { const r = document.querySelector(%q); return !!(r && !r.querySelector('[data-testid="job-running"]') && r.querySelector('[data-testid="action-start"]')); })()`, row), 60*time.Second)
		if !eval[bool](t, page, `window.__noReload === true`) {
			t.Fatal("the job page reloaded")
		}
	})

	t.Run("failures land in the notification region", func(t *testing.T) {
		notified := func(words string) string {
			return fmt.Sprintf(`(() => { const m = document.getElementById('messages'); return !!(m && m.getAttribute('role') === 'status' && new RegExp(%q).test(m.textContent)); })()`, words)
		}
		clear := `(() => { document.getElementById('messages').textContent = ''; return true; })()`
		// htmx.ajax sends what a button of the page would.
		for _, c := range []struct{ what, js, words string }{
			{"404", fmt.Sprintf(`htmx.ajax('GET', '/jobs/00000000-0000-0000-0000-000000000000/card', {target: '#job-card-%s', swap: 'outerHTML'}) && true`, jobID), "(This job does not exist|no longer exists)"},
			{"403", fmt.Sprintf(`htmx.ajax('POST', '/jobs/%s/actions/start', {target: '#status-%s', swap: 'outerHTML', headers: {'X-CSRF-Token': 'forged'}}) && true`, jobID, jobID), "(did not come from an AgentDesk page|You may not do this)"},
			{"409", fmt.Sprintf(`htmx.ajax('POST', '/jobs/%s/actions/stop', {target: '#status-%s', swap: 'outerHTML'}) && true`, jobID, jobID), "nothing to stop"},
		} {
			eval[bool](t, page, clear)
			eval[bool](t, page, c.js)
			if c.what == "409" {
				waitFor(t, page, "the 409 in words", `(() => { const s = document.querySelector('[data-testid="action-status"]'); return !!(s && s.dataset.state === 'refused' && /nothing to stop|Not possible now/.test(s.textContent)); })()`, 20*time.Second)
				continue
			}
			waitFor(t, page, "the "+c.what+" in the notification region", notified(c.words), 20*time.Second)
		}

		// EM answers 503 for a job this replica has not read yet (a cached
		// one would not ask EM).
		other := eval[string](t, list, fmt.Sprintf(`[...document.querySelectorAll('[data-testid="job-row"]')].map(r => r.dataset.jobId).find(id => id !== %q)`, jobID))
		// EM is slow too: the loading indicator shows while the person waits.
		emFaults(t, st.EM, fmt.Sprintf(`{"Status":503,"Latency":"1s","Paths":["/agents/jobs/%s"]}`, other))
		eval[bool](t, page, clear)
		eval[bool](t, page, fmt.Sprintf(`htmx.ajax('GET', '/jobs/%s/card', {target: '#job-card-%s', swap: 'outerHTML'}) && true`, other, jobID))
		waitFor(t, page, "the loading indicator", `!document.getElementById('busy').hidden`, 20*time.Second)
		waitFor(t, page, "the 503 in the notification region", notified("Enterprise Manager"), 30*time.Second)
		waitFor(t, page, "the loading indicator to go", `document.getElementById('busy').hidden`, 20*time.Second)
		emFaults(t, st.EM, "")

		st.proxy.drop.Store(true)
		eval[bool](t, page, clear)
		do(t, page, "press Start with the network down", chromedp.Click(chromedp.CSS(`[data-testid="job-card"] [data-testid="action-start"]`)))
		waitFor(t, page, "the network error in the notification region", notified("could not be reached"), 20*time.Second)
		st.proxy.drop.Store(false)
		shot(t, page, "live-network-error")
	})

	t.Run("black-holed action says it may still happen, then how it ended", func(t *testing.T) {
		do(t, page, "reload the job page", chromedp.Navigate(st.URL+"/jobs/"+jobID), chromedp.WaitVisible(chromedp.CSS(`[data-testid="job-card"] [data-testid="action-start"]`)))
		emFaults(t, st.EM, fmt.Sprintf(`{"BlackHole":true,"Methods":["POST"],"Paths":["/agents/jobs/%s"]}`, jobID))
		pressAndConfirm(t, page, `[data-testid="job-card"] [data-testid="action-start"]`, "#confirm-"+jobID, "start")
		waitFor(t, page, "the may-still-happen message", `(() => { const s = document.querySelector('[data-testid="action-status"]'); return !!(s && s.dataset.state === 'unknown' && s.textContent.includes('may still happen')); })()`, 30*time.Second)
		shot(t, page, "live-may-still-happen")
		emFaults(t, st.EM, "")
		waitFor(t, page, "the final outcome", `(() => { const s = document.querySelector('[data-testid="action-status"]'); return !!(s && s.dataset.state !== 'unknown' && s.dataset.state !== 'running'); })()`, 90*time.Second)
		t.Logf("final outcome: %s", eval[string](t, page, `document.querySelector('[data-testid="action-status"]').textContent.replace(/\s+/g, ' ').trim()`))
	})

	t.Run("expired sign-in on a button leads to the sign-in and back", func(t *testing.T) {
		do(t, page, "reload the job page", chromedp.Navigate(st.URL+"/jobs/"+jobID), chromedp.WaitVisible(chromedp.CSS(`[data-testid="job-card"] [data-testid="action-start"]`)))
		// Sign out in the other tab, as its Sign out form does (a click
		// would take that tab through the identity provider's sign-out,
		// which chromedp loses track of).
		status, err := chromedp.Run(list, chromedp.Evaluate[int](`(async () => { const f = document.querySelector('[data-testid="signout-form"]'); const r = await fetch(f.action, {method: 'POST', body: new URLSearchParams(new FormData(f)), redirect: 'manual'}); return r.type === 'opaqueredirect' ? 303 : r.status; })()`, chromedp.EvalAwaitPromise))
		if err != nil || status != http.StatusSeeOther {
			t.Fatalf("sign-out in the list tab answered %d (%v)", status, err)
		}
		do(t, page, "press Start after the sign-out", chromedp.Click(chromedp.CSS(`[data-testid="job-card"] [data-testid="action-start"]`)))
		// The sign-in page has no Cross-Origin-Opener-Policy (it must keep an
		// embedded card's popup opener), so Chromium shows it in a new
		// browsing context group: a new target, found by its address.
		signin := "/auth/signin?return_to=" + url.QueryEscape("/jobs/"+jobID)
		for deadline, found := time.Now().Add(30*time.Second), false; !found; {
			targets, err := chromedp.Targets(list)
			if err != nil {
				t.Fatal(err)
			}
			for _, ti := range targets {
				found = found || ti.Type == "page" && strings.HasPrefix(ti.URL, st.URL+signin)
			}
			if !found && time.Now().After(deadline) {
				t.Fatalf("no tab at %s after pressing Start signed out: %v", signin, targetURLs(targets))
			}
		}
		// Sign in from that page (in a fresh tab: the identity provider's
		// pages swap browsing context groups again) and land on the job page.
		fresh, cancel := chromedp.NewContext(list)
		t.Cleanup(cancel)
		signInAt(t, fresh, st.URL, signin, "alice")
		waitFor(t, fresh, "back on the job page", fmt.Sprintf(`location.pathname === %q && !!document.querySelector('[data-testid="job-card"]')`, "/jobs/"+jobID), 30*time.Second)
	})
}

// pressInRow opens an action's confirmation in a list row and confirms it.
func pressInRow(t *testing.T, ctx context.Context, row, action string) {
	t.Helper()
	// The confirmation of a row opens in a dialog (ui.js).
	pressAndConfirm(t, ctx, fmt.Sprintf(`%s [data-testid="action-%s"]`, row, action), "dialog[open]", action)
}

// pressAndConfirm presses an action button of a live view (a row or a card
// that refreshes itself), waits for the confirmation in scope and confirms.
func pressAndConfirm(t *testing.T, ctx context.Context, btn, scope, action string) {
	t.Helper()
	row := scope
	// The row may be swapped by its own refresh between finding the button
	// and the click: press the button htmx has processed, and press again
	// if no confirmation came.
	press := fmt.Sprintf(`(() => { const b = document.querySelector(%q); if (!b || !b['htmx-internal-data']) return false; b.click(); return true; })()`, btn)
	opened := fmt.Sprintf(`!!document.querySelector(%q)`, row+` [data-testid="confirm-submit"]`)
	for attempt := 0; ; attempt++ {
		waitFor(t, ctx, action+" button in the row", press, 30*time.Second)
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := chromedp.Run(cctx, chromedp.Poll[bool](opened, chromedp.WithPollingInterval(100*time.Millisecond)))
		cancel()
		if err == nil {
			break
		}
		if attempt == 4 {
			shot(t, ctx, "failure-press-"+action+"-in-the-row")
			t.Fatalf("pressing %s in the row opened no confirmation", action)
		}
	}
	waitFor(t, ctx, action+" confirmation ready", fmt.Sprintf(`(() => { const f = document.querySelector(%q); return !!(f && f['htmx-internal-data']); })()`, row+` [data-testid="confirm-form"]`), 30*time.Second)
	do(t, ctx, "confirm "+action+" in the row", chromedp.Click(chromedp.CSS(row+` [data-testid="confirm-submit"]`)))
}

func targetURLs(ts []*target.Info) []string {
	var out []string
	for _, ti := range ts {
		out = append(out, ti.URL)
	}
	return out
}
