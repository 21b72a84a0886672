// Package app is the portal's composition root: Build is the one place that
// turns a configuration into a running portal (stores, EM client, jobs, audit,
// holds, sign-in, handlers) and Close the one place that takes it down. The
// agentdesk command, the handler tests, the load test and the demo all build
// through it, so each of them runs the portal as shipped.
package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/agentdesk/agentdesk/audit"
	"github.com/agentdesk/agentdesk/auth"
	"github.com/agentdesk/agentdesk/config"
	"github.com/agentdesk/agentdesk/emclient"
	"github.com/agentdesk/agentdesk/handlers"
	"github.com/agentdesk/agentdesk/holds"
	"github.com/agentdesk/agentdesk/jobs"
	"github.com/agentdesk/agentdesk/metrics"
	"github.com/agentdesk/agentdesk/policy"
	"github.com/agentdesk/agentdesk/static"
	"github.com/agentdesk/agentdesk/store"
)

// Options is what Build takes besides the configuration: the logger, and
// hooks for tests and benchmarks. Every hook's zero value is production's.
type Options struct {
	Logger *slog.Logger // required
	Demo   bool         // the demo: a banner on every page, the built-in policy

	// EMNow and EMLogonBackoff are the EM client's clock and first logon
	// backoff (emclient.Config.Now and LogonBackoff).
	EMNow          func() time.Time
	EMLogonBackoff time.Duration
	// Jobs are the jobs service's options before Build adds the logger, the
	// audit recorder, the locks and the shared run store: cache TTLs, polling.
	// A Locker set here wins over the configured lock store.
	Jobs jobs.Options
	// HoldsNow is the holds service's clock; with ManualHolds no loop ends
	// due holds and the caller calls App.Holds.Tick.
	HoldsNow    func() time.Time
	ManualHolds bool
	HandoffTTL  time.Duration // auth.Sessions.SetHandoffTTL
	// SessionsNow is the sessions' clock (auth.Sessions.SetClock).
	SessionsNow func() time.Time
	// Tuning are the handlers' limits no variable sets.
	Tuning handlers.Tuning
}

// App is a built portal. Handler serves it; the other fields are its parts,
// exported for the tests and benchmarks that look inside.
type App struct {
	Handler  http.Handler // every route and the middleware stack
	Web      *handlers.Handler
	Jobs     *jobs.Service
	Audit    *audit.Log
	Holds    *holds.Service
	EM       *emclient.Client
	SignIn   *auth.OIDC
	Users    handlers.Users
	Metrics  *metrics.Metrics
	Policy   func() *policy.Policy
	DataFile string // the replica's SQLite database

	cfg    *config.Config
	log    *slog.Logger
	cancel context.CancelFunc // ends the background loops
	loops  sync.WaitGroup
	closer []func() // undo Build, in reverse order
	once   sync.Once
}

// Build wires the portal from cfg. ctx bounds the start (connections,
// migrations); the background loops run until Close. On error everything
// built so far is closed again.
func Build(ctx context.Context, cfg *config.Config, opts Options) (_ *App, err error) {
	if opts.Logger == nil {
		return nil, errors.New("app: Options.Logger is required")
	}
	if cfg.Site.PublicURL == nil {
		return nil, &config.Error{Var: "AGENTDESK_PUBLIC_URL", Msg: "is required"}
	}
	log := opts.Logger
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a := &App{cfg: cfg, log: log, cancel: cancel, Metrics: metrics.New()}
	a.closer = append(a.closer, cancel) // ends sign-in discovery, last
	defer func() {
		if err != nil {
			a.close()
		}
	}()

	if a.EM, err = newEMClient(cfg.EM, opts, a.Metrics, log); err != nil {
		return nil, err
	}
	a.closer = append(a.closer, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.EM.Close(ctx); err != nil {
			log.Warn("EM log off", "err", err)
		}
	})

	if err := os.MkdirAll(cfg.Stores.DataDir, 0o700); err != nil {
		return nil, &config.Error{Var: "AGENTDESK_DATA_DIR", Msg: err.Error()}
	}
	a.DataFile = filepath.Join(cfg.Stores.DataDir, "agentdesk.db")
	db, err := store.OpenSQLite(ctx, a.DataFile)
	if err != nil {
		return nil, err
	}
	a.closer = append(a.closer, func() { db.Close() })
	b, err := openBackends(ctx, cfg.Stores, db, log)
	if err != nil {
		return nil, err
	}
	a.closer = append(a.closer, b.Close)
	var closeAudit func()
	if a.Audit, closeAudit, err = openAudit(ctx, cfg.Audit, b.db(), log.With("component", "audit")); err != nil {
		return nil, err
	}
	a.closer = append(a.closer, closeAudit)

	pol, stopPolicy, err := loadPolicy(bg, cfg.SignIn.PolicyFile, log, a.Audit)
	if err != nil {
		return nil, err
	}
	a.Policy = pol
	a.closer = append(a.closer, stopPolicy)
	var bgAdmin *auth.BreakGlass
	if f := cfg.SignIn.BreakGlassFile; f != "" {
		if bgAdmin, err = auth.LoadBreakGlass(f); err != nil {
			return nil, &config.Error{Var: "AGENTDESK_BREAKGLASS_FILE", Msg: err.Error()}
		}
		log.Warn("break-glass local administrator is enabled")
	}

	sm := auth.NewSessionManager(b.sessionStore(), cfg.Sessions.Lifetime, "", cfg.Site.Secure())
	if cfg.Embed.CrossSite {
		// A card framed by another site is a third-party context: a Lax cookie
		// would not be sent at all. Partitioned (CHIPS) keeps the frame's
		// cookie in a jar of its own per parent site, so it is no tracker.
		// CSRF protection does not rest on SameSite (see handlers' csrf).
		sm.Cookie.SameSite = http.SameSiteNoneMode
		sm.Cookie.Secure = true
		sm.Cookie.Partitioned = true
	}
	sessions := auth.NewSessions(sm, cfg.Sessions.Idle)
	sessions.SetHandoffTTL(opts.HandoffTTL)
	if opts.SessionsNow != nil {
		sessions.SetClock(opts.SessionsNow)
	}
	a.SignIn = auth.NewOIDC(bg, oidcConfig(cfg, pol(), log))

	jo := opts.Jobs
	jo.Logger = log.With("component", "jobs")
	jo.Recorder = &metrics.Recorder{Next: a.Audit, Metrics: a.Metrics}
	if jo.Locker == nil {
		jo.Locker = b.locker()
	}
	jo.Runs = b.runs()
	jo.LockTTL = cfg.Stores.LockTTL
	jo.ClockSkew = cfg.EM.ClockSkew
	jo.InstanceID = cfg.Stores.InstanceID
	a.Jobs = jobs.NewService(a.EM, jo)
	a.closer = append(a.closer, a.Jobs.Close)
	// The background loops use the stores and the jobs service: they end first.
	a.closer = append(a.closer, a.stopLoops)
	// Locks this replica held when it last died belong to no live action.
	if n, err := a.Jobs.DropStaleLocks(ctx); err != nil {
		log.Warn("could not drop this replica's stale job locks; they expire after AGENTDESK_LOCK_TTL", "err", err)
	} else if n > 0 {
		log.Info("dropped job locks this replica held when it last stopped", "count", n, "instance", cfg.Stores.InstanceID)
	}
	a.startAudit(bg, log.With("component", "audit"))
	if a.Holds, err = a.startHolds(bg, b, opts, log.With("component", "holds")); err != nil {
		return nil, err
	}

	a.Users = b.users()
	e, web, err := handlers.New(handlers.Deps{
		Jobs: a.Jobs, SessionManager: sm, Sessions: sessions, SignIn: a.SignIn, Users: a.Users,
		Policy: pol, Audit: a.Audit, Assets: static.New(cfg.Site.BasePath() + "/static/"), Logger: log,
		BreakGlass: bgAdmin, Holds: a.Holds, EM: a.EM,
		Ready: func(ctx context.Context) error {
			if err := db.PingContext(ctx); err != nil {
				return err
			}
			return b.ping(ctx)
		},
		Metrics: a.instrument(b), Instrument: a.Metrics.Middleware,
		Settings: handlers.Settings{
			Site: cfg.Site, SignIn: cfg.SignIn, Operations: cfg.Operations, Embed: cfg.Embed,
			SelfService: cfg.SelfService, Demo: opts.Demo, Tuning: opts.Tuning,
		},
	})
	if err != nil {
		return nil, err
	}
	a.Handler, a.Web = e, web
	return a, nil
}

// newEMClient builds the EM client; a certificate setting it refuses is
// reported under the variable that holds it.
func newEMClient(c config.EM, opts Options, mx *metrics.Metrics, log *slog.Logger) (*emclient.Client, error) {
	em, err := emclient.New(emclient.Config{
		BaseURL: c.URL, Username: c.User, Password: c.Password,
		CAFile: c.CAFile, PinSHA256: c.PinSHA256, Insecure: c.Insecure, Timeout: c.Timeout,
		BreakerThreshold: c.BreakerThreshold, BreakerCooldown: c.BreakerCooldown,
		LogonBackoff: opts.EMLogonBackoff, Now: opts.EMNow,
		Observe: mx.ObserveEM, Logger: log.With("component", "emclient"),
	})
	if err != nil {
		var ce *emclient.ConfigError
		if errors.As(err, &ce) {
			if v, ok := map[string]string{"CAFile": "AGENTDESK_EM_CA_FILE", "PinSHA256": "AGENTDESK_EM_PIN_SHA256"}[ce.Field]; ok {
				return nil, &config.Error{Var: v, Msg: ce.Msg}
			}
		}
		return nil, fmt.Errorf("EM client: %w", err)
	}
	return em, nil
}

// oidcConfig is the relying party's configuration. The policy decides which
// claims matter, so the sign-in copies them too.
func oidcConfig(cfg *config.Config, pol *policy.Policy, log *slog.Logger) auth.Config {
	pub := cfg.Site.PublicURL.String()
	s := cfg.SignIn
	c := auth.Config{
		Issuer: s.Issuer, ClientID: s.ClientID, ClientSecret: s.ClientSecret,
		RedirectURL: pub + "auth/callback", Scopes: s.Scopes,
		GroupsClaim: s.GroupsClaim, ExtraClaims: slices.Clone(s.ExtraClaims),
		PostLogoutRedirectURL: pub + "auth/signin", Logger: log.With("component", "oidc"),
	}
	for _, claim := range pol.Claims() {
		if !slices.Contains(c.ExtraClaims, claim) {
			c.ExtraClaims = append(c.ExtraClaims, claim)
		}
	}
	if g := pol.GroupsClaim(); g != "" && c.GroupsClaim == "groups" {
		c.GroupsClaim = g
	}
	return c
}

// Serve serves the portal on ln until ctx ends, then drains: readiness goes
// 503 for Operations.ShutdownDrain, in-flight requests and followed actions
// finish within Operations.ShutdownTimeout, unwritten audit outcomes get a
// last try. The caller still calls Close.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	log := a.log
	srv := &http.Server{
		Handler:           a.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	ops := a.cfg.Operations
	log.Info("shutting down", "drain", ops.ShutdownDrain.String())
	a.Web.Shutdown()
	// Keep serving while /readyz says 503, so the load balancer takes this
	// replica out of rotation before connections are refused.
	if ops.ShutdownDrain > 0 {
		t := time.NewTimer(ops.ShutdownDrain)
		select {
		case <-t.C:
		case err := <-errc:
			t.Stop()
			return err
		}
		log.Info("drain period over; closing the listener")
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), cmp.Or(ops.ShutdownTimeout, 20*time.Second))
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		log.Warn("shutdown", "err", err)
	}
	// Actions EM is still carrying out are followed to their outcome and
	// audited, within what is left of the shutdown time.
	if err := a.Jobs.Shutdown(shutCtx); err != nil {
		log.Warn("shutdown", "err", err)
	}
	// Outcomes the audit database refused earlier get a last try.
	if n := a.Audit.Unwritten(); n > 0 {
		if err := a.Audit.Flush(shutCtx); err != nil {
			log.Error("audit outcomes not written at shutdown; reconcile at the next start marks them", "waiting", a.Audit.Unwritten(), "err", err)
		}
	}
	return nil
}

// Close stops the background loops, logs off EM and closes the stores, last
// built first. It is safe to call more than once.
func (a *App) Close(ctx context.Context) error {
	done := make(chan struct{})
	go func() { a.close(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("app: close: %w", ctx.Err())
	}
}

func (a *App) close() {
	a.once.Do(func() {
		for i := len(a.closer) - 1; i >= 0; i-- {
			a.closer[i]()
		}
	})
}

// stopLoops ends the background loops and waits for them.
func (a *App) stopLoops() {
	a.cancel()
	a.loops.Wait()
}

// go runs f as a background loop that Close ends and waits for.
func (a *App) goLoop(f func()) {
	a.loops.Add(1)
	go func() { defer a.loops.Done(); f() }()
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
