package handlers

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/agentdesk/agentdesk/handlers/hx"
)

// oldSecurityHeaders are the headers securityHeaders set when it built every
// value per request with Header.Set, for comparison with the precomputed ones.
func oldSecurityHeaders(h *Handler, path, nonce string) http.Header {
	hd := http.Header{}
	formAction := "'self'"
	if h.set.idpOrigin != "" {
		formAction += " " + h.set.idpOrigin
	}
	ancestors := "'none'"
	embed := h.isEmbedPath(path)
	if embed {
		ancestors = h.set.embedAncestors
	}
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self' 'nonce-"+nonce+"'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action "+formAction+"; frame-ancestors "+ancestors+"; base-uri 'none'; report-uri "+h.paths().CSPReport()+"; report-to csp")
	hd.Set("Reporting-Endpoints", `csp="`+h.paths().CSPReport()+`"`)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	if !embed {
		hd.Set("X-Frame-Options", "DENY")
	}
	if !embed && !h.signInStep(path) {
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	}
	hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	if h.set.secure {
		hd.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
	}
	if !strings.HasPrefix(path, h.paths().StaticPrefix()) {
		hd.Set("Cache-Control", "no-store")
	}
	hx.Vary(hd)
	return hd
}

// TestSecurityHeadersPrecomputed: the headers built once per route and the
// nonce written into them are, header for header, what building them per
// request gave, for every kind of path and setting; the nonce is the one
// the page gets (nonceFrom), new for every request.
func TestSecurityHeadersPrecomputed(t *testing.T) {
	sets := map[string]settings{
		"plain":           {},
		"https, idp":      {secure: true, idpOrigin: "https://login.example.com"},
		"base path":       {base: "/desk", idpOrigin: "https://idp.example"},
		"embed ancestors": {embedAncestors: "https://intranet.example https://wiki.example"},
	}
	nonceRE := regexp.MustCompile(`'nonce-([A-Za-z0-9_-]{24})'`)
	for name, set := range sets {
		h := &Handler{set: set, sec: newSecurityValues(set), log: slog.New(slog.DiscardHandler)}
		var seen []string
		mw := h.requestID(h.securityHeaders(func(c echo.Context) error {
			seen = append(seen, nonceFrom(c.Request().Context()))
			return nil
		}))
		nonces := map[string]bool{}
		for _, rel := range []string{"/", "/jobs", "/jobs/abc/card", "/embed/jobs/abc", "/embed/", "/static/app.js", "/auth/login", "/auth/callback", "/auth/signin", "/embedded"} {
			path := set.base + rel
			e := echo.New()
			rec := httptest.NewRecorder()
			c := e.NewContext(httptest.NewRequest(http.MethodGet, path, nil), rec)
			if err := mw(c); err != nil {
				t.Fatal(err)
			}
			got := rec.Header()
			m := nonceRE.FindStringSubmatch(got.Get("Content-Security-Policy"))
			if m == nil {
				t.Fatalf("%s %s: no nonce in %q", name, path, got.Get("Content-Security-Policy"))
			}
			nonce := m[1]
			if seen[len(seen)-1] != nonce {
				t.Errorf("%s %s: page nonce %q, CSP nonce %q", name, path, seen[len(seen)-1], nonce)
			}
			nonces[nonce] = true
			want := oldSecurityHeaders(h, path, nonce)
			want.Set("X-Request-Id", got.Get("X-Request-Id"))
			if !maps.EqualFunc(got, want, func(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }) {
				t.Errorf("%s %s: headers\n%v\nwant\n%v", name, path, got, want)
			}
			for k := range got {
				if k != http.CanonicalHeaderKey(k) {
					t.Errorf("%s %s: header key %q is not canonical", name, path, k)
				}
			}
			// A header added later (scs adds Vary: Cookie) leaves the others
			// as they were.
			got.Add("Vary", "Cookie")
			got.Add("Cache-Control", "private")
			if got.Get("Permissions-Policy") != want.Get("Permissions-Policy") || got.Values("Vary")[0] != hx.HeaderRequest {
				t.Errorf("%s %s: adding a value changed another header: %v", name, path, got)
			}
		}
		if len(nonces) != len(seen) {
			t.Errorf("%s: %d distinct nonces in %d requests", name, len(nonces), len(seen))
		}
	}
}

// TestRandomStrings: the generators give strings of the right length and
// alphabet that do not repeat, from many goroutines at once (each draws from
// the pool's generators; seeding them alike would repeat values).
func TestRandomStrings(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			var mine []string
			for n := range maxRandom + 1 {
				for range 20 {
					mine = append(mine, randomString(max(n, 9)))
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for _, s := range mine {
				if seen[s] {
					t.Errorf("%q drawn twice", s)
				}
				seen[s] = true
			}
		})
	}
	wg.Wait()
	for s := range seen {
		raw, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(raw) < 9 || len(raw) > maxRandom {
			t.Fatalf("%q: %d bytes, %v", s, len(raw), err)
		}
	}
	// Masks of long secrets (a heap buffer) validate like short ones.
	for _, n := range []int{1, 32, maxMasked, maxMasked + 1, 3 * maxMasked} {
		secret := strings.Repeat("s", n)
		a, b := maskCSRF(secret), maskCSRF(secret)
		if a == b || !csrfValid(secret, a) || !csrfValid(secret, b) || csrfValid(secret+"x", a) {
			t.Errorf("secret of %d bytes: masks %q %q", n, a, b)
		}
	}
}

// TestRequestLoggerLines: a request logger's lines are those of the
// handlers' logger With the request's attributes, whatever a line adds:
// several attributes (more than a record holds inline), a group, a further
// With.
func TestRequestLoggerLines(t *testing.T) {
	noTime := &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey && len(groups) == 0 {
			return slog.Attr{}
		}
		return a
	}}
	handlers := map[string]func(*bytes.Buffer) slog.Handler{
		"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, noTime) },
		"json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, noTime) },
	}
	lines := map[string]func(l *slog.Logger){
		"message only": func(l *slog.Logger) { l.Info("signed out") },
		"two attrs":    func(l *slog.Logger) { l.Warn("csrf token mismatch", "path", "/jobs", "n", 3) },
		"many attrs": func(l *slog.Logger) {
			l.Error("request failed", "a", 1, "b", "two", "c", 3.5, "d", true, "e", []string{"x"}, "f", "six", "g", 7)
		},
		"group":     func(l *slog.Logger) { l.WithGroup("em").Info("call", "endpoint", "/query", slog.Group("q", "n", 1)) },
		"more with": func(l *slog.Logger) { l.With("job", "j1").With().Info("started", "action", "start") },
		"debug":     func(l *slog.Logger) { l.Debug("polled", "job", "j2") },
		"with group": func(l *slog.Logger) {
			l.WithGroup("").With("k", "v").WithGroup("g").With("x", 1).Info("nested", "y", 2)
		},
	}
	// The user joins the request logger in place (loadUser) or through a
	// logger in the context (withLogger).
	namings := map[string]func(h *Handler, c echo.Context) context.Context{
		"withUser": func(h *Handler, c echo.Context) context.Context {
			h.state(c).withUser("idp|alice")
			return c.Request().Context()
		},
		"withLogger": func(h *Handler, c echo.Context) context.Context {
			ctx := c.Request().Context()
			return withLogger(ctx, h.logCtx(ctx).With("user", "idp|alice"))
		},
	}
	for hn, newHandler := range handlers {
		for ln, line := range lines {
			for nn, name := range namings {
				var want, got bytes.Buffer
				h := &Handler{log: slog.New(newHandler(&got)).With("component", "web")}
				mw := h.requestID(func(c echo.Context) error {
					line(h.logCtx(name(h, c)))
					return nil
				})
				rec := httptest.NewRecorder()
				if err := mw(echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/", nil), rec)); err != nil {
					t.Fatal(err)
				}
				base := slog.New(newHandler(&want)).With("component", "web")
				line(base.With("request_id", rec.Header().Get("X-Request-Id")).With("user", "idp|alice"))
				if got.String() != want.String() {
					t.Errorf("%s, %s, %s:\n got %s\nwant %s", hn, ln, nn, got.String(), want.String())
				}
			}
		}
	}
	// A request without a request id (no requestID) names the user alone.
	var want, got bytes.Buffer
	h := &Handler{log: slog.New(slog.NewTextHandler(&got, noTime))}
	c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder())
	h.state(c).withUser("idp|bob")
	h.logFor(c).Info("hello", "k", 1)
	slog.New(slog.NewTextHandler(&want, noTime)).With("user", "idp|bob").Info("hello", "k", 1)
	if got.String() != want.String() {
		t.Errorf("without request id:\n got %s\nwant %s", got.String(), want.String())
	}
	// Without a request: the handlers' logger itself.
	h = &Handler{log: slog.New(slog.DiscardHandler)}
	if h.logCtx(context.Background()) != h.log {
		t.Error("outside a request logCtx is not the handlers' logger")
	}
}

// TestComposed: the chain composed once runs, in order, around the handler
// of the route each request matched, in groups with further middleware of
// their own, however requests to different routes interleave.
func TestComposed(t *testing.T) {
	mark := func(name string) echo.MiddlewareFunc {
		return func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error {
				c.Response().Header().Add("X-Trace", name)
				return next(c)
			}
		}
	}
	answer := func(body string) echo.HandlerFunc {
		return func(c echo.Context) error { return c.String(http.StatusOK, body+" "+c.Param("id")) }
	}
	e := echo.New()
	g := e.Group("/base", composed(mark("a"), mark("b"), mark("c")))
	g.GET("/one", answer("one"))
	g.GET("/two/:id", answer("two"), mark("route"))
	sub := g.Group("/sub", mark("sub"))
	sub.GET("/three", answer("three"))
	tests := []struct{ path, body, trace string }{
		{"/base/one", "one ", "a,b,c"},
		{"/base/two/7", "two 7", "a,b,c,route"},
		{"/base/sub/three", "three ", "a,b,c,sub"},
		{"/base/nowhere", "", "a,b,c"},
		{"/base/sub/nowhere", "", "a,b,c,sub"},
	}
	for round := range 3 {
		for i := range tests {
			tt := tests[(i+round)%len(tests)]
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
			if tt.body == "" {
				if rec.Code != http.StatusNotFound {
					t.Errorf("%s: %d, want 404", tt.path, rec.Code)
				}
			} else if rec.Body.String() != tt.body {
				t.Errorf("%s: body %q, want %q", tt.path, rec.Body.String(), tt.body)
			}
			if got := strings.Join(rec.Header().Values("X-Trace"), ","); got != tt.trace {
				t.Errorf("%s: middleware ran %q, want %q", tt.path, got, tt.trace)
			}
		}
	}
}

// TestHtmxOfPerRequest: what htmx says is read from each request's own
// headers, kept in its state once requestID made one, and read from the
// headers without one.
func TestHtmxOfPerRequest(t *testing.T) {
	h := &Handler{log: slog.New(slog.DiscardHandler)}
	var got []hx.Request
	mw := h.requestID(func(c echo.Context) error {
		got = append(got, htmxOf(c), htmxOf(c))
		return nil
	})
	for _, hdr := range []map[string]string{
		{"HX-Request": "true", "HX-Current-URL": "http://portal.example/jobs?q=a", "X-Background": "1"},
		{},
		{"HX-Request": "true", "HX-Target": "row-7"},
	} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		got = got[:0]
		c := echo.New().NewContext(req, httptest.NewRecorder())
		if err := mw(c); err != nil {
			t.Fatal(err)
		}
		want := hx.Parse(req.Header)
		for _, r := range got {
			if !reflect.DeepEqual(r, want) {
				t.Errorf("headers %v: htmxOf %+v, want %+v", hdr, r, want)
			}
		}
		// Without requestID's state: parsed from the headers all the same.
		if r := htmxOf(echo.New().NewContext(req, httptest.NewRecorder())); !reflect.DeepEqual(r, want) {
			t.Errorf("headers %v, no request state: htmxOf %+v, want %+v", hdr, r, want)
		}
	}
}

// TestRequestStateContext: the request's state as its context (reqCtx) is
// context.WithValue of the parent: the state under its key, every other
// value, the deadline, cancellation and cause the parent's, children
// canceled with it.
func TestRequestStateContext(t *testing.T) {
	errGone := errors.New("client went away")
	parent, cancel := context.WithCancelCause(context.WithValue(context.Background(), ctxKey("k"), "v"))
	parent, cancelDeadline := context.WithDeadline(parent, time.Now().Add(time.Hour))
	defer cancelDeadline()
	st := &reqState{id: "id1"}
	ctx := withState(parent, st)
	if stateOf(ctx) != st || stateOf(context.WithValue(ctx, ctxKey("x"), 1)) != st {
		t.Fatal("state not found under its key")
	}
	if ctx.Value(ctxKey("k")) != "v" || ctx.Value(ctxKey("x")) != nil {
		t.Fatal("other values are not the parent's")
	}
	if d, ok := ctx.Deadline(); !ok || !d.Equal(func() time.Time { d, _ := parent.Deadline(); return d }()) {
		t.Fatal("deadline not the parent's")
	}
	child, cancelChild := context.WithCancel(ctx)
	defer cancelChild()
	if ctx.Err() != nil || child.Err() != nil {
		t.Fatal("canceled early")
	}
	cancel(errGone)
	<-ctx.Done()
	<-child.Done()
	if ctx.Err() != context.Canceled || context.Cause(ctx) != errGone || context.Cause(child) != errGone {
		t.Fatalf("after the parent's cancel: %v, %v, %v", ctx.Err(), context.Cause(ctx), context.Cause(child))
	}
}

// TestVaryWithSession: the Vary values of a page (securityHeaders, then
// scs's Add of Cookie, then any further Add) are hx.Vary's and the Adds, in
// order, whichever slice holds them.
func TestVaryWithSession(t *testing.T) {
	for _, before := range [][]string{nil, {"Accept-Encoding"}} {
		want := http.Header{}
		got := http.Header{}
		if before != nil {
			want["Vary"] = slices.Clone(before)
			got["Vary"] = slices.Clone(before)
		}
		hx.Vary(want)
		want.Add("Vary", "Cookie")
		want.Add("Vary", "Accept-Encoding")
		want.Add("Vary", "Origin")
		st := &reqState{}
		st.vary(got)
		got.Add("Vary", "Cookie")
		v := got["Vary"]
		got.Add("Vary", "Accept-Encoding")
		got.Add("Vary", "Origin")
		if !reflect.DeepEqual(got["Vary"], want["Vary"]) {
			t.Errorf("Vary %q, want %q", got["Vary"], want["Vary"])
		}
		if !reflect.DeepEqual(v, want["Vary"][:len(v)]) {
			t.Errorf("an earlier Vary slice changed: %q", v)
		}
	}
}
