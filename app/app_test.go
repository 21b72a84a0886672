package app_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/agentdesk/agentdesk/app"
	"github.com/agentdesk/agentdesk/audit"
	"github.com/agentdesk/agentdesk/config"
	"github.com/agentdesk/agentdesk/emclient/emsim"
)

// Close must end everything Build started: loops, the session cleanup, the
// sign-in discovery, the EM client.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// scs.New starts a memory store, replaced at once, whose cleanup
		// goroutine has no way to stop.
		goleak.IgnoreTopFunction("github.com/alexedwards/scs/v2/memstore.(*MemStore).startCleanup"))
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// demoConfig is a portal over an emsim of its own; the issuer answers
// nothing, which Build does not wait for.
func demoConfig(t *testing.T) *config.Config {
	t.Helper()
	sim := httptest.NewServer(emsim.New(emsim.Config{Seed: 1, Jobs: 3, Logger: quiet()}))
	t.Cleanup(sim.Close)
	pub, _ := url.Parse("http://127.0.0.1:1/")
	return app.DemoDefaults(pub, sim.URL, "http://127.0.0.1:1", "secret", t.TempDir())
}

// TestBuildRefusesMissingRequirements: what the portal cannot run without
// fails Build, naming it, rather than a silent fallback.
func TestBuildRefusesMissingRequirements(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*config.Config, *app.Options)
		wantVar string // a *config.Error naming this variable; "" any error
	}{
		{"no logger", func(_ *config.Config, o *app.Options) { o.Logger = nil }, ""},
		{"no public URL", func(c *config.Config, _ *app.Options) { c.Site.PublicURL = nil }, "AGENTDESK_PUBLIC_URL"},
		{"unreadable CA file", func(c *config.Config, _ *app.Options) { c.EM.CAFile = "/nonexistent/ca.pem" }, "AGENTDESK_EM_CA_FILE"},
		{"unreadable policy", func(c *config.Config, _ *app.Options) { c.SignIn.PolicyFile = "/nonexistent/policy.yaml" }, "AGENTDESK_POLICY_FILE"},
		{"unreadable break-glass file", func(c *config.Config, _ *app.Options) { c.SignIn.BreakGlassFile = "/nonexistent/bg" }, "AGENTDESK_BREAKGLASS_FILE"},
		{"postgres unreachable", func(c *config.Config, _ *app.Options) {
			c.Stores.DatabaseURL = "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=1"
		}, "AGENTDESK_DATABASE_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := demoConfig(t)
			opts := app.Options{Logger: quiet()}
			tt.change(cfg, &opts)
			a, err := app.Build(t.Context(), cfg, opts)
			if err == nil {
				a.Close(context.Background())
				t.Fatal("Build succeeded")
			}
			var ce *config.Error
			if tt.wantVar != "" && (!errors.As(err, &ce) || ce.Var != tt.wantVar) {
				t.Errorf("Build: %v, want an error naming %s", err, tt.wantVar)
			}
		})
	}
}

// TestBuildWiresTheDurablePath: the portal Build returns serves, records to
// its audit log (not a log-only fallback) and has the holds service; Close
// ends it and may be called again.
func TestBuildWiresTheDurablePath(t *testing.T) {
	a, err := app.Build(t.Context(), demoConfig(t), app.Options{Logger: quiet(), Demo: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/livez")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/livez: %s", resp.Status)
	}
	if a.Holds == nil || a.Audit == nil || a.Users == nil {
		t.Fatalf("holds %v, audit %v, users %v", a.Holds, a.Audit, a.Users)
	}
	if err := a.Audit.Record(t.Context(), audit.Entry{Kind: audit.KindSignOut, UserKey: "k", UserName: "n"}); err != nil {
		t.Fatal(err)
	}
	pg, err := a.Audit.Query(t.Context(), audit.Filter{})
	if err != nil || len(pg.Entries) != 1 {
		t.Fatalf("audit query: %v, %+v", err, pg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
