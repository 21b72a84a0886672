package handlers

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/agentdesk/agentdesk/audit"
	"github.com/agentdesk/agentdesk/auth"
	"github.com/agentdesk/agentdesk/handlers/hx"
)

// loadUser puts the signed-in user (if any) on the context and records foreground
// activity. Polling requests (X-Background: 1) do not extend the idle timeout.
func (h *Handler) loadUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		c.Set(sessionKey, true)
		if u, ok := h.svc.Sessions.Current(ctx, htmxOf(c).Background); ok {
			sub := subjectOf(&u.Identity)
			if !u.BreakGlass {
				// Roles follow the current policy on every request, never
				// what the session remembered from its sign-in.
				u.Roles = h.svc.Policy().Roles(sub)
			}
			c.Set(userKey, u)
			h.state(c).withUser(sub.Key)
		}
		return next(c)
	}
}

const (
	userKey = "agentdesk.user"
	// sessionKey marks requests that went through the session middleware; the
	// probes, assets and /metrics do not, and must not touch the session.
	sessionKey = "agentdesk.session"
)

func (h *Handler) currentUser(c echo.Context) *auth.User {
	u, _ := c.Get(userKey).(*auth.User)
	return u
}

// requireUser sends the signed-out to the sign-in page: htmx requests get
// HX-Redirect (a 302 would be swapped into the page as a fragment), other
// requests for pages a redirect, and anything else 401.
func (h *Handler) requireUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if h.currentUser(c) != nil {
			return next(c)
		}
		return h.signedOut(c)
	}
}

// signedOut answers a request that needs a session it does not have (never
// signed in, signed out in another tab, idle or lifetime expiry): it leads to
// the sign-in page and from there back to the page the person was on.
//   - htmx request (a poll or a button, GET or POST): 401 with HX-Redirect, so
//     the whole tab goes to the sign-in, returning to HX-Current-URL;
//   - plain GET: a redirect to the sign-in, returning to this address;
//   - plain POST (a form without JavaScript): the sign-in page itself, with
//     401, returning to the page the form was on (its Referer, same origin
//     only). The action was not carried out and must be repeated.
func (h *Handler) signedOut(c echo.Context) error {
	r := c.Request()
	if h.fromEmbed(c) {
		// A framed card never navigates to the identity provider.
		return h.embedSignedOut(c)
	}
	target := h.paths().SignIn(returnPath(r, h.set.base))
	if hxr := htmxOf(c); hxr.HTMX {
		// Return to the page the fragment belongs to, not to the fragment.
		if p, ok := h.samePagePath(hxr.CurrentURL); ok {
			target = h.paths().SignIn(p)
		}
		hx.Response{Redirect: target}.Apply(c.Response().Header())
		return c.NoContent(http.StatusUnauthorized)
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return c.Redirect(http.StatusSeeOther, target)
	}
	back, _ := h.samePagePath(refererURL(r))
	return h.renderSignIn(c, http.StatusUnauthorized, back,
		"Your session has ended, so nothing was done. Sign in again, then repeat what you were doing.")
}

// samePagePath is the path and query of a URL the browser reported (HX-Current-URL,
// Referer) below the base path, when it is a safe place to return to.
func (h *Handler) samePagePath(u *url.URL) (string, bool) {
	if u == nil {
		return "", false
	}
	p := strings.TrimPrefix(u.RequestURI(), h.set.base)
	if p == "" {
		p = "/"
	}
	safe, ok := auth.SafeReturnTo(p)
	return safe, ok && safe != ""
}

// refererURL is the request's Referer, nil when it has none or it is not a URL.
func refererURL(r *http.Request) *url.URL {
	if r.Referer() == "" {
		return nil
	}
	u, err := url.Parse(r.Referer())
	if err != nil {
		return nil
	}
	return u
}

// returnPath is the request's path and query below the base path.
func returnPath(r *http.Request, base string) string {
	p := strings.TrimPrefix(r.URL.RequestURI(), base)
	if p == "" {
		p = "/"
	}
	return p
}

// showSignIn renders the sign-in page: a button that starts the OIDC flow, or a
// 503 page while the IdP cannot be reached.
func (h *Handler) showSignIn(c echo.Context) error {
	returnTo, _ := auth.SafeReturnTo(c.QueryParam("return_to"))
	if h.currentUser(c) != nil {
		return c.Redirect(http.StatusSeeOther, h.paths().Local(returnTo))
	}
	status := http.StatusOK
	if !h.svc.SignIn.Ready() {
		status = http.StatusServiceUnavailable
	}
	return h.renderSignIn(c, status, returnTo, "")
}

// startSignIn begins an authorization-code flow. Another site can make a browser
// start one, but not finish it: the state is bound to this browser by a cookie
// of its own (one per sign-in, so sign-ins started at once in two tabs do not
// overwrite each other), and nothing is stored in a session before the
// sign-in succeeds.
func (h *Handler) startSignIn(c echo.Context) error {
	returnTo, _ := auth.SafeReturnTo(c.QueryParam("return_to"))
	now := time.Now()
	binding := strconv.FormatInt(now.Unix(), 10) + "." + randomString(32)
	u, err := h.svc.SignIn.AuthCodeURL(c.Request().Context(), h.svc.Sessions, binding, returnTo)
	if err != nil {
		if errors.Is(err, auth.ErrUnavailable) {
			return h.renderSignIn(c, http.StatusServiceUnavailable, returnTo, "")
		}
		return err
	}
	au, err := url.Parse(u)
	if err != nil {
		return err
	}
	h.dropOldTxCookies(c)
	c.SetCookie(h.txCookie(au.Query().Get("state"), binding, int(auth.TxTTL/time.Second)))
	return c.Redirect(http.StatusSeeOther, u)
}

// maxPendingSignIns bounds the sign-in cookies of one browser (tabs,
// iframes); the oldest is dropped beyond it.
const maxPendingSignIns = 8

// txCookie is the cookie binding the sign-in of state to this browser.
func (h *Handler) txCookie(state, binding string, maxAge int) *http.Cookie {
	sum := sha256.Sum256([]byte(state))
	return &http.Cookie{Name: h.txCookiePrefix() + hex.EncodeToString(sum[:8]), Value: binding, Path: "/",
		MaxAge: maxAge, HttpOnly: true, Secure: h.svc.SessionManager.Cookie.Secure, SameSite: http.SameSiteLaxMode}
}

func (h *Handler) txCookiePrefix() string {
	if h.svc.SessionManager.Cookie.Secure {
		return "__Host-agentdesk-tx-"
	}
	return "agentdesk_tx_"
}

// dropOldTxCookies expires the oldest sign-in cookies so that, with the one
// about to be set, at most maxPendingSignIns remain.
func (h *Handler) dropOldTxCookies(c echo.Context) {
	type pending struct {
		name    string
		created int64
	}
	var all []pending
	for _, ck := range c.Cookies() {
		if strings.HasPrefix(ck.Name, h.txCookiePrefix()) {
			sec, _, _ := strings.Cut(ck.Value, ".")
			n, _ := strconv.ParseInt(sec, 10, 64)
			all = append(all, pending{ck.Name, n})
		}
	}
	slices.SortFunc(all, func(a, b pending) int { return cmp.Compare(a.created, b.created) })
	for i := 0; i < len(all)-(maxPendingSignIns-1); i++ {
		c.SetCookie(&http.Cookie{Name: all[i].name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: h.svc.SessionManager.Cookie.Secure, SameSite: http.SameSiteLaxMode})
	}
}

// finishSignIn is the redirect URI. Every failure is a generic message to the
// user and a detailed log line (without the code or state).
func (h *Handler) finishSignIn(c echo.Context) error {
	r := c.Request()
	if e := c.QueryParam("error"); e != "" {
		h.logFor(c).Warn("sign-in refused by the identity provider", "error", e, "description", c.QueryParam("error_description"))
		h.recordFailure(c, audit.Entry{Kind: audit.KindSignInFailed, Result: audit.ResultDenied,
			Message: "the identity provider refused the sign-in (" + oauthErrorCode(e) + ")"})
		return h.renderSignIn(c, http.StatusUnauthorized, "/", "The sign-in was not completed. Try again.")
	}
	state := c.QueryParam("state")
	binding := ""
	if ck, err := c.Cookie(h.txCookie(state, "", 0).Name); err == nil {
		binding = ck.Value
		c.SetCookie(h.txCookie(state, "", -1)) // spent, whatever the outcome
	}
	id, returnTo, err := h.svc.SignIn.Exchange(r.Context(), h.svc.Sessions, binding, r)
	if err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, auth.ErrUnavailable) {
			status = http.StatusServiceUnavailable
		}
		h.logFor(c).Warn("sign-in failed", "err", err, "ip", c.RealIP())
		// The reason class only: the error may quote the code, state or token.
		class := "the sign-in response could not be verified"
		if errors.Is(err, auth.ErrUnavailable) {
			class = "the identity provider could not be reached"
		}
		h.recordFailure(c, audit.Entry{Kind: audit.KindSignInFailed, Result: audit.ResultFailed, Message: class})
		if status == http.StatusServiceUnavailable {
			return h.renderSignIn(c, status, "/", "The identity provider could not be reached to finish the sign-in. Start again in a minute.")
		}
		return h.renderSignIn(c, status, "/", "The sign-in could not be verified. Start again from this page.")
	}
	u := auth.User{Identity: id, SignedInAt: time.Now()}
	noGroups := false
	switch {
	case id.GroupsPresent:
		// Remembered only for a later overage sign-in, and only when asked to.
		if h.set.rememberOverage {
			if err := h.svc.Users.SaveGroups(r.Context(), id.Key(), id.Groups); err != nil {
				return err
			}
		}
	case id.GroupsOverage:
		prev, ok := []string(nil), false
		if h.set.rememberOverage {
			var err error
			if prev, ok, err = h.svc.Users.LastGroups(r.Context(), id.Key()); err != nil {
				return err
			}
		}
		if !ok {
			h.logFor(c).Warn("sign-in refused: group overage", "user", id.Key())
			_ = h.record(c, who(audit.Entry{Kind: audit.KindSignInFailed, Result: audit.ResultDenied,
				Message: "too many groups for the token (group overage)"}, &id))
			return h.renderSignIn(c, http.StatusForbidden, "/", "Your account is in too many groups for the identity provider to list them in the sign-in token. Ask your administrator to configure group filtering for AgentDesk.")
		}
		// Entra overage, explicitly configured: the groups of the last sign-in
		// that listed them. Never for a token that simply has no groups.
		h.logFor(c).Warn("group overage: using the groups remembered from the last sign-in (AGENTDESK_OIDC_REMEMBER_OVERAGE_GROUPS)", "user", id.Key())
		u.Groups = prev
	default:
		// No groups claim in the ID token nor in UserInfo: Entra ID and Okta
		// leave it out when the user is in no (matching) group, so this is
		// how a removed user signs in. Fail closed: no groups at all.
		noGroups = true
		u.Groups = nil
	}
	u.Roles = h.svc.Policy().Roles(subjectOf(&u.Identity))
	if noGroups && len(u.Roles) == 0 {
		h.logFor(c).Warn("sign-in without a groups claim and without a role", "user", id.Key())
		_ = h.record(c, who(audit.Entry{Kind: audit.KindSignInFailed, Result: audit.ResultDenied,
			Message: "the identity provider sent no groups"}, &id))
		return h.renderSignIn(c, http.StatusForbidden, "/", "Your identity provider sent no groups for your account, so AgentDesk gives you no role. If you should have access, ask your administrator to add you to an AgentDesk group.")
	}
	// A sign-in that is not on record does not happen.
	entry := who(audit.Entry{Kind: audit.KindSignIn, Result: audit.ResultPerformed, Message: rolesMessage(u.Roles)}, &u.Identity)
	if err := h.record(c, entry); err != nil {
		return fmt.Errorf("sign-in not recorded: %w", err)
	}
	if err := h.svc.Sessions.SignIn(r.Context(), u); err != nil {
		return err
	}
	h.renewCSRF(c)
	h.logFor(c).Info("signed in", "user", id.Key(), "roles", u.Roles)
	return c.Redirect(http.StatusSeeOther, h.paths().Local(returnTo))
}

// signOut ends the portal session and, when the IdP offers it, the IdP session.
func (h *Handler) signOut(c echo.Context) error {
	ctx := c.Request().Context()
	u := h.currentUser(c)
	hint := ""
	if u != nil {
		hint = u.IDToken
		h.logFor(c).Info("signed out") // the request logger names the user
		_ = h.record(c, who(audit.Entry{Kind: audit.KindSignOut, Result: audit.ResultPerformed}, &u.Identity))
	}
	if err := h.svc.Sessions.SignOut(ctx); err != nil {
		return err
	}
	if u != nil && !u.BreakGlass {
		if end, ok := h.svc.SignIn.EndSessionURL(hint); ok {
			return h.redirect(c, end)
		}
	}
	return h.redirect(c, h.paths().SignIn(""))
}

// breakGlassSignIn signs in the local administrator, for IdP outages. It is off
// unless a password file is configured.
func (h *Handler) breakGlassSignIn(c echo.Context) error {
	if !h.svc.BreakGlass.Enabled() {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	user, pass := c.Request().PostFormValue("username"), c.Request().PostFormValue("password")
	ip := c.RealIP()
	if wait := h.lim.breakGlass.wait(ip, user); wait > 0 {
		h.logFor(c).Warn("break-glass sign-in throttled", "ip", ip, "wait", wait)
		h.recordFailure(c, audit.Entry{Kind: audit.KindBreakGlass, Result: audit.ResultRefused, Message: "too many wrong attempts from this address"})
		secs := int(wait.Seconds()) + 1
		c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
		return h.renderSignIn(c, http.StatusTooManyRequests, "/", fmt.Sprintf("Too many wrong attempts. Wait %s and try again.", waitWords(secs)))
	}
	if !h.svc.BreakGlass.Check(user, pass) {
		h.lim.breakGlass.fail(ip, user)
		h.logFor(c).Warn("break-glass sign-in failed", "ip", ip)
		h.recordFailure(c, audit.Entry{Kind: audit.KindBreakGlass, Result: audit.ResultDenied, Message: "wrong user name or password"})
		return h.renderSignIn(c, http.StatusUnauthorized, "/", "Wrong user name or password.")
	}
	h.lim.breakGlass.succeed(ip, user)
	u := auth.User{
		Identity:   h.svc.BreakGlass.Identity(),
		Roles:      []string{"break-glass administrator"},
		SignedInAt: time.Now(),
		BreakGlass: true,
	}
	if err := h.record(c, who(audit.Entry{Kind: audit.KindBreakGlass, Result: audit.ResultPerformed, Message: "signed in as the break-glass administrator"}, &u.Identity)); err != nil {
		return fmt.Errorf("break-glass sign-in not recorded: %w", err)
	}
	if err := h.svc.Sessions.SignIn(c.Request().Context(), u); err != nil {
		return err
	}
	h.renewCSRF(c)
	h.logFor(c).Warn("break-glass administrator signed in", "user", user, "ip", c.RealIP())
	return c.Redirect(http.StatusSeeOther, h.paths().Jobs())
}

// redirect navigates the whole page, also for htmx requests.
func (h *Handler) redirect(c echo.Context, to string) error {
	if htmxOf(c).HTMX {
		hx.Response{Redirect: to}.Apply(c.Response().Header())
		return c.NoContent(http.StatusOK)
	}
	return c.Redirect(http.StatusSeeOther, to)
}

// oauthErrorCode keeps an OAuth error code (RFC 6749: letters and underscores)
// for the audit log; anything else the redirect carried is dropped.
func oauthErrorCode(e string) string {
	var b strings.Builder
	for _, r := range e {
		if (r >= 'a' && r <= 'z') || r == '_' {
			b.WriteRune(r)
		}
		if b.Len() >= 40 {
			break
		}
	}
	if b.Len() == 0 {
		return "no code"
	}
	return b.String()
}

// waitWords says a number of seconds in words.
func waitWords(secs int) string {
	switch {
	case secs <= 1:
		return "a second"
	case secs < 90:
		return strconv.Itoa(secs) + " seconds"
	default:
		return strconv.Itoa((secs+59)/60) + " minutes"
	}
}

func rolesMessage(roles []string) string {
	if len(roles) == 0 {
		return "no role"
	}
	return "roles: " + strings.Join(roles, ", ")
}
