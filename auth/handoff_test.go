package auth

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
)

func handoffUser() User {
	return User{
		Identity: Identity{Issuer: "https://idp", Subject: "alice", Name: "Alice", Email: "alice@example.com",
			Groups: []string{"helpdesk"}, GroupsPresent: true, Claims: map[string]string{"computer": "pc-1"}},
		Roles: []string{"operator"}, SignedInAt: time.Now().UTC().Truncate(time.Second), IDToken: "id-token",
	}
}

func TestHandoffRoundTrip(t *testing.T) {
	s, _ := newTestSessions(t, time.Hour)
	ctx := context.Background()
	want := handoffUser()
	code, err := s.MintHandoff(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	if len(code) != 43 || strings.ContainsAny(code, "+/=") {
		t.Errorf("code %q: want 32 bytes, unpadded base64url", code)
	}
	// The store keeps a hash of the code, never the code.
	if _, found, _ := s.sm.Store.Find(handoffKeyPrefix + code); found {
		t.Error("the store holds the code itself as a key")
	}
	got, err := s.RedeemHandoff(ctx, code)
	if err != nil {
		t.Fatalf("redeem: %v", err)
	}
	if got.Key() != want.Key() || got.Email != want.Email || got.IDToken != want.IDToken ||
		!got.SignedInAt.Equal(want.SignedInAt) || len(got.Roles) != 1 || got.Claims["computer"] != "pc-1" {
		t.Errorf("redeemed %+v, want %+v", got, want)
	}
	if _, err := s.RedeemHandoff(ctx, code); !errors.Is(err, ErrHandoffInvalid) {
		t.Errorf("second redeem: %v, want ErrHandoffInvalid", err)
	}
}

func TestHandoffRefused(t *testing.T) {
	s, clock := newTestSessions(t, time.Hour)
	ctx := context.Background()
	if _, err := s.MintHandoff(ctx, User{}); err == nil {
		t.Error("minted a hand-off for a user without issuer and subject")
	}
	other, _ := s.MintHandoff(ctx, handoffUser())
	tests := []struct {
		name string
		code string
	}{
		{"empty", ""},
		{"unknown", strings.Repeat("A", 43)},
		{"code with a suffix", other + "x"},
		{"a session-like key", "agentdesk.handoff." + other},
	}
	for _, tt := range tests {
		if _, err := s.RedeemHandoff(ctx, tt.code); !errors.Is(err, ErrHandoffInvalid) {
			t.Errorf("%s: %v, want ErrHandoffInvalid", tt.name, err)
		}
	}

	s.SetHandoffTTL(10 * time.Second)
	code, err := s.MintHandoff(ctx, handoffUser())
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(10 * time.Second)
	if _, err := s.RedeemHandoff(ctx, code); !errors.Is(err, ErrHandoffInvalid) {
		t.Errorf("expired: %v, want ErrHandoffInvalid", err)
	}
}

// gatedStore holds every Find's answer until all expected callers have
// looked (or a short wait passes), so that without the redeem lock every
// concurrent redeemer would see the record before any of them deleted it.
type gatedStore struct {
	scs.Store
	want    int32
	arrived atomic.Int32
	all     chan struct{}
	once    sync.Once
}

func (g *gatedStore) Find(token string) ([]byte, bool, error) {
	b, found, err := g.Store.Find(token)
	if g.arrived.Add(1) == g.want {
		g.once.Do(func() { close(g.all) })
	}
	select {
	case <-g.all:
	case <-time.After(50 * time.Millisecond):
	}
	return b, found, err
}

func TestHandoffSingleUseUnderConcurrency(t *testing.T) {
	const n = 20
	gs := &gatedStore{Store: newMemStore(t), want: n, all: make(chan struct{})}
	s := NewSessions(NewSessionManager(gs, time.Hour, "", true), time.Hour)
	ctx := context.Background()
	code, err := s.MintHandoff(ctx, handoffUser())
	if err != nil {
		t.Fatal(err)
	}
	var ok, invalid atomic.Int32
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			_, err := s.RedeemHandoff(ctx, code)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, ErrHandoffInvalid):
				invalid.Add(1)
			default:
				t.Errorf("redeem: %v", err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 || invalid.Load() != n-1 {
		t.Errorf("%d successes and %d refusals, want 1 and %d", ok.Load(), invalid.Load(), n-1)
	}
}
