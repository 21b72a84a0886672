package main

import (
	"context"
	"net/http"
	"time"

	"github.com/agentdesk/agentdesk/jobs"
)

// instrument connects the metrics to what main.go built and returns the
// /metrics handler, or nil (no route, 404) when no token is configured.
func instrument(p portal, svc *jobs.Service, b *backends) http.Handler {
	p.metrics.EMLogons(p.em.Logons)
	p.metrics.EMAccount(func() bool { _, _, refused := p.em.AccountRefused(); return refused }, p.em.LogonRefusals)
	p.metrics.CacheStats(svc.CacheStats)
	if p.shared.sessionStore == "" || p.shared.sessionStore == "sqlite" {
		p.metrics.Sessions(func() (int, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			return b.sqlSessions.Count(ctx)
		})
	}
	if p.metricsToken == "" {
		return nil
	}
	return p.metrics.Handler(p.metricsToken)
}
