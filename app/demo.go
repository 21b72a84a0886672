//go:build !nodemo

// The demo: left out of the container image's build (-tags nodemo), with the
// EM simulator and the demo identity provider it starts (see ../demo.go).

package app

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/agentdesk/agentdesk/auth/demoidp"
	"github.com/agentdesk/agentdesk/config"
	"github.com/agentdesk/agentdesk/emclient/emsim"
)

// DemoConfig is `agentdesk demo`'s command line.
type DemoConfig struct {
	Addr, IdPAddr, EMAddr string // listen addresses of the portal, the demo IdP and emsim
	Jobs                  int    // simulated agent jobs
	Seed                  int64
	BackupDuration        time.Duration
	Embed                 config.Embed
	SelfService           config.SelfService // zero fields: the production defaults
	Idle                  time.Duration
	MetricsToken          string
}

// Demo runs the portal over a simulated EM and the demo identity provider,
// with the built-in policy and a throwaway data directory, until ctx ends.
// It prints the addresses to stdout.
func Demo(ctx context.Context, d DemoConfig, stdout io.Writer, log *slog.Logger) error {
	sim := emsim.New(emsim.Config{Seed: d.Seed, Jobs: d.Jobs, SessionSpeed: d.BackupDuration, Logger: log.With("component", "emsim")})
	em, err := sim.Listen(d.EMAddr, true)
	if err != nil {
		return fmt.Errorf("start the EM simulator: %w", err)
	}
	defer em.Close()

	ln, err := net.Listen("tcp", d.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", d.Addr, err)
	}
	public := &url.URL{Scheme: "http", Host: ln.Addr().String(), Path: "/"}
	if config.CrossSite(public, d.Embed.Origins) {
		// The demo is plain HTTP: a SameSite=None cookie must be Secure and
		// would be dropped, so a card framed by another site could not sign in.
		log.Warn("an -embed-origin is on another site than the demo portal; the framed card cannot keep a session over plain HTTP", "portal", public.String())
	}

	idpLn, err := net.Listen("tcp", d.IdPAddr)
	if err != nil {
		return fmt.Errorf("start the demo identity provider: %w", err)
	}
	issuer := "http://" + idpLn.Addr().String()
	secret := rand.Text()
	idp, err := demoidp.New(demoidp.Config{
		Issuer: issuer, ClientID: "agentdesk", ClientSecret: secret,
		RedirectURIs:           []string{public.String() + "auth/callback"},
		PostLogoutRedirectURIs: []string{public.String() + "auth/signin"},
		BackChannelLogoutURI:   public.String() + "auth/backchannel-logout",
		Users:                  demoidp.DemoUsers(), Logger: log.With("component", "demoidp"),
	})
	if err != nil {
		return err
	}
	idpSrv := &http.Server{Handler: idp, ReadHeaderTimeout: 10 * time.Second}
	go idpSrv.Serve(idpLn)
	defer idpSrv.Close()

	dir, err := os.MkdirTemp("", "agentdesk-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	cfg := DemoDefaults(public, em.URL, issuer, secret, dir)
	cfg.EM.CAFile = em.CAFile
	cfg.Sessions.Idle = d.Idle
	cfg.Embed = d.Embed
	if d.SelfService.StaleAfter > 0 {
		cfg.SelfService.StaleAfter = d.SelfService.StaleAfter
	}
	if d.SelfService.HoldInterval > 0 {
		cfg.SelfService.HoldInterval = d.SelfService.HoldInterval
	}
	if len(d.SelfService.HoldDurations) > 0 {
		cfg.SelfService.HoldDurations = d.SelfService.HoldDurations
	}
	cfg.Operations.MetricsToken = d.MetricsToken
	a, err := Build(ctx, cfg, Options{Logger: log, Demo: true})
	if err != nil {
		return err
	}
	defer a.Close(context.Background())
	// The IdP is in this process: wait for its discovery, so the printed
	// portal can sign in from its first request.
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := a.SignIn.WaitReady(wctx); err != nil {
		log.Warn("the demo identity provider is not discovered yet; sign-in answers 503 until it is", "err", err)
	}
	fmt.Fprintf(stdout, "\nAgentDesk demo (simulated Enterprise Manager, demo sign-in; nothing here is real)\n\n  Portal:             %s\n  Identity provider:  %s   (users alice, harry, audrey, erin; password \"demo\")\n  EM simulator:       %s   (svc / secret, CA %s)\n\nPress Ctrl+C to stop.\n\n", public, issuer, em.URL, em.CAFile)
	return a.Serve(ctx, ln)
}
