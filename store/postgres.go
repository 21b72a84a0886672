package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// OpenPostgres connects to the PostgreSQL database at url (a postgres:// URL or
// a key=value connection string) and applies the migrations. Several replicas
// may start at once: the migrations run under an advisory lock.
func OpenPostgres(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error may quote the URL, password included.
		return nil, fmt.Errorf("open postgres: the database URL is not valid")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres %s/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Database, err)
	}
	if err := MigratePostgres(ctx, pool, postgresMigrations); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

// postgresMigrations are applied in order, once each. Never edit a released
// step: add a new one. Versions count separately from SQLite's.
var postgresMigrations = []Migration{
	// The audit log; completed_at stays NULL while the attempt is pending.
	{1, `CREATE TABLE audit_log (
		id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		at TIMESTAMPTZ NOT NULL,
		kind TEXT NOT NULL,
		user_key TEXT NOT NULL DEFAULT '',
		user_name TEXT NOT NULL DEFAULT '',
		user_email TEXT NOT NULL DEFAULT '',
		user_groups JSONB NOT NULL DEFAULT '[]',
		client_ip TEXT NOT NULL DEFAULT '',
		user_agent TEXT NOT NULL DEFAULT '',
		embedded BOOLEAN NOT NULL DEFAULT false,
		action TEXT NOT NULL DEFAULT '',
		job_id TEXT NOT NULL DEFAULT '',
		job_uid TEXT NOT NULL DEFAULT '',
		job_name TEXT NOT NULL DEFAULT '',
		backup_server TEXT NOT NULL DEFAULT '',
		result TEXT NOT NULL,
		message TEXT NOT NULL DEFAULT '',
		task_id TEXT NOT NULL DEFAULT '',
		session_id TEXT NOT NULL DEFAULT '',
		final_result TEXT NOT NULL DEFAULT '',
		completed_at TIMESTAMPTZ
	);
	CREATE INDEX audit_log_at_idx ON audit_log(at DESC, id DESC);
	CREATE INDEX audit_log_job_idx ON audit_log(job_id, at DESC);
	CREATE INDEX audit_log_user_idx ON audit_log(user_key, at DESC);
	CREATE INDEX audit_log_pending_idx ON audit_log(result) WHERE result IN ('pending', 'unknown');`},
	// Sessions shared by replicas (AGENTDESK_SESSION_STORE=postgres): the table
	// scs/pgxstore reads and writes.
	{2, `CREATE TABLE sessions (
		token TEXT PRIMARY KEY,
		data BYTEA NOT NULL,
		expiry TIMESTAMPTZ NOT NULL
	);
	CREATE INDEX sessions_expiry_idx ON sessions(expiry);`},
	// Per-job action locks shared by replicas (AGENTDESK_LOCK_STORE=postgres),
	// see package lock.
	{3, `CREATE TABLE job_locks (
		key TEXT PRIMARY KEY,
		holder TEXT NOT NULL,
		expires_at TIMESTAMPTZ NOT NULL
	);`},
	// Groups of each user's last sign-in that carried a groups claim, shared so
	// that a token without the claim finds them on any replica.
	{4, `CREATE TABLE user_groups (
		user_key TEXT PRIMARY KEY,
		groups_json JSONB NOT NULL,
		updated_at TIMESTAMPTZ NOT NULL
	);`},
	// Time-boxed schedule disables (package holds), shared so that exactly one
	// replica brings each schedule back.
	{5, `CREATE TABLE schedule_holds (
		id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		job_id TEXT NOT NULL,
		job_name TEXT NOT NULL DEFAULT '',
		disabled_by_key TEXT NOT NULL DEFAULT '',
		disabled_by_name TEXT NOT NULL DEFAULT '',
		disabled_at TIMESTAMPTZ NOT NULL,
		reenable_at TIMESTAMPTZ NOT NULL,
		state TEXT NOT NULL DEFAULT 'pending',
		message TEXT NOT NULL DEFAULT '',
		updated_at TIMESTAMPTZ NOT NULL
	);
	CREATE INDEX schedule_holds_due_idx ON schedule_holds(reenable_at) WHERE state = 'pending';
	CREATE INDEX schedule_holds_job_idx ON schedule_holds(job_id, state);`},
	// The state of actions in progress (package runs), so that any replica
	// answers a status poll about an action another replica follows.
	{6, `CREATE TABLE job_runs (
		job_id TEXT PRIMARY KEY,
		state BYTEA NOT NULL,
		updated_at TIMESTAMPTZ NOT NULL
	);
	CREATE INDEX job_runs_updated_idx ON job_runs(updated_at);`},
}

// PostgresMigrations returns a copy of the PostgreSQL schema steps, for tests
// that build a database at an older version.
func PostgresMigrations() []Migration { return append([]Migration(nil), postgresMigrations...) }

// migrationLock is the advisory lock key held while migrating ("agentdsk").
const migrationLock int64 = 0x6167656e7464736b

// MigratePostgres applies the migrations newer than the database's version,
// each in a transaction together with the version bump, holding an advisory
// lock so that replicas starting together migrate once.
func MigratePostgres(ctx context.Context, pool *pgxpool.Pool, steps []Migration) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLock)

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var cur int
	if err := conn.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&cur); err != nil {
		return fmt.Errorf("migrate: read version: %w", err)
	}
	for _, m := range steps {
		if m.Version <= cur {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_version (version) VALUES ($1)`, m.Version)
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate %d: %w", m.Version, err)
		}
	}
	return nil
}
