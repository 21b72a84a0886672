package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/agentdesk/agentdesk/store"
	"github.com/agentdesk/agentdesk/store/storetest"
)

func TestRebind(t *testing.T) {
	ctx := context.Background()
	sqlite := storetest.Open(t, store.SQLite)
	pg := storetest.Open(t, store.Postgres)
	for _, tc := range []struct{ in, sqlite, postgres string }{
		{`SELECT 1`, `SELECT 1`, `SELECT 1`},
		{`a = ? AND b = ?`, `a = ? AND b = ?`, `a = $1 AND b = $2`},
		{`x LIKE '?%' AND y = ?`, `x LIKE '?%' AND y = ?`, `x LIKE '?%' AND y = $1`},
		{`'it''s ?' = ?`, `'it''s ?' = ?`, `'it''s ?' = $1`},
	} {
		if got := sqlite.Rebind(tc.in); got != tc.sqlite {
			t.Errorf("sqlite Rebind(%q) = %q, want %q", tc.in, got, tc.sqlite)
		}
		if got := pg.Rebind(tc.in); got != tc.postgres {
			t.Errorf("postgres Rebind(%q) = %q, want %q", tc.in, got, tc.postgres)
		}
	}
	// The rebound query runs, with a ? in a literal left alone.
	for _, db := range []*store.DB{sqlite, pg} {
		var s string
		if err := db.QueryRowContext(ctx, `SELECT '?' || CAST(? AS TEXT)`, "x").Scan(&s); err != nil || s != "?x" {
			t.Errorf("%s: got %q, %v; want ?x", db.Dialect(), s, err)
		}
	}
}

// TestTimeRoundTrip: DB.Time writes what NullTime reads back, to the
// microsecond, and a zero time is NULL.
func TestTimeRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		typ := "INTEGER"
		if db.Dialect() == store.Postgres {
			typ = "TIMESTAMPTZ"
		}
		if _, err := db.SQL().ExecContext(ctx, `CREATE TABLE times (i INTEGER PRIMARY KEY, t `+typ+`)`); err != nil {
			t.Fatal(err)
		}
		at := time.Date(2026, 12, 5, 16, 4, 5, 123456789, time.FixedZone("CET", 3600))
		for i, v := range []time.Time{at, {}} {
			if _, err := db.ExecContext(ctx, `INSERT INTO times (i, t) VALUES (?, ?)`, i, db.Time(v)); err != nil {
				t.Fatal(err)
			}
			var got store.NullTime
			if err := db.QueryRowContext(ctx, `SELECT t FROM times WHERE i = ?`, i).Scan(&got); err != nil {
				t.Fatal(err)
			}
			want := v.UTC().Truncate(time.Microsecond)
			if v.IsZero() {
				want = time.Time{}
			}
			if !got.Time.Equal(want) || got.Time.Location() != time.UTC && !v.IsZero() {
				t.Errorf("read back %v, want %v (UTC)", got.Time, want)
			}
		}
	})
}

func TestOpenSQLiteReopens(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "agentdesk.db")
	db, err := store.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx, store.Tables); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO sessions (token, data, expiry) VALUES ('t', x'00', 1)`); err != nil {
		t.Fatalf("sessions table missing: %v", err)
	}
	var mode string
	if err := db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
	db.Close()

	// Reopening an up-to-date database applies nothing and keeps the data.
	db, err = store.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx, store.Tables); err != nil {
		t.Fatal(err)
	}
	var n int
	db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sessions`).Scan(&n)
	if n != 1 {
		t.Fatalf("rows=%d, want 1", n)
	}
}

func TestOpenPostgresBadURL(t *testing.T) {
	_, err := store.OpenPostgres(context.Background(), "postgres://u:secret@%zz")
	if err == nil {
		t.Fatal("a malformed URL must fail")
	}
	if got := err.Error(); strings.Contains(got, "secret") {
		t.Fatalf("error %q quotes the password", got)
	}
	if _, err := store.Open(context.Background(), store.Config{Dialect: "oracle"}); err == nil {
		t.Fatal("an unknown dialect must fail")
	}
}

// TestSQLiteFileMode: the database and its WAL files are the portal user's
// alone, whatever the umask.
func TestSQLiteFileMode(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "agentdesk.db")
	db, err := store.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx, store.Tables); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO sessions (token, data, expiry) VALUES ('m', x'00', 1)`); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if m := st.Mode().Perm(); m != 0o600 {
			t.Errorf("%s: mode %o, want 600", filepath.Base(f), m)
		}
	}
}

// schema is a package's migrations for both dialects, made of steps: the
// odd ones one file per dialect, the even ones one file in migrations/all.
func schema(name string, steps ...string) store.Schema {
	fs := fstest.MapFS{}
	for i, s := range steps {
		dirs := []string{"sqlite", "postgres"}
		if i%2 == 1 {
			dirs = []string{"all"}
		}
		for _, d := range dirs {
			fs[fmt.Sprintf("migrations/%s/%05d_step.sql", d, i+1)] = &fstest.MapFile{Data: []byte("-- +goose Up\n" + s)}
		}
	}
	return store.Schema{Name: name, FS: fs}
}

// TestMigrate: only new steps run; a broken step fails and leaves the version
// where it was; two packages keep their versions apart.
func TestMigrate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a1 := schema("a", `CREATE TABLE a (x INTEGER);`)
		a2 := schema("a", `CREATE TABLE a (x INTEGER);`, `ALTER TABLE a ADD COLUMN y INTEGER;`)
		b := schema("b", `CREATE TABLE b (x INTEGER);`)
		if err := db.Migrate(ctx, a1, b); err != nil {
			t.Fatal(err)
		}
		// A second run must not re-run step 1 (CREATE TABLE would fail).
		if err := db.Migrate(ctx, a2, b); err != nil {
			t.Fatalf("adding a step: %v", err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO a (x, y) VALUES (1, 2)`); err != nil {
			t.Fatalf("step 2 not applied: %v", err)
		}
		bad := schema("a", `CREATE TABLE a (x INTEGER);`, `ALTER TABLE a ADD COLUMN y INTEGER;`, `CREATE TABLE c (x INTEGER); THIS IS NOT SQL;`)
		if err := db.Migrate(ctx, bad); err == nil {
			t.Fatal("a broken migration must fail")
		}
		var v int
		if err := db.QueryRowContext(ctx, `SELECT MAX(version_id) FROM goose_a`).Scan(&v); err != nil || v != 2 {
			t.Fatalf("version of a after a failed step = %d, %v; want 2", v, err)
		}
		if err := db.QueryRowContext(ctx, `SELECT MAX(version_id) FROM goose_b`).Scan(&v); err != nil || v != 1 {
			t.Fatalf("version of b = %d, %v; want 1", v, err)
		}
		// The failed step's transaction was rolled back whole.
		if _, err := db.SQL().ExecContext(ctx, `SELECT x FROM c`); err == nil {
			t.Fatal("table c exists after its step failed")
		}
		if err := db.Migrate(ctx, store.Schema{Name: "none", FS: fstest.MapFS{}}); err == nil {
			t.Fatal("a schema without a migrations folder must fail")
		}
		dup := schema("d", `CREATE TABLE d (x INTEGER);`)
		dup.FS.(fstest.MapFS)["migrations/all/00001_step.sql"] = &fstest.MapFile{Data: []byte("-- +goose Up\nSELECT 1;")}
		if err := db.Migrate(ctx, dup); err == nil {
			t.Fatal("a step both in all/ and in the dialect's folder must fail")
		}
	})
}

// TestPreparedStatementsSurviveSchemaChange: a cached statement whose table
// goes away fails, and works again once the table is back (the audit log's
// outage handling relies on it).
func TestPreparedStatementsSurviveSchemaChange(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := db.SQL().ExecContext(ctx, `CREATE TABLE t (x INTEGER)`); err != nil {
			t.Fatal(err)
		}
		ins := func() error { _, err := db.ExecContext(ctx, `INSERT INTO t (x) VALUES (?)`, 1); return err }
		if err := ins(); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SQL().ExecContext(ctx, `ALTER TABLE t RENAME TO t_away`); err != nil {
			t.Fatal(err)
		}
		if err := ins(); err == nil {
			t.Fatal("insert into a renamed table succeeded")
		}
		if _, err := db.SQL().ExecContext(ctx, `ALTER TABLE t_away RENAME TO t`); err != nil {
			t.Fatal(err)
		}
		if err := ins(); err != nil {
			t.Fatalf("insert after the table came back: %v", err)
		}
	})
}

// TestMigrateConcurrently: replicas starting together on one PostgreSQL
// database all succeed, and each step is applied once (the advisory lock).
// A SQLite file belongs to one process, which opens its stores one by one.
func TestMigrateConcurrently(t *testing.T) {
	ctx := context.Background()
	cfg := storetest.NewConfig(t, store.Postgres)
	s := schema("c", `CREATE TABLE c (x INTEGER);`, `ALTER TABLE c ADD COLUMN y INTEGER;`)
	dbs := []*store.DB{storetest.OpenConfig(t, cfg), storetest.OpenConfig(t, cfg), storetest.OpenConfig(t, cfg)}
	errs := make(chan error, len(dbs))
	for _, db := range dbs {
		go func() { errs <- db.Migrate(ctx, s) }()
	}
	for range dbs {
		if err := <-errs; err != nil {
			t.Errorf("migrate: %v", err)
		}
	}
	var n int
	if err := dbs[0].QueryRowContext(ctx, `SELECT COUNT(*) FROM goose_c WHERE version_id > 0`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d steps recorded, %v; want 2", n, err)
	}
}
