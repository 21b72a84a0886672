package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentdesk/agentdesk/store/pgtest"
)

// seedRows puts one row into each table that exists at a given schema version,
// so that the later steps are shown to keep existing data.
var seedRows = map[string]struct{ sqlite, postgres string }{
	"sessions": {
		`INSERT INTO sessions (token, data, expiry) VALUES ('t', x'00', 1)`,
		`INSERT INTO sessions (token, data, expiry) VALUES ('t', '\x00', now())`,
	},
	"user_groups": {`INSERT INTO user_groups (user_key, groups_json, updated_at) VALUES ('iss|a', '["g"]', '2024-01-01T00:00:00Z')`,
		`INSERT INTO user_groups (user_key, groups_json, updated_at) VALUES ('iss|a', '["g"]', now())`},
	"audit_log": {
		`INSERT INTO audit_log (at, kind, user_key, result) VALUES (1, 'signin', 'iss|a', 'performed')`,
		`INSERT INTO audit_log (at, kind, user_key, result) VALUES (now(), 'signin', 'iss|a', 'performed')`,
	},
	"schedule_holds": {
		`INSERT INTO schedule_holds (job_id, disabled_at, reenable_at, updated_at) VALUES ('j', 1, 2, 1)`,
		`INSERT INTO schedule_holds (job_id, disabled_at, reenable_at, updated_at) VALUES ('j', now(), now(), now())`,
	},
}

// TestSQLiteMigrationsFromEveryVersion runs every migration on an empty
// database and on databases left at each earlier version with data in them.
func TestSQLiteMigrationsFromEveryVersion(t *testing.T) {
	ctx := context.Background()
	steps := SQLiteMigrations()
	for from := 0; from < len(steps); from++ {
		t.Run(fmt.Sprintf("from_v%d", from), func(t *testing.T) {
			db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "m.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := Migrate(ctx, db, steps[:from]); err != nil {
				t.Fatalf("migrate to v%d: %v", from, err)
			}
			seeded := map[string]bool{}
			for table, ins := range seedRows {
				var n int
				db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&n)
				if n == 0 {
					continue
				}
				if _, err := db.ExecContext(ctx, ins.sqlite); err != nil {
					t.Fatalf("seed %s at v%d: %v", table, from, err)
				}
				seeded[table] = true
			}
			if err := Migrate(ctx, db, steps); err != nil {
				t.Fatalf("migrate v%d → v%d: %v", from, len(steps), err)
			}
			var v int
			db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_version`).Scan(&v)
			if v != len(steps) {
				t.Fatalf("version %d, want %d", v, len(steps))
			}
			for table := range seedRows {
				var n int
				if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
					t.Fatalf("table %s after migrating: %v", table, err)
				}
				want := 0
				if seeded[table] {
					want = 1
				}
				if n != want {
					t.Errorf("table %s has %d rows, want %d", table, n, want)
				}
			}
		})
	}
}

// TestPostgresMigrationsFromEveryVersion is the same against a real
// PostgreSQL, each case in a database of its own.
func TestPostgresMigrationsFromEveryVersion(t *testing.T) {
	ctx := context.Background()
	steps := PostgresMigrations()
	for from := 0; from < len(steps); from++ {
		t.Run(fmt.Sprintf("from_v%d", from), func(t *testing.T) {
			url := pgtest.NewDatabase(t)
			pool, err := pgxpool.New(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			if err := MigratePostgres(ctx, pool, steps[:from]); err != nil {
				t.Fatalf("migrate to v%d: %v", from, err)
			}
			seeded := map[string]bool{}
			for table, ins := range seedRows {
				var exists bool
				pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&exists)
				if !exists {
					continue
				}
				if ins.postgres == "" {
					continue
				}
				if _, err := pool.Exec(ctx, ins.postgres); err != nil {
					t.Fatalf("seed %s at v%d: %v", table, from, err)
				}
				seeded[table] = true
			}
			if err := MigratePostgres(ctx, pool, steps); err != nil {
				t.Fatalf("migrate v%d → v%d: %v", from, len(steps), err)
			}
			// Running again changes nothing.
			if err := MigratePostgres(ctx, pool, steps); err != nil {
				t.Fatalf("re-running migrations: %v", err)
			}
			var v int
			pool.QueryRow(ctx, `SELECT MAX(version) FROM schema_version`).Scan(&v)
			if v != len(steps) {
				t.Fatalf("version %d, want %d", v, len(steps))
			}
			var n int
			if err := pool.QueryRow(ctx, `SELECT COUNT(*) FROM audit_log`).Scan(&n); err != nil {
				t.Fatalf("audit_log after migrating: %v", err)
			}
			if want := map[bool]int{true: 1, false: 0}[seeded["audit_log"]]; n != want {
				t.Errorf("audit_log has %d rows, want %d", n, want)
			}
		})
	}
}

func TestOpenPostgresMigratesAndReopens(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	pool, err := OpenPostgres(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO audit_log (at, kind, result) VALUES (now(), 'signin', 'performed')`); err != nil {
		t.Fatalf("audit_log missing: %v", err)
	}
	pool.Close()
	pool, err = OpenPostgres(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var n, v int
	pool.QueryRow(ctx, `SELECT COUNT(*) FROM audit_log`).Scan(&n)
	pool.QueryRow(ctx, `SELECT MAX(version) FROM schema_version`).Scan(&v)
	if n != 1 || v != len(postgresMigrations) {
		t.Fatalf("rows=%d version=%d; want 1 and %d", n, v, len(postgresMigrations))
	}
	if _, err := OpenPostgres(ctx, "postgres://u:secret@%zz"); err == nil {
		t.Fatal("a malformed URL must fail")
	}
}
