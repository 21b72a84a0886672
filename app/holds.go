package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/agentdesk/agentdesk/holds"
)

// startHolds opens the time-boxed disables where every replica finds them (in
// PostgreSQL when one is configured, else in this replica's SQLite) and runs
// the loop that ends them until Close. The loop locks with the job locker
// the replicas share, so one replica ends each hold.
func (a *App) startHolds(ctx context.Context, b *backends, opts Options, log *slog.Logger) (*holds.Service, error) {
	st, err := holds.NewSQLStore(ctx, b.db())
	if err != nil {
		return nil, err
	}
	// A hold's lock is held while its enable runs and is not renewed: it keeps
	// the longer TTL job locks had before they got a heartbeat.
	hs := holds.New(st, a.Jobs, holds.Options{Interval: a.cfg.SelfService.HoldInterval, Locker: b.locker(),
		LockTTL: max(a.cfg.Stores.LockTTL, 10*time.Minute), Logger: log, Now: opts.HoldsNow})
	if !opts.ManualHolds {
		a.goLoop(func() { hs.Run(ctx) })
	}
	return hs, nil
}
