package auth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSignInSuccess(t *testing.T) {
	e := newRPEnv(t)
	e.idp.setFaults(idpFaults{
		// zitadel-like: profile and groups only in UserInfo.
		uiClaims: map[string]any{
			"name": "Erin Example", "email": "erin@corp.example", "preferred_username": "erin",
			"groups": []string{"helpdesk-berlin", "staff"}, "computer": "erin-laptop.corp.example",
		},
	})
	b := e.browser(t)
	authURL := e.start(t, b, "/jobs?q=a&b=c")

	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	for k, want := range map[string]string{
		"response_type":         "code",
		"response_mode":         "query",
		"code_challenge_method": "S256",
		"client_id":             e.idp.clientID,
		"redirect_uri":          e.idp.redirect,
		"scope":                 "openid profile email groups",
	} {
		if got := q.Get(k); got != want {
			t.Errorf("authorization request %s = %q, want %q", k, got, want)
		}
	}
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if len(q.Get(k)) < 43 {
			t.Errorf("authorization request %s = %q, want a 256-bit random value", k, q.Get(k))
		}
	}
	if q.Get("state") == q.Get("nonce") {
		t.Error("state and nonce are the same value")
	}

	id, returnTo, err := e.callback(t, b, e.approve(t, authURL))
	if err != nil {
		t.Fatalf("sign-in failed: %v", err)
	}
	if returnTo != "/jobs?q=a&b=c" {
		t.Errorf("returnTo = %q", returnTo)
	}
	if id.Key() != e.idp.issuer()+"|user-1" {
		t.Errorf("key = %q", id.Key())
	}
	if id.Name != "Erin Example" || id.Email != "erin@corp.example" {
		t.Errorf("profile not taken from UserInfo: %+v", id)
	}
	if !id.GroupsPresent || !slices.Equal(id.Groups, []string{"helpdesk-berlin", "staff"}) || id.GroupsOverage {
		t.Errorf("groups = %v present=%t overage=%t", id.Groups, id.GroupsPresent, id.GroupsOverage)
	}
	if id.Claims["preferred_username"] != "erin" || id.Claims["computer"] != "erin-laptop.corp.example" {
		t.Errorf("extra claims = %v", id.Claims)
	}
	if id.RawIDToken() == "" || strings.Contains(id.String(), id.RawIDToken()) {
		t.Error("raw ID token missing, or leaked into String()")
	}
}

// Each case injects one fault into an otherwise valid sign-in and must be
// rejected; every case fails if the corresponding check is removed.
func TestIDTokenRejected(t *testing.T) {
	cases := []struct {
		name string
		f    idpFaults
		want error
	}{
		{"wrong issuer", idpFaults{issuer: "https://evil.example"}, ErrInvalidToken},
		{"wrong audience", idpFaults{audience: []string{"someone-else"}}, ErrInvalidToken},
		{"expired", idpFaults{expired: true}, ErrInvalidToken},
		{"alg none", idpFaults{algNone: true}, ErrInvalidToken},
		{"HS256 keyed with the client secret", idpFaults{hmac: true}, ErrInvalidToken},
		{"bad signature under a known kid", idpFaults{badSignature: true}, ErrInvalidToken},
		{"unknown kid", idpFaults{unknownKid: true}, ErrInvalidToken},
		{"missing nonce", idpFaults{omitNonce: true}, ErrInvalidToken},
		{"wrong nonce", idpFaults{nonce: "attacker-nonce"}, ErrInvalidToken},
		{"azp mismatch with several audiences", idpFaults{audience: []string{"agentdesk", "other"}, azp: "other"}, ErrInvalidToken},
		{"several audiences without azp", idpFaults{audience: []string{"agentdesk", "other"}}, ErrInvalidToken},
		{"azp of another client", idpFaults{azp: "other"}, ErrInvalidToken},
		{"iat in the future", idpFaults{iatOffset: 10 * time.Minute}, ErrInvalidToken},
		{"iat a year old", idpFaults{iatOffset: -365 * 24 * time.Hour}, ErrInvalidToken},
		{"no iat", idpFaults{noIat: true}, ErrInvalidToken},
		{"at_hash does not match the access token", idpFaults{badAtHash: true}, ErrInvalidToken},
		{"groups claim of the wrong type", idpFaults{idClaims: map[string]any{"groups": map[string]any{"a": 1}}}, ErrInvalidToken},
		{"userinfo for another subject", idpFaults{uiSubject: "user-2"}, ErrUserInfo},
		{"userinfo failing", idpFaults{userinfoDown: true}, ErrUserInfo},
	}
	e := newRPEnv(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.idp.setFaults(tc.f)
			id, _, err := e.signIn(t, e.browser(t), "/")
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, identity %v; want %v", err, id, tc.want)
			}
		})
	}
	// The same relying party still accepts a correct token afterwards.
	e.idp.setFaults(idpFaults{})
	if _, _, err := e.signIn(t, e.browser(t), "/"); err != nil {
		t.Fatalf("valid sign-in after faults: %v", err)
	}
}

func TestIDTokenAccepted(t *testing.T) {
	cases := []struct {
		name string
		f    idpFaults
	}{
		{"iat within clock skew", idpFaults{iatOffset: time.Minute}},
		{"several audiences with our azp", idpFaults{audience: []string{"agentdesk", "other"}, azp: "agentdesk"}},
		{"single audience with our azp", idpFaults{azp: "agentdesk"}},
	}
	e := newRPEnv(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.idp.setFaults(tc.f)
			if _, _, err := e.signIn(t, e.browser(t), "/"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestKeyRotation(t *testing.T) {
	e := newRPEnv(t)
	if _, _, err := e.signIn(t, e.browser(t), "/"); err != nil {
		t.Fatal(err)
	}
	before, _, _ := e.idp.stats()
	if _, _, err := e.signIn(t, e.browser(t), "/"); err != nil {
		t.Fatal(err)
	}
	if cached, _, _ := e.idp.stats(); cached != before {
		t.Errorf("JWKS fetched again for a known key (%d → %d)", before, cached)
	}

	e.idp.rotate(false) // old key withdrawn, new kid signs
	if _, _, err := e.signIn(t, e.browser(t), "/"); err != nil {
		t.Fatalf("sign-in after key rotation: %v", err)
	}
	if after, _, _ := e.idp.stats(); after <= before {
		t.Error("new kid did not trigger a JWKS refetch")
	}
}

func TestReplayedCallback(t *testing.T) {
	e := newRPEnv(t)
	b := e.browser(t)
	cb := e.approve(t, e.start(t, b, "/"))
	if _, _, err := e.callback(t, b, cb); err != nil {
		t.Fatal(err)
	}
	if found, err := e.s.storeExists(context.Background(), txKey(cb.Query().Get("state"))); err != nil || found {
		t.Errorf("transaction left in the store after the callback (found %t, err %v)", found, err)
	}
	if _, _, err := e.callback(t, b, cb); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("replay: err = %v, want ErrInvalidState", err)
	}
}

// A late request that loaded the session before the callback writes the
// spent transaction back; the state must stay spent.
func TestReplayAfterSessionWriteBack(t *testing.T) {
	e := newRPEnv(t)
	b := e.browser(t)
	cb := e.approve(t, e.start(t, b, "/"))

	late := b.begin() // in-flight request holding the transaction
	if _, _, err := e.callback(t, b, cb); err != nil {
		t.Fatal(err)
	}
	e.s.sm.Put(late, "flash", "x") // it modifies the session...
	b.finish(late)                 // ...and commits the old copy last
	if _, _, err := e.callback(t, b, cb); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("replay after write-back: err = %v, want ErrInvalidState", err)
	}
}

func TestSwappedCode(t *testing.T) {
	e := newRPEnv(t)
	b := e.browser(t)
	cb1 := e.approve(t, e.start(t, b, "/one"))
	cb2 := e.approve(t, e.start(t, b, "/two"))
	// State of transaction 1 with the code of transaction 2 (e.g. an
	// attacker's code injected into the victim's callback).
	swapped := url.Values{"state": {cb1.Query().Get("state")}, "code": {cb2.Query().Get("code")}}
	_, _, err := e.callback(t, b, &url.URL{RawQuery: swapped.Encode()})
	if !errors.Is(err, ErrExchange) {
		t.Fatalf("swapped code: err = %v, want ErrExchange", err)
	}
	if _, _, errs := e.idp.stats(); !slices.Contains(errs, "pkce") {
		t.Errorf("IdP did not refuse on PKCE: %v", errs)
	}
}

func TestStateChecks(t *testing.T) {
	e := newRPEnv(t)
	b := e.browser(t)
	cb := e.approve(t, e.start(t, b, "/"))
	code, state := cb.Query().Get("code"), cb.Query().Get("state")

	cases := []struct {
		name  string
		query url.Values
	}{
		{"missing state", url.Values{"code": {code}}},
		{"empty state", url.Values{"code": {code}, "state": {""}}},
		{"unknown state", url.Values{"code": {code}, "state": {"forged"}}},
		{"state twice", url.Values{"code": {code}, "state": {state, state}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := e.callback(t, b, &url.URL{RawQuery: tc.query.Encode()}); !errors.Is(err, ErrInvalidState) {
				t.Fatalf("err = %v, want ErrInvalidState", err)
			}
		})
	}
	// None of the above consumed the real transaction.
	if _, _, err := e.callback(t, b, cb); err != nil {
		t.Fatalf("real callback after forged ones: %v", err)
	}
}

func TestStateFromAnotherBrowser(t *testing.T) {
	e := newRPEnv(t)
	victim, attacker := e.browser(t), e.browser(t)
	cb := e.approve(t, e.start(t, attacker, "/"))
	// Login CSRF: the attacker's callback URL opened in the victim's browser.
	if _, _, err := e.callback(t, victim, cb); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("err = %v, want ErrInvalidState", err)
	}
}

func TestStateExpires(t *testing.T) {
	e := newRPEnv(t)
	clock := newFakeClock()
	e.o.now = clock.Now
	b := e.browser(t)
	cb := e.approve(t, e.start(t, b, "/"))
	clock.Advance(txTTL + time.Second)
	if _, _, err := e.callback(t, b, cb); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("err = %v, want ErrInvalidState", err)
	}
}

func TestConcurrentTransactions(t *testing.T) {
	e := newRPEnv(t)
	b := e.browser(t)
	cb1 := e.approve(t, e.start(t, b, "/one"))
	cb2 := e.approve(t, e.start(t, b, "/two"))
	// Completed in the opposite order.
	if _, rt, err := e.callback(t, b, cb2); err != nil || rt != "/two" {
		t.Fatalf("second tab: %q %v", rt, err)
	}
	if _, rt, err := e.callback(t, b, cb1); err != nil || rt != "/one" {
		t.Fatalf("first tab: %q %v", rt, err)
	}
}

// TestPendingSignInStoresNoSession: starting sign-ins (two at the same
// instant in one browser, as two tabs do) stores no session, and both
// complete.
func TestPendingSignInStoresNoSession(t *testing.T) {
	e := newRPEnv(t)
	b := e.browser(t)
	urls := make(chan string, 2)
	for _, rt := range []string{"/one", "/two"} {
		go func() {
			u, err := e.o.AuthCodeURL(context.Background(), e.s, b.binding, rt)
			if err != nil {
				t.Error(err)
			}
			urls <- u
		}()
	}
	u1, u2 := <-urls, <-urls
	if b.token != "" {
		t.Errorf("starting a sign-in created a session")
	}
	got := map[string]bool{}
	for _, u := range []string{u1, u2} {
		_, rt, err := e.callback(t, b, e.approve(t, u))
		if err != nil {
			t.Fatalf("concurrent sign-in: %v", err)
		}
		got[rt] = true
	}
	if !got["/one"] || !got["/two"] {
		t.Errorf("return paths %v, want both", got)
	}
}

func TestProviderErrorAndMixUp(t *testing.T) {
	e := newRPEnv(t)
	b := e.browser(t)

	state := e.approve(t, e.start(t, b, "/")).Query().Get("state")
	q := url.Values{"state": {state}, "error": {"access_denied\r\nforged log line"}}
	_, _, err := e.callback(t, b, &url.URL{RawQuery: q.Encode()})
	if !errors.Is(err, ErrProvider) || strings.ContainsAny(err.Error(), "\r\n") {
		t.Fatalf("err = %q, want ErrProvider without control characters", err)
	}

	cb := e.approve(t, e.start(t, b, "/"))
	q = cb.Query()
	q.Set("iss", "https://evil.example")
	if _, _, err := e.callback(t, b, &url.URL{RawQuery: q.Encode()}); !errors.Is(err, ErrExchange) {
		t.Fatalf("iss mix-up: err = %v, want ErrExchange", err)
	}

	cb = e.approve(t, e.start(t, b, "/"))
	q = cb.Query()
	q.Set("iss", e.idp.issuer())
	if _, _, err := e.callback(t, b, &url.URL{RawQuery: q.Encode()}); err != nil {
		t.Fatalf("matching iss: %v", err)
	}
}

func TestUnsafeReturnToReplaced(t *testing.T) {
	e := newRPEnv(t)
	_, rt, err := e.signIn(t, e.browser(t), "//evil.example/")
	if err != nil || rt != "/" {
		t.Fatalf("returnTo = %q, err %v; want /", rt, err)
	}
}

func TestGroupClaims(t *testing.T) {
	cases := []struct {
		name                     string
		f                        idpFaults
		wantGroups               []string
		wantPresent, wantOverage bool
		noUserInfo               bool
	}{
		{name: "missing", f: idpFaults{}},
		{name: "present but empty", f: idpFaults{uiClaims: map[string]any{"groups": []string{}}}, wantGroups: []string{}, wantPresent: true},
		{name: "null counts as empty", f: idpFaults{uiClaims: map[string]any{"groups": nil}}, wantGroups: []string{}, wantPresent: true},
		{name: "single string", f: idpFaults{uiClaims: map[string]any{"groups": "admins"}}, wantGroups: []string{"admins"}, wantPresent: true},
		{name: "ID token only", f: idpFaults{idClaims: map[string]any{"groups": []string{"a"}}}, wantGroups: []string{"a"}, wantPresent: true},
		{name: "UserInfo wins over ID token", f: idpFaults{
			idClaims: map[string]any{"groups": []string{"old"}},
			uiClaims: map[string]any{"groups": []string{"new"}},
		}, wantGroups: []string{"new"}, wantPresent: true},
		{name: "Entra overage via _claim_names", f: idpFaults{idClaims: map[string]any{
			"_claim_names":   map[string]string{"groups": "src1"},
			"_claim_sources": map[string]any{"src1": map[string]string{"endpoint": "https://graph.example/x"}},
		}}, wantOverage: true},
		{name: "Entra overage via hasgroups", f: idpFaults{idClaims: map[string]any{"hasgroups": true}}, wantOverage: true},
		{name: "no UserInfo endpoint: ID token groups", f: idpFaults{noUserInfo: true, idClaims: map[string]any{"groups": []string{"a"}}}, wantGroups: []string{"a"}, wantPresent: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newRPEnvWithFaults(t, tc.f)
			id, _, err := e.signIn(t, e.browser(t), "/")
			if err != nil {
				t.Fatal(err)
			}
			if id.GroupsPresent != tc.wantPresent || id.GroupsOverage != tc.wantOverage {
				t.Errorf("present=%t overage=%t, want %t %t", id.GroupsPresent, id.GroupsOverage, tc.wantPresent, tc.wantOverage)
			}
			if tc.wantPresent && !slices.Equal(id.Groups, tc.wantGroups) {
				t.Errorf("groups = %#v, want %#v", id.Groups, tc.wantGroups)
			}
			if !tc.wantPresent && len(id.Groups) != 0 {
				t.Errorf("groups = %v without a groups claim", id.Groups)
			}
		})
	}
}

// newRPEnvWithFaults applies f before discovery (for discovery faults).
func newRPEnvWithFaults(t *testing.T, f idpFaults) *rpEnv {
	t.Helper()
	idp := newTestIdP(t)
	idp.setFaults(f)
	e := &rpEnv{idp: idp, s: NewSessions(NewSessionManager(newMemStore(t), time.Hour, "", true), time.Hour)}
	e.o = startOIDC(t, Config{
		Issuer: idp.issuer(), ClientID: idp.clientID, ClientSecret: idp.secret, RedirectURL: idp.redirect,
		Logger: discardLogger(),
	})
	waitReady(t, e.o)
	return e
}

func TestDiscoveryRetriesUntilProviderUp(t *testing.T) {
	idp := newTestIdP(t)
	idp.setFaults(idpFaults{discoveryDown: true})
	o := startOIDC(t, Config{
		Issuer: idp.issuer(), ClientID: idp.clientID, ClientSecret: idp.secret, RedirectURL: idp.redirect,
		Logger: discardLogger(),
	})
	s := NewSessions(NewSessionManager(newMemStore(t), time.Hour, "", true), time.Hour)
	b := &browser{t: t, s: s, binding: "binding"}

	// Wait for at least two failed attempts: NewOIDC returned at once and
	// keeps retrying.
	for {
		if _, disc, _ := idp.stats(); disc >= 2 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if o.Ready() {
		t.Fatal("ready while discovery fails")
	}
	b.do(func(ctx context.Context) {
		if _, err := o.AuthCodeURL(ctx, s, "binding", "/"); !errors.Is(err, ErrUnavailable) {
			t.Errorf("AuthCodeURL: err = %v, want ErrUnavailable", err)
		}
		r, _ := http.NewRequestWithContext(ctx, http.MethodGet, "/auth/callback?state=x&code=y", nil)
		if _, _, err := o.Exchange(ctx, s, "binding", r); !errors.Is(err, ErrUnavailable) {
			t.Errorf("Exchange: err = %v, want ErrUnavailable", err)
		}
	})
	if _, ok := o.EndSessionURL("hint"); ok {
		t.Error("EndSessionURL before discovery")
	}

	idp.setFaults(idpFaults{})
	waitReady(t, o)
	e := &rpEnv{idp: idp, o: o, s: s}
	if _, _, err := e.signIn(t, b, "/"); err != nil {
		t.Fatalf("sign-in once the provider is up: %v", err)
	}
}

func TestDiscoveryIssuerMismatchNeverReady(t *testing.T) {
	idp := newTestIdP(t)
	idp.setFaults(idpFaults{discoveryIssuer: "https://evil.example"})
	o := startOIDC(t, Config{Issuer: idp.issuer(), ClientID: idp.clientID, RedirectURL: idp.redirect, Logger: discardLogger()})
	for {
		if _, disc, _ := idp.stats(); disc >= 3 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if o.Ready() {
		t.Fatal("accepted a discovery document for another issuer")
	}
}

func TestIdPCallsHaveDeadline(t *testing.T) {
	e := newRPEnv(t, func(c *Config) { c.HTTPClient = &http.Client{Timeout: 300 * time.Millisecond} })
	e.idp.setFaults(idpFaults{tokenHang: true})
	if _, _, err := e.signIn(t, e.browser(t), "/"); !errors.Is(err, ErrExchange) {
		t.Fatalf("hanging token endpoint: err = %v, want ErrExchange", err)
	}
}

func TestIdPClientDefaults(t *testing.T) {
	c := idpClient(nil)
	if c.Timeout != defaultHTTPTimeout {
		t.Errorf("default timeout %v", c.Timeout)
	}
	orig := &http.Client{}
	if c := idpClient(orig); c.Timeout != defaultHTTPTimeout || orig.Timeout != 0 || orig.Transport != nil {
		t.Error("zero timeout not raised, or the caller's client was modified")
	}
}

func TestLimitBody(t *testing.T) {
	for _, tc := range []struct {
		size    int
		wantErr bool
	}{{10, false}, {16, false}, {17, true}, {1000, true}} {
		b := &limitBody{ReadCloser: nopCloser{strings.NewReader(strings.Repeat("x", tc.size))}, left: 16}
		_, err := readAll(b)
		if (err != nil) != tc.wantErr {
			t.Errorf("size %d: err = %v", tc.size, err)
		}
	}
}

func TestEndSessionURL(t *testing.T) {
	e := newRPEnv(t)
	raw, ok := e.o.EndSessionURL("the.id.token")
	if !ok {
		t.Fatal("no end-session URL")
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Path != "/logout" || q.Get("ui") != "1" || q.Get("id_token_hint") != "the.id.token" ||
		q.Get("post_logout_redirect_uri") != "https://portal.example/signed-out" || q.Get("client_id") != "agentdesk" ||
		len(q.Get("state")) < 32 {
		t.Errorf("end-session URL = %s", raw)
	}
	again, _ := e.o.EndSessionURL("the.id.token")
	if u2, _ := url.Parse(again); u2.Query().Get("state") == q.Get("state") {
		t.Error("the logout state repeats")
	}
}
