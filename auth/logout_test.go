package auth

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// logoutToken signs claims with the test IdP's key.
func (idp *testIdP) logoutToken(t *testing.T, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: idp.signer.priv, KeyID: idp.signer.kid}},
		(&jose.SignerOptions{}).WithType("logout+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestLogoutToken: back-channel logout tokens are validated like ID tokens
// and as the specification asks; a valid one ends the user's sessions once.
func TestLogoutToken(t *testing.T) {
	e := newRPEnv(t)
	ctx := context.Background()
	now := time.Now()
	valid := func() map[string]any {
		return map[string]any{
			"iss": e.idp.issuer(), "aud": e.idp.clientID, "sub": "user-1", "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
			"jti": randomString(t), "events": map[string]any{backChannelEvent: map[string]any{}},
		}
	}
	with := func(k string, v any) map[string]any {
		c := valid()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	bad := map[string]map[string]any{
		"no event":            with("events", map[string]any{"other": map[string]any{}}),
		"nonce":               with("nonce", "n"),
		"neither sub nor sid": with("sub", nil),
		"no jti":              with("jti", nil),
		"a year old":          with("iat", now.AddDate(-1, 0, 0).Unix()),
		"another audience":    with("aud", "someone-else"),
		"expired":             with("exp", now.Add(-time.Minute).Unix()),
	}
	for name, claims := range bad {
		if _, err := e.o.VerifyLogoutToken(ctx, e.s, e.idp.logoutToken(t, claims)); !errors.Is(err, ErrLogoutToken) {
			t.Errorf("%s: err = %v, want ErrLogoutToken", name, err)
		}
	}

	// A signed-in user, then a valid token for them: the session ends.
	b := e.browser(t)
	id, _, err := e.signIn(t, b, "/")
	if err != nil {
		t.Fatal(err)
	}
	b.do(func(ctx context.Context) {
		if err := e.s.SignIn(ctx, User{Identity: id}); err != nil {
			t.Fatal(err)
		}
	})
	claims := maps.Clone(valid())
	claims["sub"] = id.Subject
	raw := e.idp.logoutToken(t, claims)
	lr, err := e.o.VerifyLogoutToken(ctx, e.s, raw)
	if err != nil {
		t.Fatalf("valid logout token: %v", err)
	}
	if n, err := e.s.EndLogout(ctx, lr); err != nil || n != 1 {
		t.Fatalf("EndLogout = %d, %v; want 1 session", n, err)
	}
	b.do(func(ctx context.Context) {
		if _, ok := e.s.User(ctx); ok {
			t.Error("still signed in after the back-channel logout")
		}
	})
	if _, err := e.o.VerifyLogoutToken(ctx, e.s, raw); !errors.Is(err, ErrLogoutToken) {
		t.Errorf("replayed token: err = %v, want ErrLogoutToken", err)
	}
}
