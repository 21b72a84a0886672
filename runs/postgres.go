package runs

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Postgres keeps run states in the job_runs table (created by the PostgreSQL
// migrations in package store), one row per job.
type Postgres struct{ pool *pgxpool.Pool }

// NewPostgres returns a store on pool.
func NewPostgres(pool *pgxpool.Pool) *Postgres { return &Postgres{pool: pool} }

// Put replaces the job's run state.
func (p *Postgres) Put(ctx context.Context, jobID string, state []byte, at time.Time) error {
	_, err := p.pool.Exec(ctx, `INSERT INTO job_runs (job_id, state, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (job_id) DO UPDATE SET state = EXCLUDED.state, updated_at = EXCLUDED.updated_at`,
		jobID, state, at.UTC())
	if err != nil {
		return fmt.Errorf("runs: postgres: %w", err)
	}
	return nil
}

// Recent returns the run states written since since.
func (p *Postgres) Recent(ctx context.Context, since time.Time) ([]Entry, error) {
	rows, err := p.pool.Query(ctx, `SELECT job_id, state, updated_at FROM job_runs WHERE updated_at >= $1`, since.UTC())
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
