package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestJobHistoryOnOpen: the job page's portal history is read only when its
// section is opened, which the keyboard does (Enter on the summary); a
// section that cannot be loaded says so in words and keeps its link to the
// audit log.
func TestJobHistoryOnOpen(t *testing.T) {
	ctx := browser(t)
	signIn(t, ctx, "alice")
	// Not the first job, which other tests act on: one whose schedule can
	// be disabled, then enabled again, which gives it audit entries and
	// leaves it as it was.
	jobID := eval[string](t, ctx, `[...document.querySelectorAll('[data-testid="job-row"]')].slice(1).find(r => r.querySelector('[data-testid="action-disable"]')).dataset.jobId`)
	do(t, ctx, "open the job", chromedp.Navigate(portalURL+"/jobs/"+jobID))
	settled := `(() => { const s = document.querySelector('[data-testid="action-status"]'); return !!(s && (s.dataset.state === 'finished' || s.dataset.state === 'failed')); })()`
	runAction(t, ctx, "disable")
	waitFor(t, ctx, "the schedule disabled", settled, 60*time.Second)
	do(t, ctx, "reload the job", chromedp.Navigate(portalURL+"/jobs/"+jobID))
	runAction(t, ctx, "enable")
	waitFor(t, ctx, "the schedule enabled again", settled, 60*time.Second)

	do(t, ctx, "reload the job", chromedp.Navigate(portalURL+"/jobs/"+jobID))
	waitFor(t, ctx, "the page", `!!document.querySelector('[data-testid="job-history-lazy"]') && document.readyState === 'complete'`, 30*time.Second)
	if n := eval[int](t, ctx, `document.querySelectorAll('[data-testid="job-history"] [data-testid="audit-row"]').length`); n != 0 {
		t.Fatalf("the page shows %d history rows before the section is opened", n)
	}
	waitFor(t, ctx, "htmx on the section", `!!document.querySelector('[data-testid="job-history-lazy"]')['htmx-internal-data']`, 30*time.Second)
	do(t, ctx, "open the history with the keyboard",
		chromedp.Focus(chromedp.CSS(`[data-testid="job-history-lazy"] summary`)),
		chromedp.KeyEvent("\r"))
	waitFor(t, ctx, "the history rows", `!!document.querySelector('[data-testid="job-history-body"] [data-testid="audit-row"]')`, 30*time.Second)
	if n := eval[int](t, ctx, `document.querySelectorAll('[data-testid="job-history-body"] [data-lazy-status]').length`); n != 0 {
		t.Error("the fallback link stays after the history loaded")
	}

	// The same section with an address that fails.
	eval[bool](t, ctx, fmt.Sprintf(`(() => {
		const d = document.createElement('details');
		d.className = 'lazy';
		d.setAttribute('hx-get', '/jobs/%s/history-gone');
		d.setAttribute('hx-trigger', 'toggle once');
		d.setAttribute('hx-target', 'find .lazy-body');
		d.setAttribute('data-lazy-failed', 'The history could not be loaded. Open it in the audit log instead.');
		d.setAttribute('data-testid', 'broken');
		d.innerHTML = '<summary>History</summary><div class="lazy-body"><p class="lazy-loading">Loading the history…</p><p data-lazy-status><a href="/audit">audit log</a></p></div>';
		document.querySelector('main').append(d);
		htmx.process(d);
		d.open = true;
		return true;
	})()`, jobID))
	waitFor(t, ctx, "the failure in words", `(() => { const s = document.querySelector('[data-testid="broken"] [data-lazy-status][data-failed]'); return !!(s && s.textContent.includes('could not be loaded') && s.querySelector('a')); })()`, 30*time.Second)
}
