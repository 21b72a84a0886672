package holds

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgresStore keeps holds in PostgreSQL (store.OpenPostgres), shared by
// every replica.
type PostgresStore struct{ pool *pgxpool.Pool }

// NewPostgresStore uses pool, whose database must have been migrated.
func NewPostgresStore(pool *pgxpool.Pool) *PostgresStore { return &PostgresStore{pool: pool} }

func (s *PostgresStore) Create(ctx context.Context, h Hold) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO schedule_holds (job_id, job_name, disabled_by_key, disabled_by_name,
		disabled_at, reenable_at, state, message, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $5) RETURNING id`,
		strings.ToLower(h.JobID), h.JobName, h.ByKey, h.ByName, h.DisabledAt.UTC(), h.ReenableAt.UTC(), h.Message).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("holds: create: %w", err)
	}
	return id, nil
}

func scanPostgres(r scanner) (Hold, error) {
	var h Hold
	var state string
	if err := r.Scan(&h.ID, &h.JobID, &h.JobName, &h.ByKey, &h.ByName, &h.DisabledAt, &h.ReenableAt, &state, &h.Message, &h.UpdatedAt); err != nil {
		return Hold{}, err
	}
	h.State = State(state)
	h.DisabledAt, h.ReenableAt, h.UpdatedAt = h.DisabledAt.UTC(), h.ReenableAt.UTC(), h.UpdatedAt.UTC()
	return h, nil
}

func (s *PostgresStore) Get(ctx context.Context, id int64) (Hold, error) {
	h, err := scanPostgres(s.pool.QueryRow(ctx, `SELECT `+holdColumns+` FROM schedule_holds WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Hold{}, ErrNotFound
	}
	if err != nil {
		return Hold{}, fmt.Errorf("holds: get %d: %w", id, err)
	}
	return h, nil
}

func (s *PostgresStore) Pending(ctx context.Context, jobID string) (Hold, bool, error) {
	h, err := scanPostgres(s.pool.QueryRow(ctx, `SELECT `+holdColumns+` FROM schedule_holds
		WHERE job_id = $1 AND state = 'pending' ORDER BY id DESC LIMIT 1`, strings.ToLower(jobID)))
	if errors.Is(err, pgx.ErrNoRows) {
		return Hold{}, false, nil
	}
	if err != nil {
		return Hold{}, false, fmt.Errorf("holds: pending: %w", err)
	}
	return h, true, nil
}

func (s *PostgresStore) Due(ctx context.Context, now time.Time, limit int) ([]Hold, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+holdColumns+` FROM schedule_holds
		WHERE state = 'pending' AND reenable_at <= $1 ORDER BY reenable_at, id LIMIT $2`, now.UTC(), limit)
	if err != nil {
		return nil, fmt.Errorf("holds: due: %w", err)
	}
	defer rows.Close()
	var out []Hold
	for rows.Next() {
		h, err := scanPostgres(rows)
		if err != nil {
			return nil, fmt.Errorf("holds: due: %w", err)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

func (s *PostgresStore) Close(ctx context.Context, id int64, state State, message string, at time.Time) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE schedule_holds SET state = $1, message = $2, updated_at = $3
		WHERE id = $4 AND state = 'pending'`, string(state), message, at.UTC(), id)
	if err != nil {
		return false, fmt.Errorf("holds: close %d: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

func (s *PostgresStore) CloseJob(ctx context.Context, jobID string, except int64, state State, message string, at time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE schedule_holds SET state = $1, message = $2, updated_at = $3
		WHERE job_id = $4 AND state = 'pending' AND id <> $5`, string(state), message, at.UTC(), strings.ToLower(jobID), except)
	if err != nil {
		return 0, fmt.Errorf("holds: close holds of %s: %w", jobID, err)
	}
	return tag.RowsAffected(), nil
}

func (s *PostgresStore) Note(ctx context.Context, id int64, message string, at time.Time) error {
	if _, err := s.pool.Exec(ctx, `UPDATE schedule_holds SET message = $1, updated_at = $2
		WHERE id = $3 AND state = 'pending'`, message, at.UTC(), id); err != nil {
		return fmt.Errorf("holds: note %d: %w", id, err)
	}
	return nil
}
