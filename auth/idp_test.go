package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// testIdP is a fault-injecting OpenID provider: discovery, JWKS with
// rotating keys, an authorization endpoint that approves at once, a token
// endpoint that enforces PKCE S256 and single-use codes, and UserInfo.
type testIdP struct {
	t        *testing.T
	srv      *httptest.Server
	clientID string
	secret   string
	redirect string

	mu        sync.Mutex
	keys      []idpKey // published in the JWKS
	signer    idpKey   // signs ID tokens
	f         idpFaults
	sub       string
	codes     map[string]*idpCode
	access    map[string]string // access token → subject
	jwksHits  int
	discHits  int
	tokenErrs []string // why the token endpoint refused requests
}

type idpKey struct {
	kid  string
	priv *ecdsa.PrivateKey
}

// idpFaults says how the next responses go wrong. The zero value is a
// correct provider.
type idpFaults struct {
	discoveryDown   bool
	discoveryIssuer string // issuer announced in discovery
	noUserInfo      bool   // no userinfo_endpoint in discovery
	tokenHang       bool   // token endpoint never answers
	jwksDown        bool   // the key set endpoint answers 503

	issuer       string   // iss of the ID token
	audience     []string // aud of the ID token
	azp          string
	expired      bool
	iatOffset    time.Duration
	noIat        bool
	omitNonce    bool
	nonce        string // replaces the requested nonce
	algNone      bool
	hmac         bool // HS256 keyed with the client secret
	badSignature bool // signed by an unpublished key under a published kid
	unknownKid   bool // signed by an unpublished key with its own kid
	badAtHash    bool
	idClaims     map[string]any // extra ID token claims
	uiClaims     map[string]any // extra UserInfo claims
	uiSubject    string         // replaces sub in UserInfo
	userinfoDown bool
}

type idpCode struct {
	clientID, redirectURI, challenge, nonce, sub string
	used                                         bool
}

func newTestIdP(t *testing.T) *testIdP {
	t.Helper()
	idp := &testIdP{
		t:        t,
		clientID: "agentdesk",
		secret:   "s3cret-s3cret-s3cret-s3cret-s3cret-0123",
		sub:      "user-1",
		codes:    map[string]*idpCode{},
		access:   map[string]string{},
	}
	k := idp.newKey()
	idp.keys = []idpKey{k}
	idp.signer = k
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", idp.discovery)
	mux.HandleFunc("GET /jwks", idp.jwks)
	mux.HandleFunc("GET /authorize", idp.authorize)
	mux.HandleFunc("POST /token", idp.token)
	mux.HandleFunc("GET /userinfo", idp.userinfo)
	idp.srv = httptest.NewServer(mux)
	t.Cleanup(idp.srv.Close)
	idp.redirect = "https://portal.example/auth/callback"
	return idp
}

func (idp *testIdP) newKey() idpKey {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		idp.t.Fatal(err)
	}
	return idpKey{kid: randomString(idp.t), priv: priv}
}

func (idp *testIdP) issuer() string { return idp.srv.URL }

func (idp *testIdP) setFaults(f idpFaults) {
	idp.mu.Lock()
	defer idp.mu.Unlock()
	idp.f = f
}

// rotate publishes a new key, signs with it from now on and, unless keepOld,
// withdraws the previous keys.
func (idp *testIdP) rotate(keepOld bool) {
	k := idp.newKey()
	idp.mu.Lock()
	defer idp.mu.Unlock()
	if keepOld {
		idp.keys = append(idp.keys, k)
	} else {
		idp.keys = []idpKey{k}
	}
	idp.signer = k
}

func (idp *testIdP) stats() (jwks, disc int, tokenErrs []string) {
	idp.mu.Lock()
	defer idp.mu.Unlock()
	return idp.jwksHits, idp.discHits, append([]string(nil), idp.tokenErrs...)
}

func (idp *testIdP) discovery(w http.ResponseWriter, r *http.Request) {
	idp.mu.Lock()
	defer idp.mu.Unlock()
	idp.discHits++
	if idp.f.discoveryDown {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	iss := idp.issuer()
	if idp.f.discoveryIssuer != "" {
		iss = idp.f.discoveryIssuer
	}
	doc := map[string]any{
		"issuer":                 iss,
		"authorization_endpoint": idp.srv.URL + "/authorize",
		"token_endpoint":         idp.srv.URL + "/token",
		"jwks_uri":               idp.srv.URL + "/jwks",
		"end_session_endpoint":   idp.srv.URL + "/logout?ui=1",
		// A provider that also lists "none" and HS256 must still never
		// get such tokens accepted.
		"id_token_signing_alg_values_supported": []string{"ES256", "RS256", "HS256", "none"},
		"scopes_supported":                      []string{"openid", "profile", "email", "groups"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic"},
		"response_types_supported":              []string{"code"},
	}
	if !idp.f.noUserInfo {
		doc["userinfo_endpoint"] = idp.srv.URL + "/userinfo"
	}
	writeJSON(w, http.StatusOK, doc)
}

func (idp *testIdP) jwks(w http.ResponseWriter, r *http.Request) {
	idp.mu.Lock()
	defer idp.mu.Unlock()
	idp.jwksHits++
	if idp.f.jwksDown {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	var set jose.JSONWebKeySet
	for _, k := range idp.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.priv.PublicKey, KeyID: k.kid, Algorithm: "ES256", Use: "sig"})
	}
	writeJSON(w, http.StatusOK, set)
}

func (idp *testIdP) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case q.Get("response_type") != "code",
		q.Get("client_id") != idp.clientID,
		q.Get("redirect_uri") != idp.redirect,
		q.Get("code_challenge_method") != "S256",
		q.Get("code_challenge") == "",
		q.Get("response_mode") != "query",
		q.Get("nonce") == "",
		q.Get("state") == "",
		!strings.Contains(" "+q.Get("scope")+" ", " openid "):
		http.Error(w, "invalid authorization request", http.StatusBadRequest)
		return
	}
	idp.mu.Lock()
	code := randomString(idp.t)
	idp.codes[code] = &idpCode{
		clientID: q.Get("client_id"), redirectURI: q.Get("redirect_uri"),
		challenge: q.Get("code_challenge"), nonce: q.Get("nonce"), sub: idp.sub,
	}
	idp.mu.Unlock()
	cb, _ := url.Parse(q.Get("redirect_uri"))
	cq := cb.Query()
	cq.Set("code", code)
	cq.Set("state", q.Get("state"))
	cb.RawQuery = cq.Encode()
	http.Redirect(w, r, cb.String(), http.StatusFound)
}

func (idp *testIdP) token(w http.ResponseWriter, r *http.Request) {
	idp.mu.Lock()
	hang := idp.f.tokenHang
	idp.mu.Unlock()
	if hang {
		// The server notices the client hanging up only once the body
		// has been read.
		_ = r.ParseForm()
		<-r.Context().Done()
		return
	}
	fail := func(reason string) {
		idp.tokenErrs = append(idp.tokenErrs, reason)
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
	}
	idp.mu.Lock()
	defer idp.mu.Unlock()
	user, pass, ok := r.BasicAuth()
	if !ok || user != idp.clientID || pass != idp.secret {
		idp.tokenErrs = append(idp.tokenErrs, "client")
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	if r.PostFormValue("grant_type") != "authorization_code" {
		fail("grant_type")
		return
	}
	c := idp.codes[r.PostFormValue("code")]
	switch {
	case c == nil:
		fail("unknown code")
		return
	case c.used:
		fail("code reused")
		return
	}
	c.used = true
	if r.PostFormValue("redirect_uri") != c.redirectURI {
		fail("redirect_uri")
		return
	}
	sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
	if r.PostFormValue("code_verifier") == "" || base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge {
		fail("pkce")
		return
	}
	at := randomString(idp.t)
	idp.access[at] = c.sub
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": at,
		"token_type":   "Bearer",
		"expires_in":   300,
		"id_token":     idp.idToken(c, at),
	})
}

// idToken builds the ID token for c under the current faults. idp.mu is held.
func (idp *testIdP) idToken(c *idpCode, accessToken string) string {
	f := idp.f
	now := time.Now()
	claims := map[string]any{
		"iss":   idp.issuer(),
		"sub":   c.sub,
		"aud":   c.clientID,
		"exp":   now.Add(5 * time.Minute).Unix(),
		"iat":   now.Add(f.iatOffset).Unix(),
		"nonce": c.nonce,
	}
	ah := sha256.Sum256([]byte(accessToken))
	claims["at_hash"] = base64.RawURLEncoding.EncodeToString(ah[:16])
	if f.badAtHash {
		claims["at_hash"] = "AAAAAAAAAAAAAAAAAAAAAA"
	}
	if f.issuer != "" {
		claims["iss"] = f.issuer
	}
	if f.audience != nil {
		claims["aud"] = f.audience
	}
	if f.azp != "" {
		claims["azp"] = f.azp
	}
	if f.expired {
		claims["exp"] = now.Add(-time.Minute).Unix()
		claims["iat"] = now.Add(-6 * time.Minute).Unix()
	}
	if f.noIat {
		delete(claims, "iat")
	}
	if f.nonce != "" {
		claims["nonce"] = f.nonce
	}
	if f.omitNonce {
		delete(claims, "nonce")
	}
	for k, v := range f.idClaims {
		claims[k] = v
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		idp.t.Fatal(err)
	}

	if f.algNone {
		hdr := base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"alg":"none","typ":"JWT","kid":%q}`, idp.signer.kid)))
		return hdr + "." + base64.RawURLEncoding.EncodeToString(payload) + "."
	}
	key := jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: idp.signer.priv, KeyID: idp.signer.kid}}
	switch {
	case f.hmac:
		key = jose.SigningKey{Algorithm: jose.HS256, Key: jose.JSONWebKey{Key: []byte(idp.secret), KeyID: idp.signer.kid}}
	case f.badSignature:
		other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		key = jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: other, KeyID: idp.signer.kid}}
	case f.unknownKid:
		other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		key = jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: other, KeyID: "unpublished"}}
	}
	signer, err := jose.NewSigner(key, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		idp.t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		idp.t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		idp.t.Fatal(err)
	}
	return s
}

func (idp *testIdP) userinfo(w http.ResponseWriter, r *http.Request) {
	idp.mu.Lock()
	defer idp.mu.Unlock()
	at, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	sub, known := idp.access[at]
	if !ok || !known {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, "invalid token", http.StatusUnauthorized)
		return
	}
	if idp.f.userinfoDown {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	claims := map[string]any{"sub": sub}
	if idp.f.uiSubject != "" {
		claims["sub"] = idp.f.uiSubject
	}
	for k, v := range idp.f.uiClaims {
		claims[k] = v
	}
	writeJSON(w, http.StatusOK, claims)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func randomString(t *testing.T) string {
	s, err := randomToken()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// browser holds one browser's session cookie and runs "requests" against
// the session manager the way scs's LoadAndSave does.
type browser struct {
	t       *testing.T
	s       *Sessions
	token   string
	binding string // the sign-in's browser binding (a cookie in the portal)
}

// begin loads the session as a request would; finish commits it.
func (b *browser) begin() context.Context {
	b.t.Helper()
	ctx, err := b.s.sm.Load(context.Background(), b.token)
	if err != nil {
		b.t.Fatal(err)
	}
	return ctx
}

func (b *browser) finish(ctx context.Context) {
	b.t.Helper()
	switch b.s.sm.Status(ctx) {
	case 1: // scs.Modified
		tok, _, err := b.s.sm.Commit(ctx)
		if err != nil {
			b.t.Fatal(err)
		}
		b.token = tok
	case 2: // scs.Destroyed
		b.token = ""
	}
}

func (b *browser) do(fn func(ctx context.Context)) {
	b.t.Helper()
	ctx := b.begin()
	fn(ctx)
	b.finish(ctx)
}

// rpEnv is a relying party wired to a test IdP.
type rpEnv struct {
	idp *testIdP
	o   *OIDC
	s   *Sessions
}

func newRPEnv(t *testing.T, mutate ...func(*Config)) *rpEnv {
	t.Helper()
	idp := newTestIdP(t)
	cfg := Config{
		Issuer:                idp.issuer(),
		ClientID:              idp.clientID,
		ClientSecret:          idp.secret,
		RedirectURL:           idp.redirect,
		ExtraClaims:           []string{"preferred_username", "computer"},
		PostLogoutRedirectURL: "https://portal.example/signed-out",
		HTTPClient:            &http.Client{Timeout: 5 * time.Second},
		Logger:                discardLogger(),
	}
	for _, m := range mutate {
		m(&cfg)
	}
	e := &rpEnv{idp: idp, s: NewSessions(NewSessionManager(newMemStore(t), time.Hour, "", true), time.Hour)}
	e.o = startOIDC(t, cfg)
	waitReady(t, e.o)
	return e
}

func startOIDC(t *testing.T, cfg Config) *OIDC {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return newOIDC(ctx, cfg, 5*time.Millisecond, 50*time.Millisecond)
}

func waitReady(t *testing.T, o *OIDC) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := o.WaitReady(ctx); err != nil {
		t.Fatalf("provider never became ready: %v", err)
	}
}

func (e *rpEnv) browser(t *testing.T) *browser {
	binding, err := randomToken()
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, s: e.s, binding: binding}
}

// start begins a sign-in in b and returns the authorization URL.
func (e *rpEnv) start(t *testing.T, b *browser, returnTo string) string {
	t.Helper()
	var u string
	b.do(func(ctx context.Context) {
		var err error
		if u, err = e.o.AuthCodeURL(ctx, e.s, b.binding, returnTo); err != nil {
			t.Fatal(err)
		}
	})
	return u
}

// approve follows the authorization URL at the IdP and returns the callback
// URL the IdP redirects the browser to.
func (e *rpEnv) approve(t *testing.T, authURL string) *url.URL {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: status %d", resp.StatusCode)
	}
	cb, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return cb
}

// callback delivers cb to the relying party in b.
func (e *rpEnv) callback(t *testing.T, b *browser, cb *url.URL) (Identity, string, error) {
	t.Helper()
	var (
		id       Identity
		returnTo string
		err      error
	)
	b.do(func(ctx context.Context) {
		r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/auth/callback?"+cb.RawQuery, nil)
		id, returnTo, err = e.o.Exchange(ctx, e.s, b.binding, r)
	})
	return id, returnTo, err
}

// signIn runs a whole sign-in in b.
func (e *rpEnv) signIn(t *testing.T, b *browser, returnTo string) (Identity, string, error) {
	t.Helper()
	return e.callback(t, b, e.approve(t, e.start(t, b, returnTo)))
}
