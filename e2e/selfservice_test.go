package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// htmxReady is true once htmx has processed the element and nothing is swapping.
func htmxReady(sel string) string {
	return fmt.Sprintf(`(() => { const b = document.querySelector(%q); return !!(b && b['htmx-internal-data'] && !document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping')); })()`, sel)
}

// TestSelfService: erin signs in and lands on "My backups" with only her
// laptop, backs it up and watches it run to its result; then alice disables
// the schedule for a (demo-shortened) 10 seconds and sees it come back.
func TestSelfService(t *testing.T) {
	base := startDemo(t, "-hold-durations", "10s,4h", "-hold-interval", "500ms")

	ctx := browser(t)
	signInAt(t, ctx, base, "/", "erin")
	do(t, ctx, "my backups", chromedp.WaitVisible(chromedp.CSS(`[data-testid="backup-card"]`)))
	if title := eval[string](t, ctx, `document.querySelector('[data-testid="page-title"]').textContent.trim()`); title != "My backups" {
		t.Fatalf("erin's home is %q", title)
	}
	names := eval[[]string](t, ctx, `[...document.querySelectorAll('[data-testid="backup-name"]')].map(e => e.textContent.trim())`)
	if len(names) != 1 || names[0] != "Erin's laptop" {
		t.Fatalf("erin's cards: %q, want only Erin's laptop", names)
	}
	jobID := eval[string](t, ctx, `document.querySelector('[data-testid="backup-card"]').dataset.jobId`)
	age := eval[string](t, ctx, `document.querySelector('[data-testid="backup-age"]').textContent`)
	if !regexp.MustCompile(`Last backed up .* ago|Never backed up|No successful backup`).MatchString(age) {
		t.Fatalf("age in words: %q", age)
	}
	colorScheme(t, ctx, "light")
	shot(t, ctx, "selfservice-light")
	colorScheme(t, ctx, "dark")
	shot(t, ctx, "selfservice-dark")
	colorScheme(t, ctx, "light")

	// Back up now: confirm, then progress and the result in place.
	eval[bool](t, ctx, `(window.__noReload = true)`)
	btn := `[data-testid="back-up-now"]`
	waitFor(t, ctx, "Back up now ready", htmxReady(btn), 30*time.Second)
	do(t, ctx, "press Back up now", chromedp.Click(chromedp.CSS(btn)), chromedp.WaitVisible(chromedp.CSS(`[data-testid="confirm-submit"]`)))
	if text := eval[string](t, ctx, `document.querySelector('[data-testid="confirm-text"]').textContent`); !strings.Contains(text, "erin-laptop") {
		t.Fatalf("confirmation says %q", text)
	}
	shot(t, ctx, "selfservice-confirm")
	waitFor(t, ctx, "confirmation ready", htmxReady(`[data-testid="confirm-form"]`), 30*time.Second)
	do(t, ctx, "confirm", chromedp.Click(chromedp.CSS(`[data-testid="confirm-submit"]`)))
	waitFor(t, ctx, "the backup to run", `(() => { const s = document.querySelector('[data-testid="action-status"]'); return s && (s.dataset.state === 'running' || s.dataset.state === 'finished'); })()`, 15*time.Second)
	shot(t, ctx, "selfservice-running")
	waitFor(t, ctx, "the backup to finish", `(() => { const s = document.querySelector('[data-testid="action-status"]'); return s && (s.dataset.state === 'finished' || s.dataset.state === 'failed'); })()`, 60*time.Second)
	msg := eval[string](t, ctx, `document.querySelector('[data-testid="status-message"]').textContent`)
	if !regexp.MustCompile(`Success|Warning|Failed`).MatchString(msg) {
		t.Fatalf("final status %q names no result", msg)
	}
	waitFor(t, ctx, "the refreshed card", `!!document.querySelector('[data-testid="backup-card"] [data-testid="backup-age"]') && !document.querySelector('[data-testid="backup-running"]')`, 30*time.Second)
	if !eval[bool](t, ctx, `window.__noReload === true`) {
		t.Fatal("backing up reloaded the page")
	}
	shot(t, ctx, "selfservice-finished")

	// A time-boxed disable, shortened to 10 s by the demo flag: long enough
	// that the banner is still up when a loaded machine gets to look at it.
	admin := browser(t)
	signInAt(t, admin, base, "/jobs/"+jobID, "alice")
	do(t, admin, "job page", chromedp.WaitVisible(chromedp.CSS(`[data-testid="job-title"]`)))
	dis := `[data-testid="job-card"] [data-testid="action-disable"]`
	waitFor(t, admin, "disable ready", htmxReady(dis), 30*time.Second)
	do(t, admin, "press disable", chromedp.Click(chromedp.CSS(dis)), chromedp.WaitVisible(chromedp.CSS(`[data-testid="confirm-duration"]`)))
	do(t, admin, "choose 10 seconds", chromedp.SetValue(chromedp.CSS(`[data-testid="confirm-duration"]`), "10s"))
	waitFor(t, admin, "confirmation ready", htmxReady(`[data-testid="confirm-form"]`), 30*time.Second)
	do(t, admin, "confirm disable", chromedp.Click(chromedp.CSS(`[data-testid="confirm-submit"]`)))
	waitFor(t, admin, "the hold banner", `!!document.querySelector('[data-testid="hold-banner"]') || !!document.querySelector('[data-testid="action-enable"]')`, 30*time.Second)
	if eval[bool](t, admin, `!!document.querySelector('[data-testid="hold-banner"]')`) {
		banner := eval[string](t, admin, `document.querySelector('[data-testid="hold-text"]').textContent`)
		if !strings.Contains(banner, "Schedule disabled by Alice Admin") {
			t.Fatalf("banner %q", banner)
		}
		shot(t, admin, "hold-banner")
	}
	// The schedule comes back by itself: reload until the page says so.
	for i := 0; ; i++ {
		do(t, admin, "reload the job", chromedp.Navigate(base+"/jobs/"+jobID), chromedp.WaitVisible(chromedp.CSS(`[data-testid="job-card"]`)))
		if eval[bool](t, admin, `!!document.querySelector('[data-testid="action-disable"]') && !document.querySelector('[data-testid="hold-banner"]')`) {
			break
		}
		if i == 30 {
			shot(t, admin, "failure-hold-not-ended")
			t.Fatal("the schedule did not come back within 30 s of seeing the banner of a 10 s disable")
		}
		time.Sleep(time.Second)
	}
	shot(t, admin, "hold-ended")
}
