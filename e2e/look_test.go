package e2e

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// axeSource is axe-core, vendored from npm for the tests only (package.json
// devDependencies; static/vendor.sh copies it here). It is never served.
//
//go:embed testdata/axe.min.js
var axeSource string

// viewport is one screen the pages are checked on.
type viewport struct {
	name          string
	width, height int64
	mobile        bool
}

var (
	laptop = viewport{"laptop", 1366, 900, false}
	phone  = viewport{"phone", 390, 844, true}
)

// lookPage is one page (or a page with a fragment loaded into it) to check.
type lookPage struct {
	name   string // file name stem of its screenshot; "" for axe only
	path   string
	ready  string // JavaScript that is true once the page (and fragment) is there
	expand string // JavaScript run after ready, e.g. to open a disclosure; may be ""
	after  string // JavaScript that is true once what expand loaded is there; may be ""
}

// TestLook runs axe-core on every page and fragment, light and dark, at
// 1366×900 and 390×844, and fails on any serious or critical violation. It
// also saves screenshots of the list, a job page, the audit log and "My
// backups": into e2e/artifacts/look/, or into the directory named by
// AGENTDESK_SHOTS_DIR. The committed reference screens are regenerated with
//
//	AGENTDESK_SHOTS_DIR=testdata/screens go test -count=1 -run TestLook ./e2e/
func TestLook(t *testing.T) {
	ctx := browser(t)
	// Signed out: the sign-in page.
	look(t, ctx, []lookPage{{path: "/auth/signin", ready: `!!document.querySelector('[data-testid="signin-button"]')`}})
	setViewport(t, ctx, laptop)
	colorScheme(t, ctx, "light")
	signIn(t, ctx, "alice")
	jobID := eval[string](t, ctx, `document.querySelector('[data-testid="job-row"]').dataset.jobId`)
	// A finished action gives the audit log and the job's history an entry;
	// the running and the finished status fragments are checked on the way.
	do(t, ctx, "open the job", chromedp.Navigate(portalURL+"/jobs/"+jobID))
	do(t, ctx, "job page", chromedp.WaitVisible(chromedp.CSS(`[data-testid="job-title"]`)))
	runAction(t, ctx, "start")
	waitFor(t, ctx, "the backup to run", `(() => { const s = document.querySelector('[data-testid="action-status"]'); return s && s.dataset.state === 'running'; })()`, 90*time.Second)
	if v := axe(t, ctx); len(v) > 0 {
		t.Errorf("axe-core on the running action status:\n  %s", strings.Join(v, "\n  "))
	}
	waitFor(t, ctx, "the backup to finish", `(() => { const s = document.querySelector('[data-testid="action-status"]'); return s && (s.dataset.state === 'finished' || s.dataset.state === 'failed'); })()`, 90*time.Second)
	if v := axe(t, ctx); len(v) > 0 {
		t.Errorf("axe-core on the finished action status:\n  %s", strings.Join(v, "\n  "))
	}
	sessionID := eval[string](t, ctx, `document.querySelector('[data-testid="session-row"]').dataset.sessionId`)

	staff := []lookPage{
		{name: "jobs", path: "/jobs", ready: `!!document.querySelector('[data-testid="job-row"]')`},
		{name: "job", path: "/jobs/" + jobID, ready: `!!document.querySelector('[data-testid="job-title"]')`},
		{path: "/jobs/" + jobID, ready: `!!document.querySelector('[data-testid="session-row"]')`,
			expand: `document.querySelectorAll('details').forEach(d => d.open = true)`,
			// the job's portal history, loaded when its section opens
			after: `!!document.querySelector('[data-testid="session-children-list"]') && !!document.querySelector('[data-testid="job-history-body"] [data-testid="audit-row"]')`},
		{path: "/jobs?q=zzzz-no-such-job", ready: `!!document.querySelector('[data-testid="empty"]')`},
		{path: "/jobs/" + jobID + "?action=disable", ready: `!!document.querySelector('[data-testid="confirm-submit"]')`},
		{name: "audit", path: "/audit", ready: `!!document.querySelector('[data-testid="audit-row"]')`,
			expand: `document.querySelector('[data-testid="audit-rows"] details').open = true`},
		{path: "/status", ready: `!!document.querySelector('main h1')`},
		{path: "/jobs/" + jobID + "/confirm/start", ready: `!!document.querySelector('[data-testid="confirm-submit"]')`},
		{path: "/jobs/" + jobID + "/sessions/" + sessionID + "/computers", ready: `!!document.querySelector('[data-testid="session-children-list"]')`},
		{path: "/embed/jobs/" + jobID, ready: `!!document.querySelector('[data-testid="job-card"], [data-testid="embed-card"], main')`},
		{path: "/jobs/00000000-0000-0000-0000-000000000000", ready: `!!document.querySelector('[data-testid="error"]')`},
	}
	look(t, ctx, staff)

	// "My backups" is the end user's home page.
	ctx = browser(t)
	signInAt(t, ctx, portalURL, "/", "erin")
	look(t, ctx, []lookPage{
		{name: "my-backups", path: "/", ready: `!!document.querySelector('[data-testid="my-backups"], [data-testid="mine-empty"]')`},
		{path: "/embed/my-backups", ready: `!!document.querySelector('main')`},
	})
}

// look visits every page on every viewport and colour scheme.
func look(t *testing.T, ctx context.Context, pages []lookPage) {
	t.Helper()
	for _, vp := range []viewport{laptop, phone} {
		setViewport(t, ctx, vp)
		for _, scheme := range []string{"light", "dark"} {
			colorScheme(t, ctx, scheme)
			for _, p := range pages {
				what := fmt.Sprintf("%s %s %s", p.path, vp.name, scheme)
				do(t, ctx, "open "+what, chromedp.Navigate(portalURL+p.path))
				waitFor(t, ctx, what, p.ready+` && document.readyState === 'complete'`, 30*time.Second)
				if p.expand != "" {
					eval[any](t, ctx, p.expand)
				}
				if p.after != "" {
					waitFor(t, ctx, what+" expanded", p.after, 30*time.Second)
				}
				waitFor(t, ctx, what+" settled", `!document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping')`, 30*time.Second)
				if v := axe(t, ctx); len(v) > 0 {
					t.Errorf("axe-core on %s:\n  %s", what, strings.Join(v, "\n  "))
					shot(t, ctx, "axe-"+slug(what))
				}
				if p.name != "" {
					saveScreen(t, ctx, p.name+"-"+vp.name+"-"+scheme)
				}
			}
		}
	}
}

func setViewport(t *testing.T, ctx context.Context, vp viewport) {
	t.Helper()
	var opts []chromedp.EmulateViewportOption
	if vp.mobile {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	do(t, ctx, "viewport "+vp.name, chromedp.EmulateViewport(vp.width, vp.height, opts...))
}

// axe injects axe-core into the page (once) and returns its serious and
// critical violations, one line each.
func axe(t *testing.T, ctx context.Context) []string {
	t.Helper()
	if !eval[bool](t, ctx, `typeof window.axe === 'object'`) {
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](axeSource+";true")); err != nil {
			t.Fatalf("inject axe-core: %v", err)
		}
	}
	const run = `axe.run(document, {resultTypes: ['violations']}).then(r => JSON.stringify(
		r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => ({
			id: v.id, impact: v.impact, help: v.help,
			nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' — ' + (n.failureSummary || '').replace(/\s+/g, ' ').slice(0, 200))
		}))))`
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](run, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("run axe-core: %v", err)
	}
	var vs []struct {
		ID, Impact, Help string
		Nodes            []string
	}
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		t.Fatalf("axe-core result: %v", err)
	}
	var lines []string
	for _, v := range vs {
		lines = append(lines, fmt.Sprintf("%s (%s): %s\n      %s", v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n      ")))
	}
	return lines
}

// saveScreen saves what fits on the screen (not the full page: the point is
// what a person sees without scrolling).
func saveScreen(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("AGENTDESK_SHOTS_DIR")
	if dir == "" {
		dir = filepath.Join("artifacts", "look")
	}
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(p)
	t.Logf("screen: %s", abs)
}

// TestDensity: the jobs list is a working tool, not a brochure. At 1366×900
// at least 15 job rows are fully visible with the filters above them, each
// row is one line, and from 1280 px up nothing scrolls sideways. It also
// checks that a row's confirmation opens as a modal dialog and gives the
// focus back to its button.
func TestDensity(t *testing.T) {
	ctx := browser(t)
	signIn(t, ctx, "alice")
	setViewport(t, ctx, laptop)
	do(t, ctx, "open the list", chromedp.Navigate(portalURL+"/jobs"))
	waitFor(t, ctx, "the list", `!!document.querySelector('[data-testid="job-row"]') && document.readyState === 'complete'`, 30*time.Second)
	n := eval[int](t, ctx, `[...document.querySelectorAll('[data-testid="job-row"]')].filter(r => { const b = r.getBoundingClientRect(); return b.top >= 0 && b.bottom <= innerHeight; }).length`)
	h := eval[float64](t, ctx, `Math.max(...[...document.querySelectorAll('[data-testid="job-row"]')].map(r => r.getBoundingClientRect().height))`)
	t.Logf("1366×900: %d job rows fully visible, tallest row %.0f px", n, h)
	if n < 15 {
		shot(t, ctx, "density-rows")
		t.Errorf("%d job rows fully visible at 1366×900, want at least 15", n)
	}
	if h > 44 {
		t.Errorf("the tallest job row is %.0f px high: rows must stay one line", h)
	}
	for _, w := range []int64{1280, 1366, 1920} {
		do(t, ctx, "resize", chromedp.EmulateViewport(w, 900))
		overflow := eval[string](t, ctx, `(() => {
			const out = [];
			if (document.documentElement.scrollWidth > document.documentElement.clientWidth) out.push('page ' + document.documentElement.scrollWidth + ' > ' + document.documentElement.clientWidth);
			document.querySelectorAll('.table-wrap').forEach(w => { if (w.scrollWidth > w.clientWidth) out.push('table ' + w.scrollWidth + ' > ' + w.clientWidth); });
			return out.join('; ');
		})()`)
		if overflow != "" {
			shot(t, ctx, fmt.Sprintf("density-overflow-%d", w))
			t.Errorf("at %d px the list scrolls sideways: %s", w, overflow)
		}
	}
	setViewport(t, ctx, laptop)

	// Times: in the browser's zone, with the UTC time on hover.
	if _, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Kolkata"}); err != nil {
		t.Fatalf("time zone override: %v", err)
	}
	do(t, ctx, "reload in another zone", chromedp.Navigate(portalURL+"/jobs"))
	waitFor(t, ctx, "the list", `!!document.querySelector('[data-testid="job-row"]') && document.readyState === 'complete'`, 30*time.Second)
	asOf := eval[[]string](t, ctx, `(() => { const e = document.querySelector('[data-testid="as-of"] time'); return [e.textContent, e.title]; })()`)
	if !strings.Contains(asOf[0], "GMT+5:30") || !strings.HasSuffix(asOf[1], "UTC") {
		t.Errorf("as-of time = %q (tooltip %q), want India time with UTC on hover", asOf[0], asOf[1])
	}

	// The confirmation of a row: a modal dialog, focus inside, back on Cancel.
	btn := `[data-testid="job-row"] [data-testid="action-start"]`
	waitFor(t, ctx, "start button ready", fmt.Sprintf(`(() => { const b = document.querySelector(%q); return !!(b && b['htmx-internal-data']); })()`, btn), 30*time.Second)
	opener := eval[string](t, ctx, fmt.Sprintf(`document.querySelector(%q).id`, btn))
	do(t, ctx, "press start", chromedp.Click(chromedp.CSS(btn)))
	waitFor(t, ctx, "the confirmation dialog", `(() => { const d = document.querySelector('dialog[data-testid="confirm-dialog"]'); return !!(d && d.open && d.contains(document.activeElement) && d.querySelector('[data-testid="confirm-submit"]')); })()`, 30*time.Second)
	if !eval[bool](t, ctx, `document.querySelector('dialog[data-testid="confirm-dialog"]').matches(':modal')`) {
		t.Error("the confirmation dialog is not modal: focus is not trapped")
	}
	if v := axe(t, ctx); len(v) > 0 {
		t.Errorf("axe-core on the confirmation dialog:\n  %s", strings.Join(v, "\n  "))
	}
	do(t, ctx, "cancel", chromedp.Click(chromedp.CSS(`dialog [data-testid="confirm-cancel"]`)))
	waitFor(t, ctx, "the dialog to close and focus to return", fmt.Sprintf(`!document.querySelector('dialog[data-testid="confirm-dialog"]') && document.activeElement && document.activeElement.id === %q`, opener), 30*time.Second)
	if n := eval[int](t, ctx, `document.querySelectorAll('[data-testid="job-row"] [data-testid="confirm-panel"]').length`); n != 0 {
		t.Errorf("%d confirmation panels left inside the table", n)
	}

	// Confirming closes the dialog; the row follows the action in one short line.
	waitFor(t, ctx, "start button ready again", fmt.Sprintf(`(() => { const b = document.getElementById(%q); return !!(b && b['htmx-internal-data'] && !document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping')); })()`, opener), 30*time.Second)
	do(t, ctx, "press start again", chromedp.Click(chromedp.CSS("#"+opener)))
	waitFor(t, ctx, "the dialog", `(() => { const d = document.querySelector('dialog[data-testid="confirm-dialog"]'); const f = d && d.querySelector('[data-testid="confirm-form"]'); return !!(f && f['htmx-internal-data']); })()`, 30*time.Second)
	// The row, not the button: while EM confirms the start, the refreshed
	// row offers no button at all.
	rowID := eval[string](t, ctx, fmt.Sprintf(`document.getElementById(%q).closest('tr').id`, opener))
	do(t, ctx, "confirm start", chromedp.Click(chromedp.CSS(`dialog [data-testid="confirm-submit"]`)))
	rowSel := fmt.Sprintf(`document.getElementById(%q)`, rowID)
	waitFor(t, ctx, "the dialog to close and the row to show the action", fmt.Sprintf(`!document.querySelector('dialog[data-testid="confirm-dialog"]') && !!%s.querySelector('[data-testid="action-status"]')`, rowSel), 30*time.Second)
	shot(t, ctx, "density-row-action")
	if h := eval[float64](t, ctx, rowSel+`.getBoundingClientRect().height`); h > 64 {
		t.Errorf("a row following an action is %.0f px high, want it compact", h)
	}
	if v := axe(t, ctx); len(v) > 0 {
		t.Errorf("axe-core on a row following an action:\n  %s", strings.Join(v, "\n  "))
	}

	// Column choice and density are remembered by the browser.
	do(t, ctx, "open the view options", chromedp.Click(chromedp.CSS(`[data-testid="view-options"] summary`)))
	do(t, ctx, "hide the platform", chromedp.Click(chromedp.CSS(`[data-testid="column-platform"]`)))
	do(t, ctx, "comfortable rows", chromedp.Click(chromedp.CSS(`[data-testid="density-comfortable"]`)))
	do(t, ctx, "reload", chromedp.Navigate(portalURL+"/jobs?size=10"))
	waitFor(t, ctx, "the list", `!!document.querySelector('[data-testid="pager"]') && document.readyState === 'complete'`, 30*time.Second)
	if eval[bool](t, ctx, `getComputedStyle(document.querySelector('[data-testid="job-platform"]')).display !== 'none'`) ||
		eval[string](t, ctx, `document.documentElement.dataset.density || ''`) != "comfortable" {
		t.Error("the hidden column or the density was not remembered")
	}

	// Paging from the bottom of the page brings the table's top into view.
	do(t, ctx, "a short window", chromedp.EmulateViewport(1366, 400))
	eval[any](t, ctx, `window.scrollTo(0, document.body.scrollHeight)`)
	if eval[float64](t, ctx, `document.getElementById('job-table').getBoundingClientRect().top`) >= 0 {
		t.Fatal("the window does not scroll: the paging check would prove nothing")
	}
	waitFor(t, ctx, "page 2 link ready", `(() => { const a = document.querySelector('[data-testid="page-next"]'); return !!(a && a['htmx-internal-data']); })()`, 30*time.Second)
	do(t, ctx, "page 2", chromedp.Click(chromedp.CSS(`[data-testid="page-next"]`)))
	waitFor(t, ctx, "page 2", `location.search.includes('page=2') && !document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping')`, 30*time.Second)
	if top := eval[float64](t, ctx, `document.getElementById('job-table').getBoundingClientRect().top`); top < -1 || top > 200 {
		t.Errorf("after paging the table's top is at %.0f px of a 400 px window, want it in view", top)
	}
}
