package app

import (
	"context"
	"net/http"
	"time"
)

// instrument connects the metrics to what Build built and returns the
// /metrics handler, or nil (no route, 404) when no token is configured.
func (a *App) instrument(b *backends) http.Handler {
	m, em := a.Metrics, a.EM
	m.EMLogons(em.Logons)
	m.EMAccount(func() bool { _, _, refused := em.AccountRefused(); return refused }, em.LogonRefusals)
	m.CacheStats(a.Jobs.CacheStats)
	if s := a.cfg.Stores.Session; s == "" || s == "sqlite" {
		m.Sessions(func() (int, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			return b.sqlSessions.Count(ctx)
		})
	}
	if a.cfg.Operations.MetricsToken == "" {
		return nil
	}
	return m.Handler(a.cfg.Operations.MetricsToken)
}
