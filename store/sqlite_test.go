package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestOpenSQLiteMigratesAndReopens(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "agentdesk.db")
	db, err := OpenSQLite(ctx, path)
	if err != nil {
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
	db, err = OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n, v int
	db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sessions`).Scan(&n)
	db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_version`).Scan(&v)
	if n != 1 || v != len(sqliteMigrations) {
		t.Fatalf("rows=%d version=%d; want 1 and %d", n, v, len(sqliteMigrations))
	}
}

func TestMigrateAppliesOnlyNewSteps(t *testing.T) {
	ctx := context.Background()
	db, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	steps := append(append([]Migration{}, sqliteMigrations...), Migration{len(sqliteMigrations) + 1, `CREATE TABLE extra (x INTEGER)`})
	if err := Migrate(ctx, db, steps); err != nil {
		t.Fatal(err)
	}
	// A second run must not re-run step N+1 (CREATE TABLE would fail).
	if err := Migrate(ctx, db, steps); err != nil {
		t.Fatalf("re-running migrations: %v", err)
	}
	bad := append(steps, Migration{len(steps) + 1, `THIS IS NOT SQL`})
	if err := Migrate(ctx, db, bad); err == nil {
		t.Fatal("a broken migration must fail")
	}
	var v int
	db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_version`).Scan(&v)
	if v != len(steps) {
		t.Fatalf("version after failed step = %d, want %d", v, len(steps))
	}
}

// TestSQLiteFileMode: the database and its WAL files are the portal user's
// alone, whatever the umask.
func TestSQLiteFileMode(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "agentdesk.db")
	db, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
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
