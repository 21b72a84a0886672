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

// Renew extends key's expiry to ttl from now if holder still holds it (and it
// has not expired), and reports whether it does.
func (p *Postgres) Renew(ctx context.Context, key, holder string, ttl time.Duration) (bool, error) {
	if err := check(key, holder, ttl); err != nil {
		return false, err
	}
	tag, err := p.pool.Exec(ctx, `UPDATE job_locks SET expires_at = now() + $3::bigint * interval '1 microsecond'
		WHERE key = $1 AND holder = $2 AND expires_at >= now()`, p.prefix+key, holder, ttl.Microseconds())
	if err != nil {
		return false, fmt.Errorf("renew lock %s: postgres: %w", key, err)
	}
	return tag.RowsAffected() == 1, nil
}

// UnlockHolders removes every lock under the prefix whose holder contains
// marker, and returns how many: the locks a replica held when it died.
func (p *Postgres) UnlockHolders(ctx context.Context, marker string) (int, error) {
	if marker == "" {
		return 0, fmt.Errorf("%w: empty marker", ErrInvalid)
	}
	tag, err := p.pool.Exec(ctx, `DELETE FROM job_locks WHERE starts_with(key, $1) AND strpos(holder, $2) > 0`, p.prefix, marker)
	if err != nil {
		return 0, fmt.Errorf("unlock stale locks: postgres: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
