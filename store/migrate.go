package store

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io/fs"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Schema is one package's migrations: numbered goose .sql files under
// migrations/sqlite/ and migrations/postgres/ in FS, the package's embedded
// migrations folder (a package with a dialect-only table leaves the other
// folder out). Each package records its own version in the table
// "goose_"+Name, so packages number their steps independently and a new step
// touches only the package that owns the table.
type Schema struct {
	Name string
	FS   fs.FS
}

// migrateLockID is the advisory lock PostgreSQL replicas hold while one of
// them migrates ("agentdsk"), so replicas starting together migrate once.
const migrateLockID int64 = 0x6167656e7464736b

// Migrate applies the schemas' migrations that db has not seen yet, each
// step in a transaction with its version bump. Released steps are never
// edited: a change is a new file.
//
// The first step of every schema creates its tables IF NOT EXISTS, exactly as
// the single numbered list in package store did before (schema_version, now
// unused): a database made by an earlier release keeps its tables and rows
// and only records the step.
func (db *DB) Migrate(ctx context.Context, schemas ...Schema) error {
	for _, s := range schemas {
		if err := db.migrate(ctx, s); err != nil {
			return fmt.Errorf("migrate %s: %w", s.Name, err)
		}
	}
	return nil
}

func (db *DB) migrate(ctx context.Context, s Schema) error {
	if _, err := fs.Stat(s.FS, "migrations"); err != nil {
		return fmt.Errorf("no migrations folder: %w", err)
	}
	sub, err := fs.Sub(s.FS, "migrations/"+string(db.dialect))
	if err != nil {
		return err
	}
	if files, _ := fs.Glob(sub, "*.sql"); len(files) == 0 {
		return nil // nothing of this package lives in this dialect
	}
	opts := []goose.ProviderOption{
		goose.WithTableName("goose_" + s.Name),
		goose.WithDisableGlobalRegistry(true),
	}
	dialect := goose.DialectSQLite3
	if db.dialect == Postgres {
		dialect = goose.DialectPostgres
		// Polled once a second (goose's smallest step) for up to 5 minutes.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrateLockID), lock.WithLockTimeout(1, 300))
		if err != nil {
			return err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, db.sql, sub, opts...)
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}

// Time is a time as the dialect stores it: Unix microseconds (UTC) in an
// INTEGER column in SQLite, where they sort and compare as integers, and
// TIMESTAMPTZ in PostgreSQL. A zero time is NULL.
func (db *DB) Time(t time.Time) driver.Value {
	if t.IsZero() {
		return nil
	}
	if db.dialect == Postgres {
		return t.UTC()
	}
	return t.UnixMicro()
}

// NullTime scans a column written by DB.Time. Time is UTC; zero when NULL.
type NullTime struct{ Time time.Time }

// Scan implements sql.Scanner.
func (n *NullTime) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		n.Time = time.Time{}
	case int64:
		n.Time = time.UnixMicro(v).UTC()
	case time.Time:
		n.Time = v.UTC()
	default:
		return fmt.Errorf("store: cannot scan %T as a time", v)
	}
	return nil
}
