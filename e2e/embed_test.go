package e2e

import (
	"context"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
)

// TestEmbeddedCard frames the embedded job card from test "intranet" pages.
// The portal runs at http://127.0.0.1:A; the allowed parent at
// http://127.0.0.1:B and the forbidden one at http://127.0.0.1:C. They are
// different origins (frame-ancestors compares origins) but the same site
// (ports do not make a site), which is the recommended same-site setup: the
// session cookie stays SameSite=Lax and is sent to the frame.
func TestEmbeddedCard(t *testing.T) {
	allowedLn, allowed := listenLocal(t)
	forbiddenLn, forbidden := listenLocal(t)
	portal := startDemo(t, "-embed-origin", allowed)
	jobID := jobIDByName(t, portal, "Erin's laptop")
	serveParent(t, allowedLn, portal)
	serveParent(t, forbiddenLn, portal)

	ctx := browser(t)
	colorScheme(t, ctx, "light")

	// 1. Allowed parent: the card renders signed out, with its sign-in button.
	do(t, ctx, "open the intranet page", chromedp.Navigate(allowed+"/parent?src="+url.QueryEscape(portal+"/embed/jobs/"+jobID)))
	frame := iframeNode(t, ctx)
	inFrame[bool](t, ctx, frame, "the signed-out card", `!!document.querySelector('[data-testid="embed-signin-button"]')`, 20*time.Second)
	waitFor(t, ctx, "a height message from the card", `window.heights.length > 0`, 10*time.Second)
	shot(t, ctx, "embed-signed-out")

	// 2. Sign in through the popup; the card reloads itself when it is done.
	popupID := chromedp.WaitNewTarget(ctx, func(i *target.Info) bool { return i.Type == "page" })
	inFrame[bool](t, ctx, frame, "press Sign in", `(() => { const b = document.querySelector('[data-testid="embed-signin-button"]'); if (!b) return false; b.click(); return true; })()`, 10*time.Second)
	var id target.ID
	select {
	case id = <-popupID:
	case <-time.After(20 * time.Second):
		shot(t, ctx, "failure-no-popup")
		t.Fatal("pressing Sign in in the frame opened no popup")
	}
	popup, cancelPopup := chromedp.NewContext(ctx, chromedp.WithTargetID(id))
	defer cancelPopup()
	do(t, popup, "identity provider login form in the popup",
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SetValue(chromedp.ID("username"), "erin"),
		chromedp.SetValue(chromedp.ID("password"), "demo"),
	)
	// The popup closes itself after the sign-in, so the click's own wait may
	// end with the target gone; what matters is what the frame shows next.
	_ = chromedp.Do(popup, chromedp.Click(chromedp.CSS(`form[data-testid="login-form"] button[type="submit"]`)))
	inFrame[bool](t, ctx, frame, "the job card after the sign-in", `!!document.querySelector('[data-testid="job-card"]')`, 30*time.Second)
	if loc := inFrame[string](t, ctx, frame, "frame location", `location.pathname`, 5*time.Second); loc != "/embed/jobs/"+jobID {
		t.Fatalf("the frame is at %s, want the embedded card", loc)
	}
	if top := eval[string](t, ctx, `location.origin`); top != allowed {
		t.Fatalf("the intranet page navigated away to %s", top)
	}
	waitFor(t, ctx, "the iframe to fit the card", `(() => { const f = document.getElementById('card'); const h = window.heights[window.heights.length-1]; return h > 150 && f.style.height === h + 'px'; })()`, 10*time.Second)
	colorScheme(t, ctx, "light")
	shot(t, ctx, "embed-card-light")
	colorScheme(t, ctx, "dark")
	shot(t, ctx, "embed-card-dark")
	colorScheme(t, ctx, "light")

	// 3. Start inside the frame: the confirmation opens inline, then progress.
	inFrame[bool](t, ctx, frame, "Start ready", `(() => { const b = document.querySelector('[data-testid="job-card"] [data-testid="action-start"]'); return !!(b && b['htmx-internal-data'] && !document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping')); })()`, 30*time.Second)
	inFrame[bool](t, ctx, frame, "press Start", `(() => { document.querySelector('[data-testid="job-card"] [data-testid="action-start"]').click(); return true; })()`, 5*time.Second)
	inFrame[bool](t, ctx, frame, "the inline confirmation", `(() => { const f = document.querySelector('[data-testid="confirm-form"]'); return !!(f && f['htmx-internal-data'] && location.pathname.startsWith('/embed/')); })()`, 15*time.Second)
	inFrame[bool](t, ctx, frame, "confirm Start", `(() => { document.querySelector('[data-testid="confirm-submit"]').click(); return true; })()`, 5*time.Second)
	inFrame[bool](t, ctx, frame, "the backup running", `(() => { const s = document.querySelector('[data-testid="action-status"]'); return !!s && (s.dataset.state === 'running' || s.dataset.state === 'finished'); })()`, 20*time.Second)
	shot(t, ctx, "embed-card-running")
	msg := inFrame[string](t, ctx, frame, "the backup finished", `(() => { const s = document.querySelector('[data-testid="action-status"]'); return s && (s.dataset.state === 'finished' || s.dataset.state === 'failed') ? s.textContent : ''; })()`, 60*time.Second)
	if !regexp.MustCompile(`Success|Warning|Failed`).MatchString(msg) {
		t.Fatalf("final status %q names no result", msg)
	}
	if loc := inFrame[string](t, ctx, frame, "frame location", `location.pathname`, 5*time.Second); loc != "/embed/jobs/"+jobID {
		t.Fatalf("the action navigated the frame to %s", loc)
	}

	// 4. A forbidden parent: the browser refuses to render the card.
	do(t, ctx, "open the forbidden page", chromedp.Navigate(forbidden+"/parent?src="+url.QueryEscape(portal+"/embed/jobs/"+jobID)))
	wantFrameBlocked(t, ctx, "embedded card on a forbidden origin")
	shot(t, ctx, "embed-forbidden")

	// 5. Clickjacking: the job page itself (not an /embed/ page) under an
	// invisible overlay, from the forbidden and even from the allowed origin.
	for _, parent := range []string{forbidden, allowed} {
		do(t, ctx, "open the overlay page", chromedp.Navigate(parent+"/parent?overlay=1&src="+url.QueryEscape(portal+"/jobs/"+jobID)))
		wantFrameBlocked(t, ctx, "job page under an overlay on "+parent)
	}
}

// inFrame polls js in the iframe's document until it is truthy and returns
// its value. The node is the <iframe> element: its frame id survives reloads.
func inFrame[T any](t *testing.T, ctx context.Context, frame *chromedp.Node, what, js string, timeout time.Duration) T {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		v, err := chromedp.Run(cctx, chromedp.Poll[T](js, chromedp.WithPollingInFrame(frame), chromedp.WithPollingInterval(100*time.Millisecond)))
		if err == nil {
			return v
		}
		// The frame reloading (after the sign-in) destroys the document the
		// poll ran in; poll again in the new one.
		if cctx.Err() == nil && (strings.Contains(err.Error(), "context was destroyed") || strings.Contains(err.Error(), "Cannot find context")) {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		shot(t, ctx, "failure-"+slug(what))
		t.Fatalf("in the frame, waiting for %s: %v", what, err)
	}
}

func iframeNode(t *testing.T, ctx context.Context) *chromedp.Node {
	t.Helper()
	nodes, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS("#card")))
	if err != nil || len(nodes) != 1 {
		t.Fatalf("the parent page has no iframe: %v", err)
	}
	return nodes[0]
}

// wantFrameBlocked checks that the browser refused to render the iframe's
// document: Chrome replaces a frame that frame-ancestors forbids with its
// error page (chrome-error://), so the child frame never ends up at the
// portal's URL.
func wantFrameBlocked(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	var last string
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		tree, err := chromedp.Call(ctx, cdppage.GetFrameTree, cdp.Empty{})
		if err != nil {
			t.Fatalf("%s: frame tree: %v", what, err)
		}
		if len(tree.FrameTree.ChildFrames) == 1 {
			last = tree.FrameTree.ChildFrames[0].Frame.URL
			if strings.HasPrefix(last, "chrome-error://") {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	shot(t, ctx, "failure-"+slug(what))
	t.Fatalf("%s: the frame was not blocked (last frame URL %q)", what, last)
}

// serveParent serves a test intranet page that frames ?src= and resizes the
// iframe on the card's height messages, checking their origin. With
// ?overlay=1 the frame is invisible and sits under a decoy button, as in a
// clickjacking attack.
func serveParent(t *testing.T, ln net.Listener, portal string) {
	t.Helper()
	portalOrigin := strings.TrimRight(portal, "/")
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/parent" {
			http.NotFound(w, r)
			return
		}
		src := r.URL.Query().Get("src")
		style := "width:100%;border:0"
		decoy := ""
		if r.URL.Query().Get("overlay") == "1" {
			style = "position:absolute;top:0;left:0;width:800px;height:600px;opacity:0.01;z-index:2;border:0"
			decoy = `<button style="position:absolute;top:200px;left:100px;z-index:1">Win a prize</button>`
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!DOCTYPE html><html><head><title>Intranet</title></head><body style="font-family:sans-serif;margin:1rem;max-width:40rem">
<h1>Intranet: my computer</h1>%s
<iframe id="card" title="Backup" src="%s" style="%s" height="150"></iframe>
<script>
window.heights = [];
window.addEventListener('message', function (e) {
  if (e.origin !== %q) return;
  if (!e.data || e.data.type !== 'agentdesk:height' || typeof e.data.height !== 'number') return;
  window.heights.push(e.data.height);
  document.getElementById('card').style.height = e.data.height + 'px';
});
</script></body></html>`, decoy, html.EscapeString(src), style, portalOrigin)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

func listenLocal(t *testing.T) (net.Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln, "http://" + ln.Addr().String()
}

// jobIDByName finds a job through the portal's own list, signed in over HTTP.
func jobIDByName(t *testing.T, portal, name string) string {
	t.Helper()
	c := newBrowser(t)
	c.signIn(portal, "alice")
	p := c.get(portal + "/jobs?q=" + url.QueryEscape(name))
	id := ""
	p.testid("job-row").Each(func(_ int, s *goquery.Selection) {
		if strings.TrimSpace(s.Find(`[data-testid="job-name"]`).Text()) == name {
			id = s.AttrOr("data-job-id", "")
		}
	})
	if id == "" {
		t.Fatalf("no job named %q in the list:\n%s", name, truncate(p.Body, 2000))
	}
	return id
}
