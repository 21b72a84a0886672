// Package demoidp is a small OpenID provider for `agentdesk demo` and for
// tests. It is NOT for production: users and their passwords are fixed in
// memory, the signing key is new at every start, and nothing survives a
// restart. Production deployments sign in against the company IdP.
//
// The protocol side (discovery, authorize, token, userinfo, keys,
// end_session) is zitadel's op package; this package adds an in-memory
// op.Storage and the login form. The portal is its only client: code flow
// only, PKCE with S256 required, redirect URIs compared exactly, scopes
// openid, profile, email and groups.
//
// Claims: the ID token carries sub, nonce, groups (with the groups scope) and
// computer (for users that have one). Because the op leaves profile and email
// out of the ID token when it issues an access token, name,
// preferred_username and email come from UserInfo, which also repeats groups
// and computer.
//
// The login form is safe against cross-site request forgery: it posts the
// auth request id (130 random bits, unguessable, valid for ten minutes and
// one sign-in) together with a second random token that is stored with the
// auth request and also set as a SameSite=Strict cookie when the form is
// shown. A forged post from another site has neither the token nor the
// cookie. Five wrong passwords void the auth request.
package demoidp

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// User is a demo account.
type User struct {
	Subject  string // the stable "sub"; deliberately not the username
	Username string
	Password string
	Name     string
	Email    string
	Groups   []string
	Computer string // the computer the user owns, sent as the "computer" claim
	// NoGroupsClaim leaves the groups claim out entirely, in the ID token and
	// in UserInfo, as Entra ID and Okta do for a user in no (matching) group.
	NoGroupsClaim bool
	// GroupsOverage sends Entra ID's overage signal instead of the groups
	// claim: _claim_names points the groups claim at a Graph source the
	// portal does not call.
	GroupsOverage bool
}

// DemoUsers returns the demo accounts, one per portal role. The password of
// every account is "demo" and the login page says so.
func DemoUsers() []User {
	return []User{
		{Subject: "8d1c6a52-0f3e-4c1e-9a51-5b2f0c7e0a01", Username: "alice", Password: "demo", Name: "Alice Admin", Email: "alice@corp.example", Groups: []string{"agentdesk-admins"}},
		{Subject: "8d1c6a52-0f3e-4c1e-9a51-5b2f0c7e0a02", Username: "harry", Password: "demo", Name: "Harry Helpdesk", Email: "harry@corp.example", Groups: []string{"helpdesk-berlin"}},
		{Subject: "8d1c6a52-0f3e-4c1e-9a51-5b2f0c7e0a03", Username: "audrey", Password: "demo", Name: "Audrey Auditor", Email: "audrey@corp.example", Groups: []string{"auditors"}},
		{Subject: "8d1c6a52-0f3e-4c1e-9a51-5b2f0c7e0a04", Username: "erin", Password: "demo", Name: "Erin Enduser", Email: "erin@corp.example", Groups: []string{"employees"}, Computer: "erin-laptop.corp.example"},
	}
}

// Config configures the provider.
type Config struct {
	Issuer                 string // e.g. http://127.0.0.1:5556; http only on loopback
	ClientID, ClientSecret string
	RedirectURIs           []string // exact matches
	PostLogoutRedirectURIs []string
	Users                  []User // default DemoUsers()
	Logger                 *slog.Logger
	// BackChannelLogoutURI receives an OpenID Connect Back-Channel Logout
	// 1.0 logout token (by sub) when a user signs out at the provider.
	BackChannelLogoutURI string
}

// New returns the provider's HTTP handler. It serves every path below the
// issuer URL (for an issuer with a path, mount it at the root of the host:
// the handler strips the issuer's path itself).
func New(cfg Config) (http.Handler, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Users == nil {
		cfg.Users = DemoUsers()
	}
	iss, err := url.Parse(cfg.Issuer)
	if err != nil || iss.Host == "" || iss.RawQuery != "" || iss.Fragment != "" {
		return nil, fmt.Errorf("demoidp: issuer %q: want an absolute URL without query", cfg.Issuer)
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("demoidp: ClientID and ClientSecret are required")
	}
	if len(cfg.RedirectURIs) == 0 {
		return nil, errors.New("demoidp: at least one redirect URI is required")
	}
	if err := checkUsers(cfg.Users); err != nil {
		return nil, err
	}
	prefix := strings.TrimSuffix(iss.Path, "/")

	c := &client{
		id:             cfg.ClientID,
		secret:         cfg.ClientSecret,
		redirects:      slices.Clone(cfg.RedirectURIs),
		postLogout:     slices.Clone(cfg.PostLogoutRedirectURIs),
		loginURLPrefix: prefix + "/login?authRequestID=",
	}
	st, err := newStorage(c, slices.Clone(cfg.Users))
	if err != nil {
		return nil, err
	}
	st.issuer = strings.TrimSuffix(cfg.Issuer, "/")
	st.backChannel = cfg.BackChannelLogoutURI
	st.log = cfg.Logger
	var opts []op.Option
	if iss.Scheme == "http" {
		if !isLoopback(iss.Hostname()) {
			return nil, fmt.Errorf("demoidp: issuer %q: plain http is only allowed on loopback", cfg.Issuer)
		}
		opts = append(opts, op.WithAllowInsecure())
	}
	var cryptoKey [32]byte
	rand.Read(cryptoKey[:])
	issuer := strings.TrimSuffix(cfg.Issuer, "/")
	provider, err := op.NewProvider(&op.Config{
		CryptoKey:                cryptoKey,
		DefaultLogoutRedirectURI: issuer + "/logged-out",
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		SupportedScopes:          []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, ScopeGroups},
		SupportedClaims: append(slices.Clone(op.DefaultSupportedClaims),
			"name", "preferred_username", "email", "email_verified", "groups", "computer"),
	}, st, op.StaticIssuer(issuer), opts...)
	if err != nil {
		return nil, fmt.Errorf("demoidp: %w", err)
	}

	l := &login{
		st:       st,
		users:    cfg.Users,
		log:      cfg.Logger,
		callback: provider.AuthorizationEndpoint().Absolute(issuer) + "/callback?id=",
		path:     prefix + "/login",
	}
	mux := http.NewServeMux()
	mux.Handle("/login", l)
	mux.HandleFunc("GET /logged-out", loggedOut)
	mux.Handle("/", provider)
	cfg.Logger.Info("demo OpenID provider ready (demo only, not for production)", "issuer", issuer, "users", len(cfg.Users))
	if prefix == "" {
		return mux, nil
	}
	return http.StripPrefix(prefix, mux), nil
}

func checkUsers(users []User) error {
	seen := map[string]bool{}
	for _, u := range users {
		if u.Subject == "" || u.Username == "" || u.Password == "" {
			return fmt.Errorf("demoidp: user %q: Subject, Username and Password are required", u.Username)
		}
		if seen["u:"+u.Username] || seen["s:"+u.Subject] {
			return fmt.Errorf("demoidp: user %q: duplicate username or subject", u.Username)
		}
		seen["u:"+u.Username], seen["s:"+u.Subject] = true, true
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
