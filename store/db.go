// Package store opens the portal's SQL database (SQLite, the embedded default,
// or PostgreSQL when replicas share one) behind one database/sql handle, and
// runs the schema migrations that each package keeps beside its own queries.
//
// Both databases go through database/sql: SQLite through modernc.org/sqlite
// (pure Go, no cgo), PostgreSQL through pgx's stdlib driver. Queries are
// written once with ? placeholders; the little that differs between the two
// (placeholders, how a time is stored, ILIKE) is in Dialect.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Dialect is the SQL database behind a DB.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Config says which database to open.
type Config struct {
	Dialect Dialect
	// DSN is the file path for SQLite (created if missing) and a postgres://
	// URL or key=value connection string for PostgreSQL.
	DSN string
}

// DB is an open database. Its query methods take ? placeholders, rebind them
// for the dialect, and keep each distinct statement prepared for the life of
// the DB: the hot queries of a warm page (session load and save, user groups,
// audit history, holds) are then parsed once per connection instead of once
// per call. Callers pass constant SQL (or SQL built from a bounded set of
// fragments), so the cache stays small.
type DB struct {
	sql     *sql.DB
	dialect Dialect

	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

// Open opens the database cfg names and checks that it answers. It applies no
// migrations: each package's store applies its own (see Migrate).
func Open(ctx context.Context, cfg Config) (*DB, error) {
	switch cfg.Dialect {
	case SQLite, "":
		return OpenSQLite(ctx, cfg.DSN)
	case Postgres:
		return OpenPostgres(ctx, cfg.DSN)
	}
	return nil, fmt.Errorf("store: unknown dialect %q", cfg.Dialect)
}

// OpenSQLite opens (creating if needed) the SQLite database at path in WAL
// mode with full fsync.
func OpenSQLite(ctx context.Context, path string) (*DB, error) {
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
	// One writer at a time is SQLite's model; a small pool avoids SQLITE_BUSY
	// storms. Idle connections are kept, so that their prepared statements are.
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return &DB{sql: db, dialect: SQLite, stmts: map[string]*sql.Stmt{}}, nil
}

// OpenPostgres connects to the PostgreSQL database at dsn.
func OpenPostgres(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// The parse error may quote the URL, password included.
		return nil, errors.New("open postgres: the database URL is not valid")
	}
	db := stdlib.OpenDB(*cfg)
	// As many idle connections as open ones, so that a burst does not close
	// connections and their prepared statements.
	// pgxpool's default size, which the portal used before.
	n := max(4, runtime.NumCPU())
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open postgres %s/%s: %w", cfg.Host, cfg.Database, err)
	}
	return &DB{sql: db, dialect: Postgres, stmts: map[string]*sql.Stmt{}}, nil
}

// Dialect is the database behind db.
func (db *DB) Dialect() Dialect { return db.dialect }

// SQL is the database/sql handle, for what the query methods do not cover
// (transactions, a dedicated connection).
func (db *DB) SQL() *sql.DB { return db.sql }

// PingContext checks that the database answers.
func (db *DB) PingContext(ctx context.Context) error { return db.sql.PingContext(ctx) }

// Close closes the prepared statements and the database.
func (db *DB) Close() error {
	db.mu.Lock()
	for q, s := range db.stmts {
		s.Close()
		delete(db.stmts, q)
	}
	db.mu.Unlock()
	return db.sql.Close()
}

// Rebind turns the ? placeholders of query into the dialect's ($1, $2, … for
// PostgreSQL). A ? inside a quoted literal is left alone.
func (db *DB) Rebind(query string) string {
	if db.dialect != Postgres || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	quoted := false
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'':
			quoted = !quoted
		case c == '?' && !quoted:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// stmt returns the prepared statement for query (with ? placeholders),
// preparing it on first use.
func (db *DB) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	db.mu.Lock()
	s, ok := db.stmts[query]
	db.mu.Unlock()
	if ok {
		return s, nil
	}
	s, err := db.sql.PrepareContext(ctx, db.Rebind(query))
	if err != nil {
		return nil, err
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if prev, ok := db.stmts[query]; ok {
		s.Close() // another caller prepared it meanwhile
		return prev, nil
	}
	db.stmts[query] = s
	return s, nil
}

// ExecContext runs query (prepared once, see DB) with args.
func (db *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	s, err := db.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(ctx, args...)
}

// QueryContext runs query (prepared once, see DB) with args.
func (db *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	s, err := db.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(ctx, args...)
}

// QueryRowContext runs query (prepared once, see DB) with args. A failure to
// prepare is reported by the row's Scan, as database/sql does.
func (db *DB) QueryRowContext(ctx context.Context, query string, args ...any) *Row {
	s, err := db.stmt(ctx, query)
	if err != nil {
		return &Row{err: err}
	}
	return &Row{row: s.QueryRowContext(ctx, args...)}
}

// Row is the result of QueryRowContext.
type Row struct {
	row *sql.Row
	err error
}

// Scan copies the row's columns into dest; sql.ErrNoRows when there is none.
func (r *Row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	return r.row.Scan(dest...)
}

// Like is the dialect's case-insensitive LIKE operator (SQLite's LIKE is
// case-insensitive for ASCII; PostgreSQL's is not).
func (db *DB) Like() string {
	if db.dialect == Postgres {
		return "ILIKE"
	}
	return "LIKE"
}
