package main

import (
	"context"
	"database/sql"
	"net/http"
	"time"

	"github.com/agentdesk/agentdesk/jobs"
)

// instrument connects the metrics to what main.go built and returns the
// /metrics handler, or nil (no route, 404) when no token is configured.
func instrument(p portal, svc *jobs.Service, db *sql.DB) http.Handler {
	p.metrics.EMLogons(p.em.Logons)
	p.metrics.EMAccount(func() bool { _, _, refused := p.em.AccountRefused(); return refused }, p.em.LogonRefusals)
	p.metrics.CacheStats(svc.CacheStats)
	if p.shared.sessionStore == "" || p.shared.sessionStore == "sqlite" {
		p.metrics.Sessions(func() (int, error) { return countSQLiteSessions(db) })
	}
	if p.metricsToken == "" {
		return nil
	}
	return p.metrics.Handler(p.metricsToken)
}

// countSQLiteSessions counts the unexpired rows of scs's sqlite3store table.
func countSQLiteSessions(db *sql.DB) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var n int
	err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sessions WHERE julianday('now') < expiry`).Scan(&n)
	return n, err
}
