package audit

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/emclient"
	"github.com/agentdesk/agentdesk/emclient/emsim"
	"github.com/agentdesk/agentdesk/store"
	"github.com/agentdesk/agentdesk/store/storetest"
)

func testLogger() *slog.Logger {
	if os.Getenv("AGENTDESK_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// eachStore runs fn against a fresh SQLite store and, when AGENTDESK_TEST_POSTGRES
// is set, a fresh PostgreSQL one.
func eachStore(t *testing.T, fn func(t *testing.T, s Store)) {
	storetest.Each(t, func(t *testing.T, db *store.DB) { fn(t, newSQLStore(t, db)) })
}

// newSQLStore is the audit store on db, migrated.
func newSQLStore(t testing.TB, db *store.DB) *SQLStore {
	t.Helper()
	s, err := NewSQLStore(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newEM starts an EM simulator on loopback TCP and a client for it.
func newEM(t *testing.T, cfg emsim.Config) (*emsim.Server, *emclient.Client, string) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger()
	}
	sim := emsim.New(cfg)
	run, err := sim.Listen("127.0.0.1:0", false)
	if err != nil {
		t.Fatal(err)
	}
	em := newClient(t, run.URL)
	t.Cleanup(run.Close)
	return sim, em, run.URL
}

func newClient(t *testing.T, url string) *emclient.Client {
	t.Helper()
	em, err := emclient.New(emclient.Config{BaseURL: url, Username: "svc", Password: "secret", Timeout: 10 * time.Second, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = em.Close(ctx)
	})
	return em
}
