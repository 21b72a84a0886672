package audit

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/agentdesk/agentdesk/store"
)

// Store keeps entries durably. Insert must not return before the entry is
// committed: the action it describes is sent to EM only afterwards.
type Store interface {
	// Insert writes a new entry and returns its id.
	Insert(ctx context.Context, e Entry) (int64, error)
	// Complete sets the outcome of entry id and returns the whole entry.
	Complete(ctx context.Context, id int64, o Completion) (Entry, error)
	// Each calls fn for the selected entries, newest first, streaming.
	Each(ctx context.Context, f Filter, fn func(Entry) error) error
	// Purge deletes entries older than before and returns how many.
	Purge(ctx context.Context, before time.Time) (int64, error)
}

// Completion is the outcome part of an entry.
type Completion struct {
	Result    Result
	Message   string
	TaskID    string
	SessionID string
	Final     string
	At        time.Time
}

//go:embed migrations
var migrations embed.FS

// Tables is the schema of the audit_log table.
var Tables = store.Schema{Name: "audit", FS: migrations}

// SQLStore keeps the log in the portal's database: SQLite (WAL,
// synchronous=FULL, so a committed insert survives a crash) for one replica,
// PostgreSQL when replicas share it.
type SQLStore struct{ db *store.DB }

// NewSQLStore migrates the audit_log table in db and returns the log on it.
func NewSQLStore(ctx context.Context, db *store.DB) (*SQLStore, error) {
	if err := db.Migrate(ctx, Tables); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return &SQLStore{db: db}, nil
}

// columns are read in this order by scan; insertColumns written in this
// order by Insert.
const (
	columns       = `id, ` + insertColumns
	insertColumns = `at, kind, user_key, user_name, user_email, user_groups, client_ip, user_agent, embedded,
	action, job_id, job_uid, job_name, backup_server, result, message, task_id, session_id, final_result, completed_at`
)

func (s *SQLStore) Insert(ctx context.Context, e Entry) (int64, error) {
	groups, _ := json.Marshal(nonNil(e.Groups))
	var id int64
	err := s.db.QueryRowContext(ctx, `INSERT INTO audit_log (`+insertColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		s.db.Time(e.At), string(e.Kind), e.UserKey, e.UserName, e.UserEmail, string(groups), e.IP, e.UserAgent, e.Embedded,
		e.Action, e.JobID, e.JobUID, e.JobName, e.Server, string(e.Result), e.Message, e.TaskID, e.SessionID, e.Final,
		s.db.Time(e.CompletedAt)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("audit: insert: %w", err)
	}
	return id, nil
}

func (s *SQLStore) Complete(ctx context.Context, id int64, o Completion) (Entry, error) {
	row := s.db.QueryRowContext(ctx, `UPDATE audit_log SET result = ?, message = ?, task_id = ?, session_id = ?,
		final_result = ?, completed_at = ? WHERE id = ? RETURNING `+columns,
		string(o.Result), o.Message, o.TaskID, o.SessionID, o.Final, s.db.Time(o.At), id)
	e, err := scan(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Entry{}, fmt.Errorf("audit: complete entry %d: %w", id, ErrNoEntry)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("audit: complete entry %d: %w", id, err)
	}
	return e, nil
}

func (s *SQLStore) Each(ctx context.Context, f Filter, fn func(Entry) error) error {
	q, args := s.selectSQL(f)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("audit: query: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scan(rows)
		if err != nil {
			return fmt.Errorf("audit: query: %w", err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("audit: query: %w", err)
	}
	return nil
}

func (s *SQLStore) Purge(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM audit_log WHERE at < ?`, s.db.Time(before))
	if err != nil {
		return 0, fmt.Errorf("audit: purge: %w", err)
	}
	return res.RowsAffected()
}

type scanner interface{ Scan(dest ...any) error }

func scan(r scanner) (Entry, error) {
	var e Entry
	var at, done store.NullTime
	var kind, result string
	var groups []byte
	err := r.Scan(&e.ID, &at, &kind, &e.UserKey, &e.UserName, &e.UserEmail, &groups, &e.IP, &e.UserAgent, &e.Embedded,
		&e.Action, &e.JobID, &e.JobUID, &e.JobName, &e.Server, &result, &e.Message, &e.TaskID, &e.SessionID, &e.Final, &done)
	if err != nil {
		return Entry{}, err
	}
	e.At, e.CompletedAt, e.Kind, e.Result = at.Time, done.Time, Kind(kind), Result(result)
	if err := json.Unmarshal(groups, &e.Groups); err != nil {
		return Entry{}, fmt.Errorf("entry %d: groups: %w", e.ID, err)
	}
	return e, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// where builds the WHERE clause (with leading " WHERE ", or "") and its
// arguments for f. The SQL depends only on which fields of f are set, so the
// prepared-statement cache of store.DB holds a few shapes, not one per value.
func (s *SQLStore) where(f Filter) (string, []any) {
	var conds []string
	var args []any
	like := s.db.Like()
	if p := strings.TrimSpace(f.Person); p != "" {
		pat := "%" + escapeLike(p) + "%"
		conds = append(conds, `(user_key = ? OR user_name `+like+` ? ESCAPE '\' OR user_email `+like+` ? ESCAPE '\')`)
		args = append(args, p, pat, pat)
	}
	if j := strings.TrimSpace(f.Job); j != "" {
		conds = append(conds, `(job_id = ? OR job_uid = ? OR job_name `+like+` ? ESCAPE '\')`)
		args = append(args, strings.ToLower(j), j, "%"+escapeLike(j)+"%")
	}
	eq := func(col string, v any) {
		conds = append(conds, col+" = ?")
		args = append(args, v)
	}
	if f.JobID != "" {
		eq("job_id", strings.ToLower(f.JobID))
	}
	if f.Action != "" {
		eq("action", f.Action)
	}
	if f.Result != "" {
		eq("result", string(f.Result))
	}
	if f.Kind != "" {
		eq("kind", string(f.Kind))
	}
	if !f.From.IsZero() {
		conds = append(conds, "at >= ?")
		args = append(args, s.db.Time(f.From))
	}
	if !f.To.IsZero() {
		conds = append(conds, "at < ?")
		args = append(args, s.db.Time(f.To))
	}
	if f.Before != nil {
		at := s.db.Time(f.Before.At)
		conds = append(conds, "(at < ? OR (at = ? AND id < ?))")
		args = append(args, at, at, f.Before.ID)
	}
	if len(conds) == 0 {
		return "", args
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// selectSQL is the query of Each.
func (s *SQLStore) selectSQL(f Filter) (string, []any) {
	w, args := s.where(f)
	q := "SELECT " + columns + " FROM audit_log" + w + " ORDER BY at DESC, id DESC"
	if f.Limit > 0 {
		args = append(args, f.Limit)
		q += " LIMIT ?"
	}
	return q, args
}
