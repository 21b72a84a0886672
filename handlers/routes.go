// Package handlers is the portal's HTTP layer: one file per page or action,
// the middleware stack, and this file, which declares every route in one place.
package handlers

import (
	"cmp"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/labstack/echo/v4"

	"github.com/agentdesk/agentdesk/audit"
	"github.com/agentdesk/agentdesk/auth"
	"github.com/agentdesk/agentdesk/holds"
	"github.com/agentdesk/agentdesk/jobs"
	"github.com/agentdesk/agentdesk/policy"
	"github.com/agentdesk/agentdesk/static"
)

// SignIn is the OpenID Connect relying party as the handlers use it.
type SignIn interface {
	Ready() bool
	AuthCodeURL(ctx context.Context, s *auth.Sessions, binding, returnTo string) (string, error)
	Exchange(ctx context.Context, s *auth.Sessions, binding string, r *http.Request) (auth.Identity, string, error)
	EndSessionURL(idTokenHint string) (string, bool)
	VerifyLogoutToken(ctx context.Context, s *auth.Sessions, raw string) (auth.LogoutRequest, error)
}

// Users remembers each user's groups from their last sign-in that carried a
// groups claim, for Entra ID overage sign-ins (Deps.RememberOverageGroups).
type Users interface {
	LastGroups(ctx context.Context, key string) ([]string, bool, error)
	SaveGroups(ctx context.Context, key string, groups []string) error
}

// Deps are the handlers' collaborators, built in main.go.
type Deps struct {
	Jobs           *jobs.Service
	SessionManager *scs.SessionManager
	Sessions       *auth.Sessions
	SignIn         SignIn
	Users          Users
	// RememberOverageGroups lets a sign-in with Entra ID's group overage
	// signal use the groups of the user's last sign-in that listed them.
	// Off: such sign-ins are refused. A token without any groups claim
	// never reuses old groups.
	RememberOverageGroups bool
	Policy                func() *policy.Policy // the current policy; hot-reloaded
	BreakGlass            *auth.BreakGlass      // nil when off
	Assets                *static.Assets
	Logger                *slog.Logger
	PublicURL             *url.URL // nil: derive from requests (tests, demo)
	BasePath              string   // "" or "/backup"
	Secure                bool     // served over HTTPS: HSTS
	Demo                  bool
	IdPOrigin             string // added to CSP form-action for the sign-out redirect
	TrustedProxies        []netip.Prefix
	Ready                 func(ctx context.Context) error // readiness beyond "not shutting down"
	// Audit records sign-ins and serves the audit pages; nil: no audit pages
	// and sign-ins only logged (actions are audited through Jobs' Recorder).
	Audit *audit.Log
	// Metrics serves /metrics (it checks its own bearer token); nil: no /metrics.
	Metrics http.Handler
	// Instrument wraps every request (in-flight count, duration by route); nil: none.
	Instrument echo.MiddlewareFunc

	// Reliability. EM (the EM client) feeds the "unreachable since" banner and
	// the status page; nil: neither. IdPIssuer is shown on the status page.
	// Zero limits take DefaultRequestTimeout, DefaultMaxInFlight and
	// DefaultMaxBodyBytes.
	EM             EMState
	IdPIssuer      string
	RequestTimeout time.Duration // deadline of every page and action, EM calls included
	MaxInFlight    int           // requests served at once; more get 503 + Retry-After
	// MaxInFlightPerClient: requests served at once for one client address
	// (default MaxInFlight/8, at least 2).
	MaxInFlightPerClient int
	BodyTimeout          time.Duration // how long a request body may take (default DefaultBodyTimeout)
	// AnonymousBurst: requests per minute one address may make to the sign-in
	// endpoints without a session (default DefaultAnonymousBurst).
	AnonymousBurst int
	// BreakGlassDelay is the first delay after the free wrong break-glass
	// attempts of one (address, user name) pair; it doubles with each
	// further one, up to 15 minutes (default 1s).
	BreakGlassDelay time.Duration
	MaxBodyBytes    int64 // largest request body (forms)

	// Embed mode (embed.go). EmbedOrigins may frame the /embed/ cards (none:
	// only the portal itself). EmbedCrossSite: some origin is on another site,
	// so New makes the session cookie SameSite=None; Secure; Partitioned.
	EmbedOrigins   []string
	EmbedCrossSite bool

	// Self-service (selfservice.go). StaleAfter: a backup older than this is
	// overdue on "My backups" (default DefaultStaleAfter). Holds keeps
	// time-boxed disables; nil: disables are indefinite only. HoldDurations
	// are the choices of a time-boxed disable (default DefaultHoldDurations).
	StaleAfter    time.Duration
	Holds         *holds.Service
	HoldDurations []time.Duration
}

// Handler holds what every handler needs. It is small on purpose: handlers get
// their data from the services, not from shared mutable state here.
type Handler struct {
	jobs            *jobs.Service
	sm              *scs.SessionManager
	sessions        *auth.Sessions
	signin          SignIn
	users           Users
	rememberOverage bool
	policy          func() *policy.Policy
	breakGlass      *auth.BreakGlass
	breakGlassLimit *backoff
	anonLimit       *rateLimit // sign-in endpoints without a session, per address
	cspLimit        *rateLimit // CSP violation reports, per address
	auditFlood      *rateLimit // audit rows of failed anonymous attempts, per address
	maxPerClient    int
	clientMu        sync.Mutex
	clientSlots     map[string]int // requests being served per client address
	bodyTimeout     time.Duration
	handoffLimit    *attemptLimit // failed embedded sign-in hand-offs, per address
	assets          *static.Assets
	log             *slog.Logger
	base            string
	secure          bool
	demo            bool
	idpOrigin       string
	ready           func(ctx context.Context) error
	audit           *audit.Log
	stopping        atomic.Bool
	em              EMState
	idpIssuer       string
	requestTimeout  time.Duration
	maxInFlight     int
	inFlight        atomic.Int64 // requests being served, for maxInFlight
	maxBody         int64
	embedOrigins    []string // parent origins of embedded cards
	embedAncestors  string   // their CSP frame-ancestors source list
	staleAfter      time.Duration
	holds           *holds.Service
	holdDurations   []time.Duration
}

// New builds the echo server with every route and the middleware stack.
func New(d Deps) (*echo.Echo, *Handler) {
	h := &Handler{
		jobs:            d.Jobs,
		sm:              d.SessionManager,
		sessions:        d.Sessions,
		signin:          d.SignIn,
		users:           d.Users,
		rememberOverage: d.RememberOverageGroups,
		policy:          d.Policy,
		breakGlass:      d.BreakGlass,
		breakGlassLimit: newBackoff(3, cmp.Or(d.BreakGlassDelay, time.Second), 15*time.Minute),
		anonLimit:       newRateLimit(cmp.Or(d.AnonymousBurst, DefaultAnonymousBurst), time.Minute),
		auditFlood:      newRateLimit(5, 10*time.Minute),
		cspLimit:        newRateLimit(20, time.Minute),
		clientSlots:     make(map[string]int),
		bodyTimeout:     cmp.Or(d.BodyTimeout, DefaultBodyTimeout),
		handoffLimit:    newAttemptLimit(10, time.Minute),
		assets:          d.Assets,
		log:             cmp.Or(d.Logger, slog.Default()),
		base:            d.BasePath,
		secure:          d.Secure,
		demo:            d.Demo,
		idpOrigin:       d.IdPOrigin,
		ready:           d.Ready,
		audit:           d.Audit,
		em:              d.EM,
		idpIssuer:       d.IdPIssuer,
		requestTimeout:  cmp.Or(d.RequestTimeout, DefaultRequestTimeout),
		maxInFlight:     cmp.Or(d.MaxInFlight, DefaultMaxInFlight),
		maxBody:         cmp.Or(d.MaxBodyBytes, DefaultMaxBodyBytes),
		embedOrigins:    d.EmbedOrigins,
		embedAncestors:  frameAncestors(d.EmbedOrigins),
		staleAfter:      cmp.Or(d.StaleAfter, DefaultStaleAfter),
		holds:           d.Holds,
		holdDurations:   d.HoldDurations,
	}
	h.maxPerClient = cmp.Or(d.MaxInFlightPerClient, max(2, h.maxInFlight/8))
	if len(h.holdDurations) == 0 {
		h.holdDurations = DefaultHoldDurations
	}
	if d.EmbedCrossSite {
		// A card framed by another site is a third-party context: a Lax cookie
		// would not be sent at all. Partitioned (CHIPS) keeps the frame's
		// cookie in a jar of its own per parent site, so it is no tracker.
		// CSRF protection does not rest on SameSite: see csrf.
		d.SessionManager.Cookie.SameSite = http.SameSiteNoneMode
		d.SessionManager.Cookie.Secure = true
		d.SessionManager.Cookie.Partitioned = true
	}
	// A session store outage is an error page in plain words, not scs's
	// plain-text 500.
	d.SessionManager.ErrorFunc = h.sessionStoreFailed
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = h.errorHandler
	e.IPExtractor = ipExtractor(d.TrustedProxies)
	if d.Instrument != nil {
		e.Use(d.Instrument)
	}

	// Probes and assets sit outside the session and auth stack: they carry no user
	// data and must answer even when the session store is down.
	e.GET(h.base+"/livez", h.livez)
	e.GET(h.base+"/readyz", h.readyz)
	if d.Metrics != nil {
		e.GET(h.base+"/metrics", echo.WrapHandler(d.Metrics))
	} else {
		// Off: a plain 404, not the sign-in redirect of unknown paths (and not
		// the HTML error page, which needs the session stack).
		e.GET(h.base+"/metrics", func(c echo.Context) error { return c.NoContent(http.StatusNotFound) })
	}
	// Browsers post violation reports on their own, without session or CSRF
	// token: outside the session stack, limited like the rest.
	e.POST(h.base+cspReportPath, h.cspReport, requestID, h.accessLog, h.recoverPanic, h.limitInFlight)
	// The IdP's back-channel logout carries no cookie and no CSRF token: its
	// signed logout token is the authentication.
	e.POST(h.base+backChannelLogoutPath, h.backChannelLogout, requestID, h.accessLog, h.recoverPanic, h.limitInFlight)
	e.GET(h.base+"/static/*", echo.WrapHandler(http.StripPrefix(h.base, h.assets.Handler())))

	g := e.Group(h.base, requestID, h.accessLog, h.recoverPanic, h.securityHeaders, h.limitInFlight,
		h.sessionOutage, echo.WrapMiddleware(h.sm.LoadAndSave), sessionReached, h.loadUser, h.limitBody, h.csrf, h.deadline)

	// Public routes: an explicit allowlist; everything else requires a user.
	anon := h.limitAnonymous
	g.GET("/auth/signin", h.showSignIn, anon)
	g.GET("/auth/login", h.startSignIn, anon)
	g.GET("/auth/callback", h.finishSignIn, anon)
	g.POST("/auth/signout", h.signOut)
	// Sign-out is POST only (a link or <img> elsewhere must not sign anyone
	// out). Say so: echo's group catch-all would otherwise answer GET with 404.
	g.GET("/auth/signout", methodNotAllowed(http.MethodPost))
	g.POST("/auth/breakglass", h.breakGlassSignIn, anon)

	p := g.Group("", h.requireUser)
	// Pages answer HEAD like GET (echo does not do that by itself); the
	// policy checks are the same, so HEAD reveals nothing GET would not.
	page := func(path string, hf echo.HandlerFunc) {
		p.GET(path, hf)
		p.HEAD(path, hf)
	}
	page("/", h.home)
	if h.base != "" {
		page("", h.home)
	}
	page("/jobs", h.listJobs)
	page("/status", h.showStatus)
	p.POST("/status/sessions", h.endUserSessions)
	page("/jobs/:id", h.showJob)
	page("/jobs/:id/card", h.showJobCard)
	page("/jobs/:id/row", h.showJobRow)
	page("/jobs/:id/sessions/:sid/computers", h.showSessionComputers)
	page("/jobs/:id/history", h.showJobHistory)
	page("/jobs/:id/confirm/:action", h.confirmAction)
	p.POST("/jobs/:id/actions/:action", h.postAction)
	page("/jobs/:id/status", h.showActionStatus)
	page("/audit", h.showAudit)
	page("/audit.csv", h.exportAudit)

	// Embedded cards: their own sign-in handling (a card, never a redirect).
	eg := g.Group("/embed")
	eg.GET("/done", h.showEmbedDone, anon)
	eg.POST("/handoff", h.redeemHandoff, anon)
	em := eg.Group("", h.requireEmbedUser)
	for path, hf := range map[string]echo.HandlerFunc{"/jobs/:id": h.showEmbedJob, "/my-backups": h.showEmbedMine} {
		em.GET(path, hf)
		em.HEAD(path, hf)
	}
	return e, h
}

// methodNotAllowed answers 405 with the methods the route does accept.
func methodNotAllowed(allow string) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Allow", allow)
		return echo.NewHTTPError(http.StatusMethodNotAllowed)
	}
}

// Shutdown marks the portal as stopping so /readyz answers 503 and the load
// balancer drains it before the server closes.
func (h *Handler) Shutdown() { h.stopping.Store(true) }

// ipExtractor trusts X-Forwarded-For only from the configured proxies; with none
// configured the peer address is the client.
func ipExtractor(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := make([]echo.TrustOption, 0, len(trusted)+3)
	opts = append(opts, echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false))
	for _, p := range trusted {
		opts = append(opts, echo.TrustIPRange(&net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}
