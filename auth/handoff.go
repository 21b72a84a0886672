package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/alexedwards/scs/v2"
)

// A hand-off moves a sign-in from one cookie jar to another: the sign-in
// popup of a framed card (the portal's own, unpartitioned jar) to the card
// itself (a jar partitioned by the parent site, CHIPS). The popup mints a
// code; the card redeems it once, in its own session.

// DefaultHandoffTTL is how long a hand-off code can be redeemed.
const DefaultHandoffTTL = 60 * time.Second

// ErrHandoffInvalid: the code is unknown, expired or already redeemed. The
// three are not told apart, so a probe learns nothing.
var ErrHandoffInvalid = errors.New("auth: sign-in hand-off unknown, expired or already used")

const (
	handoffKeyPrefix = "agentdesk.handoff."
	// keyHandoff holds the user inside a hand-off record. It is not keyUser:
	// the record must never look like a signed-in session.
	keyHandoff = "auth.handoff"
)

// SetHandoffTTL changes the lifetime of hand-off codes minted from now on
// (default DefaultHandoffTTL). Call it before serving; tests shorten it.
func (s *Sessions) SetHandoffTTL(d time.Duration) {
	if d > 0 {
		s.handoffTTL = d
	}
}

// MintHandoff stores u for a single redemption within the hand-off TTL and
// returns the code: 256 random bits, base64url. The record holds the same
// compact form SignIn stores, under a hash of the code, so a dump of the
// store holds no usable code.
func (s *Sessions) MintHandoff(ctx context.Context, u User) (string, error) {
	if u.Issuer == "" || u.Subject == "" {
		return "", errors.New("auth: hand-off without issuer and subject")
	}
	code, err := randomToken()
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(toStored(u))
	if err != nil {
		return "", fmt.Errorf("auth: encode user: %w", err)
	}
	expiry := s.now().Add(s.ttl())
	rec, err := s.codec().Encode(expiry, map[string]any{keyHandoff: b})
	if err != nil {
		return "", fmt.Errorf("auth: encode hand-off: %w", err)
	}
	if err := s.storeCommit(ctx, handoffKey(code), rec, expiry); err != nil {
		return "", fmt.Errorf("auth: record hand-off: %w", err)
	}
	return code, nil
}

// RedeemHandoff returns the user of code and deletes the record first, so
// the code works once. Unknown, expired and used codes give
// ErrHandoffInvalid.
//
// Single use rests on find-and-delete under a lock of this Sessions: the scs
// Store interface has no atomic take. Replicas sharing the store do not share
// the lock; see the README.
func (s *Sessions) RedeemHandoff(ctx context.Context, code string) (User, error) {
	if len(code) != 43 { // base64url of 32 bytes, unpadded
		return User{}, ErrHandoffInvalid
	}
	key := handoffKey(code)
	s.handoffMu.Lock()
	rec, found, err := s.storeFind(ctx, key)
	if err == nil && found {
		err = s.storeDelete(ctx, key)
	}
	s.handoffMu.Unlock()
	if err != nil {
		return User{}, fmt.Errorf("auth: redeem hand-off: %w", err)
	}
	if !found {
		return User{}, ErrHandoffInvalid
	}
	expiry, values, err := s.codec().Decode(rec)
	if err != nil {
		return User{}, ErrHandoffInvalid
	}
	// The store's own expiry may be coarse or lazy; the deadline in the
	// record is exact.
	if !s.now().Before(expiry) {
		return User{}, ErrHandoffInvalid
	}
	b, ok := values[keyHandoff].([]byte)
	if !ok {
		return User{}, ErrHandoffInvalid
	}
	var su storedUser
	if err := json.Unmarshal(b, &su); err != nil || su.Issuer == "" || su.Subject == "" {
		return User{}, ErrHandoffInvalid
	}
	return su.user(), nil
}

func (s *Sessions) ttl() time.Duration {
	if s.handoffTTL > 0 {
		return s.handoffTTL
	}
	return DefaultHandoffTTL
}

func (s *Sessions) codec() scs.Codec {
	if s.sm.Codec != nil {
		return s.sm.Codec
	}
	return scs.GobCodec{}
}

func handoffKey(code string) string {
	sum := sha256.Sum256([]byte(code))
	return handoffKeyPrefix + base64.RawURLEncoding.EncodeToString(sum[:])
}

func toStored(u User) storedUser {
	return storedUser{
		Issuer: u.Issuer, Subject: u.Subject, Name: u.Name, Email: u.Email,
		Groups: u.Groups, GroupsPresent: u.GroupsPresent, GroupsOverage: u.GroupsOverage,
		Claims: u.Claims, Roles: u.Roles, SignedInAt: u.SignedInAt.UTC(),
		IDToken: u.IDToken, BreakGlass: u.BreakGlass,
	}
}

// user returns the User of su, with slices and maps of its own (su may be
// one remembered by Sessions.users, shared by every request of the session).
func (su storedUser) user() User {
	return User{
		Identity: Identity{
			Issuer: su.Issuer, Subject: su.Subject, Name: su.Name, Email: su.Email,
			Groups: slices.Clone(su.Groups), GroupsPresent: su.GroupsPresent, GroupsOverage: su.GroupsOverage,
			Claims: maps.Clone(su.Claims),
		},
		Roles: slices.Clone(su.Roles), SignedInAt: su.SignedInAt, IDToken: su.IDToken, BreakGlass: su.BreakGlass,
	}
}
