package holds

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/agentdesk/agentdesk/store"
)

//go:embed migrations
var migrations embed.FS

// Tables is the schema of the schedule_holds table.
var Tables = store.Schema{Name: "holds", FS: migrations}

// SQLStore keeps holds in the portal's database: SQLite for one replica,
// PostgreSQL when replicas share the work.
type SQLStore struct{ db *store.DB }

// NewSQLStore migrates the schedule_holds table in db and returns the holds
// on it.
func NewSQLStore(ctx context.Context, db *store.DB) (*SQLStore, error) {
	if err := db.Migrate(ctx, Tables); err != nil {
		return nil, fmt.Errorf("holds: %w", err)
	}
	return &SQLStore{db: db}, nil
}

const holdColumns = `id, job_id, job_name, disabled_by_key, disabled_by_name, disabled_at, reenable_at, state, message, updated_at`

func (s *SQLStore) Create(ctx context.Context, h Hold) (int64, error) {
	var id int64
	err := s.db.QueryRowContext(ctx, `INSERT INTO schedule_holds (job_id, job_name, disabled_by_key, disabled_by_name,
		disabled_at, reenable_at, state, message, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?) RETURNING id`,
		strings.ToLower(h.JobID), h.JobName, h.ByKey, h.ByName, s.db.Time(h.DisabledAt), s.db.Time(h.ReenableAt), h.Message,
		s.db.Time(h.DisabledAt)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("holds: create: %w", err)
	}
	return id, nil
}

type scanner interface{ Scan(dest ...any) error }

func scan(r scanner) (Hold, error) {
	var h Hold
	var state string
	var dis, re, up store.NullTime
	if err := r.Scan(&h.ID, &h.JobID, &h.JobName, &h.ByKey, &h.ByName, &dis, &re, &state, &h.Message, &up); err != nil {
		return Hold{}, err
	}
	h.State = State(state)
	h.DisabledAt, h.ReenableAt, h.UpdatedAt = dis.Time, re.Time, up.Time
	return h, nil
}

func (s *SQLStore) Get(ctx context.Context, id int64) (Hold, error) {
	h, err := scan(s.db.QueryRowContext(ctx, `SELECT `+holdColumns+` FROM schedule_holds WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Hold{}, ErrNotFound
	}
	if err != nil {
		return Hold{}, fmt.Errorf("holds: get %d: %w", id, err)
	}
	return h, nil
}

func (s *SQLStore) Pending(ctx context.Context, jobID string) (Hold, bool, error) {
	h, err := scan(s.db.QueryRowContext(ctx, `SELECT `+holdColumns+` FROM schedule_holds
		WHERE job_id = ? AND state = 'pending' ORDER BY id DESC LIMIT 1`, strings.ToLower(jobID)))
	if errors.Is(err, sql.ErrNoRows) {
		return Hold{}, false, nil
	}
	if err != nil {
		return Hold{}, false, fmt.Errorf("holds: pending: %w", err)
	}
	return h, true, nil
}

func (s *SQLStore) Due(ctx context.Context, now time.Time, limit int) ([]Hold, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+holdColumns+` FROM schedule_holds
		WHERE state = 'pending' AND reenable_at <= ? ORDER BY reenable_at, id LIMIT ?`, s.db.Time(now), limit)
	if err != nil {
		return nil, fmt.Errorf("holds: due: %w", err)
	}
	defer rows.Close()
	var out []Hold
	for rows.Next() {
		h, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("holds: due: %w", err)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

func (s *SQLStore) Close(ctx context.Context, id int64, state State, message string, at time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE schedule_holds SET state = ?, message = ?, updated_at = ?
		WHERE id = ? AND state = 'pending'`, string(state), message, s.db.Time(at), id)
	if err != nil {
		return false, fmt.Errorf("holds: close %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (s *SQLStore) CloseJob(ctx context.Context, jobID string, except int64, state State, message string, at time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE schedule_holds SET state = ?, message = ?, updated_at = ?
		WHERE job_id = ? AND state = 'pending' AND id <> ?`, string(state), message, s.db.Time(at), strings.ToLower(jobID), except)
	if err != nil {
		return 0, fmt.Errorf("holds: close holds of %s: %w", jobID, err)
	}
	return res.RowsAffected()
}

func (s *SQLStore) Note(ctx context.Context, id int64, message string, at time.Time) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE schedule_holds SET message = ?, updated_at = ?
		WHERE id = ? AND state = 'pending'`, message, s.db.Time(at), id); err != nil {
		return fmt.Errorf("holds: note %d: %w", id, err)
	}
	return nil
}
