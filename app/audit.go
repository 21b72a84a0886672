package app

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
// configured, else the replica's SQLite database (backends.db). close closes
// the JSON lines sink.
func openAudit(ctx context.Context, c config.Audit, db *store.DB, log *slog.Logger) (_ *audit.Log, close func(), _ error) {
	st, err := audit.NewSQLStore(ctx, db)
	if err != nil {
		return nil, nil, err
	}
	close = func() {}
	var sink io.Writer
	if c.JSONL != "" {
		w, err := audit.OpenSink(c.JSONL)
		if err != nil {
			return nil, nil, &config.Error{Var: "AGENTDESK_AUDIT_JSONL", Msg: err.Error()}
		}
		sink = w
		close = func() { w.Close() }
	}
	return audit.New(st, audit.Options{Sink: sink, Logger: log}), close, nil
}

// startAudit settles, in the background, the actions a previous run left
// pending (start-up does not wait for EM), and purges old entries daily.
func (a *App) startAudit(ctx context.Context, log *slog.Logger) {
	started := time.Now()
	a.goLoop(func() {
		// EM may still be starting too: a few tries.
		for try := 0; try < 5; try++ {
			_, err := a.Audit.Reconcile(ctx, a.EM, started)
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
	})
	if r := a.cfg.Audit.Retention; r > 0 {
		a.goLoop(func() { a.Audit.PurgeLoop(ctx, r, 24*time.Hour) })
	}
}
