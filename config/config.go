// Package config reads AgentDesk's configuration from the environment and an
// optional file of KEY=VALUE lines. Secrets may come from files through the
// *_FILE variant of their variable, so they need not sit in the environment.
//
// The configuration is one Config of typed sections; package app hands each
// section whole to the package that uses it. A new setting is a field in its
// section, read where the section is read (config.go or the section's own
// file), and used where it matters: nothing copies it on the way (the
// handler tests set it through their configure hook).
package config

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is the portal's typed configuration, one section per concern; each
// section goes to the package that uses it (package app does the handing out).
type Config struct {
	Site        Site
	Log         Log
	EM          EM
	SignIn      SignIn
	Sessions    Sessions
	Stores      Stores
	Audit       Audit
	Operations  Operations
	Embed       Embed
	SelfService SelfService
}

// Site is where the portal listens and how browsers reach it.
type Site struct {
	Addr           string   // listen address
	PublicURL      *url.URL // how browsers reach the portal, e.g. https://portal.example.com/backup/
	TrustedProxies []netip.Prefix
}

// Secure reports whether the portal is served over HTTPS, which decides the
// cookie attributes and HSTS.
func (s Site) Secure() bool { return s.PublicURL != nil && s.PublicURL.Scheme == "https" }

// BasePath is the path prefix of the public URL without its trailing slash
// ("" at the root).
func (s Site) BasePath() string {
	if s.PublicURL == nil {
		return ""
	}
	return strings.TrimRight(s.PublicURL.Path, "/")
}

// Log is the format and level of the portal's own log.
type Log struct {
	Format string // json or text
	Level  string // debug, info, warn, error
}

// EM is the Enterprise Manager the portal talks to, and how.
type EM struct {
	URL       string
	User      string
	Password  string
	CAFile    string
	PinSHA256 string
	Insecure  bool
	Timeout   time.Duration
	// The circuit breaker: see operations.go.
	BreakerThreshold int           // consecutive EM failures that open the circuit
	BreakerCooldown  time.Duration // how long the circuit stays open before a probe
	// ClockSkew: how far EM's and the backup servers' clocks may be behind
	// ours (see actions.go).
	ClockSkew time.Duration
}

// SignIn is the OpenID Connect provider, the policy and the break-glass account.
type SignIn struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	Scopes       []string
	GroupsClaim  string
	ExtraClaims  []string
	// RememberOverage: an Entra ID overage sign-in uses the groups of the
	// user's last sign-in that listed them (off: refused).
	RememberOverage bool
	PolicyFile      string // "" → the built-in example policy
	BreakGlassFile  string // "" → no break-glass administrator
}

// Sessions are the sign-in session timeouts.
type Sessions struct {
	Idle     time.Duration
	Lifetime time.Duration
}

// Stores are where the portal keeps its state: a SQLite file in DataDir, and
// the servers several replicas share. Session: sqlite (default, one replica),
// postgres or redis; Lock: memory (default), postgres or redis.
type Stores struct {
	DataDir     string
	Session     string
	Lock        string
	LockTTL     time.Duration // how long a job lock outlives a replica that died (a live holder renews it)
	InstanceID  string        // names this replica in its job locks; unique per replica, stable across restarts
	DatabaseURL string        // PostgreSQL, postgres://…
	RedisURL    string        // redis://… or rediss://…
	RedisPrefix string        // key prefix, so deployments can share one Redis
}

// Audit is the audit log's extras; the log itself lives in PostgreSQL when
// Stores.DatabaseURL is set, else in SQLite.
type Audit struct {
	JSONL     string        // "", "stdout" or a file path: every entry also as a JSON line
	Retention time.Duration // entries older than this are purged daily; 0 keeps them forever
}

// Operations are the limits that keep the portal answering (see
// operations.go) and the metrics endpoint.
type Operations struct {
	RequestTimeout time.Duration // deadline of a page or action, EM calls included
	MaxInFlight    int           // requests served at once; more get 503 + Retry-After
	// MaxInFlightPerClient: requests served at once for one client address.
	MaxInFlightPerClient int
	// SignInRate: requests per minute one address may make to the sign-in
	// endpoints without a session.
	SignInRate      int
	ShutdownTimeout time.Duration // how long SIGTERM waits for requests and actions in flight
	ShutdownDrain   time.Duration // how long /readyz answers 503 after SIGTERM before the listener closes
	MetricsToken    string        // bearer token of /metrics; "" means /metrics is off (404)
}

// Embed: the parent origins that may frame /embed/ cards (see embed.go).
type Embed struct {
	Origins   []string // parent origins allowed to frame /embed/ cards (AGENTDESK_EMBED_ORIGINS)
	CrossSite bool     // some origin is on another site: SameSite=None; Secure; Partitioned cookie
}

// SelfService: end users' "My backups" and time-boxed disables (see
// selfservice.go).
type SelfService struct {
	StaleAfter    time.Duration   // an end user's backup older than this is overdue
	HoldInterval  time.Duration   // how often due time-boxed disables are looked for
	HoldDurations []time.Duration // the choices of a time-boxed disable
}

// Error names the variable that is wrong, so a failed start says what to fix.
type Error struct {
	Var string
	Msg string
}

func (e *Error) Error() string { return e.Var + ": " + e.Msg }

// Lookup finds a variable; os.LookupEnv in production, a map in tests.
type Lookup func(key string) (string, bool)

// Load reads the configuration for `agentdesk serve`. A file named by
// AGENTDESK_CONFIG_FILE supplies defaults; the environment wins over it.
func Load(env Lookup) (*Config, error) {
	vars, err := withFile(env)
	if err != nil {
		return nil, err
	}
	r := reader{get: vars}
	c := &Config{
		Site: Site{
			Addr:           r.str("AGENTDESK_ADDR", "0.0.0.0:8080"),
			PublicURL:      r.url("AGENTDESK_PUBLIC_URL", ""),
			TrustedProxies: r.prefixes("AGENTDESK_TRUSTED_PROXIES"),
		},
		Log: Log{
			Format: r.oneOf("AGENTDESK_LOG_FORMAT", "json", "json", "text"),
			Level:  r.oneOf("AGENTDESK_LOG_LEVEL", "info", "debug", "info", "warn", "error"),
		},
		EM: EM{
			URL:       r.str("AGENTDESK_EM_URL", ""),
			User:      r.str("AGENTDESK_EM_USER", ""),
			Password:  r.secret("AGENTDESK_EM_PASSWORD"),
			CAFile:    r.str("AGENTDESK_EM_CA_FILE", ""),
			PinSHA256: r.str("AGENTDESK_EM_PIN_SHA256", ""),
			Insecure:  r.boolean("AGENTDESK_EM_INSECURE", false),
			Timeout:   r.duration("AGENTDESK_EM_TIMEOUT", 30*time.Second),
		},
		SignIn: SignIn{
			Issuer:          r.str("AGENTDESK_OIDC_ISSUER", ""),
			ClientID:        r.str("AGENTDESK_OIDC_CLIENT_ID", ""),
			ClientSecret:    r.secret("AGENTDESK_OIDC_CLIENT_SECRET"),
			Scopes:          r.list("AGENTDESK_OIDC_SCOPES", []string{"openid", "profile", "email"}),
			GroupsClaim:     r.str("AGENTDESK_OIDC_GROUPS_CLAIM", "groups"),
			ExtraClaims:     r.list("AGENTDESK_OIDC_EXTRA_CLAIMS", []string{"preferred_username"}),
			RememberOverage: r.boolean("AGENTDESK_OIDC_REMEMBER_OVERAGE_GROUPS", false),
			PolicyFile:      r.str("AGENTDESK_POLICY_FILE", ""),
			BreakGlassFile:  r.str("AGENTDESK_BREAKGLASS_FILE", ""),
		},
		Sessions: Sessions{
			Idle:     r.duration("AGENTDESK_SESSION_IDLE", 30*time.Minute),
			Lifetime: r.duration("AGENTDESK_SESSION_LIFETIME", 8*time.Hour),
		},
		Stores: Stores{
			DataDir:     r.str("AGENTDESK_DATA_DIR", "/var/lib/agentdesk"),
			Session:     r.oneOf("AGENTDESK_SESSION_STORE", "sqlite", "sqlite", "postgres", "redis"),
			Lock:        r.oneOf("AGENTDESK_LOCK_STORE", "memory", "memory", "postgres", "redis"),
			LockTTL:     r.duration("AGENTDESK_LOCK_TTL", 30*time.Second),
			InstanceID:  r.str("AGENTDESK_INSTANCE_ID", ""),
			DatabaseURL: r.secret("AGENTDESK_DATABASE_URL"),
			RedisURL:    r.secret("AGENTDESK_REDIS_URL"),
			RedisPrefix: r.str("AGENTDESK_REDIS_PREFIX", "agentdesk:"),
		},
		Audit: Audit{
			JSONL:     r.str("AGENTDESK_AUDIT_JSONL", ""),
			Retention: r.days("AGENTDESK_AUDIT_RETENTION", 400*24*time.Hour),
		},
	}
	r.require("AGENTDESK_EM_URL", c.EM.URL)
	r.require("AGENTDESK_EM_USER", c.EM.User)
	r.require("AGENTDESK_EM_PASSWORD", c.EM.Password)
	r.require("AGENTDESK_OIDC_ISSUER", c.SignIn.Issuer)
	r.require("AGENTDESK_OIDC_CLIENT_ID", c.SignIn.ClientID)
	r.require("AGENTDESK_PUBLIC_URL", urlString(c.Site.PublicURL))
	if c.EM.URL != "" {
		if u, err := url.Parse(c.EM.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			r.fail("AGENTDESK_EM_URL", "want an absolute http(s) URL such as https://em.example.com:9398")
		}
	}
	r.sharedStores(c)
	r.audit(c)
	r.operations(c)
	r.embed(c)
	r.selfService(c)
	r.actions(c)
	if c.Sessions.Idle <= 0 || c.Sessions.Lifetime < c.Sessions.Idle {
		r.fail("AGENTDESK_SESSION_LIFETIME", "must be at least AGENTDESK_SESSION_IDLE, and both positive")
	}
	if r.err != nil {
		return nil, r.err
	}
	return c, nil
}

func urlString(u *url.URL) string {
	if u == nil {
		return ""
	}
	return u.String()
}

// withFile layers the optional config file under the environment.
func withFile(env Lookup) (Lookup, error) {
	path, ok := env("AGENTDESK_CONFIG_FILE")
	if !ok || path == "" {
		return env, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{Var: "AGENTDESK_CONFIG_FILE", Msg: err.Error()}
	}
	defer f.Close()
	file := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, &Error{Var: "AGENTDESK_CONFIG_FILE", Msg: fmt.Sprintf("%s:%d: want KEY=VALUE", path, n)}
		}
		file[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"`)
	}
	if err := sc.Err(); err != nil {
		return nil, &Error{Var: "AGENTDESK_CONFIG_FILE", Msg: err.Error()}
	}
	return func(k string) (string, bool) {
		if v, ok := env(k); ok {
			return v, true
		}
		v, ok := file[k]
		return v, ok
	}, nil
}

// reader collects the first error so Load reports one clear message.
type reader struct {
	get Lookup
	err error
}

func (r *reader) fail(name, msg string) {
	if r.err == nil {
		r.err = &Error{Var: name, Msg: msg}
	}
}

func (r *reader) str(name, def string) string {
	if v, ok := r.get(name); ok && strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v)
	}
	return def
}

// secret reads NAME or, when NAME_FILE is set, the file's content. Setting both is
// an error: which one wins would be a guess.
func (r *reader) secret(name string) string {
	v, hasV := r.get(name)
	p, hasP := r.get(name + "_FILE")
	if hasV && v != "" && hasP && p != "" {
		r.fail(name, "set either "+name+" or "+name+"_FILE, not both")
		return ""
	}
	if hasP && p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			r.fail(name+"_FILE", "cannot read the secret file: "+errors.Unwrap(err).Error())
			return ""
		}
		return strings.TrimRight(string(b), "\r\n")
	}
	return v
}

func (r *reader) boolean(name string, def bool) bool {
	v := r.str(name, "")
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.fail(name, fmt.Sprintf("want true or false, got %q", v))
	}
	return b
}

func (r *reader) duration(name string, def time.Duration) time.Duration {
	v := r.str(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		r.fail(name, fmt.Sprintf("want a duration such as 30s or 15m, got %q", v))
	}
	return d
}

func (r *reader) list(name string, def []string) []string {
	v := r.str(name, "")
	if v == "" {
		return def
	}
	return strings.FieldsFunc(v, func(c rune) bool { return c == ',' || c == ' ' })
}

func (r *reader) oneOf(name, def string, allowed ...string) string {
	v := strings.ToLower(r.str(name, def))
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	r.fail(name, fmt.Sprintf("want one of %s, got %q", strings.Join(allowed, ", "), v))
	return def
}

func (r *reader) url(name, def string) *url.URL {
	v := r.str(name, def)
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		r.fail(name, fmt.Sprintf("want an absolute http(s) URL, got %q", v))
		return nil
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u
}

func (r *reader) prefixes(name string) []netip.Prefix {
	var out []netip.Prefix
	for _, f := range r.list(name, nil) {
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		if a, err := netip.ParseAddr(f); err == nil {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		r.fail(name, fmt.Sprintf("want CIDR networks or addresses, got %q", f))
	}
	return out
}

// require reports a required variable that is missing.
func (r *reader) require(name, v string) {
	if v == "" {
		r.fail(name, "is required")
	}
}

// CheckAddr checks a listen address early, so a typo fails the start rather than later.
func CheckAddr(addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return &Error{Var: "AGENTDESK_ADDR", Msg: err.Error()}
	}
	return nil
}
