package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// SQLiteStore keeps the log in the portal's SQLite database (store.OpenSQLite:
// WAL, synchronous=FULL, so a committed insert survives a crash).
type SQLiteStore struct{ db *sql.DB }

// NewSQLiteStore uses db, which must have been migrated (store.OpenSQLite).
func NewSQLiteStore(db *sql.DB) *SQLiteStore { return &SQLiteStore{db: db} }

var sqliteDialect = dialect{
	placeholder: func(int) string { return "?" },
	like:        "LIKE", // case-insensitive for ASCII in SQLite
	time:        func(t time.Time) any { return t.UnixMicro() },
}

func microOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

func (s *SQLiteStore) Insert(ctx context.Context, e Entry) (int64, error) {
	groups, _ := json.Marshal(nonNil(e.Groups))
	res, err := s.db.ExecContext(ctx, `INSERT INTO audit_log (`+insertColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.At.UnixMicro(), string(e.Kind), e.UserKey, e.UserName, e.UserEmail, string(groups), e.IP, e.UserAgent, e.Embedded,
		e.Action, e.JobID, e.JobUID, e.JobName, e.Server, string(e.Result), e.Message, e.TaskID, e.SessionID, e.Final,
		microOrNil(e.CompletedAt))
	if err != nil {
		return 0, fmt.Errorf("audit: insert: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("audit: insert: %w", err)
	}
	return id, nil
}

func (s *SQLiteStore) Complete(ctx context.Context, id int64, o Completion) (Entry, error) {
	row := s.db.QueryRowContext(ctx, `UPDATE audit_log SET result = ?, message = ?, task_id = ?, session_id = ?,
		final_result = ?, completed_at = ? WHERE id = ? RETURNING `+columns,
		string(o.Result), o.Message, o.TaskID, o.SessionID, o.Final, o.At.UnixMicro(), id)
	e, err := scanSQLite(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Entry{}, fmt.Errorf("audit: complete entry %d: %w", id, ErrNoEntry)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("audit: complete entry %d: %w", id, err)
	}
	return e, nil
}

func (s *SQLiteStore) Each(ctx context.Context, f Filter, fn func(Entry) error) error {
	q, args := selectSQL(columns, f, sqliteDialect)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("audit: query: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanSQLite(rows)
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

func (s *SQLiteStore) Purge(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM audit_log WHERE at < ?`, before.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("audit: purge: %w", err)
	}
	return res.RowsAffected()
}

type scanner interface{ Scan(dest ...any) error }

func scanSQLite(r scanner) (Entry, error) {
	var e Entry
	var at int64
	var kind, result, groups string
	var done sql.NullInt64
	err := r.Scan(&e.ID, &at, &kind, &e.UserKey, &e.UserName, &e.UserEmail, &groups, &e.IP, &e.UserAgent, &e.Embedded,
		&e.Action, &e.JobID, &e.JobUID, &e.JobName, &e.Server, &result, &e.Message, &e.TaskID, &e.SessionID, &e.Final, &done)
	if err != nil {
		return Entry{}, err
	}
	e.At, e.Kind, e.Result = time.UnixMicro(at).UTC(), Kind(kind), Result(result)
	if done.Valid {
		e.CompletedAt = time.UnixMicro(done.Int64).UTC()
	}
	if err := json.Unmarshal([]byte(groups), &e.Groups); err != nil {
		return Entry{}, fmt.Errorf("entry %s: groups: %w", strconv.FormatInt(e.ID, 10), err)
	}
	return e, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
