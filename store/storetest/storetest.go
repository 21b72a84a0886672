// Package storetest gives tests a fresh database of each dialect, so that one
// set of store tests runs against both SQLite and PostgreSQL.
package storetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/agentdesk/agentdesk/store"
	"github.com/agentdesk/agentdesk/store/pgtest"
)

// Dialects are the databases Each runs against.
var Dialects = []store.Dialect{store.SQLite, store.Postgres}

// Each runs fn as one subtest per dialect, named for it, each with a fresh
// database. The PostgreSQL one is skipped when pgtest.Env is unset.
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	EachConfig(t, func(t *testing.T, cfg store.Config) { fn(t, OpenConfig(t, cfg)) })
}

// EachConfig is Each for tests that open the database themselves, several
// times (replicas, restarts): cfg names a fresh, empty database.
func EachConfig(t *testing.T, fn func(t *testing.T, cfg store.Config)) {
	t.Helper()
	for _, d := range Dialects {
		t.Run(string(d), func(t *testing.T) { fn(t, NewConfig(t, d)) })
	}
}

// NewConfig names a fresh, empty database of dialect d: a file in the
// test's temporary directory, or a PostgreSQL database dropped when the test
// ends (the test is skipped when pgtest.Env is unset).
func NewConfig(t testing.TB, d store.Dialect) store.Config {
	t.Helper()
	if d == store.Postgres {
		return store.Config{Dialect: d, DSN: pgtest.NewDatabase(t)}
	}
	return store.Config{Dialect: store.SQLite, DSN: filepath.Join(t.TempDir(), "agentdesk.db")}
}

// Open returns a fresh, empty database of dialect d, closed when the test
// ends.
func Open(t testing.TB, d store.Dialect) *store.DB {
	t.Helper()
	return OpenConfig(t, NewConfig(t, d))
}

// OpenConfig opens the database cfg names (a second handle on a database,
// as another replica or a restart would have), closed when the test ends.
func OpenConfig(t testing.TB, cfg store.Config) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
