package handlers

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/agentdesk/agentdesk/handlers/hx"
	"github.com/agentdesk/agentdesk/handlers/paths"
)

// composed is the middleware mws, in order, composed once. Echo applies a
// group's middleware anew on every request: a closure per middleware per
// request (and whatever each constructor does). The composed chain is built
// here once and echo applies only composed itself per request, which hands
// the route's handler to the chain through the echo context. The
// constructors must not keep state per application (none of the portal's
// does): they run once.
func composed(mws ...echo.MiddlewareFunc) echo.MiddlewareFunc {
	chain := func(c echo.Context) error { return c.Get(routeHandlerKey).(echo.HandlerFunc)(c) }
	for i := len(mws) - 1; i >= 0; i-- {
		chain = mws[i](chain)
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Set(routeHandlerKey, next)
			return chain(c)
		}
	}
}

const routeHandlerKey = "agentdesk.route"

// reqState is what the middleware keeps about one request, in a single
// context value that requestID sets: the request id, the CSP nonce, what the
// session store's error callback needs (sessionOutage), the request logger,
// and the backing array of the header values the middleware sets. One value,
// not one context.WithValue and one copy of the *http.Request per field,
// because every request pays for them.
type reqState struct {
	id    string
	nonce string
	call  sessionCall
	// inSession: sessionOutage ran, so call is the session manager's request.
	inSession bool
	// log is the handlers' logger with the request id and, once loadUser
	// found one, the user (reqHandler, withUser).
	log     slog.Logger
	logH    reqHandler
	logAttr [2]slog.Attr
	named   bool   // withUser added the user to logAttr
	userKey string // and this is the user's key
	// hx is what htmx says about the request (htmxOf), parsed once.
	hxOnce sync.Once
	hx     hx.Request
	// sw is the session middleware's response writer (loadAndSave).
	sw sessionWriter
	// dl is the request's context with its deadline (deadline).
	dl deadlineCtx
	// hdr backs the response header values the middleware sets, one
	// allocation for all of them (see setHeader).
	hdr     [12]string
	nhdr    int
	varyBuf [6]string // Vary's values (vary)
	// parent is the request's context when requestID made st the request's
	// context (reqCtx).
	parent context.Context
}

type reqStateKey struct{}

func stateOf(ctx context.Context) *reqState {
	st, _ := ctx.Value(reqStateKey{}).(*reqState)
	return st
}

// reqCtx is context.WithValue(st.parent, reqStateKey{}, st) in st itself,
// which requestID allocates anyway: Deadline, Done and Err are the
// parent's, as are all values but st.
type reqCtx reqState

func (c *reqCtx) Deadline() (time.Time, bool) { return c.parent.Deadline() }
func (c *reqCtx) Done() <-chan struct{}       { return c.parent.Done() }
func (c *reqCtx) Err() error                  { return c.parent.Err() }

func (c *reqCtx) Value(key any) any {
	if _, ok := key.(reqStateKey); ok {
		return (*reqState)(c)
	}
	return c.parent.Value(key)
}

// withState returns ctx carrying st, as st itself (reqCtx): st must be new.
func withState(ctx context.Context, st *reqState) context.Context {
	st.parent = ctx
	return (*reqCtx)(st)
}

// setHeader sets the response header k, which must be in canonical form, to
// v, with the value slice taken from st.hdr (capped, so an Add elsewhere
// copies it rather than overwriting the next header's value).
func (st *reqState) setHeader(h http.Header, k, v string) {
	if st.nhdr == len(st.hdr) {
		h[k] = []string{v}
		return
	}
	i := st.nhdr
	st.hdr[i] = v
	h[k] = st.hdr[i : i+1 : i+1]
	st.nhdr++
}

// withUser makes the request logger name the user, key (loadUser), in
// every line it logs from now on. It changes the logger in place rather
// than adding a logger to the context (a context value and a copy of the
// request): what ran before loadUser logs nothing later but through c,
// whose request has the user too, except sessionStoreFailed (see there).
func (st *reqState) withUser(key string) {
	n := len(st.logH.attrs)
	if n == len(st.logAttr) {
		return
	}
	st.logAttr[n] = slog.String("user", key)
	st.logH.attrs = st.logAttr[:n+1]
	st.named, st.userKey = true, key
}

// requestID gives every request an id that appears in its log lines and in error
// pages, so a helpdesk ticket can quote it; the request logger carries it.
func (h *Handler) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		st := &reqState{id: randomString(9)}
		st.logAttr[0] = slog.String("request_id", st.id)
		st.logH = reqHandler{next: h.log.Handler(), attrs: st.logAttr[:1]}
		st.log = *slog.New(&st.logH)
		st.setHeader(c.Response().Header(), "X-Request-Id", st.id)
		r := c.Request()
		c.SetRequest(r.WithContext(withState(r.Context(), st)))
		return next(c)
	}
}

func requestIDFrom(ctx context.Context) string {
	if st := stateOf(ctx); st != nil {
		return st.id
	}
	return ""
}

// accessLog logs one line per request. It logs the path without the query
// string: the sign-in callback's query holds the authorization code and state.
func (h *Handler) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		r := c.Request()
		ctx := r.Context()
		if !h.log.Enabled(ctx, slog.LevelInfo) {
			return nil
		}
		res := c.Response()
		st := stateOf(ctx)
		var id string
		if st != nil {
			id = st.id
		}
		attrs := [10]slog.Attr{
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.String("route", c.Path()),
			slog.Int("status", res.Status),
			slog.Int64("bytes", res.Size),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("request_id", id),
			slog.String("ip", c.RealIP()),
		}
		n := 8
		if u := h.currentUser(c); u != nil {
			var key string
			if st != nil && st.named {
				key = st.userKey // u's, made once by loadUser
			} else {
				key = u.Key()
			}
			attrs[n] = slog.String("user", key)
			n++
		}
		if htmxOf(c).HTMX {
			attrs[n] = slog.Bool("htmx", true)
			n++
		}
		h.log.LogAttrs(ctx, slog.LevelInfo, "request", attrs[:n]...)
		return nil
	}
}

// recoverPanic turns a panic into the generic error page and a log line with
// the stack; the stack never reaches the browser.
func (h *Handler) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				h.logFor(c).Error("panic", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				err = echo.NewHTTPError(http.StatusInternalServerError)
			}
		}()
		return next(c)
	}
}

// securityHeaders sets a strict CSP with a per-request nonce and the usual
// headers. Pages with user data are never cached. Every value but the
// nonce is the same for every request (see newSecurityValues); a request
// only writes its nonce into the policy.
func (h *Handler) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		sv := &h.sec
		r := c.Request()
		st := h.state(c)
		hd := c.Response().Header()
		embed := strings.HasPrefix(r.URL.Path, sv.embedPrefix)
		tail := sv.pageTail
		if embed {
			tail = sv.embedTail
		}
		csp := withNonce(cspHead, tail)
		st.nonce = csp[len(cspHead) : len(cspHead)+nonceLen]
		st.setHeader(hd, "Content-Security-Policy", csp)
		st.setHeader(hd, "Reporting-Endpoints", sv.reporting)
		st.setHeader(hd, "X-Content-Type-Options", "nosniff")
		// No page needs to tell another where the user came from; the
		// callback's URL carries the authorization code.
		st.setHeader(hd, "Referrer-Policy", "no-referrer")
		if !embed {
			st.setHeader(hd, "X-Frame-Options", "DENY")
		}
		// The sign-in popup of a framed card must keep its opener to tell the
		// card it is done; COOP same-origin would cut it (the opener's top
		// page is the intranet). These answers are redirects or the tiny
		// /embed/ pages, which have no window worth isolating.
		if !embed && !h.signInStep(r.URL.Path) {
			st.setHeader(hd, "Cross-Origin-Opener-Policy", "same-origin")
		}
		st.setHeader(hd, "Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		if h.set.secure {
			st.setHeader(hd, "Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		if !strings.HasPrefix(r.URL.Path, sv.staticPrefix) {
			st.setHeader(hd, "Cache-Control", "no-store")
		}
		st.vary(hd)
		return next(c)
	}
}

// pageVary is what hx.Vary sets on a response without Vary.
var pageVary = func() []string {
	h := http.Header{}
	hx.Vary(h)
	return h["Vary"]
}()

// vary is hx.Vary(h), with the values of a response without Vary in st and
// room for the session middleware's Vary: Cookie (and one more) after them,
// rather than one slice for hx.Vary and a larger one for the Add.
func (st *reqState) vary(h http.Header) {
	if len(h["Vary"]) != 0 || len(pageVary) > len(st.varyBuf)-2 {
		hx.Vary(h)
		return
	}
	n := copy(st.varyBuf[:], pageVary)
	h["Vary"] = st.varyBuf[: n : n+2]
}

// securityValues are the parts of securityHeaders' values that are the same
// for every request, built once by New: echo applies middleware anew on every
// request, so nothing is built when securityHeaders wraps a handler.
type securityValues struct {
	pageTail, embedTail       string // the CSP after the nonce
	reporting                 string
	embedPrefix, staticPrefix string
}

// cspHead is the CSP up to the nonce.
const cspHead = "default-src 'none'; script-src 'self' 'nonce-"

func newSecurityValues(set settings) securityValues {
	pp := paths.New(set.base)
	formAction := "'self'"
	if set.idpOrigin != "" {
		// Sign-out posts a form that redirects to the IdP's end-session page;
		// browsers apply form-action to that redirect.
		formAction += " " + set.idpOrigin
	}
	// Only /embed/ pages may be framed, by the configured parent origins;
	// X-Frame-Options cannot express an allowlist and would contradict it.
	tail := func(ancestors string) string {
		return "'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action " + formAction +
			"; frame-ancestors " + ancestors + "; base-uri 'none'; report-uri " + pp.CSPReport() + "; report-to csp"
	}
	return securityValues{
		pageTail: tail("'none'"), embedTail: tail(set.embedAncestors),
		reporting:   `csp="` + pp.CSPReport() + `"`,
		embedPrefix: pp.EmbedPrefix(), staticPrefix: pp.StaticPrefix(),
	}
}

// state is the request's reqState, set by requestID (which every route that
// reaches the other middleware runs first); a request without one gets it
// here.
func (h *Handler) state(c echo.Context) *reqState {
	r := c.Request()
	if st := stateOf(r.Context()); st != nil {
		return st
	}
	st := &reqState{}
	st.logH = reqHandler{next: h.log.Handler()}
	st.log = *slog.New(&st.logH)
	c.SetRequest(r.WithContext(withState(r.Context(), st)))
	return st
}

// nonceLen is the length of a CSP nonce: 18 random bytes in base64.
const nonceLen = 24

// withNonce returns head + a fresh nonce + tail in one allocation.
func withNonce(head, tail string) string {
	var raw [18]byte
	var enc [nonceLen]byte
	readRandom(raw[:])
	base64.RawURLEncoding.Encode(enc[:], raw[:])
	var b strings.Builder
	b.Grow(len(head) + nonceLen + len(tail))
	b.WriteString(head)
	b.Write(enc[:])
	b.WriteString(tail)
	return b.String()
}

func nonceFrom(ctx context.Context) string {
	if st := stateOf(ctx); st != nil {
		return st.nonce
	}
	return ""
}

// csrfHeader and csrfField carry the session-bound token: htmx sends the header
// (hx-headers on <body>), plain forms send the field.
const (
	csrfHeader     = "X-CSRF-Token"
	csrfField      = "csrf"
	csrfSessionKey = "csrf"
)

var errCSRF = errors.New("cross-site request refused")

// crossOrigin is Go's Fetch Metadata check, with no exceptions configured. It
// is built once: echo applies middleware anew on every request.
var crossOrigin = http.NewCrossOriginProtection()

// csrf protects every state-changing request twice: the browser's Fetch Metadata
// and Origin headers must say same-origin (Go's CrossOriginProtection), and the
// request must carry the token bound to the session.
func (h *Handler) csrf(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next(c)
		}
		if err := crossOrigin.Check(r); err != nil {
			h.logFor(c).Warn("cross-origin request refused", "path", r.URL.Path, "origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
			return echo.NewHTTPError(http.StatusForbidden, errCSRF.Error())
		}
		if h.currentUser(c) == nil && !strings.HasPrefix(r.URL.Path, h.paths().AuthPrefix()) && r.URL.Path != h.paths().EmbedHandoff() {
			// Nobody is signed in (signed out in another tab, expired): the
			// session's token is gone with it. That is a sign-in question,
			// not a forgery, and the same-origin check above has passed; the
			// request needs a user, so it does nothing either way. (The
			// public POSTs, sign-in steps and a card's hand-off, are checked
			// below.)
			return h.signedOut(c)
		}
		want := h.expectedCSRF(c)
		got := r.Header.Get(csrfHeader)
		if got == "" {
			// Only url-encoded and multipart form bodies, never the URL's
			// query (it ends up in logs, history and Referer headers), and
			// no text/plain body, which is what a cross-site form would use
			// to smuggle a field past the header check.
			ct := r.Header.Get("Content-Type")
			if strings.HasPrefix(ct, "application/x-www-form-urlencoded") || strings.HasPrefix(ct, "multipart/form-data") {
				got = r.PostFormValue(csrfField)
			}
		}
		ok := csrfValid(want, got)
		if !ok && r.URL.Path == h.paths().EmbedHandoff() {
			// A signed-out card redeems its hand-off with the token of the
			// page it was rendered as, which a same-site card may post after
			// the popup has signed the shared cookie jar in.
			if ck, err := c.Cookie(h.anonCSRFCookie()); err == nil {
				ok = csrfValid(ck.Value, got)
			}
		}
		if !ok {
			h.logFor(c).Warn("csrf token mismatch", "path", r.URL.Path)
			return echo.NewHTTPError(http.StatusForbidden, errCSRF.Error())
		}
		return next(c)
	}
}

// csrfToken returns the token for the page's forms: the request's CSRF
// secret masked anew (see maskCSRF), so no two responses carry the same
// string. A signed-in user's secret lives in the session (renewed at every
// sign-in, see renewCSRF). Signed-out pages (the sign-in page's break-glass
// form, a signed-out card's hand-off) get theirs from a cookie instead, so
// that an anonymous visit stores nothing on the server.
func (h *Handler) csrfToken(c echo.Context) string {
	return maskCSRF(h.csrfSecret(c))
}

func (h *Handler) csrfSecret(c echo.Context) string {
	ctx := c.Request().Context()
	if h.currentUser(c) != nil {
		if t := h.svc.SessionManager.GetString(ctx, csrfSessionKey); t != "" {
			return t
		}
		t := randomString(32)
		h.svc.SessionManager.Put(ctx, csrfSessionKey, t)
		return t
	}
	if t, ok := c.Get(anonCSRFKey).(string); ok {
		return t
	}
	if ck, err := c.Cookie(h.anonCSRFCookie()); err == nil && len(ck.Value) == 43 {
		return ck.Value
	}
	t := randomString(32)
	c.Set(anonCSRFKey, t)
	sc := h.svc.SessionManager.Cookie
	c.SetCookie(&http.Cookie{Name: h.anonCSRFCookie(), Value: t, Path: "/", HttpOnly: true,
		Secure: sc.Secure, SameSite: sc.SameSite, Partitioned: sc.Partitioned})
	return t
}

// maskCSRF hides the secret behind a one-time pad: base64(pad ‖ pad⊕secret)
// with a fresh random pad per call. Pages are gzip-compressed and reflect
// what the user typed (the search box, filters); a secret repeated byte for
// byte in every response could be guessed a character at a time from the
// compressed sizes (BREACH). Masked, the string differs every time while
// csrfValid still recovers the same secret.
func maskCSRF(secret string) string {
	var rawBuf [2 * maxMasked]byte
	var encBuf [(2*maxMasked*8 + 5) / 6]byte
	raw := rawBuf[:]
	if n := 2 * len(secret); n > len(raw) {
		raw = make([]byte, n)
	}
	raw = raw[:2*len(secret)]
	pad, masked := raw[:len(secret)], raw[len(secret):]
	readRandom(pad)
	for i := range masked {
		masked[i] = pad[i] ^ secret[i]
	}
	return string(base64.RawURLEncoding.AppendEncode(encBuf[:0], raw))
}

// maxMasked is the longest secret maskCSRF masks without a heap buffer; the
// secrets are randomString(32), 43 characters.
const maxMasked = 64

// csrfValid reports whether got is the secret want, masked by maskCSRF, in
// constant time. The bare secret is accepted too: pages rendered before
// tokens were masked carried it, and it never appears in a response now, so
// accepting it gives BREACH nothing to read. (Drop it once no session from
// before the change can be alive: after the session lifetime.)
func csrfValid(want, got string) bool {
	if want == "" || got == "" {
		return false
	}
	if len(got) == len(want) {
		return subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
	}
	b, err := base64.RawURLEncoding.DecodeString(got)
	if err != nil || len(b) != 2*len(want) {
		return false
	}
	pad, masked := b[:len(want)], b[len(want):]
	for i := range masked {
		masked[i] ^= pad[i]
	}
	return subtle.ConstantTimeCompare([]byte(want), masked) == 1
}

// expectedCSRF is the token a state-changing request must carry: the
// session's for a signed-in user, the cookie's otherwise.
func (h *Handler) expectedCSRF(c echo.Context) string {
	if h.currentUser(c) != nil {
		return h.svc.SessionManager.GetString(c.Request().Context(), csrfSessionKey)
	}
	if ck, err := c.Cookie(h.anonCSRFCookie()); err == nil {
		return ck.Value
	}
	return ""
}

// renewCSRF gives a session that has just been signed in a token of its own,
// so no token seen before the sign-in (or planted by someone) stays valid.
func (h *Handler) renewCSRF(c echo.Context) {
	h.svc.SessionManager.Put(c.Request().Context(), csrfSessionKey, randomString(32))
}

const anonCSRFKey = "agentdesk.anoncsrf"

// anonCSRFCookie is the signed-out token's cookie: __Host- on HTTPS, like the
// session cookie.
func (h *Handler) anonCSRFCookie() string {
	if h.svc.SessionManager.Cookie.Secure {
		return "__Host-agentdesk-csrf"
	}
	return "agentdesk_csrf"
}

// randomString is n random bytes in URL-safe base64 (n <= maxRandom).
func randomString(n int) string {
	var raw [maxRandom]byte
	var enc [(maxRandom*8 + 5) / 6]byte
	if n > maxRandom {
		panic("randomString: more than maxRandom bytes")
	}
	readRandom(raw[:n])
	m := base64.RawURLEncoding.EncodedLen(n)
	base64.RawURLEncoding.Encode(enc[:m], raw[:n])
	return string(enc[:m])
}

const maxRandom = 64

// generators are ChaCha8 generators, each seeded with 32 bytes from
// crypto/rand. math/rand/v2 documents ChaCha8 as a cryptographically strong
// generator (it also erases its key as it goes, so its state does not reveal
// earlier output); reading 18 bytes from it costs about 50 ns against
// 170-330 ns for crypto/rand on this kind of machine, and every request reads
// two values (request id, nonce) and every form page a CSRF pad. The pool
// gives each processor a generator of its own, so requests do not contend;
// a generator the pool drops is replaced by a freshly seeded one.
var generators = sync.Pool{New: func() any {
	var seed [32]byte
	if _, err := rand.Read(seed[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return mrand.NewChaCha8(seed)
}}

// readRandom fills b with cryptographically strong random bytes.
func readRandom(b []byte) {
	g := generators.Get().(*mrand.ChaCha8)
	_, _ = g.Read(b) // never fails
	generators.Put(g)
}
