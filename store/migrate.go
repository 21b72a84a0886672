package store

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io/fs"
	"path"
	"testing/fstest"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Schema is one package's migrations: numbered goose .sql files in FS, the
// package's embedded migrations folder. A step whose SQL is the same in both
// dialects (most ALTER TABLE ... ADD COLUMN) is one file in migrations/all/;
// one that differs has a file of the same number in migrations/sqlite/ and
// migrations/postgres/ (a package with a dialect-only table has only that
// dialect's folder). Each package records its own version in the table
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
	sub, err := steps(s.FS, db.dialect)
	if err != nil {
		return err
	}
	if len(sub) == 0 {
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

// steps gathers the migration files for dialect d from migrations/all/ and
// migrations/<d>/ into one folder, as goose reads them. fstest.MapFS is just
// an in-memory fs.FS (it links nothing of package testing).
func steps(fsys fs.FS, d Dialect) (fstest.MapFS, error) {
	if _, err := fs.Stat(fsys, "migrations"); err != nil {
		return nil, fmt.Errorf("no migrations folder: %w", err)
	}
	out := fstest.MapFS{}
	for _, dir := range []string{"migrations/all", "migrations/" + string(d)} {
		files, err := fs.Glob(fsys, dir+"/*.sql")
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			b, err := fs.ReadFile(fsys, f)
			if err != nil {
				return nil, err
			}
			name := path.Base(f)
			if _, dup := out[name]; dup {
				return nil, fmt.Errorf("%s is both in migrations/all and migrations/%s", name, d)
			}
			out[name] = &fstest.MapFile{Data: b}
		}
	}
	return out, nil
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
