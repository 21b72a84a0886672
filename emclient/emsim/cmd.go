package emsim

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Main runs the simulator as a command:
//
//	agentdesk emsim -addr 127.0.0.1:19398 -user svc -password secret [-tls=false] [-jobs N] [-seed S] [-refuse-status N]
//
// It serves until SIGINT or SIGTERM.
func Main(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("emsim", flag.ContinueOnError)
	fs.SetOutput(stdout)
	addr := fs.String("addr", "127.0.0.1:19398", "listen address")
	user := fs.String("user", "svc", "account name (Portal Administrator)")
	password := fs.String("password", "secret", "account password")
	useTLS := fs.Bool("tls", true, "serve HTTPS with a self-signed certificate")
	jobs := fs.Int("jobs", 48, "number of agent jobs in the fleet")
	seed := fs.Int64("seed", 1, "fleet seed")
	speed := fs.Duration("speed", 20*time.Second, "run time of a backup started through the API")
	refuse := fs.Int("refuse-status", 0, "refuse actions that cannot run now with this HTTP status (e.g. 400 or 500) instead of a failed task")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("emsim: unexpected arguments %q", fs.Args())
	}
	if *user == "" || *password == "" {
		return fmt.Errorf("emsim: -user and -password must not be empty")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	s := New(Config{
		Accounts:     []Account{{Name: *user, Password: *password, Role: PortalAdministrator}},
		Seed:         *seed,
		Jobs:         *jobs,
		SessionSpeed: *speed,
		Refusal:      Refusal{Status: *refuse},
	})
	run, err := s.Listen(*addr, *useTLS)
	if err != nil {
		return err
	}
	defer run.Close()
	fmt.Fprintf(stdout, "emsim: Enterprise Manager simulator with %d agent jobs (seed %d)\n", *jobs, *seed)
	fmt.Fprintf(stdout, "  URL:         %s/api/\n", run.URL)
	if run.CAFile != "" {
		fmt.Fprintf(stdout, "  CA file:     %s\n", run.CAFile)
	}
	fmt.Fprintf(stdout, "  credentials: user %q, password from -password (Portal Administrator)\n", *user)
	fmt.Fprintf(stdout, "  try:         curl --cacert <CA file> -u %s:<password> -X POST '%s/api/sessionMngr/?v=latest'\n", *user, run.URL)
	fmt.Fprintf(stdout, "  control:     %s/_emsim/stats, /_emsim/faults, /_emsim/expire\n", run.URL)
	<-ctx.Done()
	fmt.Fprintln(stdout, "emsim: stopping")
	return nil
}
