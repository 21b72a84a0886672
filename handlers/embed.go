package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/agentdesk/agentdesk/audit"
	"github.com/agentdesk/agentdesk/auth"
	"github.com/agentdesk/agentdesk/handlers/hx"
	"github.com/agentdesk/agentdesk/jobs"
	"github.com/agentdesk/agentdesk/views"
)

// Embed mode: /embed/ pages are made for iframes on intranet pages. Only they
// may be framed, and only by the configured parent origins; every other page
// keeps frame-ancestors 'none' and X-Frame-Options DENY, so a framed card can
// never be turned into a framed portal (clickjacking).

// embedMineMax is how many jobs the "My backups" card lists.
const embedMineMax = 10

// embedDone is where the sign-in popup of a framed card returns to.
const embedDone = "/embed/done"

func (h *Handler) isEmbedPath(path string) bool {
	return strings.HasPrefix(path, h.paths().EmbedPrefix())
}

// fromEmbed reports a request made by an embedded card: an /embed/ page, or an
// htmx request (action, poll, card refresh) from a page whose address is under
// /embed/. HX-Current-URL is set by htmx from the frame's own location. A user
// can forge it for their own requests, and all it changes is the
// presentation of the card and the informational "embedded" mark in the
// audit; it never grants anything, and another site cannot make a browser
// send it (custom headers need CORS, and CSRF protection refuses cross-site
// posts anyway). A hidden form field would be no harder to forge and would
// not cover polling and card refreshes.
func (h *Handler) fromEmbed(c echo.Context) bool {
	r := c.Request()
	if h.isEmbedPath(r.URL.Path) {
		return true
	}
	hxr := htmxOf(c)
	return hxr.HTMX && h.isEmbedPath(hxr.CurrentPath())
}

// frameAncestors is the CSP frame-ancestors source list of /embed/ pages.
func frameAncestors(origins []string) string {
	if len(origins) == 0 {
		return "'self'"
	}
	return strings.Join(origins, " ")
}

// embedLayout is the layout of an /embed/ page: no navigation, the parent
// origins for the height messages and a link that opens openURL in a new tab.
func (h *Handler) embedLayout(c echo.Context, title, openURL string) views.Layout {
	l := h.layout(c, title)
	l.Nav = nil
	l.DemoBanner = false
	l.Embed = &views.EmbedFrame{ParentOrigins: slices.Clone(h.set.embedOrigins), OpenURL: openURL}
	return l
}

// requireEmbedUser is requireUser for /embed/ pages: the signed-out get the
// sign-in card in the frame (200), never a redirect to the identity
// provider, which refuses to be framed.
func (h *Handler) requireEmbedUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if h.currentUser(c) != nil {
			return next(c)
		}
		return h.embedSignedOut(c)
	}
}

// embedSignedOut answers a signed-out request of an embedded card. htmx
// requests (a poll, an action after the session ended) get the card fragment
// swapped into #embed-root instead of HX-Redirect, so the frame stays put.
func (h *Handler) embedSignedOut(c echo.Context) error {
	r := c.Request()
	topReturn := returnPath(r, h.set.base)
	if cur := htmxOf(c).CurrentURL; cur != nil && h.isEmbedPath(cur.Path) {
		topReturn = strings.TrimPrefix(cur.RequestURI(), h.set.base)
	}
	if !h.isEmbedPath(h.paths().Local(topReturn)) || topReturn == embedDone {
		topReturn = "/"
	}
	m := views.EmbedSignIn{
		PopupURL:    h.paths().Login(embedDone),
		TopURL:      h.paths().Login(topReturn),
		Unavailable: !h.svc.SignIn.Ready(),
	}
	if htmxOf(c).HTMX {
		hx.Response{Retarget: "#embed-root", Reswap: hx.SwapInnerHTML}.Apply(c.Response().Header())
		return h.write(c, http.StatusUnauthorized, views.EmbedSignInCard(m))
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return echo.NewHTTPError(http.StatusUnauthorized, "Your session has ended. Sign in again.")
	}
	return h.write(c, http.StatusOK, views.EmbedSignInPage(h.embedLayout(c, "Sign in", ""), m))
}

// embedDetail adapts the job page's model to the embedded card: compact (no
// reasons), and its own links stay inside the frame.
func (h *Handler) embedDetail(m *views.JobDetail) {
	m.URL = h.paths().EmbedJob(m.ID)
	m.JobsURL = ""
	m.Why = nil
}

// showEmbedJob is /embed/jobs/{id}: the job's card for an iframe, with the
// same policy checks, actions and live status as the job page.
func (h *Handler) showEmbedJob(c echo.Context) error {
	l, err := h.liveJob(c)
	if err != nil {
		return err
	}
	j := l.Job
	m, err := h.jobDetail(c, l)
	if err != nil {
		return err
	}
	h.embedDetail(&m)
	// As on the job page, ?action=start opens that confirmation and never
	// runs anything by itself.
	if q := c.QueryParam("action"); q != "" {
		m.Confirm, m.LinkNote = h.deepLink(c, j, m.Actions, q)
	}
	return h.write(c, http.StatusOK, views.EmbedJobPage(h.embedLayout(c, j.Name, h.paths().Job(j.ID)), m))
}

// showEmbedMine is /embed/my-backups: the jobs the user may see that protect
// one of their own computers (the policy's self-service claims).
func (h *Handler) showEmbedMine(c echo.Context) error {
	snap, err := h.svc.Jobs.List(c.Request().Context())
	if err != nil {
		return err
	}
	g := h.grant(c)
	var mine []*jobs.Job
	for _, j := range snap.Jobs {
		if jobs.Visible(g, j) && g.Owns(j.PolicyJob()) {
			mine = append(mine, j)
		}
	}
	slices.SortFunc(mine, func(a, b *jobs.Job) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	m := views.EmbedMine{AllURL: h.paths().Home()}
	if len(mine) > embedMineMax {
		m.More = len(mine) - embedMineMax
		mine = mine[:embedMineMax]
	}
	runs := h.svc.Jobs.RunStates(c.Request().Context())
	for _, j := range mine {
		r := h.jobRow(g, h.liveRow(c.Request().Context(), snap.AsOf, j, runs))
		r.URL = h.paths().EmbedJob(j.ID)
		r.Actions = nil
		m.Rows = append(m.Rows, r)
		// Live like every other view of these jobs: the list refreshes itself
		// while one of them runs or has an action in progress.
		if r.Poll != "" && (m.Poll == "" || r.Poll == pollAwaiting) {
			m.Poll = r.Poll
		}
	}
	if m.Poll != "" {
		m.SelfURL = h.paths().EmbedMine()
	}
	return h.write(c, http.StatusOK, views.EmbedMinePage(h.embedLayout(c, "My backups", h.paths().Home()), m))
}

// showEmbedDone ends the sign-in popup of a framed card. It carries a
// one-time hand-off code that app.js posts to the card (its opener, and
// only if that is still the portal's origin), which redeems it at
// /embed/handoff: with a cross-site parent the card's cookies are
// partitioned and the popup's sign-in does not reach it otherwise. Minting
// for every signed-in visit is harmless: the code is only in this no-store
// page, which another site cannot read, and lives a minute.
func (h *Handler) showEmbedDone(c echo.Context) error {
	u := h.currentUser(c)
	code := ""
	// Break-glass is for the portal itself during an IdP outage, not for
	// cards on other sites.
	if u != nil && !u.BreakGlass {
		var err error
		code, err = h.svc.Sessions.MintHandoff(c.Request().Context(), *u)
		if err != nil {
			// The card can still reload: enough when it shares the popup's cookies.
			h.logFor(c).Error("embedded sign-in hand-off not minted", "err", err)
			code = ""
		}
	}
	return h.write(c, http.StatusOK, views.EmbedDonePage(h.embedLayout(c, "Signed in", ""), u != nil, code))
}

// redeemHandoff is POST /embed/handoff: a framed card signs itself in with
// the code its sign-in popup posted to it. The user is whoever signed in in
// the popup; the card chooses nothing but the code. CSRF protection applies
// as to every POST (a signed-out card has a token in a cookie).
func (h *Handler) redeemHandoff(c echo.Context) error {
	r := c.Request()
	ip := c.RealIP()
	if h.lim.handoff.blocked(ip) {
		h.logFor(c).Warn("embedded sign-in hand-off throttled", "ip", ip)
		return echo.NewHTTPError(http.StatusTooManyRequests, "Too many failed sign-ins from this address. Wait a minute, then sign in again.")
	}
	// The body only: a code must never travel in a URL.
	u, err := h.svc.Sessions.RedeemHandoff(r.Context(), r.PostFormValue("code"))
	if err != nil {
		if !errors.Is(err, auth.ErrHandoffInvalid) {
			return err
		}
		h.lim.handoff.fail(ip)
		h.logFor(c).Warn("embedded sign-in hand-off refused", "ip", ip) // never the code
		h.recordFailure(c, audit.Entry{Kind: audit.KindSignInFailed, Result: audit.ResultDenied, Embedded: true,
			Message: "embedded card: the sign-in hand-off was unknown, expired or already used"})
		return echo.NewHTTPError(http.StatusBadRequest, "The sign-in could not be passed to this card: it expired or was already used. Sign in again.")
	}
	if cur := h.currentUser(c); cur != nil && cur.Key() == u.Key() {
		// The card shares the popup's cookies (a same-site parent) and is
		// signed in already; renewing the token would only race the other
		// requests of that shared session.
		return c.NoContent(http.StatusNoContent)
	}
	entry := who(audit.Entry{Kind: audit.KindSignIn, Result: audit.ResultPerformed, Embedded: true,
		Message: "embedded card, through the sign-in window; " + rolesMessage(u.Roles)}, &u.Identity)
	if err := h.record(c, entry); err != nil {
		return fmt.Errorf("sign-in not recorded: %w", err)
	}
	if err := h.svc.Sessions.SignIn(r.Context(), u); err != nil {
		return err
	}
	h.renewCSRF(c)
	h.logFor(c).Info("signed in (embedded card)", "user", u.Key(), "roles", u.Roles)
	return c.NoContent(http.StatusNoContent)
}

// signInStep reports the portal's own steps of the sign-in flow, which the
// sign-in popup of a framed card passes through.
func (h *Handler) signInStep(path string) bool {
	return path == h.paths().Login("") || path == h.paths().Callback()
}
