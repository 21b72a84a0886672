// Package lock holds the per-job action locks that replicas share: one in
// Redis, one in PostgreSQL. Both implement jobs.Locker: TryLock gives one holder
// at a time per key and reports the current holder to the others; Unlock removes
// the lock only for the holder that took it; Renew lets a live holder extend
// it (a heartbeat), so the ttl can be short; a lock whose holder died expires
// after its ttl, or at once when its replica starts again (UnlockHolders).
package lock

import (
	"errors"
	"fmt"
	"time"
)

// DefaultPrefix is the key prefix the portal uses, so the locks of several
// deployments sharing one Redis or one table stay apart.
const DefaultPrefix = "agentdesk:lock:"

// ErrInvalid is returned for a lock request that cannot be stored: an empty key
// or holder, or a ttl below one millisecond.
var ErrInvalid = errors.New("lock: invalid request")

func check(key, holder string, ttl time.Duration) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty key", ErrInvalid)
	case holder == "":
		return fmt.Errorf("%w: empty holder", ErrInvalid)
	case ttl < time.Millisecond:
		return fmt.Errorf("%w: ttl %s is below 1ms", ErrInvalid, ttl)
	}
	return nil
}
