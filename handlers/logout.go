package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/agentdesk/agentdesk/audit"
	"github.com/agentdesk/agentdesk/auth"
)

// backChannelLogoutPath receives OpenID Connect Back-Channel Logout 1.0
// logout tokens from the identity provider (register it as the client's
// backchannel_logout_uri).
const backChannelLogoutPath = "/auth/backchannel-logout"

// backChannelLogout ends the sessions a logout token names. The IdP calls it
// directly, without cookies: it sits outside the session and CSRF stack; the
// signed token is the authentication.
func (h *Handler) backChannelLogout(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	if ok, _ := h.lim.anon.allow(c.RealIP()); !ok {
		return c.JSON(http.StatusTooManyRequests, map[string]string{"error": "temporarily_unavailable"})
	}
	r := c.Request()
	rc := http.NewResponseController(c.Response())
	_ = rc.SetReadDeadline(time.Now().Add(h.set.bodyTimeout))
	r.Body = http.MaxBytesReader(c.Response(), r.Body, h.set.maxBody)
	err := r.ParseForm()
	_ = rc.SetReadDeadline(time.Time{})
	if err != nil {
		return c.JSON(http.StatusBadRequest, map[string]string{"error": "invalid_request"})
	}
	lr, err := h.svc.SignIn.VerifyLogoutToken(r.Context(), h.svc.Sessions, r.PostFormValue("logout_token"))
	if err != nil {
		h.logFor(c).Warn("back-channel logout refused", "err", err, "ip", c.RealIP())
		if errors.Is(err, auth.ErrUnavailable) {
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable"})
		}
		return c.JSON(http.StatusBadRequest, map[string]string{"error": "invalid_request"})
	}
	n, err := h.svc.Sessions.EndLogout(r.Context(), lr)
	if err != nil {
		h.logFor(c).Error("back-channel logout failed", "err", err)
		return c.JSON(http.StatusNotImplemented, map[string]string{"error": "logout_failed"})
	}
	key := lr.Issuer + "|" + lr.Subject
	h.logFor(c).Info("signed out by the identity provider", "user", key, "idp_session", lr.SID != "", "sessions", n)
	_ = h.record(c, audit.Entry{Kind: audit.KindSignOut, Result: audit.ResultPerformed, UserKey: key,
		Message: fmt.Sprintf("signed out by the identity provider (back-channel logout): %d sessions ended", n)})
	return c.NoContent(http.StatusOK)
}

// mayEndSessions: administrators, who see the status page and read the audit
// log.
func (h *Handler) mayEndSessions(c echo.Context) bool {
	return h.mayViewStatus(c) && h.mayAudit(c)
}

// endUserSessions is POST /status/sessions: an administrator signs one person
// out everywhere (a lost laptop, someone who left), by the user key the
// audit log shows.
func (h *Handler) endUserSessions(c echo.Context) error {
	if !h.mayEndSessions(c) {
		return echo.NewHTTPError(http.StatusForbidden)
	}
	key := strings.TrimSpace(c.Request().PostFormValue("user_key"))
	if key == "" || !strings.Contains(key, "|") || len(key) > 512 {
		return h.renderStatus(c, http.StatusBadRequest, "Give the user key as the audit log shows it: issuer|subject.")
	}
	n, err := h.svc.Sessions.EndUser(c.Request().Context(), key)
	if err != nil {
		return fmt.Errorf("end sessions of %s: %w", key, err)
	}
	admin := h.currentUser(c)
	h.logFor(c).Warn("administrator ended every session of a user", "target_user", key, "by", admin.Key(), "sessions", n)
	_ = h.record(c, who(audit.Entry{Kind: audit.KindSignOut, Result: audit.ResultPerformed,
		Message: fmt.Sprintf("ended every session of %s: %d sessions", key, n)}, &admin.Identity))
	return h.renderStatus(c, http.StatusOK, fmt.Sprintf("Ended %d sessions of %s. Their next request asks them to sign in again.", n, key))
}
