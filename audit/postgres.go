package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgresStore keeps the log in PostgreSQL (store.OpenPostgres), shared by
// every replica.
type PostgresStore struct{ pool *pgxpool.Pool }

// NewPostgresStore uses pool, whose database must have been migrated.
func NewPostgresStore(pool *pgxpool.Pool) *PostgresStore { return &PostgresStore{pool: pool} }

var postgresDialect = dialect{
	placeholder: func(n int) string { return "$" + strconv.Itoa(n) },
	like:        "ILIKE",
	time:        func(t time.Time) any { return t.UTC() },
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func (s *PostgresStore) Insert(ctx context.Context, e Entry) (int64, error) {
	groups, _ := json.Marshal(nonNil(e.Groups))
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO audit_log (`+insertColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) RETURNING id`,
		e.At.UTC(), string(e.Kind), e.UserKey, e.UserName, e.UserEmail, string(groups), e.IP, e.UserAgent, e.Embedded,
		e.Action, e.JobID, e.JobUID, e.JobName, e.Server, string(e.Result), e.Message, e.TaskID, e.SessionID, e.Final,
		timeOrNil(e.CompletedAt)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("audit: insert: %w", err)
	}
	return id, nil
}

func (s *PostgresStore) Complete(ctx context.Context, id int64, o Completion) (Entry, error) {
	row := s.pool.QueryRow(ctx, `UPDATE audit_log SET result = $1, message = $2, task_id = $3, session_id = $4,
		final_result = $5, completed_at = $6 WHERE id = $7 RETURNING `+pgColumns,
		string(o.Result), o.Message, o.TaskID, o.SessionID, o.Final, o.At.UTC(), id)
	e, err := scanPostgres(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return Entry{}, fmt.Errorf("audit: complete entry %d: %w", id, ErrNoEntry)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("audit: complete entry %d: %w", id, err)
	}
	return e, nil
}

// pgColumns reads the groups as text, whatever pgx would make of jsonb.
var pgColumns = `id, at, kind, user_key, user_name, user_email, user_groups::text, client_ip, user_agent, embedded,
	action, job_id, job_uid, job_name, backup_server, result, message, task_id, session_id, final_result, completed_at`

func (s *PostgresStore) Each(ctx context.Context, f Filter, fn func(Entry) error) error {
	q, args := selectSQL(pgColumns, f, postgresDialect)
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("audit: query: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanPostgres(rows)
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

func (s *PostgresStore) Purge(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM audit_log WHERE at < $1`, before.UTC())
	if err != nil {
		return 0, fmt.Errorf("audit: purge: %w", err)
	}
	return tag.RowsAffected(), nil
}

func scanPostgres(r scanner) (Entry, error) {
	var e Entry
	var kind, result, groups string
	var done *time.Time
	err := r.Scan(&e.ID, &e.At, &kind, &e.UserKey, &e.UserName, &e.UserEmail, &groups, &e.IP, &e.UserAgent, &e.Embedded,
		&e.Action, &e.JobID, &e.JobUID, &e.JobName, &e.Server, &result, &e.Message, &e.TaskID, &e.SessionID, &e.Final, &done)
	if err != nil {
		return Entry{}, err
	}
	e.At, e.Kind, e.Result = e.At.UTC(), Kind(kind), Result(result)
	if done != nil {
		e.CompletedAt = done.UTC()
	}
	if err := json.Unmarshal([]byte(groups), &e.Groups); err != nil {
		return Entry{}, fmt.Errorf("entry %d: groups: %w", e.ID, err)
	}
	return e, nil
}
