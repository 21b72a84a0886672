package demoidp

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

const (
	clientID     = "agentdesk"
	clientSecret = "s3cret"
	rpCallback   = "http://127.0.0.1:1/auth/callback" // never contacted: the browser stops there
	rpLoggedOut  = "http://127.0.0.1:1/signed-out"
)

type env struct {
	issuer   string
	provider *oidc.Provider
	conf     oauth2.Config
	ctx      context.Context
}

func newEnv(t *testing.T) *env {
	t.Helper()
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	var err error
	h, err = New(Config{
		Issuer:                 srv.URL,
		ClientID:               clientID,
		ClientSecret:           clientSecret,
		RedirectURIs:           []string{rpCallback},
		PostLogoutRedirectURIs: []string{rpLoggedOut},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := oidc.ClientContext(t.Context(), srv.Client())
	p, err := oidc.NewProvider(ctx, srv.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return &env{
		issuer:   srv.URL,
		provider: p,
		ctx:      ctx,
		conf: oauth2.Config{
			ClientID:     clientID,
			ClientSecret: clientSecret,
			Endpoint:     p.Endpoint(),
			RedirectURL:  rpCallback,
			Scopes:       []string{oidc.ScopeOpenID, "profile", "email", "groups"},
		},
	}
}

// browser is a cookie-keeping client that follows redirects inside the
// provider and stops at the portal's callback.
func browser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{
		Jar: jar,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Host == "127.0.0.1:1" {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
}

type loginPage struct {
	status int
	url    *url.URL
	doc    *goquery.Document
}

func (p loginPage) field(name string) string {
	v, _ := p.doc.Find(`form[data-testid="login-form"] input[name="` + name + `"]`).Attr("value")
	return v
}

func (p loginPage) errorText() string {
	return strings.TrimSpace(p.doc.Find(`[data-testid="error"]`).Text())
}

func readPage(t *testing.T, resp *http.Response) loginPage {
	t.Helper()
	defer resp.Body.Close()
	doc, err := goquery.NewDocumentFromReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return loginPage{status: resp.StatusCode, url: resp.Request.URL, doc: doc}
}

func get(t *testing.T, c *http.Client, u string) *http.Response {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

type pkce struct{ state, nonce, verifier string }

func newPKCE() pkce {
	return pkce{state: rand.Text(), nonce: rand.Text(), verifier: oauth2.GenerateVerifier()}
}

func (e *env) authURL(p pkce) string {
	return e.conf.AuthCodeURL(p.state, oidc.Nonce(p.nonce), oauth2.S256ChallengeOption(p.verifier))
}

func postLogin(t *testing.T, c *http.Client, page loginPage, username, password string) *http.Response {
	t.Helper()
	return postLoginCSRF(t, c, page, page.field("csrf"), username, password)
}

func postLoginCSRF(t *testing.T, c *http.Client, page loginPage, csrf, username, password string) *http.Response {
	t.Helper()
	action := page.url.ResolveReference(&url.URL{Path: "login"})
	resp, err := c.PostForm(action.String(), url.Values{
		"authRequestID": {page.field("authRequestID")},
		"csrf":          {csrf},
		"username":      {username},
		"password":      {password},
	})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// signIn runs the browser part of the flow and returns the code.
func (e *env) signIn(t *testing.T, p pkce, username string) string {
	t.Helper()
	c := browser(t)
	page := readPage(t, get(t, c, e.authURL(p)))
	resp := postLogin(t, c, page, username, "demo")
	defer resp.Body.Close()
	return codeFrom(t, resp, p.state)
}

func codeFrom(t *testing.T, resp *http.Response, state string) string {
	t.Helper()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("want a redirect to the portal, got %d at %s", resp.StatusCode, resp.Request.URL)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != rpCallback {
		t.Fatalf("redirected to %s, want the registered %s", got, rpCallback)
	}
	q := loc.Query()
	if q.Get("state") != state {
		t.Errorf("state = %q, want %q", q.Get("state"), state)
	}
	if q.Get("code") == "" {
		t.Fatalf("no code in %s", loc)
	}
	return q.Get("code")
}

func TestFullFlow(t *testing.T) {
	e := newEnv(t)
	p := newPKCE()
	c := browser(t)

	// The authorize request lands on the login page, which lists the demo users.
	page := readPage(t, get(t, c, e.authURL(p)))
	if page.status != http.StatusOK || page.url.Path != "/login" {
		t.Fatalf("login page: status %d at %s", page.status, page.url)
	}
	rows := page.doc.Find(`[data-testid="demo-user"]`)
	if rows.Length() != 4 {
		t.Fatalf("%d demo users listed, want 4", rows.Length())
	}
	text := page.doc.Find(`[data-testid="demo-users"]`).Text()
	for _, want := range []string{"Alice Admin", "Administrator", "Harry Helpdesk", "Helpdesk (Berlin)", "Audrey Auditor", "Auditor", "Erin Enduser", "erin-laptop.corp.example"} {
		if !strings.Contains(text, want) {
			t.Errorf("user list lacks %q", want)
		}
	}
	if !strings.Contains(page.doc.Find(`[data-testid="demo-banner"]`).Text(), "demo") {
		t.Error("no demo banner with the password")
	}
	if page.doc.Find(`button.fill[data-username="erin"]`).Length() != 1 {
		t.Error("no click-to-fill button for erin")
	}

	// A wrong password is refused with a message, and the form comes back.
	resp := postLogin(t, c, page, "erin", "wrong")
	page2 := readPage(t, resp)
	if page2.status != http.StatusUnauthorized || !strings.Contains(page2.errorText(), "Wrong username or password") {
		t.Fatalf("wrong password: status %d, error %q", page2.status, page2.errorText())
	}
	if page2.field("username") != "erin" {
		t.Errorf("username not kept: %q", page2.field("username"))
	}

	// The right password redirects to the registered URI with a code.
	resp = postLogin(t, c, page2, "erin", "demo")
	resp.Body.Close()
	code := codeFrom(t, resp, p.state)

	tok, err := e.conf.Exchange(e.ctx, code, oauth2.VerifierOption(p.verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		t.Fatal("no id_token")
	}
	idt, err := e.provider.Verifier(&oidc.Config{ClientID: clientID}).Verify(e.ctx, raw)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if idt.Nonce != p.nonce {
		t.Errorf("nonce = %q, want %q", idt.Nonce, p.nonce)
	}
	erin := DemoUsers()[3]
	if idt.Subject != erin.Subject || idt.Issuer != e.issuer {
		t.Errorf("sub/iss = %q/%q", idt.Subject, idt.Issuer)
	}
	var idClaims struct {
		Groups   []string `json:"groups"`
		Computer string   `json:"computer"`
		Email    string   `json:"email"`
		AZP      string   `json:"azp"`
	}
	if err := idt.Claims(&idClaims); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(idClaims.Groups, []string{"employees"}) || idClaims.Computer != erin.Computer {
		t.Errorf("ID token groups/computer = %v/%q", idClaims.Groups, idClaims.Computer)
	}
	if idClaims.AZP != clientID {
		t.Errorf("azp = %q", idClaims.AZP)
	}

	ui, err := e.provider.UserInfo(e.ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	var uiClaims struct {
		Name              string   `json:"name"`
		PreferredUsername string   `json:"preferred_username"`
		Groups            []string `json:"groups"`
		Computer          string   `json:"computer"`
	}
	if err := ui.Claims(&uiClaims); err != nil {
		t.Fatal(err)
	}
	if ui.Subject != erin.Subject || ui.Email != erin.Email || !ui.EmailVerified {
		t.Errorf("userinfo sub/email = %q/%q/%v", ui.Subject, ui.Email, ui.EmailVerified)
	}
	if uiClaims.Name != "Erin Enduser" || uiClaims.PreferredUsername != "erin" ||
		!slices.Equal(uiClaims.Groups, []string{"employees"}) || uiClaims.Computer != erin.Computer {
		t.Errorf("userinfo claims = %+v", uiClaims)
	}

	// The code works once.
	if _, err := e.conf.Exchange(e.ctx, code, oauth2.VerifierOption(p.verifier)); err == nil {
		t.Error("code redeemed twice")
	}

	// Sign-out: back to the registered post-logout URI, token revoked.
	q := url.Values{"id_token_hint": {raw}, "post_logout_redirect_uri": {rpLoggedOut}, "state": {"bye"}}
	endSession := e.issuer + "/end_session?" + q.Encode()
	resp = get(t, c, endSession)
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || loc != rpLoggedOut+"?state=bye" {
		t.Errorf("end_session: %d to %q", resp.StatusCode, loc)
	}
	if _, err := e.provider.UserInfo(e.ctx, oauth2.StaticTokenSource(tok)); err == nil {
		t.Error("access token still valid after sign-out")
	}
}

func TestAdminGroupsInIDToken(t *testing.T) {
	e := newEnv(t)
	p := newPKCE()
	code := e.signIn(t, p, "alice")
	tok, err := e.conf.Exchange(e.ctx, code, oauth2.VerifierOption(p.verifier))
	if err != nil {
		t.Fatal(err)
	}
	idt, err := e.provider.Verifier(&oidc.Config{ClientID: clientID}).Verify(e.ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	if g, _ := c["groups"].([]any); len(g) != 1 || g[0] != "agentdesk-admins" {
		t.Errorf("groups = %v", c["groups"])
	}
	if _, ok := c["computer"]; ok {
		t.Error("computer claim for a user without a computer")
	}
}

func TestGroupsNeedTheScope(t *testing.T) {
	e := newEnv(t)
	e.conf.Scopes = []string{oidc.ScopeOpenID, "email"}
	p := newPKCE()
	tok, err := e.conf.Exchange(e.ctx, e.signIn(t, p, "harry"), oauth2.VerifierOption(p.verifier))
	if err != nil {
		t.Fatal(err)
	}
	ui, err := e.provider.UserInfo(e.ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	ui.Claims(&c)
	if _, ok := c["groups"]; ok {
		t.Errorf("groups without the groups scope: %v", c)
	}
}

func TestExchangeWithoutVerifierFails(t *testing.T) {
	e := newEnv(t)
	p := newPKCE()
	code := e.signIn(t, p, "audrey")
	if _, err := e.conf.Exchange(e.ctx, code); err == nil {
		t.Fatal("exchange without the PKCE verifier succeeded")
	}
	p2 := newPKCE()
	code = e.signIn(t, p2, "audrey")
	if _, err := e.conf.Exchange(e.ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil {
		t.Fatal("exchange with a wrong verifier succeeded")
	}
	p3 := newPKCE()
	code = e.signIn(t, p3, "audrey")
	bad := e.conf
	bad.ClientSecret = "wrong"
	if _, err := bad.Exchange(e.ctx, code, oauth2.VerifierOption(p3.verifier)); err == nil {
		t.Fatal("exchange with a wrong client secret succeeded")
	}
}

func TestPKCERequired(t *testing.T) {
	e := newEnv(t)
	for name, opts := range map[string][]oauth2.AuthCodeOption{
		"no challenge": nil,
		"plain":        {oauth2.SetAuthURLParam("code_challenge", oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("code_challenge_method", "plain")},
	} {
		t.Run(name, func(t *testing.T) {
			resp := get(t, browser(t), e.conf.AuthCodeURL("st", opts...))
			resp.Body.Close()
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != http.StatusFound || loc == nil || loc.Query().Get("error") != "invalid_request" {
				t.Fatalf("status %d, location %q: want an invalid_request error redirect", resp.StatusCode, resp.Header.Get("Location"))
			}
			if !strings.Contains(loc.Query().Get("error_description"), "PKCE") {
				t.Errorf("error_description = %q", loc.Query().Get("error_description"))
			}
		})
	}
}

func TestUnregisteredRedirectURIRefused(t *testing.T) {
	e := newEnv(t)
	for _, uri := range []string{
		"http://127.0.0.1:1/auth/callback/",
		"http://127.0.0.1:1/auth/callback?x=1",
		"http://127.0.0.1:1/evil",
		"http://evil.example/auth/callback",
	} {
		conf := e.conf
		conf.RedirectURL = uri
		resp := get(t, browser(t), conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || resp.Header.Get("Location") != "" || resp.Request.URL.Path == "/login" {
			t.Errorf("%s: status %d, location %q, at %s: want a refusal", uri, resp.StatusCode, resp.Header.Get("Location"), resp.Request.URL)
		}
	}
	// And the post-logout redirect is checked exactly too.
	q := url.Values{"client_id": {clientID}, "post_logout_redirect_uri": {"http://evil.example/"}}
	resp := get(t, browser(t), e.issuer+"/end_session?"+q.Encode())
	resp.Body.Close()
	if resp.StatusCode == http.StatusFound {
		t.Errorf("end_session redirected to an unregistered URI: %s", resp.Header.Get("Location"))
	}
}

func TestLoginFormCSRF(t *testing.T) {
	e := newEnv(t)
	p := newPKCE()
	victim := browser(t)
	page := readPage(t, get(t, victim, e.authURL(p)))

	// A post from elsewhere has no cookie: refused, no redirect.
	attacker := browser(t)
	resp := postLogin(t, attacker, page, "alice", "demo")
	if got := readPage(t, resp); got.status != http.StatusBadRequest || got.errorText() == "" {
		t.Errorf("post without the CSRF cookie: status %d", got.status)
	}
	// A post with the cookie but without the form token: refused too.
	resp = postLoginCSRF(t, victim, page, "guess", "alice", "demo")
	if got := readPage(t, resp); got.status != http.StatusBadRequest {
		t.Errorf("post with a wrong CSRF token: status %d", got.status)
	}
	// The real form still works afterwards.
	resp = postLogin(t, victim, page, "alice", "demo")
	resp.Body.Close()
	codeFrom(t, resp, p.state)
}

func TestTooManyWrongPasswords(t *testing.T) {
	e := newEnv(t)
	c := browser(t)
	page := readPage(t, get(t, c, e.authURL(newPKCE())))
	for range maxFailures - 1 {
		readPage(t, postLogin(t, c, page, "alice", "nope"))
	}
	got := readPage(t, postLogin(t, c, page, "alice", "nope"))
	if got.status != http.StatusBadRequest || !strings.Contains(got.errorText(), "Too many") {
		t.Fatalf("status %d, %q", got.status, got.errorText())
	}
	got = readPage(t, postLogin(t, c, page, "alice", "demo"))
	if got.status != http.StatusBadRequest {
		t.Errorf("voided sign-in accepted the right password: %d", got.status)
	}
}

func TestUnknownAuthRequest(t *testing.T) {
	e := newEnv(t)
	got := readPage(t, get(t, browser(t), e.issuer+"/login?authRequestID=nope"))
	if got.status != http.StatusBadRequest || got.doc.Find("form").Length() != 0 {
		t.Errorf("status %d for an unknown auth request", got.status)
	}
}

func TestNewValidates(t *testing.T) {
	good := Config{Issuer: "http://127.0.0.1:5556", ClientID: "a", ClientSecret: "b", RedirectURIs: []string{"http://127.0.0.1:8080/auth/callback"}}
	if _, err := New(good); err != nil {
		t.Fatalf("good config: %v", err)
	}
	tests := map[string]func(*Config){
		"http off loopback":   func(c *Config) { c.Issuer = "http://idp.example" },
		"no issuer":           func(c *Config) { c.Issuer = "" },
		"no secret":           func(c *Config) { c.ClientSecret = "" },
		"no redirect":         func(c *Config) { c.RedirectURIs = nil },
		"duplicate usernames": func(c *Config) { c.Users = []User{DemoUsers()[0], DemoUsers()[0]} },
	}
	for name, mod := range tests {
		c := good
		mod(&c)
		if _, err := New(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
