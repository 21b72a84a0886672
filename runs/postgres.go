package runs

import (
	"context"
	"embed"
	"fmt"
	"time"

	"github.com/agentdesk/agentdesk/store"
)

//go:embed migrations
var migrations embed.FS

// Tables is the schema of the job_runs table (PostgreSQL only).
var Tables = store.Schema{Name: "runs", FS: migrations}

// Postgres keeps run states in the job_runs table, one row per job.
type Postgres struct{ db *store.DB }

// NewPostgres migrates the job_runs table in db, which must be PostgreSQL,
// and returns a store on it.
func NewPostgres(ctx context.Context, db *store.DB) (*Postgres, error) {
	if db.Dialect() != store.Postgres {
		return nil, fmt.Errorf("runs: shared run states need PostgreSQL, not %s", db.Dialect())
	}
	if err := db.Migrate(ctx, Tables); err != nil {
		return nil, fmt.Errorf("runs: %w", err)
	}
	return &Postgres{db: db}, nil
}

// Put replaces the job's run state.
func (p *Postgres) Put(ctx context.Context, jobID string, state []byte, at time.Time) error {
	_, err := p.db.ExecContext(ctx, `INSERT INTO job_runs (job_id, state, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (job_id) DO UPDATE SET state = EXCLUDED.state, updated_at = EXCLUDED.updated_at`,
		jobID, state, at.UTC())
	if err != nil {
		return fmt.Errorf("runs: postgres: %w", err)
	}
	return nil
}

// Recent returns the run states written since since.
func (p *Postgres) Recent(ctx context.Context, since time.Time) ([]Entry, error) {
	rows, err := p.db.QueryContext(ctx, `SELECT job_id, state, updated_at FROM job_runs WHERE updated_at >= ?`, since.UTC())
	if err != nil {
		return nil, fmt.Errorf("runs: postgres: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		if err := rows.Scan(&e.JobID, &e.State, &e.At); err != nil {
			return nil, fmt.Errorf("runs: postgres: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("runs: postgres: %w", err)
	}
	return out, nil
}
