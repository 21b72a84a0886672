package runs

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis keeps run states in one hash (field: job id) under prefix+"runs".
type Redis struct {
	client redis.UniversalClient
	key    string
}

// NewRedis returns a store on client; prefix is the deployment's key prefix.
func NewRedis(client redis.UniversalClient, prefix string) *Redis {
	return &Redis{client: client, key: prefix + "runs"}
}

type redisEntry struct {
	State json.RawMessage `json:"s"`
	At    time.Time       `json:"at"`
}

// Put replaces the job's run state.
func (r *Redis) Put(ctx context.Context, jobID string, state []byte, at time.Time) error {
	b, err := json.Marshal(redisEntry{State: state, At: at.UTC()})
	if err != nil {
		return fmt.Errorf("runs: encode: %w", err)
	}
	if err := r.client.HSet(ctx, r.key, jobID, b).Err(); err != nil {
		return fmt.Errorf("runs: redis: %w", err)
	}
	return nil
}

// Recent returns the run states written since since. Older ones are removed
// on the way, so the hash holds only runs worth showing.
func (r *Redis) Recent(ctx context.Context, since time.Time) ([]Entry, error) {
	all, err := r.client.HGetAll(ctx, r.key).Result()
	if err != nil {
		return nil, fmt.Errorf("runs: redis: %w", err)
	}
	var out []Entry
	var old []string
	for id, raw := range all {
		var e redisEntry
		if err := json.Unmarshal([]byte(raw), &e); err != nil || e.At.Before(since) {
			old = append(old, id)
			continue
		}
		out = append(out, Entry{JobID: id, State: e.State, At: e.At})
	}
	if len(old) > 0 {
		// Best effort: a failure leaves them for the next call.
		_ = r.client.HDel(ctx, r.key, old...).Err()
	}
	return out, nil
}
