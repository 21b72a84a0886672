package handlers

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/agentdesk/agentdesk/audit"
)

// limitAnonymous rate-limits the sign-in endpoints per client address for
// requests without a signed-in user, so that nobody can make the portal do
// IdP round trips, bcrypt runs or audit writes as fast as they can send.
func (h *Handler) limitAnonymous(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if h.currentUser(c) != nil {
			return next(c)
		}
		if ok, _ := h.lim.anon.allow(c.RealIP()); !ok {
			h.logFor(c).Debug("anonymous request rate-limited", "ip", c.RealIP(), "path", c.Request().URL.Path)
			c.Response().Header().Set("Retry-After", "60")
			return echo.NewHTTPError(http.StatusTooManyRequests, "Too many sign-in requests from your address. Wait a minute and try again.")
		}
		return next(c)
	}
}

// recordFailure audits a failed anonymous attempt (a sign-in callback that
// did not verify, a wrong break-glass password). A flood from one address
// costs a few rows: beyond the per-address rate the attempts are counted, and
// the next row that is written says how many were not written one by one.
func (h *Handler) recordFailure(c echo.Context, e audit.Entry) {
	ok, skipped := h.lim.auditFlood.allow(c.RealIP())
	if !ok {
		h.logFor(c).Debug("audit of a failed attempt aggregated", "ip", c.RealIP(), "kind", e.Kind)
		return
	}
	if skipped > 0 {
		e.Message += fmt.Sprintf(" (and %d earlier failed attempts from this address not recorded one by one)", skipped)
	}
	_ = h.record(c, e)
}
