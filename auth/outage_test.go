package auth

import (
	"errors"
	"testing"
	"time"
)

// TestJWKSOutageKeepsKnownKeys: with the key set endpoint down, tokens signed
// by a key the portal already knows still verify; only an unknown key fails.
func TestJWKSOutageKeepsKnownKeys(t *testing.T) {
	e := newRPEnv(t)
	if _, _, err := e.signIn(t, e.browser(t), "/"); err != nil {
		t.Fatal(err)
	}
	e.idp.setFaults(idpFaults{jwksDown: true})
	before, _, _ := e.idp.stats()
	if _, _, err := e.signIn(t, e.browser(t), "/"); err != nil {
		t.Fatalf("sign-in with JWKS down and a known key: %v", err)
	}
	if after, _, _ := e.idp.stats(); after != before {
		t.Errorf("JWKS asked %d times for a known key", after-before)
	}
	e.idp.setFaults(idpFaults{jwksDown: true, unknownKid: true})
	if _, _, err := e.signIn(t, e.browser(t), "/"); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("unknown key with JWKS down: %v, want ErrInvalidToken", err)
	}
}

// TestTokenEndpointDownIsUnavailable: a code exchange that gets no answer is
// the IdP being down (503 for the user), not a bad sign-in.
func TestTokenEndpointDownIsUnavailable(t *testing.T) {
	e := newRPEnv(t, func(c *Config) { c.HTTPClient.Timeout = 300 * time.Millisecond })
	e.idp.setFaults(idpFaults{tokenHang: true})
	_, _, err := e.signIn(t, e.browser(t), "/")
	if !errors.Is(err, ErrExchange) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("token endpoint not answering: %v, want ErrExchange and ErrUnavailable", err)
	}
	e.idp.setFaults(idpFaults{})
	if _, _, err := e.signIn(t, e.browser(t), "/"); err != nil {
		t.Fatalf("sign-in once the token endpoint is back: %v", err)
	}
}
