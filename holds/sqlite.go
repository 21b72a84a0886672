package holds

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// SQLiteStore keeps holds in the portal's SQLite database (store.OpenSQLite).
// Times are stored as Unix microseconds.
type SQLiteStore struct{ db *sql.DB }

// NewSQLiteStore uses db, which must have been migrated.
func NewSQLiteStore(db *sql.DB) *SQLiteStore { return &SQLiteStore{db: db} }

const holdColumns = `id, job_id, job_name, disabled_by_key, disabled_by_name, disabled_at, reenable_at, state, message, updated_at`

func (s *SQLiteStore) Create(ctx context.Context, h Hold) (int64, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO schedule_holds (job_id, job_name, disabled_by_key, disabled_by_name,
		disabled_at, reenable_at, state, message, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)`,
		strings.ToLower(h.JobID), h.JobName, h.ByKey, h.ByName, h.DisabledAt.UnixMicro(), h.ReenableAt.UnixMicro(), h.Message, h.DisabledAt.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("holds: create: %w", err)
	}
	return res.LastInsertId()
}

type scanner interface{ Scan(dest ...any) error }

func scanSQLite(r scanner) (Hold, error) {
	var h Hold
	var state string
	var dis, re, up int64
	if err := r.Scan(&h.ID, &h.JobID, &h.JobName, &h.ByKey, &h.ByName, &dis, &re, &state, &h.Message, &up); err != nil {
		return Hold{}, err
	}
	h.State = State(state)
	h.DisabledAt, h.ReenableAt, h.UpdatedAt = time.UnixMicro(dis).UTC(), time.UnixMicro(re).UTC(), time.UnixMicro(up).UTC()
	return h, nil
}

func (s *SQLiteStore) Get(ctx context.Context, id int64) (Hold, error) {
	h, err := scanSQLite(s.db.QueryRowContext(ctx, `SELECT `+holdColumns+` FROM schedule_holds WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Hold{}, ErrNotFound
	}
	if err != nil {
		return Hold{}, fmt.Errorf("holds: get %d: %w", id, err)
	}
	return h, nil
}

func (s *SQLiteStore) Pending(ctx context.Context, jobID string) (Hold, bool, error) {
	h, err := scanSQLite(s.db.QueryRowContext(ctx, `SELECT `+holdColumns+` FROM schedule_holds
		WHERE job_id = ? AND state = 'pending' ORDER BY id DESC LIMIT 1`, strings.ToLower(jobID)))
	if errors.Is(err, sql.ErrNoRows) {
		return Hold{}, false, nil
	}
	if err != nil {
		return Hold{}, false, fmt.Errorf("holds: pending: %w", err)
	}
	return h, true, nil
}

func (s *SQLiteStore) Due(ctx context.Context, now time.Time, limit int) ([]Hold, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+holdColumns+` FROM schedule_holds
		WHERE state = 'pending' AND reenable_at <= ? ORDER BY reenable_at, id LIMIT ?`, now.UnixMicro(), limit)
	if err != nil {
		return nil, fmt.Errorf("holds: due: %w", err)
	}
	defer rows.Close()
	var out []Hold
	for rows.Next() {
		h, err := scanSQLite(rows)
		if err != nil {
			return nil, fmt.Errorf("holds: due: %w", err)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

func (s *SQLiteStore) Close(ctx context.Context, id int64, state State, message string, at time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE schedule_holds SET state = ?, message = ?, updated_at = ?
		WHERE id = ? AND state = 'pending'`, string(state), message, at.UnixMicro(), id)
	if err != nil {
		return false, fmt.Errorf("holds: close %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (s *SQLiteStore) CloseJob(ctx context.Context, jobID string, except int64, state State, message string, at time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE schedule_holds SET state = ?, message = ?, updated_at = ?
		WHERE job_id = ? AND state = 'pending' AND id <> ?`, string(state), message, at.UnixMicro(), strings.ToLower(jobID), except)
	if err != nil {
		return 0, fmt.Errorf("holds: close holds of %s: %w", jobID, err)
	}
	return res.RowsAffected()
}

func (s *SQLiteStore) Note(ctx context.Context, id int64, message string, at time.Time) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE schedule_holds SET message = ?, updated_at = ?
		WHERE id = ? AND state = 'pending'`, message, at.UnixMicro(), id); err != nil {
		return fmt.Errorf("holds: note %d: %w", id, err)
	}
	return nil
}
