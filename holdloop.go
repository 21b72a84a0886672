package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/agentdesk/agentdesk/holds"
	"github.com/agentdesk/agentdesk/jobs"
)

// startHolds opens the time-boxed disables where every replica finds them (in
// PostgreSQL when one is configured, else in this replica's SQLite) and runs
// the loop that ends them until ctx ends. The loop locks with the job locker
// the replicas share, so one replica ends each hold.
func startHolds(ctx context.Context, p portal, b *backends, svc *jobs.Service, log *slog.Logger) (*holds.Service, error) {
	st, err := holds.NewSQLStore(ctx, b.db())
	if err != nil {
		return nil, err
	}
	// A hold's lock is held while its enable runs and is not renewed: it keeps
	// the longer TTL job locks had before they got a heartbeat.
	hs := holds.New(st, svc, holds.Options{Interval: p.holdInterval, Locker: b.locker(), LockTTL: max(p.shared.lockTTL, 10*time.Minute), Logger: log})
	go hs.Run(ctx)
	return hs, nil
}
