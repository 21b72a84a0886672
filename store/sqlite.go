// Package store opens the portal's databases and keeps their schema current.
// SQLite (pure Go, no cgo) is the embedded default.
package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// OpenSQLite opens (creating if needed) the SQLite database at path in WAL mode
// with full fsync, and applies the migrations.
func OpenSQLite(ctx context.Context, path string) (*sql.DB, error) {
	// The file holds sessions and the audit log: readable by the portal's
	// user only. SQLite gives its -wal and -shm files the same mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	f.Close()
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "foreign_keys(ON)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// One writer at a time is SQLite's model; a small pool avoids SQLITE_BUSY storms.
	db.SetMaxOpenConns(4)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if err := Migrate(ctx, db, sqliteMigrations); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Migration is one numbered schema step.
type Migration struct {
	Version int
	SQL     string
}

// sqliteMigrations are applied in order, once each. Never edit a released step:
// add a new one.
var sqliteMigrations = []Migration{
	{1, `CREATE TABLE sessions (
		token TEXT PRIMARY KEY,
		data BLOB NOT NULL,
		expiry REAL NOT NULL
	);
	CREATE INDEX sessions_expiry_idx ON sessions(expiry);`},
	{2, `CREATE TABLE user_groups (
		user_key TEXT PRIMARY KEY,
		groups_json TEXT NOT NULL,
		updated_at TEXT NOT NULL
	);`},
	// The audit log. Times are Unix microseconds (UTC), so they sort and
	// compare as integers; completed_at stays NULL while the attempt is pending.
	{3, `CREATE TABLE audit_log (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		at INTEGER NOT NULL,
		kind TEXT NOT NULL,
		user_key TEXT NOT NULL DEFAULT '',
		user_name TEXT NOT NULL DEFAULT '',
		user_email TEXT NOT NULL DEFAULT '',
		user_groups TEXT NOT NULL DEFAULT '[]',
		client_ip TEXT NOT NULL DEFAULT '',
		user_agent TEXT NOT NULL DEFAULT '',
		embedded INTEGER NOT NULL DEFAULT 0,
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
		completed_at INTEGER
	);
	CREATE INDEX audit_log_at_idx ON audit_log(at DESC, id DESC);
	CREATE INDEX audit_log_job_idx ON audit_log(job_id, at DESC);
	CREATE INDEX audit_log_user_idx ON audit_log(user_key, at DESC);
	CREATE INDEX audit_log_pending_idx ON audit_log(result) WHERE result IN ('pending', 'unknown');`},
	// Time-boxed schedule disables (package holds): the schedule comes back on
	// at reenable_at. Times are Unix microseconds (UTC).
	{4, `CREATE TABLE schedule_holds (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		job_id TEXT NOT NULL,
		job_name TEXT NOT NULL DEFAULT '',
		disabled_by_key TEXT NOT NULL DEFAULT '',
		disabled_by_name TEXT NOT NULL DEFAULT '',
		disabled_at INTEGER NOT NULL,
		reenable_at INTEGER NOT NULL,
		state TEXT NOT NULL DEFAULT 'pending',
		message TEXT NOT NULL DEFAULT '',
		updated_at INTEGER NOT NULL
	);
	CREATE INDEX schedule_holds_due_idx ON schedule_holds(reenable_at) WHERE state = 'pending';
	CREATE INDEX schedule_holds_job_idx ON schedule_holds(job_id, state);`},
}

// SQLiteMigrations returns a copy of the SQLite schema steps, for tests that
// build a database at an older version.
func SQLiteMigrations() []Migration { return append([]Migration(nil), sqliteMigrations...) }

// Migrate applies the migrations newer than the database's version, each in a
// transaction together with the version bump.
func Migrate(ctx context.Context, db *sql.DB, steps []Migration) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var cur int
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&cur); err != nil {
		return fmt.Errorf("migrate: read version: %w", err)
	}
	for _, m := range steps {
		if m.Version <= cur {
			continue
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migrate %d: %w", m.Version, err)
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate %d: %w", m.Version, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, m.Version); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate %d: %w", m.Version, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrate %d: %w", m.Version, err)
		}
	}
	return nil
}
