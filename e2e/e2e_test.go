// Package e2e drives the real portal binary in Debian's Chromium: the demo (EM
// simulator + demo identity provider) is started as a process, and the tests
// sign in through the real OpenID Connect flow and click through the pages.
// Screenshots are written to e2e/artifacts/ and their paths printed, so CI keeps
// them in its log.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// portalURL is the demo's address, set by TestMain.
var portalURL string

// binary is the agentdesk binary TestMain built, for tests that start their own
// processes.
var binary string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "agentdesk-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "agentdesk")
	build := exec.Command("go", "build", "-o", bin, "..")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build agentdesk:", err)
		return 1
	}
	binary = bin
	d, err := launchDemo(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer d.stop()
	portalURL = d.URL
	code := m.Run()
	if code != 0 {
		fmt.Fprintln(os.Stderr, "---- demo log ----")
		fmt.Fprintln(os.Stderr, d.logs())
	}
	return code
}

// browser starts a fresh headless Chromium with its own profile. A missing
// browser is a failure, not a skip: the test script installs it.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("AGENTDESK_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("Chromium not found at %s (install Debian's chromium package; scripts/test.sh does): %v", path, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	// Only a guard against a hung browser: a loaded CI machine may take
	// minutes over a long test, and each wait has its own limit.
	ctx, cancelT := context.WithTimeout(ctx, 10*time.Minute)
	t.Cleanup(func() { cancelT(); cancelB(); cancelA() })
	return ctx
}

func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		shot(t, ctx, "failure-"+slug(what))
		t.Fatalf("%s: %v", what, err)
	}
}

// waitFor polls a JavaScript condition on the current page.
func waitFor(t *testing.T, ctx context.Context, what, js string, timeout time.Duration) {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// Poll's own timeout (30 s by default) must not cut a longer wait short.
	if _, err := chromedp.Run(cctx, chromedp.Poll[bool](js, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(timeout))); err != nil {
		shot(t, ctx, "failure-"+slug(what))
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

func slug(s string) string {
	return strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(s), "-"), "-")
}

// shot saves a full-page screenshot as a test artefact.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	dir := "artifacts"
	os.MkdirAll(dir, 0o755)
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	abs, _ := filepath.Abs(p)
	t.Logf("screenshot: %s", abs)
}

func colorScheme(t *testing.T, ctx context.Context, scheme string) {
	t.Helper()
	_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
	})
	if err != nil {
		t.Fatalf("emulate %s: %v", scheme, err)
	}
}

// signIn goes through the portal's sign-in and the demo provider's login form,
// and checks it lands on the jobs list it asked for.
func signIn(t *testing.T, ctx context.Context, user string) {
	t.Helper()
	signInAt(t, ctx, portalURL, "/jobs", user)
	do(t, ctx, "the jobs list", chromedp.WaitVisible(chromedp.CSS(`[data-testid="job-row"]`)))
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	if !strings.HasPrefix(loc, portalURL+"/jobs") {
		t.Fatalf("after sign-in the browser is at %s, want %s/jobs", loc, portalURL)
	}
}

func TestHelpdeskWorkflow(t *testing.T) {
	ctx := browser(t)
	signIn(t, ctx, "alice")

	total := eval[int](t, ctx, `document.querySelectorAll('[data-testid="job-row"]').length`)
	if total < 10 {
		t.Fatalf("the list shows %d jobs, want the demo fleet", total)
	}
	colorScheme(t, ctx, "light")
	shot(t, ctx, "jobs-list-light")
	colorScheme(t, ctx, "dark")
	shot(t, ctx, "jobs-list-dark")
	colorScheme(t, ctx, "light")

	// Filter: the table updates in place and the URL follows, without a reload.
	eval[bool](t, ctx, `(window.__noReload = true)`)
	do(t, ctx, "type a search", chromedp.SendKeys(chromedp.CSS(`[data-testid="filter-q"]`), "Erin"))
	waitFor(t, ctx, "the filtered table", `document.querySelectorAll('[data-testid="job-row"]').length === 1 && location.search.includes('q=Erin')`, 15*time.Second)
	if !eval[bool](t, ctx, `window.__noReload === true`) {
		t.Fatal("filtering reloaded the page")
	}
	name := eval[string](t, ctx, `document.querySelector('[data-testid="job-row"] [data-testid="job-name"]').textContent.trim()`)
	if name != "Erin's laptop" {
		t.Fatalf("filtered row = %q, want Erin's laptop", name)
	}

	// Open the job.
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`[data-testid="job-row"] [data-testid="job-name"] a`))); err != nil {
		t.Fatalf("open the job: %v", err)
	}
	do(t, ctx, "job page", chromedp.WaitVisible(chromedp.CSS(`[data-testid="job-title"]`)))
	shot(t, ctx, "job-page-light")
	colorScheme(t, ctx, "dark")
	shot(t, ctx, "job-page-dark")
	colorScheme(t, ctx, "light")

	// Start: confirm, then watch the EM task and the backup run in place. EM
	// (and emsim) link no session to the finished start task, so the progress
	// and the result below come from the session the portal found by query.
	eval[bool](t, ctx, `(window.__noReload = true)`)
	eval[bool](t, ctx, `(() => { window.__sawProgress = false; new MutationObserver(() => { if (document.querySelector('[data-testid="action-status"][data-state="running"] [data-testid="progress"] progress')) window.__sawProgress = true; }).observe(document.body, {subtree: true, childList: true, attributes: true}); return true; })()`)
	runAction(t, ctx, "start")
	waitFor(t, ctx, "the backup to run", `(() => { const s = document.querySelector('[data-testid="action-status"]'); return s && (s.dataset.state === 'running' || s.dataset.state === 'finished'); })()`, 15*time.Second)
	shot(t, ctx, "job-running")
	waitFor(t, ctx, "the backup to finish", `(() => { const s = document.querySelector('[data-testid="action-status"]'); return s && (s.dataset.state === 'finished' || s.dataset.state === 'failed'); })()`, 60*time.Second)
	msg := eval[string](t, ctx, `document.querySelector('[data-testid="status-message"]').textContent`)
	if !regexp.MustCompile(`Backup finished: (Success|Warning|Failed)`).MatchString(msg) {
		t.Fatalf("final status %q names no backup result", msg)
	}
	if !eval[bool](t, ctx, `window.__sawProgress === true`) {
		t.Fatal("the new session's progress was never shown while it ran")
	}
	if !eval[bool](t, ctx, `window.__noReload === true`) {
		t.Fatal("the action reloaded the page")
	}
	shot(t, ctx, "job-finished")

	// Disable, then enable the schedule again.
	runAction(t, ctx, "disable")
	waitFor(t, ctx, "the schedule to be disabled", `!!document.querySelector('[data-testid="action-enable"]')`, 30*time.Second)
	runAction(t, ctx, "enable")
	waitFor(t, ctx, "the schedule to be enabled", `!!document.querySelector('[data-testid="action-disable"]')`, 30*time.Second)
	if !eval[bool](t, ctx, `window.__noReload === true`) {
		t.Fatal("the schedule change reloaded the page")
	}
}

// runAction presses an action button, checks the confirmation says what will
// happen, and confirms.
func runAction(t *testing.T, ctx context.Context, action string) {
	t.Helper()
	btn := fmt.Sprintf(`[data-testid="job-card"] [data-testid="action-%s"], [data-testid="actions"] [data-testid="action-%s"]`, action, action)
	// Wait until htmx has processed the button (it may just have been swapped in
	// with a refreshed card): before that it is a plain link to the confirm page.
	waitFor(t, ctx, action+" button ready", fmt.Sprintf(`(() => { const b = document.querySelector(%q); return !!(b && b['htmx-internal-data'] && !document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping')); })()`, btn), 30*time.Second)
	do(t, ctx, "press "+action,
		chromedp.Click(chromedp.CSS(btn)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="confirm-submit"]`)),
	)
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); strings.Contains(loc, "/confirm/") {
		t.Fatalf("pressing %s navigated to %s instead of opening the confirmation in place", action, loc)
	}
	text := eval[string](t, ctx, `document.querySelector('[data-testid="confirm-text"]').textContent`)
	if strings.TrimSpace(text) == "" {
		t.Fatalf("the %s confirmation says nothing about what will happen", action)
	}
	waitFor(t, ctx, action+" confirmation ready", `(() => { const f = document.querySelector('[data-testid="confirm-form"]'); return !!(f && f['htmx-internal-data'] && !document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping')); })()`, 30*time.Second)
	do(t, ctx, "confirm "+action, chromedp.Click(chromedp.CSS(`[data-testid="confirm-submit"]`)))
}
