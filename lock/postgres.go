package lock

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Postgres is a Locker over the job_locks table. Expiry is judged by the
// database's clock only, so replicas whose clocks disagree still agree on it.
type Postgres struct {
	pool   *pgxpool.Pool
	prefix string
}

// NewPostgres returns a Locker on pool. Every key is stored under prefix
// (DefaultPrefix when empty). The job_locks table is created by the
// PostgreSQL migrations in package store.
func NewPostgres(pool *pgxpool.Pool, prefix string) *Postgres {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &Postgres{pool: pool, prefix: prefix}
}

// The insert wins when the key is free; on conflict the row is taken over only
// when it has expired. Concurrent takers of one key queue on the row lock and
// re-check expires_at on the committed row, so exactly one of them gets it.
const tryLockSQL = `INSERT INTO job_locks (key, holder, expires_at)
VALUES ($1, $2, now() + $3::bigint * interval '1 microsecond')
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
		err := p.pool.QueryRow(ctx, tryLockSQL, k, holder, ttl.Microseconds()).Scan(&got)
		if err == nil {
			return true, got, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return false, "", fmt.Errorf("lock %s: postgres: %w", key, err)
		}
		err = p.pool.QueryRow(ctx, `SELECT holder FROM job_locks WHERE key = $1 AND expires_at >= now()`, k).Scan(&got)
		if err == nil {
			return false, got, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return false, "", fmt.Errorf("lock %s: postgres: %w", key, err)
		}
	}
	return false, "", fmt.Errorf("lock %s: postgres: the lock changed hands too often to read its holder", key)
}

// Unlock releases key if holder still holds it; otherwise it does nothing.
func (p *Postgres) Unlock(ctx context.Context, key, holder string) error {
	if _, err := p.pool.Exec(ctx, `DELETE FROM job_locks WHERE key = $1 AND holder = $2`, p.prefix+key, holder); err != nil {
		return fmt.Errorf("unlock %s: postgres: %w", key, err)
	}
	return nil
}
