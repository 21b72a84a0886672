package handlers

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// livez answers as long as the process serves HTTP; it never touches EM, the IdP
// or the store, so a slow dependency cannot get the portal restarted.
func (h *Handler) livez(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.String(http.StatusOK, "ok\n")
}

// readyz says whether this replica should get traffic: not while shutting down,
// and not when its own store is unreachable.
func (h *Handler) readyz(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	if h.stopping.Load() {
		return c.String(http.StatusServiceUnavailable, "shutting down\n")
	}
	if h.svc.Ready != nil {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		if err := h.svc.Ready(ctx); err != nil {
			h.logFor(c).Warn("not ready", "err", err)
			return c.String(http.StatusServiceUnavailable, "not ready\n")
		}
	}
	return c.String(http.StatusOK, "ready\n")
}
