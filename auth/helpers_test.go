package auth

import (
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2/memstore"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newMemStore returns a memstore without its cleanup goroutine.
func newMemStore(t *testing.T) *memstore.MemStore {
	t.Helper()
	return memstore.NewWithCleanupInterval(0)
}

// fakeClock is a settable clock for idle-timeout tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type nopCloser struct{ io.Reader }

func (nopCloser) Close() error { return nil }

func readAll(r io.Reader) ([]byte, error) { return io.ReadAll(r) }
