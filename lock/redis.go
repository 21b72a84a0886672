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

// renewScript extends the key's expiry only while it holds this holder's value.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)

// unlockMarkedScript deletes each key whose holder contains ARGV[1] (a plain
// substring, not a pattern) and returns how many it deleted.
var unlockMarkedScript = redis.NewScript(`
local n = 0
for _, k in ipairs(KEYS) do
	local v = redis.call('GET', k)
	if v and string.find(v, ARGV[1], 1, true) then
		n = n + redis.call('DEL', k)
	end
end
return n
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

// Renew extends key's expiry to ttl from now if holder still holds it, and
// reports whether it does.
func (r *Redis) Renew(ctx context.Context, key, holder string, ttl time.Duration) (bool, error) {
	if err := check(key, holder, ttl); err != nil {
		return false, err
	}
	n, err := renewScript.Run(ctx, r.client, []string{r.prefix + key}, holder, ttl.Milliseconds()).Int64()
	if err != nil {
		return false, fmt.Errorf("renew lock %s: redis: %w", key, err)
	}
	return n == 1, nil
}

// UnlockHolders removes every lock under the prefix whose holder contains
// marker, and returns how many: the locks a replica held when it died.
func (r *Redis) UnlockHolders(ctx context.Context, marker string) (int, error) {
	if marker == "" {
		return 0, fmt.Errorf("%w: empty marker", ErrInvalid)
	}
	total := 0
	iter := r.client.Scan(ctx, 0, r.prefix+"*", 500).Iterator()
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		n, err := unlockMarkedScript.Run(ctx, r.client, batch, marker).Int()
		batch = batch[:0]
		total += n
		return err
	}
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			if err := flush(); err != nil {
				return total, fmt.Errorf("unlock stale locks: redis: %w", err)
			}
		}
	}
	if err := iter.Err(); err != nil {
		return total, fmt.Errorf("unlock stale locks: redis: %w", err)
	}
	if err := flush(); err != nil {
		return total, fmt.Errorf("unlock stale locks: redis: %w", err)
	}
	return total, nil
}
