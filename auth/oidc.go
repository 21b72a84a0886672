package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Errors returned by OIDC. Handlers show ErrUnavailable as 503 "sign-in
// temporarily unavailable" and everything else as a generic "sign-in failed,
// try again" page; none of the messages contain codes, states or tokens.
var (
	ErrUnavailable  = errors.New("auth: sign-in temporarily unavailable")
	ErrInvalidState = errors.New("auth: unknown, expired or already used sign-in state")
	ErrProvider     = errors.New("auth: the identity provider refused the sign-in")
	ErrExchange     = errors.New("auth: authorization code exchange failed")
	ErrInvalidToken = errors.New("auth: invalid ID token")
	ErrUserInfo     = errors.New("auth: userinfo request failed")
)

const (
	defaultHTTPTimeout = 10 * time.Second
	// maxIdPResponse bounds every body read from the IdP.
	maxIdPResponse = 1 << 20
	// iatSkew is how far in the future an ID token's iat may be.
	iatSkew = 2 * time.Minute
	// maxIATAge is how old an ID token may be when it arrives: it is minted
	// when the code is redeemed, a moment before. The margin covers clocks
	// that disagree; a token kept for longer is a replay.
	maxIATAge = 15 * time.Minute
	// txTTL is how long a started sign-in stays valid.
	txTTL = 10 * time.Minute
	// TxTTL is txTTL for callers that keep the browser binding in a cookie.
	TxTTL = txTTL
)

// signingAlgs are the ID token algorithms accepted at all: asymmetric only,
// so neither "none" nor an HMAC keyed with public data can pass.
var signingAlgs = []string{
	oidc.RS256, oidc.RS384, oidc.RS512,
	oidc.PS256, oidc.PS384, oidc.PS512,
	oidc.ES256, oidc.ES384, oidc.ES512,
	oidc.EdDSA,
}

// Config configures the OpenID Connect relying party.
type Config struct {
	Issuer, ClientID, ClientSecret, RedirectURL string // RedirectURL exact, e.g. https://portal/auth/callback
	// Scopes defaults to openid, profile, email, plus "groups" when the
	// provider lists it in scopes_supported. "openid" is always sent.
	Scopes                []string
	GroupsClaim           string   // default "groups"
	ExtraClaims           []string // string claims copied into Identity.Claims
	PostLogoutRedirectURL string
	HTTPClient            *http.Client // default: 10 s timeout; a zero Timeout is raised to 10 s
	Logger                *slog.Logger
}

// OIDC is the relying party. It is usable before discovery finished:
// methods return ErrUnavailable (or false) until Ready.
type OIDC struct {
	cfg        Config
	log        *slog.Logger
	client     *http.Client
	now        func() time.Time
	minBackoff time.Duration
	maxBackoff time.Duration

	prov    atomic.Pointer[provider]
	readyCh chan struct{}
}

// provider is everything learnt from discovery.
type provider struct {
	oidc       *oidc.Provider
	oauth      *oauth2.Config
	verifier   *oidc.IDTokenVerifier
	endSession string
	userInfo   bool
}

// NewOIDC returns at once and runs discovery in the background, retrying
// with backoff until it succeeds or ctx ends. It never fails: a wrong or
// unreachable issuer shows up as Ready() == false and warnings in the log.
func NewOIDC(ctx context.Context, cfg Config) *OIDC {
	return newOIDC(ctx, cfg, time.Second, time.Minute)
}

func newOIDC(ctx context.Context, cfg Config, minBackoff, maxBackoff time.Duration) *OIDC {
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = "groups"
	}
	o := &OIDC{
		cfg:        cfg,
		log:        cfg.Logger,
		client:     idpClient(cfg.HTTPClient),
		now:        time.Now,
		minBackoff: minBackoff,
		maxBackoff: maxBackoff,
		readyCh:    make(chan struct{}),
	}
	if o.log == nil {
		o.log = slog.Default()
	}
	o.log = o.log.With("component", "oidc", "issuer", cfg.Issuer)
	go o.discoverLoop(ctx)
	return o
}

// Ready reports whether discovery has completed.
func (o *OIDC) Ready() bool { return o.prov.Load() != nil }

// WaitReady blocks until discovery has completed or ctx ends.
func (o *OIDC) WaitReady(ctx context.Context) error {
	select {
	case <-o.readyCh:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	}
}

func (o *OIDC) discoverLoop(ctx context.Context) {
	delay := o.minBackoff
	for attempt := 1; ; attempt++ {
		p, err := o.discover(ctx)
		if err == nil {
			o.prov.Store(p)
			close(o.readyCh)
			o.log.Info("OpenID provider discovered", "attempts", attempt)
			return
		}
		if ctx.Err() != nil {
			return
		}
		// Full jitter keeps replicas from retrying in lockstep.
		wait := delay/2 + rand.N(delay/2+1)
		o.log.Warn("OpenID provider discovery failed; sign-in unavailable until it succeeds",
			"attempt", attempt, "retry_in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(delay*2, o.maxBackoff)
	}
}

func (o *OIDC) discover(ctx context.Context) (*provider, error) {
	ctx, cancel := context.WithTimeout(ctx, o.client.Timeout)
	defer cancel()
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, o.client), o.cfg.Issuer)
	if err != nil {
		return nil, err
	}
	var meta struct {
		EndSession       string   `json:"end_session_endpoint"`
		AuthMethods      []string `json:"token_endpoint_auth_methods_supported"`
		Scopes           []string `json:"scopes_supported"`
		Algs             []string `json:"id_token_signing_alg_values_supported"`
		ChallengeMethods []string `json:"code_challenge_methods_supported"`
	}
	if err := p.Claims(&meta); err != nil {
		return nil, fmt.Errorf("decode discovery document: %w", err)
	}
	ep := p.Endpoint()
	if ep.AuthURL == "" || ep.TokenURL == "" {
		return nil, errors.New("discovery document lacks authorization or token endpoint")
	}
	if strings.HasPrefix(o.cfg.Issuer, "https://") {
		for _, u := range []string{ep.AuthURL, ep.TokenURL, p.UserInfoEndpoint(), meta.EndSession} {
			if u != "" && !strings.HasPrefix(u, "https://") {
				return nil, fmt.Errorf("endpoint %q of an https issuer is not https", u)
			}
		}
	}
	if len(meta.ChallengeMethods) > 0 && !slices.Contains(meta.ChallengeMethods, "S256") {
		o.log.Warn("provider does not list PKCE S256; sending it anyway")
	}

	var algs []string
	for _, a := range meta.Algs {
		if slices.Contains(signingAlgs, a) {
			algs = append(algs, a)
		}
	}
	if len(algs) == 0 {
		algs = []string{oidc.RS256} // the algorithm OpenID Connect makes mandatory
	}

	ep.AuthStyle = oauth2.AuthStyleInHeader // client_secret_basic, the spec default
	if o.cfg.ClientSecret == "" ||
		(len(meta.AuthMethods) > 0 && !slices.Contains(meta.AuthMethods, "client_secret_basic") &&
			slices.Contains(meta.AuthMethods, "client_secret_post")) {
		ep.AuthStyle = oauth2.AuthStyleInParams
	}

	scopes := slices.Clone(o.cfg.Scopes)
	if len(scopes) == 0 {
		scopes = []string{oidc.ScopeOpenID, "profile", "email"}
		if slices.Contains(meta.Scopes, "groups") {
			scopes = append(scopes, "groups")
		}
	}
	if !slices.Contains(scopes, oidc.ScopeOpenID) {
		scopes = append([]string{oidc.ScopeOpenID}, scopes...)
	}

	return &provider{
		oidc: p,
		oauth: &oauth2.Config{
			ClientID:     o.cfg.ClientID,
			ClientSecret: o.cfg.ClientSecret,
			Endpoint:     ep,
			RedirectURL:  o.cfg.RedirectURL,
			Scopes:       scopes,
		},
		// The key set behind Verifier is go-oidc's RemoteKeySet, shared for
		// the process: keys are cached and refetched when a token carries an
		// unknown kid, which is how rotation is picked up.
		verifier: p.Verifier(&oidc.Config{
			ClientID:             o.cfg.ClientID,
			SupportedSigningAlgs: algs,
			Now:                  func() time.Time { return o.now() },
		}),
		endSession: meta.EndSession,
		userInfo:   p.UserInfoEndpoint() != "",
	}, nil
}

// transaction is one started sign-in. It is kept in the session store as a
// record of its own, keyed by a hash of its state, so that a sign-in creates
// no session before it succeeds, lives only txTTL, and sign-ins started at
// the same instant in one browser cannot overwrite each other (as they would
// in one session). Binding ties it to the browser that started it.
type transaction struct {
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	ReturnTo string `json:"r"`
	Created  int64  `json:"t"` // unix seconds
	Binding  string `json:"b"` // SHA-256 of the browser binding, hex
}

// AuthCodeURL starts a sign-in: it stores a fresh transaction (state, nonce,
// PKCE verifier, return path) for 10 minutes and returns the URL to redirect
// the browser to. binding is a secret the caller keeps in the browser (a
// cookie of this sign-in) and passes to Exchange again; it makes the state
// useless in any other browser. Several sign-ins may be open at once; each
// state is valid only once. returnTo must pass SafeReturnTo, otherwise "/"
// is used.
func (o *OIDC) AuthCodeURL(ctx context.Context, s *Sessions, binding, returnTo string) (string, error) {
	p := o.prov.Load()
	if p == nil {
		return "", ErrUnavailable
	}
	if binding == "" {
		return "", errors.New("auth: sign-in without a browser binding")
	}
	state, err := randomToken()
	if err != nil {
		return "", err
	}
	nonce, err := randomToken()
	if err != nil {
		return "", err
	}
	verifier := oauth2.GenerateVerifier()
	returnTo, _ = SafeReturnTo(returnTo)

	now := o.now()
	tx := transaction{Nonce: nonce, Verifier: verifier, ReturnTo: returnTo, Created: now.Unix(), Binding: hashHex(binding)}
	if err := s.putRecord(ctx, txKey(state), tx, time.Now().Add(txTTL)); err != nil {
		return "", fmt.Errorf("auth: store sign-in transaction: %w", err)
	}
	return p.oauth.AuthCodeURL(state,
		oidc.Nonce(nonce),
		oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("response_mode", "query"),
	), nil
}

// txKey is the store key of the transaction of state.
func txKey(state string) string { return txKeyPrefix + hashHex(state) }

func hashHex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// takeTx removes and returns the transaction of state; false when there is
// none, it expired or it belongs to another browser.
func (o *OIDC) takeTx(ctx context.Context, s *Sessions, state, binding string) (transaction, bool, error) {
	var tx transaction
	found, err := s.takeRecord(ctx, txKey(state), &tx)
	if err != nil || !found {
		return transaction{}, false, err
	}
	if binding == "" || subtle.ConstantTimeCompare([]byte(tx.Binding), []byte(hashHex(binding))) != 1 {
		return transaction{}, false, nil
	}
	if tx.Created < o.now().Add(-txTTL).Unix() {
		return transaction{}, false, nil
	}
	return tx, true, nil
}

// Exchange completes a sign-in at the redirect URI: it consumes the state
// (single-use, must belong to this browser session), exchanges the code with
// the PKCE verifier, verifies the ID token (signature, issuer, audience,
// expiry; then nonce, azp, iat), and reads profile and groups from UserInfo.
// It returns the identity and the path to return to. The caller then calls
// Sessions.SignIn.
func (o *OIDC) Exchange(ctx context.Context, s *Sessions, binding string, r *http.Request) (Identity, string, error) {
	p := o.prov.Load()
	if p == nil {
		return Identity{}, "", ErrUnavailable
	}
	q := r.URL.Query()

	// The transaction is removed before anything else, so a state is spent
	// whether or not the rest succeeds.
	states := q["state"]
	if len(states) != 1 || states[0] == "" {
		return Identity{}, "", ErrInvalidState
	}
	state := states[0]
	tx, ok, err := o.takeTx(ctx, s, state, binding)
	if err != nil {
		return Identity{}, "", fmt.Errorf("auth: read sign-in transaction: %w", err)
	}
	if !ok {
		return Identity{}, "", ErrInvalidState
	}
	// Another replica may have read the record before it was deleted: the
	// used-state record makes the state single-use there too.
	first, err := s.consumeOnce(ctx, stateKeyPrefix+state, time.Unix(tx.Created, 0).Add(txTTL))
	if err != nil {
		return Identity{}, "", fmt.Errorf("auth: record used state: %w", err)
	}
	if !first {
		return Identity{}, "", ErrInvalidState
	}
	returnTo, _ := SafeReturnTo(tx.ReturnTo)

	if e := q.Get("error"); e != "" {
		return Identity{}, "", fmt.Errorf("%w: %s", ErrProvider, errorCode(e))
	}
	// RFC 9207: a response that names another issuer is a mix-up attack.
	if iss, ok := q["iss"]; ok && (len(iss) != 1 || iss[0] != o.cfg.Issuer) {
		return Identity{}, "", fmt.Errorf("%w: response from another issuer", ErrExchange)
	}
	codes := q["code"]
	if len(codes) != 1 || codes[0] == "" {
		return Identity{}, "", fmt.Errorf("%w: no single code in the callback", ErrExchange)
	}

	ctx = oidc.ClientContext(ctx, o.client)
	tok, err := p.oauth.Exchange(ctx, codes[0], oauth2.VerifierOption(tx.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) {
			// No answer from the token endpoint: the IdP is down, not the
			// sign-in wrong; the user can start again once it is back.
			return Identity{}, "", fmt.Errorf("%w: %w: %w", ErrExchange, ErrUnavailable, err)
		}
		return Identity{}, "", fmt.Errorf("%w: %w", ErrExchange, err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return Identity{}, "", fmt.Errorf("%w: token response without id_token", ErrInvalidToken)
	}
	idt, err := p.verifier.Verify(ctx, rawID)
	if err != nil {
		return Identity{}, "", fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	var idClaims map[string]json.RawMessage
	if err := idt.Claims(&idClaims); err != nil {
		return Identity{}, "", fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if err := o.checkIDToken(idt, idClaims, tx.Nonce); err != nil {
		return Identity{}, "", fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return Identity{}, "", fmt.Errorf("%w: %w", ErrInvalidToken, err)
		}
	}

	var uiClaims map[string]json.RawMessage
	if p.userInfo && tok.AccessToken != "" {
		// Fail closed: without UserInfo a provider such as zitadel leaves
		// out groups, and "no groups claim" would keep yesterday's roles.
		ui, err := p.oidc.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			return Identity{}, "", fmt.Errorf("%w: %w", ErrUserInfo, err)
		}
		if subtle.ConstantTimeCompare([]byte(ui.Subject), []byte(idt.Subject)) != 1 {
			return Identity{}, "", fmt.Errorf("%w: userinfo subject differs from the ID token", ErrUserInfo)
		}
		if err := ui.Claims(&uiClaims); err != nil {
			return Identity{}, "", fmt.Errorf("%w: %w", ErrUserInfo, err)
		}
	}

	id, err := o.identity(idt, idClaims, uiClaims)
	if err != nil {
		return Identity{}, "", err
	}
	id.idToken = rawID
	return id, returnTo, nil
}

// checkIDToken performs the ID token checks go-oidc leaves to the caller.
func (o *OIDC) checkIDToken(idt *oidc.IDToken, claims map[string]json.RawMessage, nonce string) error {
	if idt.Subject == "" {
		return errors.New("no subject")
	}
	if idt.Nonce == "" || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return errors.New("nonce does not match the sign-in")
	}
	var azp string
	if raw, ok := claims["azp"]; ok {
		if err := json.Unmarshal(raw, &azp); err != nil {
			return errors.New("azp is not a string")
		}
	}
	if len(idt.Audience) > 1 && azp == "" {
		return errors.New("several audiences and no azp")
	}
	if azp != "" && azp != o.cfg.ClientID {
		return fmt.Errorf("issued to another party %q", azp)
	}
	if idt.IssuedAt.IsZero() {
		return errors.New("no iat")
	}
	if idt.IssuedAt.After(o.now().Add(iatSkew)) {
		return fmt.Errorf("issued in the future (%s)", idt.IssuedAt.UTC().Format(time.RFC3339))
	}
	if idt.IssuedAt.Before(o.now().Add(-maxIATAge)) {
		return fmt.Errorf("issued too long ago (%s)", idt.IssuedAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// identity merges ID token and UserInfo claims; UserInfo wins where it has
// a claim, because providers may trim the ID token when they issue an access
// token.
func (o *OIDC) identity(idt *oidc.IDToken, idClaims, uiClaims map[string]json.RawMessage) (Identity, error) {
	claim := func(name string) (json.RawMessage, bool) {
		if v, ok := uiClaims[name]; ok {
			return v, true
		}
		v, ok := idClaims[name]
		return v, ok
	}
	str := func(name string) string {
		raw, ok := claim(name)
		if !ok {
			return ""
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return ""
		}
		return s
	}

	id := Identity{
		Issuer:  idt.Issuer,
		Subject: idt.Subject,
		Name:    str("name"),
		Email:   str("email"),
	}
	if raw, ok := idClaims["sid"]; ok {
		_ = json.Unmarshal(raw, &id.IdPSID) // only the ID token's counts
	}
	if id.Name == "" {
		id.Name = str("preferred_username")
	}
	if id.Name == "" {
		id.Name = id.Email
	}
	for _, c := range o.cfg.ExtraClaims {
		if v := str(c); v != "" {
			if id.Claims == nil {
				id.Claims = map[string]string{}
			}
			id.Claims[c] = v
		}
	}

	if raw, ok := claim(o.cfg.GroupsClaim); ok {
		groups, err := parseGroups(raw)
		if err != nil {
			return Identity{}, fmt.Errorf("%w: claim %q: %w", ErrInvalidToken, o.cfg.GroupsClaim, err)
		}
		id.Groups, id.GroupsPresent = groups, true
	} else {
		id.GroupsOverage = overage(idClaims, o.cfg.GroupsClaim) || overage(uiClaims, o.cfg.GroupsClaim)
	}
	return id, nil
}

// parseGroups accepts a JSON array of strings, a single string, or null
// (present and empty: null must not keep old roles).
func parseGroups(raw json.RawMessage) ([]string, error) {
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		var one string
		if json.Unmarshal(raw, &one) != nil {
			return nil, errors.New("not a list of strings")
		}
		list = []string{one}
	}
	groups := make([]string, 0, len(list))
	for _, g := range list {
		if g != "" {
			groups = append(groups, g)
		}
	}
	return groups, nil
}

// overage reports Entra ID's "too many groups" signal: the groups claim is
// moved to a distributed claim (_claim_names) or replaced by hasgroups.
func overage(claims map[string]json.RawMessage, groupsClaim string) bool {
	if raw, ok := claims["_claim_names"]; ok {
		var names map[string]json.RawMessage
		if json.Unmarshal(raw, &names) == nil {
			if _, ok := names[groupsClaim]; ok {
				return true
			}
		}
	}
	if raw, ok := claims["hasgroups"]; ok {
		var has bool
		if json.Unmarshal(raw, &has) == nil && has {
			return true
		}
		var s string
		if json.Unmarshal(raw, &s) == nil && s == "true" {
			return true
		}
	}
	return false
}

// errorCode keeps only an OAuth error code's legal characters, because the
// callback query is attacker-controlled and ends up in logs.
func errorCode(e string) string {
	var b strings.Builder
	for _, r := range e {
		if b.Len() >= 64 {
			break
		}
		if r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// EndSessionURL returns the provider's RP-initiated logout URL with the
// id_token_hint, client_id and post_logout_redirect_uri, or false when the
// provider is not discovered yet or has no end_session_endpoint.
func (o *OIDC) EndSessionURL(idTokenHint string) (string, bool) {
	p := o.prov.Load()
	if p == nil || p.endSession == "" {
		return "", false
	}
	u, err := url.Parse(p.endSession)
	if err != nil {
		return "", false
	}
	q := u.Query()
	if idTokenHint != "" {
		q.Set("id_token_hint", idTokenHint)
	}
	q.Set("client_id", o.cfg.ClientID)
	if o.cfg.PostLogoutRedirectURL != "" {
		q.Set("post_logout_redirect_uri", o.cfg.PostLogoutRedirectURL)
		// RP-Initiated Logout 1.0 recommends state with the redirect; the
		// sign-in page it lands on changes nothing, so it is not checked.
		if st, err := randomToken(); err == nil {
			q.Set("state", st)
		}
	}
	u.RawQuery = q.Encode()
	return u.String(), true
}

// idpClient returns a copy of c (or a new client) with a deadline on every
// call and a cap on response bodies.
func idpClient(c *http.Client) *http.Client {
	var cp http.Client
	if c != nil {
		cp = *c
	}
	if cp.Timeout <= 0 {
		cp.Timeout = defaultHTTPTimeout
	}
	base := cp.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	cp.Transport = limitTransport{base: base, limit: maxIdPResponse}
	return &cp
}

type limitTransport struct {
	base  http.RoundTripper
	limit int64
}

func (t limitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitBody{ReadCloser: resp.Body, left: t.limit}
	return resp, nil
}

type limitBody struct {
	io.ReadCloser
	left int64
}

var errTooLarge = errors.New("auth: identity provider response too large")

func (b *limitBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// Probe one byte: exactly limit bytes followed by EOF is fine.
		var one [1]byte
		n, err := b.ReadCloser.Read(one[:])
		if n > 0 {
			return 0, errTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}
