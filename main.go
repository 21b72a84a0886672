// Command agentdesk is a web portal for Veeam Agent backup jobs held in Veeam
// Backup Enterprise Manager.
//
//	agentdesk demo         the portal with a simulated EM and a demo identity provider
//	agentdesk serve        production: configuration from the environment
//	agentdesk emsim        the EM simulator on its own
//	agentdesk healthcheck  probe a running portal (container HEALTHCHECK)
package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/agentdesk/agentdesk/audit"
	"github.com/agentdesk/agentdesk/auth"
	"github.com/agentdesk/agentdesk/auth/demoidp"
	"github.com/agentdesk/agentdesk/config"
	"github.com/agentdesk/agentdesk/emclient"
	"github.com/agentdesk/agentdesk/emclient/emsim"
	"github.com/agentdesk/agentdesk/handlers"
	"github.com/agentdesk/agentdesk/jobs"
	"github.com/agentdesk/agentdesk/loadtest"
	"github.com/agentdesk/agentdesk/metrics"
	"github.com/agentdesk/agentdesk/policy"
	"github.com/agentdesk/agentdesk/static"
	"github.com/agentdesk/agentdesk/store"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "agentdesk:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: agentdesk demo|serve|emsim|healthcheck|loadtest [flags]")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "demo":
		return demo(ctx, args[1:], stdout, stderr)
	case "serve":
		return serve(ctx, stderr)
	case "emsim":
		return emsim.Main(args[1:], stdout)
	case "healthcheck":
		return healthcheck(args[1:])
	case "loadtest":
		return loadtest.Main(args[1:], stdout)
	}
	return fmt.Errorf("unknown command %q: want demo, serve, emsim, healthcheck or loadtest", args[0])
}

// portal is what demo and serve share: everything after the EM client and the
// identity provider exist.
type portal struct {
	publicURL  *url.URL
	dataDir    string
	em         *emclient.Client
	oidc       auth.Config
	policyFile string // "" → the built-in example policy
	breakGlass string
	// rememberOverage: AGENTDESK_OIDC_REMEMBER_OVERAGE_GROUPS.
	rememberOverage bool
	idle, life      time.Duration
	demo            bool
	trusted         []netip.Prefix
	shared          shared // sessions and job locks shared by replicas; zero: one replica
	// The audit log: in PostgreSQL when shared.databaseURL is set, else SQLite.
	auditJSONL     string        // "", "stdout" or a file: every entry also as a JSON line
	auditRetention time.Duration // purge entries older than this, daily; 0 keeps them
	log            *slog.Logger
	printReady     func(url string)
	metrics        *metrics.Metrics // always collected; served only with metricsToken
	metricsToken   string
	// Reliability limits; zero values take the handlers' defaults and 20s.
	requestTimeout  time.Duration
	maxInFlight     int
	maxPerClient    int           // AGENTDESK_MAX_INFLIGHT_PER_CLIENT
	signInRate      int           // AGENTDESK_SIGNIN_RATE
	shutdownTimeout time.Duration // for requests and followed actions together
	shutdownDrain   time.Duration // /readyz answers 503 this long before the listener closes
	// Parent origins that may frame /embed/ cards, and whether one is on
	// another site (cookie SameSite=None; Secure; Partitioned).
	embedOrigins   []string
	embedCrossSite bool
	// Self-service: the overdue threshold of "My backups" and the time-boxed
	// disables (zero values: the handlers' and holds' defaults).
	staleAfter    time.Duration
	holdInterval  time.Duration
	holdDurations []time.Duration
	emClockSkew   time.Duration // jobs.Options.ClockSkew (zero: its default)
}

func demo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address of the portal")
	jobsN := fs.Int("jobs", 75, "number of simulated agent jobs (more than a list page of 50, so paging shows)")
	seed := fs.Int64("seed", 1, "seed of the simulated fleet")
	speed := fs.Duration("backup-duration", 20*time.Second, "how long a simulated backup runs")
	embedOrigins := fs.String("embed-origin", "", "parent origins that may frame the /embed/ cards, comma-separated (as AGENTDESK_EMBED_ORIGINS)")
	holdDurations := fs.String("hold-durations", "", "choices of a time-boxed schedule disable, e.g. 2s,4h (default 1h,4h,8h,24h; as AGENTDESK_SCHEDULE_HOLD_DURATIONS)")
	holdInterval := fs.Duration("hold-interval", time.Second, "how often due time-boxed disables are ended")
	staleAfter := fs.Duration("stale-after", 48*time.Hour, "age at which an end user's last backup counts as overdue")
	idle := fs.Duration("idle", 30*time.Minute, "session idle timeout (as AGENTDESK_SESSION_IDLE), e.g. 1m to try signing out by idleness")
	idpAddr := fs.String("idp-addr", "127.0.0.1:0", "listen address of the demo identity provider (fixed port: bookmarks survive restarts)")
	emAddr := fs.String("em-addr", "127.0.0.1:0", "listen address of the EM simulator (fixed port: point other clients at it)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var holdChoices []time.Duration
	if *holdDurations != "" {
		d, err := config.ParseDurations(*holdDurations)
		if err != nil {
			return fmt.Errorf("-hold-durations: %w", err)
		}
		holdChoices = d
	}
	origins, err := config.ParseEmbedOrigins(*embedOrigins)
	if err != nil {
		return fmt.Errorf("-embed-origin: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	sim := emsim.New(emsim.Config{Seed: *seed, Jobs: *jobsN, SessionSpeed: *speed, Logger: log.With("component", "emsim")})
	em, err := sim.Listen(*emAddr, true)
	if err != nil {
		return fmt.Errorf("start the EM simulator: %w", err)
	}
	defer em.Close()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	public := &url.URL{Scheme: "http", Host: ln.Addr().String(), Path: "/"}
	if config.CrossSite(public, origins) {
		// The demo is plain HTTP: a SameSite=None cookie must be Secure and
		// would be dropped, so a card framed by another site could not sign in.
		log.Warn("an -embed-origin is on another site than the demo portal; the framed card cannot keep a session over plain HTTP", "portal", public.String())
	}

	idpLn, err := net.Listen("tcp", *idpAddr)
	if err != nil {
		return fmt.Errorf("start the demo identity provider: %w", err)
	}
	issuer := "http://" + idpLn.Addr().String()
	secret := randomHex(16)
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

	mx := metrics.New()
	client, err := emclient.New(emclient.Config{BaseURL: em.URL, Username: "svc", Password: "secret", CAFile: em.CAFile, Observe: mx.ObserveEM, Logger: log.With("component", "emclient")})
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "agentdesk-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	return servePortal(ctx, ln, portal{
		publicURL: public, dataDir: dir, em: client, demo: true, log: log,
		metrics: mx, metricsToken: os.Getenv("AGENTDESK_METRICS_TOKEN"),
		oidc: auth.Config{
			Issuer: issuer, ClientID: "agentdesk", ClientSecret: secret,
			RedirectURL: public.String() + "auth/callback", Scopes: []string{"openid", "profile", "email", "groups"},
			GroupsClaim: "groups", ExtraClaims: []string{"preferred_username", "computer"},
			PostLogoutRedirectURL: public.String() + "auth/signin", Logger: log.With("component", "oidc"),
		},
		idle: *idle, life: 8 * time.Hour,
		embedOrigins: origins,
		staleAfter:   *staleAfter, holdInterval: *holdInterval, holdDurations: holdChoices,
		printReady: func(u string) {
			fmt.Fprintf(stdout, "\nAgentDesk demo (simulated Enterprise Manager, demo sign-in; nothing here is real)\n\n  Portal:             %s\n  Identity provider:  %s   (users alice, harry, audrey, erin; password \"demo\")\n  EM simulator:       %s   (svc / secret, CA %s)\n\nPress Ctrl+C to stop.\n\n", u, issuer, em.URL, em.CAFile)
		},
	})
}

func serve(ctx context.Context, stderr io.Writer) error {
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	level := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}[cfg.LogLevel]
	var h slog.Handler = slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})
	if cfg.LogFormat == "text" {
		h = slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})
	}
	log := slog.New(h)
	mx := metrics.New()
	client, err := emclient.New(emclient.Config{
		Observe: mx.ObserveEM,
		BaseURL: cfg.EMURL, Username: cfg.EMUser, Password: cfg.EMPassword,
		CAFile: cfg.EMCAFile, PinSHA256: cfg.EMPin, Insecure: cfg.EMInsecure, Timeout: cfg.EMTimeout,
		BreakerThreshold: cfg.BreakerThreshold, BreakerCooldown: cfg.BreakerCooldown,
		Logger: log.With("component", "emclient"),
	})
	if err != nil {
		var ce *emclient.ConfigError
		if errors.As(err, &ce) {
			if v, ok := map[string]string{"CAFile": "AGENTDESK_EM_CA_FILE", "PinSHA256": "AGENTDESK_EM_PIN_SHA256"}[ce.Field]; ok {
				return &config.Error{Var: v, Msg: ce.Msg}
			}
		}
		return fmt.Errorf("EM client: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return &config.Error{Var: "AGENTDESK_ADDR", Msg: err.Error()}
	}
	return servePortal(ctx, ln, portal{
		publicURL: cfg.PublicURL, dataDir: cfg.DataDir, em: client, log: log,
		metrics: mx, metricsToken: cfg.MetricsToken,
		oidc: auth.Config{
			Issuer: cfg.OIDCIssuer, ClientID: cfg.OIDCClientID, ClientSecret: cfg.OIDCClientSecret,
			RedirectURL: cfg.PublicURL.String() + "auth/callback", Scopes: cfg.OIDCScopes,
			GroupsClaim: cfg.OIDCGroupsClaim, ExtraClaims: cfg.OIDCExtraClaims,
			PostLogoutRedirectURL: cfg.PublicURL.String() + "auth/signin", Logger: log.With("component", "oidc"),
		},
		policyFile: cfg.PolicyFile, breakGlass: cfg.BreakGlassFile, trusted: cfg.TrustedProxies,
		rememberOverage: cfg.OIDCRememberOverage,
		shared: shared{
			sessionStore: cfg.SessionStore, lockStore: cfg.LockStore, lockTTL: cfg.LockTTL, instanceID: cfg.InstanceID,
			databaseURL: cfg.DatabaseURL, redisURL: cfg.RedisURL, redisPrefix: cfg.RedisPrefix,
		},
		idle: cfg.SessionIdle, life: cfg.SessionLifetime,
		auditJSONL: cfg.AuditJSONL, auditRetention: cfg.AuditRetention,
		requestTimeout: cfg.RequestTimeout, maxInFlight: cfg.MaxInFlight, shutdownTimeout: cfg.ShutdownTimeout,
		maxPerClient: cfg.MaxInFlightPerClient, signInRate: cfg.SignInRate, shutdownDrain: cfg.ShutdownDrain,
		embedOrigins: cfg.EmbedOrigins, embedCrossSite: cfg.EmbedCrossSite,
		staleAfter: cfg.StaleAfter, holdInterval: cfg.HoldInterval, holdDurations: cfg.HoldDurations,
		emClockSkew: cfg.EMClockSkew,
		printReady:  func(u string) { log.Info("AgentDesk is serving", "url", u, "addr", ln.Addr().String()) },
	})
}

// servePortal wires the portal and serves until ctx ends, then drains: readiness
// goes 503, in-flight requests finish, the EM session is logged off.
func servePortal(ctx context.Context, ln net.Listener, p portal) error {
	log := p.log
	if err := os.MkdirAll(p.dataDir, 0o700); err != nil {
		return &config.Error{Var: "AGENTDESK_DATA_DIR", Msg: err.Error()}
	}
	db, err := store.OpenSQLite(ctx, filepath.Join(p.dataDir, "agentdesk.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	backends, err := openBackends(ctx, p.shared, db, log)
	if err != nil {
		return err
	}
	defer backends.Close()
	auditLog, closeAudit, err := openAudit(ctx, p, backends.db(), log.With("component", "audit"))
	if err != nil {
		return err
	}
	defer closeAudit()

	pol, stopPolicy, err := loadPolicy(ctx, p.policyFile, log, auditLog)
	if err != nil {
		return err
	}
	defer stopPolicy()

	var bg *auth.BreakGlass
	if p.breakGlass != "" {
		if bg, err = auth.LoadBreakGlass(p.breakGlass); err != nil {
			return &config.Error{Var: "AGENTDESK_BREAKGLASS_FILE", Msg: err.Error()}
		}
		log.Warn("break-glass local administrator is enabled")
	}

	// The policy decides which claims matter; the sign-in must copy them.
	p.oidc.ExtraClaims = appendNew(p.oidc.ExtraClaims, pol().Claims()...)
	if g := pol().GroupsClaim(); g != "" && p.oidc.GroupsClaim == "groups" {
		p.oidc.GroupsClaim = g
	}

	secure := p.publicURL.Scheme == "https"
	sm := auth.NewSessionManager(backends.sessionStore(), p.life, "", secure)
	sessions := auth.NewSessions(sm, p.idle)
	oidcRP := auth.NewOIDC(ctx, p.oidc)
	svc := jobs.NewService(p.em, jobs.Options{Logger: log.With("component", "jobs"), Locker: backends.locker(), Runs: backends.runs(), LockTTL: p.shared.lockTTL,
		ClockSkew: p.emClockSkew, InstanceID: p.shared.instanceID,
		Recorder: &metrics.Recorder{Next: auditLog, Metrics: p.metrics}})
	defer svc.Close()
	// Locks this replica held when it last died belong to no live action.
	if n, err := svc.DropStaleLocks(ctx); err != nil {
		log.Warn("could not drop this replica's stale job locks; they expire after AGENTDESK_LOCK_TTL", "err", err)
	} else if n > 0 {
		log.Info("dropped job locks this replica held when it last stopped", "count", n, "instance", p.shared.instanceID)
	}
	startAudit(ctx, auditLog, p, log.With("component", "audit"))
	holdSvc, err := startHolds(ctx, p, backends, svc, log.With("component", "holds"))
	if err != nil {
		return err
	}
	metricsHandler := instrument(p, svc, backends)

	idpOrigin := ""
	if u, err := url.Parse(p.oidc.Issuer); err == nil {
		idpOrigin = u.Scheme + "://" + u.Host
	}
	e, h := handlers.New(handlers.Deps{
		Jobs: svc, SessionManager: sm, Sessions: sessions, SignIn: oidcRP, Users: backends.users(), RememberOverageGroups: p.rememberOverage,
		Policy: pol, BreakGlass: bg, Assets: static.New(config.BasePath(p.publicURL) + "/static/"),
		Logger: log, PublicURL: p.publicURL, BasePath: config.BasePath(p.publicURL), Secure: secure,
		Demo: p.demo, IdPOrigin: idpOrigin, TrustedProxies: p.trusted,
		Metrics: metricsHandler, Instrument: p.metrics.Middleware, Audit: auditLog,
		EM: p.em, IdPIssuer: p.oidc.Issuer, RequestTimeout: p.requestTimeout, MaxInFlight: p.maxInFlight,
		MaxInFlightPerClient: p.maxPerClient, AnonymousBurst: p.signInRate,
		EmbedOrigins: p.embedOrigins, EmbedCrossSite: p.embedCrossSite,
		StaleAfter: p.staleAfter, Holds: holdSvc, HoldDurations: p.holdDurations,
		Ready: func(ctx context.Context) error {
			if err := db.PingContext(ctx); err != nil {
				return err
			}
			return backends.ping(ctx)
		},
	})
	srv := &http.Server{
		Handler:           e,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if p.printReady != nil {
		p.printReady(p.publicURL.String())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "drain", p.shutdownDrain.String())
	h.Shutdown()
	// Keep serving while /readyz says 503, so the load balancer takes this
	// replica out of rotation before connections are refused.
	if p.shutdownDrain > 0 {
		t := time.NewTimer(p.shutdownDrain)
		select {
		case <-t.C:
		case err := <-errc:
			t.Stop()
			return err
		}
		log.Info("drain period over; closing the listener")
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), cmp.Or(p.shutdownTimeout, 20*time.Second))
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		log.Warn("shutdown", "err", err)
	}
	// Actions EM is still carrying out are followed to their outcome and
	// audited, within what is left of the shutdown time.
	if err := svc.Shutdown(shutCtx); err != nil {
		log.Warn("shutdown", "err", err)
	}
	// Outcomes the audit database refused earlier get a last try.
	if n := auditLog.Unwritten(); n > 0 {
		if err := auditLog.Flush(shutCtx); err != nil {
			log.Error("audit outcomes not written at shutdown; reconcile at the next start marks them", "waiting", auditLog.Unwritten(), "err", err)
		}
	}
	logoffCtx, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	if err := p.em.Close(logoffCtx); err != nil {
		log.Warn("EM log off", "err", err)
	}
	return nil
}

// loadPolicy reads and watches the policy file, or uses the built-in example
// policy (demo).
func loadPolicy(ctx context.Context, path string, log *slog.Logger, al *audit.Log) (func() *policy.Policy, func(), error) {
	if path == "" {
		p, err := policy.Parse(policy.Default())
		if err != nil {
			return nil, nil, err
		}
		warnPolicy(log, p)
		return func() *policy.Policy { return p }, func() {}, nil
	}
	w, err := policy.NewWatcher(ctx, path, log, func(p *policy.Policy, err error) {
		if err != nil {
			log.Error("policy reload failed; keeping the previous policy", "err", err)
			_ = al.Record(ctx, audit.Entry{Kind: audit.KindPolicyReload, Result: audit.ResultFailed,
				Message: "kept the previous policy: " + err.Error()})
			return
		}
		log.Info("policy reloaded", "file", path)
		warnPolicy(log, p)
		_ = al.Record(ctx, audit.Entry{Kind: audit.KindPolicyReload, Result: audit.ResultPerformed, Message: "reloaded " + path})
	})
	if err != nil {
		return nil, nil, &config.Error{Var: "AGENTDESK_POLICY_FILE", Msg: err.Error()}
	}
	warnPolicy(log, w.Current())
	return w.Current, func() { w.Close() }, nil
}

// warnPolicy logs each of the policy's warnings (rules on claims users may
// edit) at every load; the status page shows them too.
func warnPolicy(log *slog.Logger, p *policy.Policy) {
	for _, w := range p.Warnings() {
		log.Warn("POLICY WARNING: "+w, "policy_warning", true)
	}
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

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func appendNew(xs []string, more ...string) []string {
	for _, m := range more {
		if !slices.Contains(xs, m) {
			xs = append(xs, m)
		}
	}
	return xs
}
