package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// ErrLogoutToken is returned for a back-channel logout token that does not
// verify; the endpoint answers it with 400.
var ErrLogoutToken = errors.New("auth: invalid logout token")

// backChannelEvent is the event a logout token must carry (OpenID Connect
// Back-Channel Logout 1.0, section 2.4).
const backChannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// maxUserSessions bounds the sign-ins remembered per user for ending them
// all; the oldest are forgotten (they still end at their own expiry).
const maxUserSessions = 64

// LogoutRequest is what a verified logout token asks to end: the sessions of
// the IdP session SID, or (without one) every session of the user.
type LogoutRequest struct {
	Issuer, Subject, SID string
}

// VerifyLogoutToken validates a back-channel logout token like an ID token
// (signature, issuer, audience, expiry) and then as the specification asks:
// the back-channel event, no nonce, sub or sid, a recent iat and a jti that
// is used once.
func (o *OIDC) VerifyLogoutToken(ctx context.Context, s *Sessions, raw string) (LogoutRequest, error) {
	p := o.prov.Load()
	if p == nil {
		return LogoutRequest{}, ErrUnavailable
	}
	tok, err := p.verifier.Verify(oidc.ClientContext(ctx, o.client), raw)
	if err != nil {
		return LogoutRequest{}, fmt.Errorf("%w: %w", ErrLogoutToken, err)
	}
	var c struct {
		SID    string                     `json:"sid"`
		JTI    string                     `json:"jti"`
		Nonce  *string                    `json:"nonce"`
		Events map[string]json.RawMessage `json:"events"`
	}
	if err := tok.Claims(&c); err != nil {
		return LogoutRequest{}, fmt.Errorf("%w: %w", ErrLogoutToken, err)
	}
	switch {
	case c.Events[backChannelEvent] == nil:
		return LogoutRequest{}, fmt.Errorf("%w: no back-channel logout event", ErrLogoutToken)
	case c.Nonce != nil:
		return LogoutRequest{}, fmt.Errorf("%w: a nonce (an ID token?)", ErrLogoutToken)
	case tok.Subject == "" && c.SID == "":
		return LogoutRequest{}, fmt.Errorf("%w: neither sub nor sid", ErrLogoutToken)
	case c.JTI == "":
		return LogoutRequest{}, fmt.Errorf("%w: no jti", ErrLogoutToken)
	case tok.IssuedAt.IsZero() || tok.IssuedAt.After(o.now().Add(iatSkew)) || tok.IssuedAt.Before(o.now().Add(-maxIATAge)):
		return LogoutRequest{}, fmt.Errorf("%w: iat missing, in the future or too old", ErrLogoutToken)
	}
	first, err := s.consumeOnce(ctx, jtiKeyPrefix+hashHex(tok.Issuer+"|"+c.JTI), time.Now().Add(2*maxIATAge))
	if err != nil {
		return LogoutRequest{}, err
	}
	if !first {
		return LogoutRequest{}, fmt.Errorf("%w: jti replayed", ErrLogoutToken)
	}
	return LogoutRequest{Issuer: tok.Issuer, Subject: tok.Subject, SID: c.SID}, nil
}

// sessionRef is one sign-in in a user's (or an IdP session's) index.
type sessionRef struct {
	SID     string    `json:"s"`
	Expires time.Time `json:"e"`
}

func userIndexKey(userKey string) string { return userIndexPrefix + hashHex(userKey) }

func idpIndexKey(issuer, sid string) string { return idpIndexPrefix + hashHex(issuer+"|"+sid) }

// index adds sid to the index record key (pruning expired and the oldest
// entries).
func (s *Sessions) index(ctx context.Context, key, sid string, expires time.Time) error {
	s.indexMu.Lock()
	defer s.indexMu.Unlock()
	var refs []sessionRef
	if _, err := s.readRecord(ctx, key, &refs); err != nil {
		return err
	}
	now := time.Now()
	refs = slices.DeleteFunc(refs, func(r sessionRef) bool { return r.Expires.Before(now) })
	refs = append(refs, sessionRef{SID: sid, Expires: expires})
	if len(refs) > maxUserSessions {
		refs = refs[len(refs)-maxUserSessions:]
	}
	last := expires
	for _, r := range refs {
		if r.Expires.After(last) {
			last = r.Expires
		}
	}
	return s.putRecord(ctx, key, refs, last)
}

// endIndexed revokes every sign-in in the index record key and removes it.
func (s *Sessions) endIndexed(ctx context.Context, key string) (int, error) {
	s.indexMu.Lock()
	defer s.indexMu.Unlock()
	var refs []sessionRef
	found, err := s.readRecord(ctx, key, &refs)
	if err != nil || !found {
		return 0, err
	}
	n := 0
	for _, r := range refs {
		alive, err := s.storeExists(ctx, sidKeyPrefix+r.SID)
		if err != nil {
			return n, err
		}
		if !alive {
			continue
		}
		if err := s.storeDelete(ctx, sidKeyPrefix+r.SID); err != nil {
			return n, err
		}
		n++
	}
	return n, s.storeDelete(ctx, key)
}

// EndUser signs out every session of the user (issuer|subject) on every
// replica that shares the store: their next request finds the sign-in
// revoked. It returns how many were live.
func (s *Sessions) EndUser(ctx context.Context, userKey string) (int, error) {
	return s.endIndexed(ctx, userIndexKey(userKey))
}

// EndLogout ends what a verified back-channel logout token names: the
// portal sessions of the IdP session sid, or every session of the user.
func (s *Sessions) EndLogout(ctx context.Context, lr LogoutRequest) (int, error) {
	if lr.SID != "" {
		return s.endIndexed(ctx, idpIndexKey(lr.Issuer, lr.SID))
	}
	return s.EndUser(ctx, lr.Issuer+"|"+lr.Subject)
}
