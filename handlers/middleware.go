package handlers

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/agentdesk/agentdesk/handlers/hx"
)

type ctxKey int

const (
	nonceKey ctxKey = iota
	requestIDKey
)

// requestID gives every request an id that appears in its log lines and in error
// pages, so a helpdesk ticket can quote it; the request logger carries it.
func (h *Handler) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := randomString(9)
		c.Response().Header().Set("X-Request-Id", id)
		r := c.Request()
		ctx := context.WithValue(r.Context(), requestIDKey, id)
		c.SetRequest(r.WithContext(withLogger(ctx, h.log.With("request_id", id))))
		return next(c)
	}
}

func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
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
		attrs := []any{
			"method", r.Method,
			"path", r.URL.Path,
			"route", c.Path(),
			"status", c.Response().Status,
			"bytes", c.Response().Size,
			"duration_ms", float64(time.Since(start).Microseconds()) / 1000,
			"request_id", requestIDFrom(r.Context()),
			"ip", c.RealIP(),
		}
		if u := h.currentUser(c); u != nil {
			attrs = append(attrs, "user", u.Key())
		}
		if htmxOf(c).HTMX {
			attrs = append(attrs, "htmx", true)
		}
		h.log.LogAttrs(r.Context(), slog.LevelInfo, "request", argsToAttrs(attrs)...)
		return nil
	}
}

func argsToAttrs(args []any) []slog.Attr {
	out := make([]slog.Attr, 0, len(args)/2)
	for i := 0; i+1 < len(args); i += 2 {
		out = append(out, slog.Any(args[i].(string), args[i+1]))
	}
	return out
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
// headers. Pages with user data are never cached.
func (h *Handler) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		nonce := randomString(18)
		r := c.Request()
		c.SetRequest(r.WithContext(context.WithValue(r.Context(), nonceKey, nonce)))
		hd := c.Response().Header()
		formAction := "'self'"
		if h.set.idpOrigin != "" {
			// Sign-out posts a form that redirects to the IdP's end-session page;
			// browsers apply form-action to that redirect.
			formAction += " " + h.set.idpOrigin
		}
		// Only /embed/ pages may be framed, by the configured parent origins;
		// X-Frame-Options cannot express an allowlist and would contradict it.
		ancestors := "'none'"
		embed := h.isEmbedPath(r.URL.Path)
		if embed {
			ancestors = h.set.embedAncestors
		}
		hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self' 'nonce-"+nonce+"'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action "+formAction+"; frame-ancestors "+ancestors+"; base-uri 'none'; report-uri "+h.paths().CSPReport()+"; report-to csp")
		hd.Set("Reporting-Endpoints", `csp="`+h.paths().CSPReport()+`"`)
		hd.Set("X-Content-Type-Options", "nosniff")
		// No page needs to tell another where the user came from; the
		// callback's URL carries the authorization code.
		hd.Set("Referrer-Policy", "no-referrer")
		if !embed {
			hd.Set("X-Frame-Options", "DENY")
		}
		// The sign-in popup of a framed card must keep its opener to tell the
		// card it is done; COOP same-origin would cut it (the opener's top
		// page is the intranet). These answers are redirects or the tiny
		// /embed/ pages, which have no window worth isolating.
		if !embed && !h.signInStep(r.URL.Path) {
			hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		}
		hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		if h.set.secure {
			hd.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		if !strings.HasPrefix(r.URL.Path, h.paths().StaticPrefix()) {
			hd.Set("Cache-Control", "no-store")
		}
		hx.Vary(hd)
		return next(c)
	}
}

func nonceFrom(ctx context.Context) string {
	n, _ := ctx.Value(nonceKey).(string)
	return n
}

// csrfHeader and csrfField carry the session-bound token: htmx sends the header
// (hx-headers on <body>), plain forms send the field.
const (
	csrfHeader     = "X-CSRF-Token"
	csrfField      = "csrf"
	csrfSessionKey = "csrf"
)

var errCSRF = errors.New("cross-site request refused")

// csrf protects every state-changing request twice: the browser's Fetch Metadata
// and Origin headers must say same-origin (Go's CrossOriginProtection), and the
// request must carry the token bound to the session.
func (h *Handler) csrf(next echo.HandlerFunc) echo.HandlerFunc {
	cop := http.NewCrossOriginProtection()
	return func(c echo.Context) error {
		r := c.Request()
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next(c)
		}
		if err := cop.Check(r); err != nil {
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
	b := make([]byte, 2*len(secret))
	pad, masked := b[:len(secret)], b[len(secret):]
	if _, err := rand.Read(pad); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	for i := range masked {
		masked[i] = pad[i] ^ secret[i]
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

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

func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
