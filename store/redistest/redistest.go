// Package redistest gives tests a Redis key prefix of their own. Tests that
// need Redis read its address from AGENTDESK_TEST_REDIS and are skipped only
// when the variable is unset.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
)

// Env is the variable holding the server's URL, e.g. redis://127.0.0.1:6379/0.
const Env = "AGENTDESK_TEST_REDIS"

// NewClient connects to the test server and returns the client with a key
// prefix ("agentdesk-test:<random>:") no other test uses. Every key under the
// prefix is removed and the client closed when the test ends.
func NewClient(t testing.TB) (*redis.Client, string) {
	t.Helper()
	raw := os.Getenv(Env)
	if raw == "" {
		t.Skip(Env + " is not set")
	}
	opt, err := redis.ParseURL(raw)
	if err != nil {
		t.Fatalf("%s: %v", Env, err)
	}
	client := redis.NewClient(opt)
	b := make([]byte, 8)
	rand.Read(b)
	prefix := "agentdesk-test:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		if keys, err := client.Keys(ctx, prefix+"*").Result(); err == nil && len(keys) > 0 {
			client.Del(ctx, keys...)
		}
		client.Close()
	})
	if err := client.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redis at %s: %v", raw, err)
	}
	return client, prefix
}
