package handlers

import (
	"context"
	"log/slog"

	"github.com/labstack/echo/v4"
)

// loggerKey holds a request's logger in its context: the handlers' logger
// with the request id and, once the session names one, the user, so every
// line a request logs can be found from the id on its error page.
type loggerKey struct{}

// withLogger returns ctx carrying log as its request logger.
func withLogger(ctx context.Context, log *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, log)
}

// logCtx is the request logger of ctx, or the handlers' logger outside a
// request (probes, assets and /metrics get no request id).
func (h *Handler) logCtx(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return h.log
}

// logFor is the request logger of c.
func (h *Handler) logFor(c echo.Context) *slog.Logger { return h.logCtx(c.Request().Context()) }
