package lock

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a Locker over one Redis: the lock is a key whose value is its holder,
// set with NX and a PX expiry.
type Redis struct {
	client redis.UniversalClient
	prefix string
}

// NewRedis returns a Locker on client. Every key is stored under prefix
// (DefaultPrefix when empty).
func NewRedis(client redis.UniversalClient, prefix string) *Redis {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &Redis{client: client, prefix: prefix}
}

// tryLockScript sets the key only when it is absent and otherwise answers the
// current holder, in one atomic step: a separate GET after a failed SET could
// find the key gone (expired or unlocked) and report nobody.
var tryLockScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
	return {1, ARGV[1]}
end
return {0, redis.call('GET', KEYS[1])}
`)

// unlockScript deletes the key only while it still holds this holder's value,
// so a holder whose lock expired and was taken by someone else cannot remove
// the new holder's lock.
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0
`)

// TryLock takes key for holder for ttl, or reports who holds it.
func (r *Redis) TryLock(ctx context.Context, key, holder string, ttl time.Duration) (bool, string, error) {
	if err := check(key, holder, ttl); err != nil {
		return false, "", err
	}
	res, err := tryLockScript.Run(ctx, r.client, []string{r.prefix + key}, holder, ttl.Milliseconds()).Slice()
	if err != nil {
		return false, "", fmt.Errorf("lock %s: redis: %w", key, err)
	}
	if len(res) != 2 {
		return false, "", fmt.Errorf("lock %s: redis: unexpected answer %v", key, res)
	}
	ok, _ := res[0].(int64)
	current, _ := res[1].(string)
	return ok == 1, current, nil
}

// Unlock releases key if holder still holds it; otherwise it does nothing.
func (r *Redis) Unlock(ctx context.Context, key, holder string) error {
	if err := unlockScript.Run(ctx, r.client, []string{r.prefix + key}, holder).Err(); err != nil {
		return fmt.Errorf("unlock %s: redis: %w", key, err)
	}
	return nil
}
