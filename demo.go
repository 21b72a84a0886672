//go:build !nodemo

// The demo and the EM simulator are in every build but the container image's
// (-tags nodemo): `go run . demo` is the README's first command, and the e2e
// tests run `agentdesk emsim`. The image leaves them out: a production portal
// has no use for a sign-in that takes the password "demo", and the demo
// identity provider's OpenID library is a third of the binary.

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/agentdesk/agentdesk/app"
	"github.com/agentdesk/agentdesk/config"
	"github.com/agentdesk/agentdesk/emclient/emsim"
)

func emsimMain(args []string, stdout io.Writer) error { return emsim.Main(args, stdout) }

func demo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	var d app.DemoConfig
	fs.StringVar(&d.Addr, "addr", "127.0.0.1:8080", "listen address of the portal")
	fs.IntVar(&d.Jobs, "jobs", 75, "number of simulated agent jobs (more than a list page of 50, so paging shows)")
	fs.Int64Var(&d.Seed, "seed", 1, "seed of the simulated fleet")
	fs.DurationVar(&d.BackupDuration, "backup-duration", 20*time.Second, "how long a simulated backup runs")
	embedOrigins := fs.String("embed-origin", "", "parent origins that may frame the /embed/ cards, comma-separated (as AGENTDESK_EMBED_ORIGINS)")
	holdDurations := fs.String("hold-durations", "", "choices of a time-boxed schedule disable, e.g. 2s,4h (default 1h,4h,8h,24h; as AGENTDESK_SCHEDULE_HOLD_DURATIONS)")
	fs.DurationVar(&d.SelfService.HoldInterval, "hold-interval", time.Second, "how often due time-boxed disables are ended")
	fs.DurationVar(&d.SelfService.StaleAfter, "stale-after", 48*time.Hour, "age at which an end user's last backup counts as overdue")
	fs.DurationVar(&d.Idle, "idle", 30*time.Minute, "session idle timeout (as AGENTDESK_SESSION_IDLE), e.g. 1m to try signing out by idleness")
	fs.StringVar(&d.IdPAddr, "idp-addr", "127.0.0.1:0", "listen address of the demo identity provider (fixed port: bookmarks survive restarts)")
	fs.StringVar(&d.EMAddr, "em-addr", "127.0.0.1:0", "listen address of the EM simulator (fixed port: point other clients at it)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *holdDurations != "" {
		hd, err := config.ParseDurations(*holdDurations)
		if err != nil {
			return fmt.Errorf("-hold-durations: %w", err)
		}
		d.SelfService.HoldDurations = hd
	}
	origins, err := config.ParseEmbedOrigins(*embedOrigins)
	if err != nil {
		return fmt.Errorf("-embed-origin: %w", err)
	}
	d.Embed.Origins = origins
	d.MetricsToken = os.Getenv("AGENTDESK_METRICS_TOKEN")
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return app.Demo(ctx, d, stdout, log)
}
