package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// SessionStore keeps the portal's sessions (an scs.Store and
// scs.IterableStore) in the sessions table of SQLite or PostgreSQL. It reads
// and writes the rows exactly as scs's sqlite3store and pgxstore did, so
// sessions survive the upgrade, but through DB's prepared statements: loading
// the session is on every signed-in request.
type SessionStore struct {
	db   *DB
	stop chan struct{}
	done chan struct{}

	find, commit, del, all, expire, count string
}

// NewSessionStore migrates store's tables in db and returns the sessions on
// it. With cleanup > 0 a goroutine deletes expired sessions at that interval
// until StopCleanup.
func NewSessionStore(ctx context.Context, db *DB, cleanup time.Duration) (*SessionStore, error) {
	if err := db.Migrate(ctx, Tables); err != nil {
		return nil, err
	}
	s := &SessionStore{db: db}
	// The dialects store expiry differently (see the migrations); "now" is
	// the database's clock in both, as in the scs stores.
	now, expiry := `julianday('now')`, `julianday(?)`
	if db.dialect == Postgres {
		now, expiry = `current_timestamp`, `?`
	}
	s.find = `SELECT data FROM sessions WHERE token = ? AND ` + now + ` < expiry`
	s.commit = `INSERT INTO sessions (token, data, expiry) VALUES (?, ?, ` + expiry + `)
		ON CONFLICT (token) DO UPDATE SET data = excluded.data, expiry = excluded.expiry`
	s.del = `DELETE FROM sessions WHERE token = ?`
	s.all = `SELECT token, data FROM sessions WHERE ` + now + ` < expiry`
	s.expire = `DELETE FROM sessions WHERE expiry < ` + now
	s.count = `SELECT COUNT(*) FROM sessions WHERE ` + now + ` < expiry`
	if cleanup > 0 {
		s.stop, s.done = make(chan struct{}), make(chan struct{})
		go s.cleanup(cleanup)
	}
	return s, nil
}

// DB is the database the sessions are in.
func (s *SessionStore) DB() *DB { return s.db }

// expiryValue is what the commit statement takes for t.
func (s *SessionStore) expiryValue(t time.Time) any {
	if s.db.dialect == Postgres {
		return t.UTC()
	}
	// sqlite3store's format: julianday() reads it, to the millisecond.
	return t.UTC().Format("2006-01-02T15:04:05.999")
}

// Find returns the data of an unexpired session.
func (s *SessionStore) Find(token string) ([]byte, bool, error) {
	var b []byte
	err := s.db.QueryRowContext(context.Background(), s.find, token).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("sessions: find: %w", err)
	}
	return b, true, nil
}

// Commit adds or replaces a session.
func (s *SessionStore) Commit(token string, b []byte, expiry time.Time) error {
	if _, err := s.db.ExecContext(context.Background(), s.commit, token, b, s.expiryValue(expiry)); err != nil {
		return fmt.Errorf("sessions: commit: %w", err)
	}
	return nil
}

// Delete removes a session; a missing one is no error.
func (s *SessionStore) Delete(token string) error {
	if _, err := s.db.ExecContext(context.Background(), s.del, token); err != nil {
		return fmt.Errorf("sessions: delete: %w", err)
	}
	return nil
}

// All returns every unexpired session by token.
func (s *SessionStore) All() (map[string][]byte, error) {
	rows, err := s.db.QueryContext(context.Background(), s.all)
	if err != nil {
		return nil, fmt.Errorf("sessions: all: %w", err)
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var token string
		var data []byte
		if err := rows.Scan(&token, &data); err != nil {
			return nil, fmt.Errorf("sessions: all: %w", err)
		}
		out[token] = data
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sessions: all: %w", err)
	}
	return out, nil
}

// Count returns how many sessions are unexpired (for the metrics).
func (s *SessionStore) Count(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, s.count).Scan(&n); err != nil {
		return 0, fmt.Errorf("sessions: count: %w", err)
	}
	return n, nil
}

// DeleteExpired removes the expired sessions.
func (s *SessionStore) DeleteExpired(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, s.expire); err != nil {
		return fmt.Errorf("sessions: delete expired: %w", err)
	}
	return nil
}

func (s *SessionStore) cleanup(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := s.DeleteExpired(context.Background()); err != nil {
				slog.Warn("session cleanup failed", "err", err)
			}
		case <-s.stop:
			return
		}
	}
}

// StopCleanup ends the cleanup goroutine, if there is one, and waits for it.
func (s *SessionStore) StopCleanup() {
	if s.stop != nil {
		close(s.stop)
		<-s.done
		s.stop = nil
	}
}
