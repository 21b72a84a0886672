package main

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/agentdesk/agentdesk/audit"
	"github.com/agentdesk/agentdesk/config"
	"github.com/agentdesk/agentdesk/store"
)

// openAudit opens the audit log in db: PostgreSQL when a database URL is
// configured, else the replica's SQLite database (backends.db).
func openAudit(ctx context.Context, p portal, db *store.DB, log *slog.Logger) (*audit.Log, func(), error) {
	var closers []func()
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	st, err := audit.NewSQLStore(ctx, db)
	if err != nil {
		return nil, nil, err
	}
	var sink io.Writer
	if p.auditJSONL != "" {
		w, err := audit.OpenSink(p.auditJSONL)
		if err != nil {
			closeAll()
			return nil, nil, &config.Error{Var: "AGENTDESK_AUDIT_JSONL", Msg: err.Error()}
		}
		sink = w
		closers = append(closers, func() { w.Close() })
	}
	return audit.New(st, audit.Options{Sink: sink, Logger: log}), closeAll, nil
}

// startAudit settles, in the background, the actions a previous run left
// pending (start-up does not wait for EM), and purges old entries daily.
func startAudit(ctx context.Context, al *audit.Log, p portal, log *slog.Logger) {
	started := time.Now()
	go func() {
		// EM may still be starting too: a few tries.
		for try := 0; try < 5; try++ {
			_, err := al.Reconcile(ctx, p.em, started)
			if err == nil || ctx.Err() != nil {
				return
			}
			log.Warn("audit reconcile failed; retrying", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Duration(try+1) * 30 * time.Second):
			}
		}
	}()
	if p.auditRetention > 0 {
		go al.PurgeLoop(ctx, p.auditRetention, 24*time.Hour)
	}
}
