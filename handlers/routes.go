// Package handlers is the portal's HTTP layer: one file per page or action,
// the middleware stack, and this file, which declares every route in one place.
package handlers

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/labstack/echo/v4"

	"github.com/agentdesk/agentdesk/audit"
	"github.com/agentdesk/agentdesk/auth"
	"github.com/agentdesk/agentdesk/config"
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
// groups claim, for Entra ID overage sign-ins (config.SignIn.RememberOverage).
type Users interface {
	LastGroups(ctx context.Context, key string) ([]string, bool, error)
	SaveGroups(ctx context.Context, key string, groups []string) error
}

// Deps are the handlers' services, built by package app, and their settings.
// Those marked required make New fail when missing.
type Deps struct {
	Jobs           *jobs.Service         // required
	SessionManager *scs.SessionManager   // required; New does not change it
	Sessions       *auth.Sessions        // required
	SignIn         SignIn                // required
	Users          Users                 // required: groups remembered for overage sign-ins
	Policy         func() *policy.Policy // required; the current policy, hot-reloaded
	Audit          *audit.Log            // required: sign-ins, the audit pages
	Assets         *static.Assets        // required
	Logger         *slog.Logger          // required
	BreakGlass     *auth.BreakGlass      // nil when off
	Holds          *holds.Service        // time-boxed disables; nil: disables are indefinite only
	// EM feeds the "unreachable since" banner and the status page; nil: neither.
	EM    EMState
	Ready func(ctx context.Context) error // readiness beyond "not shutting down"
	// Metrics serves /metrics (it checks its own bearer token); nil: no /metrics.
	Metrics http.Handler
	// Instrument wraps every request (in-flight count, duration by route); nil: none.
	Instrument echo.MiddlewareFunc

	Settings Settings
}

// Settings are the configuration sections the handlers read. Zero limits
// take DefaultRequestTimeout, DefaultMaxInFlight, DefaultAnonymousBurst,
// DefaultStaleAfter and DefaultHoldDurations.
type Settings struct {
	Site config.Site // base path, HTTPS, trusted proxies
	// SignIn: the issuer (status page, CSP form-action of the sign-out
	// redirect) and RememberOverage: a sign-in with Entra ID's group overage
	// signal uses the groups of the user's last sign-in that listed them
	// (off: refused; a token without any groups claim never reuses old groups).
	SignIn      config.SignIn
	Operations  config.Operations // request deadline, in-flight limits, sign-in rate
	Embed       config.Embed      // parent origins of the /embed/ cards
	SelfService config.SelfService
	Demo        bool // the demo banner
	Tuning      Tuning
}

// Tuning are limits no variable sets; tests shorten them.
type Tuning struct {
	BodyTimeout time.Duration // how long a request body may take (default DefaultBodyTimeout)
	// BreakGlassDelay is the first delay after the free wrong break-glass
	// attempts of one (address, user name) pair; it doubles with each
	// further one, up to 15 minutes (default 1s).
	BreakGlassDelay time.Duration
	MaxBodyBytes    int64 // largest request body (default DefaultMaxBodyBytes)
}

// Handler holds what every handler needs: the services, the settings as the
// handlers read them, the per-address limits, the logger and whether the
// portal is stopping. Handlers get their data from the services, not from
// shared mutable state here.
type Handler struct {
	svc      Deps     // the services; Settings are read into set
	set      settings // derived once by New
	lim      limits
	sec      securityValues // securityHeaders' values, but the nonce
	log      *slog.Logger   // outside a request; in one, logFor gives the request's
	facts    factsMemo      // job pages' entity facts, worked out once per entity
	rows     rowMemo        // list rows, made once per job and state (jobRow)
	pages    pageMemo       // list pages' rows, served again while they fit (listRows)
	details  detailMemo     // job pages' models, made once per job, sessions page and server (jobDetail)
	stopping atomic.Bool
}

// settings are Deps.Settings as the handlers use them, defaults applied.
type settings struct {
	base            string // path prefix of the public URL, "" at the root
	secure          bool   // served over HTTPS: HSTS, Secure cookies
	demo            bool
	idpOrigin       string // added to CSP form-action for the sign-out redirect
	idpIssuer       string // shown on the status page
	rememberOverage bool
	requestTimeout  time.Duration
	bodyTimeout     time.Duration
	maxInFlight     int
	maxPerClient    int
	maxBody         int64
	embedOrigins    []string // parent origins of embedded cards
	embedAncestors  string   // their CSP frame-ancestors source list
	staleAfter      time.Duration
	holdDurations   []time.Duration
}

// limits are the per-address limiters and the in-flight counts.
type limits struct {
	breakGlass  *backoff
	anon        *rateLimit    // sign-in endpoints without a session, per address
	csp         *rateLimit    // CSP violation reports, per address
	auditFlood  *rateLimit    // audit rows of failed anonymous attempts, per address
	handoff     *attemptLimit // failed embedded sign-in hand-offs, per address
	clientMu    sync.Mutex
	clientSlots map[string]int // requests being served per client address
	inFlight    atomic.Int64   // requests being served, for maxInFlight
}

// New builds the echo server with every route and the middleware stack. It
// fails when a required dependency is missing.
func New(d Deps) (*echo.Echo, *Handler, error) {
	var missing []string
	for name, ok := range map[string]bool{
		"Jobs": d.Jobs != nil, "SessionManager": d.SessionManager != nil, "Sessions": d.Sessions != nil,
		"SignIn": d.SignIn != nil, "Users": d.Users != nil, "Policy": d.Policy != nil, "Audit": d.Audit != nil,
		"Assets": d.Assets != nil, "Logger": d.Logger != nil,
	} {
		if !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return nil, nil, fmt.Errorf("handlers.New: missing %s", strings.Join(missing, ", "))
	}
	set := d.Settings
	ops, tune := set.Operations, set.Tuning
	h := &Handler{
		svc: d,
		log: d.Logger,
		set: settings{
			base:            set.Site.BasePath(),
			secure:          set.Site.Secure(),
			demo:            set.Demo,
			idpOrigin:       origin(set.SignIn.Issuer),
			idpIssuer:       set.SignIn.Issuer,
			rememberOverage: set.SignIn.RememberOverage,
			requestTimeout:  cmp.Or(ops.RequestTimeout, DefaultRequestTimeout),
			bodyTimeout:     cmp.Or(tune.BodyTimeout, DefaultBodyTimeout),
			maxInFlight:     cmp.Or(ops.MaxInFlight, DefaultMaxInFlight),
			maxBody:         cmp.Or(tune.MaxBodyBytes, DefaultMaxBodyBytes),
			embedOrigins:    set.Embed.Origins,
			embedAncestors:  frameAncestors(set.Embed.Origins),
			staleAfter:      cmp.Or(set.SelfService.StaleAfter, DefaultStaleAfter),
			holdDurations:   set.SelfService.HoldDurations,
		},
		lim: limits{
			breakGlass:  newBackoff(3, cmp.Or(tune.BreakGlassDelay, time.Second), 15*time.Minute),
			anon:        newRateLimit(cmp.Or(ops.SignInRate, DefaultAnonymousBurst), time.Minute),
			auditFlood:  newRateLimit(5, 10*time.Minute),
			csp:         newRateLimit(20, time.Minute),
			handoff:     newAttemptLimit(10, time.Minute),
			clientSlots: make(map[string]int),
		},
	}
	h.set.maxPerClient = cmp.Or(ops.MaxInFlightPerClient, max(2, h.set.maxInFlight/8))
	if len(h.set.holdDurations) == 0 {
		h.set.holdDurations = DefaultHoldDurations
	}
	h.sec = newSecurityValues(h.set)
	// A session store outage is an error page in plain words, not scs's
	// plain-text 500. The handlers use a copy of the manager for that, so the
	// caller's stays as it was built (the copy shares its store, cookie and
	// context key: sessions loaded by one are read by the other).
	sm := *d.SessionManager
	sm.ErrorFunc = h.sessionStoreFailed
	h.svc.SessionManager = &sm
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = h.errorHandler
	e.IPExtractor = ipExtractor(set.Site.TrustedProxies)
	if d.Instrument != nil {
		e.Use(d.Instrument)
	}

	// Probes and assets sit outside the session and auth stack: they carry no user
	// data and must answer even when the session store is down.
	e.GET(h.set.base+"/livez", h.livez)
	e.GET(h.set.base+"/readyz", h.readyz)
	if d.Metrics != nil {
		e.GET(h.set.base+"/metrics", echo.WrapHandler(d.Metrics))
	} else {
		// Off: a plain 404, not the sign-in redirect of unknown paths (and not
		// the HTML error page, which needs the session stack).
		e.GET(h.set.base+"/metrics", func(c echo.Context) error { return c.NoContent(http.StatusNotFound) })
	}
	// Browsers post violation reports on their own, without session or CSRF
	// token: outside the session stack, limited like the rest.
	outside := composed(h.requestID, h.accessLog, h.recoverPanic, h.limitInFlight)
	e.POST(h.set.base+cspReportPath, h.cspReport, outside)
	// The IdP's back-channel logout carries no cookie and no CSRF token: its
	// signed logout token is the authentication.
	e.POST(h.set.base+backChannelLogoutPath, h.backChannelLogout, outside)
	e.GET(h.set.base+"/static/*", echo.WrapHandler(http.StripPrefix(h.set.base, h.svc.Assets.Handler())))

	g := e.Group(h.set.base, composed(h.requestID, h.accessLog, h.recoverPanic, h.securityHeaders, h.limitInFlight,
		h.sessionOutage, h.loadAndSave, sessionReached, h.loadUser, h.limitBody, h.csrf, h.deadline))

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
	if h.set.base != "" {
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
	return e, h, nil
}

// origin is scheme://host of a URL, "" when it is not one.
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
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
