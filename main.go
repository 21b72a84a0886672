// Command agentdesk is a web portal for Veeam Agent backup jobs held in Veeam
// Backup Enterprise Manager. It only reads the command line: package app
// builds and runs the portal.
//
//	agentdesk demo         the portal with a simulated EM and a demo identity provider
//	agentdesk serve        production: configuration from the environment
//	agentdesk emsim        the EM simulator on its own
//	agentdesk healthcheck  probe a running portal (container HEALTHCHECK)
//
// Built with -tags nodemo (the container image) it holds no demo and no
// simulator: see demo.go.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/agentdesk/agentdesk/app"
	"github.com/agentdesk/agentdesk/config"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "agentdesk:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: agentdesk demo|serve|emsim|healthcheck [flags]")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "demo":
		return demo(ctx, args[1:], stdout, stderr)
	case "serve":
		return serve(ctx, stderr)
	case "emsim":
		return emsimMain(args[1:], stdout)
	case "healthcheck":
		return healthcheck(args[1:])
	case "loadtest":
		// A developer tool: kept out of the production binary.
		return errors.New("the load tool is a command of its own: go run ./cmd/loadtest [flags]")
	}
	return fmt.Errorf("unknown command %q: want demo, serve, emsim or healthcheck", args[0])
}

func serve(ctx context.Context, stderr io.Writer) error {
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	log := app.NewLogger(cfg.Log, stderr)
	a, err := app.Build(ctx, cfg, app.Options{Logger: log})
	if err != nil {
		return err
	}
	defer a.Close(context.Background())
	ln, err := net.Listen("tcp", cfg.Site.Addr)
	if err != nil {
		return &config.Error{Var: "AGENTDESK_ADDR", Msg: err.Error()}
	}
	log.Info("AgentDesk is serving", "url", cfg.Site.PublicURL.String(), "addr", ln.Addr().String())
	return a.Serve(ctx, ln)
}

// healthcheck probes /livez of a running portal; exit status 0 means healthy.
func healthcheck(args []string) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	target := fs.String("url", "", "URL of /livez (default from AGENTDESK_ADDR)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *target == "" {
		addr := os.Getenv("AGENTDESK_ADDR")
		if addr == "" {
			addr = "127.0.0.1:8080"
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return err
		}
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		*target = "http://" + net.JoinHostPort(host, port) + "/livez"
	}
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(*target)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", *target, resp.Status)
	}
	return nil
}
