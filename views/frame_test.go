package views

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"
)

// fullLayout is a layout with every field set, so that leafChanges reaches
// every field.
func fullLayout() Layout {
	l := sampleLayout()
	l.Nav = []NavLink{{Label: "My backups", URL: "/backup/"}, {Label: "Jobs", URL: "/backup/jobs", Current: true}, {Label: "Audit", URL: "/backup/audit"}}
	l.SignOutURL = "/backup/auth/signout"
	l.Flash = &Flash{Kind: "success", Message: "Saved."}
	l.EMDownSince = sampleAt
	l.Embed = &EmbedFrame{ParentOrigins: []string{"https://intranet.example"}, OpenURL: "/backup/jobs"}
	return l
}

// secretValues are CSP nonces and CSRF tokens to render the frame with:
// real-looking ones and ones with every character that attribute or JSON
// escaping changes, invalid UTF-8 and the placeholders' own alphabet.
var secretValues = []string{
	"", "bm9uY2U", "QUJDREVGR0hJSktMTU5PUA", "a-b_c.d~e", token, `"'<>&`, `{"X-CSRF-Token":"x"}`,
	"\u2028\u2029\x00\x1f\t\n", "\xff\xfe invalid", "東京 ☃", `</script><script>alert(1)</script>`,
	"agentdesk-token-", "&#34;&amp;", `\u0022\\`, "abc+/=", "a b", "ä", "x\x7f", "A=B+C/D~E.F_G-H",
}

// TestFrameMatchesFreshRender renders full pages through the memoised frame
// (the first render of each layout a miss, the next ones hits) with many
// nonces and tokens, and wants byte for byte what layoutPage renders anew
// with the same values: the secrets' markup is escaped exactly as templ
// escapes it in place. So for the token of a job page's confirmation, a
// secret of the job page's memo.
func TestFrameMatchesFreshRender(t *testing.T) {
	signedOut := sampleLayout()
	signedOut.User, signedOut.UIURL, signedOut.IconURL, signedOut.DemoBanner = nil, "", "", false
	layouts := []Layout{sampleLayout(), fullLayout(), signedOut}
	for i, name := range hostile {
		l := fullLayout()
		l.Title, l.User.DisplayName, l.Flash.Message = name, name, name
		l.Nav[i%len(l.Nav)].Label = name
		l.EMDownSince = sampleAt.Add(time.Duration(i) * time.Hour)
		layouts = append(layouts, l)
	}
	pages := func(l Layout) []templ.Component {
		confirm := fullDetail() // a deep link's confirmation, its token a secret of the body's memo
		confirm.Confirm.CSRFToken = l.CSPNonce + l.CSRFToken
		return []templ.Component{
			JobPage(l, sampleDetail("Erin's laptop", hostile[1])),
			JobPage(l, confirm),
			JobListPage(l, sampleList(3)),
			ErrorPage(l, ErrorView{Status: 503, Title: "Down", Message: hostile[0], RequestID: "r1"}),
			SignInPage(l, SignIn{ReturnTo: hostile[2], BreakGlassURL: "/backup/auth/breakglass"}),
		}
	}
	var memoised []string
	for _, l := range layouts {
		for i, nonce := range secretValues {
			l.CSPNonce, l.CSRFToken = nonce, secretValues[(i*5+3)%len(secretValues)]
			for _, p := range pages(l) {
				memoised = append(memoised, render(t, p))
			}
		}
	}
	withoutMemos(t)
	n := 0
	for li, l := range layouts {
		for i, nonce := range secretValues {
			l.CSPNonce, l.CSRFToken = nonce, secretValues[(i*5+3)%len(secretValues)]
			for pi, p := range pages(l) {
				if want := render(t, p); memoised[n] != want {
					t.Errorf("layout %d, nonce %q, token %q, page %d: the memoised frame differs from the fresh render\ngot  %.300q\nwant %.300q",
						li, l.CSPNonce, l.CSRFToken, pi, diffFrom(memoised[n], want), diffFrom(want, memoised[n]))
				}
				n++
			}
		}
	}
}

// diffFrom is a from where it starts to differ from b.
func diffFrom(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return a[max(0, i-40):]
}

// TestFrameKeepsNoSecret: the kept frame holds neither a nonce nor a token
// it was rendered with, only placeholders' cuts; and a second person's page
// does not get the first one's frame.
func TestFrameKeepsNoSecret(t *testing.T) {
	l := fullLayout()
	l.CSPNonce, l.CSRFToken = "n0nc3-kept", "t0k3n-kept"
	render(t, JobListPage(l, sampleList(1)))
	frameMemo.mu.Lock()
	e, ok := frameMemo.entries[l.frameKey()]
	frameMemo.mu.Unlock()
	if !ok || len(e.segs) < 6 {
		t.Fatalf("frame not kept, or not cut (%d segments)", len(e.segs))
	}
	for _, s := range e.segs {
		for _, per := range []string{l.CSPNonce, l.CSRFToken, nonceMark, tokenMark} {
			if bytes.Contains(s.html, []byte(per)) {
				t.Errorf("a kept segment holds %q", per)
			}
		}
		if s.chunk == nil && len(s.html) > 0 {
			t.Errorf("segment %.40q is not a chunk", s.html)
		}
	}
	if e.model.CSPNonce != "" || e.model.CSRFToken != "" {
		t.Errorf("the kept model holds the secrets %q, %q", e.model.CSPNonce, e.model.CSRFToken)
	}
	other := l
	other.User = &User{DisplayName: "Bob", Email: "bob@corp.example"}
	if got := render(t, JobListPage(other, sampleList(1))); strings.Contains(got, l.User.DisplayName) || !strings.Contains(got, "Bob") {
		t.Error("the second person's page has the first one's frame")
	}
}

// BenchmarkFrame is the layout around an empty page, memoised and rendered
// anew.
func BenchmarkFrame(b *testing.B) {
	l := fullLayout()
	l.Flash, l.EMDownSince = nil, time.Time{}
	empty := templ.ComponentFunc(func(context.Context, io.Writer) error { return nil })
	for _, memoised := range []bool{true, false} {
		b.Run("memo="+strconv.FormatBool(memoised), func(b *testing.B) {
			if !memoised {
				withoutMemos(b)
			}
			var buf bytes.Buffer
			ctx := templ.WithChildren(context.Background(), empty)
			b.ReportAllocs()
			for b.Loop() {
				buf.Reset()
				s := NewSpans(buf.Len)
				if err := page(l).Render(WithSpans(ctx, s), &buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestUnescapedIsUnescaped: every byte the secrets' shortcut lets through
// is left alone by attribute escaping and by the CSRF header's JSON, so the
// shortcut writes what the expressions would.
func TestUnescapedIsUnescaped(t *testing.T) {
	n := 0
	for c := range 256 {
		s := string([]byte{byte(c)})
		if !unescaped(s) {
			continue
		}
		n++
		if got := mustResolve(s); got != s {
			t.Errorf("%q escapes to %q", s, got)
		}
		if got, want := mustResolve(csrfHeaders(s)), headersBefore+s+headersAfter; got != want {
			t.Errorf("%q: header %q, want %q", s, got, want)
		}
	}
	if n != 26+26+10+7 {
		t.Errorf("%d bytes pass, want letters, digits and 7 others", n)
	}
}

// TestFrameConcurrent renders one person's frame from several goroutines at
// once, each with its own nonce and token (go test -race): each must get its
// own secrets, never another response's.
func TestFrameConcurrent(t *testing.T) {
	content := templ.Raw("<p>content</p>")
	pageOf := func(c templ.Component) templ.Component {
		return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
			return c.Render(templ.WithChildren(ctx, content), w)
		})
	}
	var layouts []Layout
	var want []string
	for i := range 16 {
		l := fullLayout()
		l.CSPNonce, l.CSRFToken = "nonce"+strconv.Itoa(i), secretValues[i%len(secretValues)]+strconv.Itoa(i)
		layouts = append(layouts, l)
		want = append(want, render(t, pageOf(layoutPage(l))))
	}
	errs := make(chan error, 4)
	for g := range 4 {
		go func() {
			for n := range 200 {
				i := (n*7 + g) % len(layouts)
				var b strings.Builder
				if err := pageOf(page(layouts[i])).Render(context.Background(), &b); err != nil {
					errs <- err
					return
				}
				if b.String() != want[i] {
					errs <- fmt.Errorf("layout %d: the memoised frame differs", i)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
