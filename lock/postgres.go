package lock

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/agentdesk/agentdesk/store"
)

//go:embed migrations
var migrations embed.FS

// Tables is the schema of the job_locks table (PostgreSQL only).
var Tables = store.Schema{Name: "lock", FS: migrations}

// Postgres is a Locker over the job_locks table. Expiry is judged by the
// database's clock only, so replicas whose clocks disagree still agree on it.
type Postgres struct {
	db     *store.DB
	prefix string
}

// NewPostgres migrates the job_locks table in db, which must be PostgreSQL,
// and returns a Locker on it. Every key is stored under prefix (DefaultPrefix
// when empty).
func NewPostgres(ctx context.Context, db *store.DB, prefix string) (*Postgres, error) {
	if db.Dialect() != store.Postgres {
		return nil, fmt.Errorf("lock: job locks need PostgreSQL, not %s", db.Dialect())
	}
	if err := db.Migrate(ctx, Tables); err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &Postgres{db: db, prefix: prefix}, nil
}

// The insert wins when the key is free; on conflict the row is taken over only
// when it has expired. Concurrent takers of one key queue on the row lock and
// re-check expires_at on the committed row, so exactly one of them gets it.
const tryLockSQL = `INSERT INTO job_locks (key, holder, expires_at)
VALUES (?, ?, now() + CAST(? AS bigint) * interval '1 microsecond')
ON CONFLICT (key) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
WHERE job_locks.expires_at < now()
RETURNING holder`

// TryLock takes key for holder for ttl, or reports who holds it.
func (p *Postgres) TryLock(ctx context.Context, key, holder string, ttl time.Duration) (bool, string, error) {
	if err := check(key, holder, ttl); err != nil {
		return false, "", err
	}
	// PostgreSQL text cannot hold NUL; say so rather than fail with an encoding error.
	if strings.ContainsRune(holder, 0) || strings.ContainsRune(key, 0) {
		return false, "", fmt.Errorf("%w: NUL byte in key or holder", ErrInvalid)
	}
	k := p.prefix + key
	// The holder seen on conflict may unlock before we read it; try again then.
	for range 3 {
		var got string
		err := p.db.QueryRowContext(ctx, tryLockSQL, k, holder, ttl.Microseconds()).Scan(&got)
		if err == nil {
			return true, got, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return false, "", fmt.Errorf("lock %s: postgres: %w", key, err)
		}
		err = p.db.QueryRowContext(ctx, `SELECT holder FROM job_locks WHERE key = ? AND expires_at >= now()`, k).Scan(&got)
		if err == nil {
			return false, got, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return false, "", fmt.Errorf("lock %s: postgres: %w", key, err)
		}
	}
	return false, "", fmt.Errorf("lock %s: postgres: the lock changed hands too often to read its holder", key)
}

// Unlock releases key if holder still holds it; otherwise it does nothing.
func (p *Postgres) Unlock(ctx context.Context, key, holder string) error {
	if _, err := p.db.ExecContext(ctx, `DELETE FROM job_locks WHERE key = ? AND holder = ?`, p.prefix+key, holder); err != nil {
		return fmt.Errorf("unlock %s: postgres: %w", key, err)
	}
	return nil
}

// Renew extends key's expiry to ttl from now if holder still holds it (and it
// has not expired), and reports whether it does.
func (p *Postgres) Renew(ctx context.Context, key, holder string, ttl time.Duration) (bool, error) {
	if err := check(key, holder, ttl); err != nil {
		return false, err
	}
	res, err := p.db.ExecContext(ctx, `UPDATE job_locks SET expires_at = now() + CAST(? AS bigint) * interval '1 microsecond'
		WHERE key = ? AND holder = ? AND expires_at >= now()`, ttl.Microseconds(), p.prefix+key, holder)
	if err != nil {
		return false, fmt.Errorf("renew lock %s: postgres: %w", key, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("renew lock %s: postgres: %w", key, err)
	}
	return n == 1, nil
}

// UnlockHolders removes every lock under the prefix whose holder contains
// marker, and returns how many: the locks a replica held when it died.
func (p *Postgres) UnlockHolders(ctx context.Context, marker string) (int, error) {
	if marker == "" {
		return 0, fmt.Errorf("%w: empty marker", ErrInvalid)
	}
	res, err := p.db.ExecContext(ctx, `DELETE FROM job_locks WHERE starts_with(key, ?) AND strpos(holder, ?) > 0`, p.prefix, marker)
	if err != nil {
		return 0, fmt.Errorf("unlock stale locks: postgres: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("unlock stale locks: postgres: %w", err)
	}
	return int(n), nil
}
