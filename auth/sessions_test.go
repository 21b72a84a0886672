package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
)

func newTestSessions(t *testing.T, idle time.Duration) (*Sessions, *fakeClock) {
	t.Helper()
	s := NewSessions(NewSessionManager(newMemStore(t), time.Hour, "", true), idle)
	clock := newFakeClock()
	s.now = clock.Now
	return s, clock
}

var testUser = User{
	Identity: Identity{
		Issuer: "https://idp.example", Subject: "erin", Name: "Erin", Email: "erin@corp.example",
		Groups: []string{"staff"}, GroupsPresent: true, Claims: map[string]string{"computer": "erin-laptop"},
		idToken: "header.payload.signature",
	},
	Roles: []string{"self-service"},
}

func signIn(t *testing.T, b *browser, u User) {
	t.Helper()
	b.do(func(ctx context.Context) {
		if err := b.s.SignIn(ctx, u); err != nil {
			t.Fatal(err)
		}
	})
}

func currentUser(b *browser) (u *User) {
	b.do(func(ctx context.Context) { u, _ = b.s.User(ctx) })
	return u
}

func TestSignInStoresUser(t *testing.T) {
	s, clock := newTestSessions(t, time.Hour)
	b := &browser{t: t, s: s}
	if currentUser(b) != nil {
		t.Fatal("user in a fresh session")
	}
	signIn(t, b, testUser)
	u := currentUser(b)
	if u == nil {
		t.Fatal("no user after sign-in")
	}
	if u.Key() != "https://idp.example|erin" || u.Email != "erin@corp.example" || !u.GroupsPresent ||
		!slices.Equal(u.Groups, []string{"staff"}) || !slices.Equal(u.Roles, []string{"self-service"}) ||
		u.Claims["computer"] != "erin-laptop" {
		t.Errorf("stored user = %#v", u)
	}
	if u.IDToken != "header.payload.signature" {
		t.Errorf("IDToken not taken from the identity: %q", u.IDToken)
	}
	if !u.SignedInAt.Equal(clock.Now().UTC()) {
		t.Errorf("SignedInAt = %v", u.SignedInAt)
	}
	if strings.Contains(u.String(), u.IDToken) || strings.Contains(u.GoString(), u.IDToken) {
		t.Error("ID token in String/GoString")
	}
}

func TestSignInRenewsToken(t *testing.T) {
	s, _ := newTestSessions(t, time.Hour)
	b := &browser{t: t, s: s}
	b.do(func(ctx context.Context) { s.sm.Put(ctx, "pre-login", "x") })
	before := b.token
	if before == "" {
		t.Fatal("no anonymous session")
	}
	signIn(t, b, testUser)
	if b.token == before || b.token == "" {
		t.Fatalf("session token not renewed on sign-in")
	}
	// Session fixation: whoever knew the old token is not signed in.
	fixed := &browser{t: t, s: s, token: before}
	if currentUser(fixed) != nil {
		t.Fatal("old token carries the sign-in")
	}
}

// Request A loads the session, request B signs out, A finishes last and
// commits its copy: neither A's nor B's cookie may be signed in.
func TestSignOutNotRevivedByInflightRequest(t *testing.T) {
	s, clock := newTestSessions(t, time.Hour)
	b := &browser{t: t, s: s}
	signIn(t, b, testUser)
	token := b.token

	a := &browser{t: t, s: s, token: token}
	ctxA := a.begin()
	if _, ok := s.User(ctxA); !ok {
		t.Fatal("not signed in")
	}

	b.do(func(ctx context.Context) {
		if err := s.SignOut(ctx); err != nil {
			t.Fatal(err)
		}
	})
	if b.token != "" {
		t.Fatal("sign-out kept the cookie")
	}

	clock.Advance(2 * time.Minute)
	s.Touch(ctxA, false)
	s.sm.Put(ctxA, "flash", "saved") // any write makes A commit
	a.finish(ctxA)
	if a.token != token {
		t.Fatalf("test setup: A did not write the old session back")
	}
	if found, _ := s.storeExists(context.Background(), sidKeyPrefix+s.sm.GetString(ctxA, keySID)); found {
		t.Fatal("sign-in record still present")
	}

	if u := currentUser(a); u != nil {
		t.Fatal("in-flight request revived the session")
	}
	if a.token != "" {
		t.Error("revived copy was not destroyed")
	}
	if u := currentUser(b); u != nil {
		t.Fatal("signed in after sign-out")
	}
}

// Signing in again (another user, same browser) ends the earlier sign-in
// even if a late request writes its copy back.
func TestSignInAgainRevokesPrevious(t *testing.T) {
	s, _ := newTestSessions(t, time.Hour)
	b := &browser{t: t, s: s}
	signIn(t, b, testUser)
	late := &browser{t: t, s: s, token: b.token}
	ctx := late.begin()

	other := testUser
	other.Subject = "mallory"
	signIn(t, b, other)

	s.sm.Put(ctx, "flash", "x")
	late.finish(ctx)
	if u := currentUser(late); u != nil {
		t.Fatalf("earlier sign-in still valid: %v", u)
	}
	if u := currentUser(b); u == nil || u.Subject != "mallory" {
		t.Fatalf("current sign-in = %v", u)
	}
}

func TestIdleTimeout(t *testing.T) {
	const idle = 50 * time.Millisecond
	type step struct {
		advance    time.Duration
		touch      bool // a request that touches
		background bool
	}
	cases := []struct {
		name     string
		steps    []step
		signedIn bool
	}{
		{"active within idle", []step{{advance: 40 * time.Millisecond}}, true},
		{"idle too long", []step{{advance: 60 * time.Millisecond}}, false},
		{"foreground request extends", []step{
			{advance: 30 * time.Millisecond, touch: true},
			{advance: 30 * time.Millisecond, touch: true},
			{advance: 40 * time.Millisecond},
		}, true},
		{"background polling never extends", []step{
			{advance: 20 * time.Millisecond, touch: true, background: true},
			{advance: 20 * time.Millisecond, touch: true, background: true},
			{advance: 20 * time.Millisecond},
		}, false},
		{"touch after expiry does not revive", []step{
			{advance: 60 * time.Millisecond, touch: true},
			{advance: 0},
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, clock := newTestSessions(t, idle)
			b := &browser{t: t, s: s}
			signIn(t, b, testUser)
			for _, st := range tc.steps {
				clock.Advance(st.advance)
				if st.touch {
					// Touch alone, as the middleware would do it without
					// checking the user first.
					b.do(func(ctx context.Context) { s.Touch(ctx, st.background) })
				}
			}
			if got := currentUser(b) != nil; got != tc.signedIn {
				t.Fatalf("signed in = %t, want %t", got, tc.signedIn)
			}
		})
	}
}

func TestTouchThrottled(t *testing.T) {
	s, clock := newTestSessions(t, time.Hour)
	b := &browser{t: t, s: s}
	signIn(t, b, testUser)
	status := func() scs.Status {
		ctx := b.begin()
		defer b.finish(ctx)
		s.Touch(ctx, false)
		return s.sm.Status(ctx)
	}
	clock.Advance(30 * time.Second)
	if st := status(); st != scs.Unmodified {
		t.Errorf("touch within a minute wrote the session (status %v)", st)
	}
	clock.Advance(31 * time.Second)
	if st := status(); st != scs.Modified {
		t.Errorf("touch after a minute did not write (status %v)", st)
	}
}

func TestAbsoluteLifetime(t *testing.T) {
	s, clock := newTestSessions(t, 30*time.Minute) // manager Lifetime: 1h
	b := &browser{t: t, s: s}
	signIn(t, b, testUser)
	for range 6 {
		clock.Advance(10 * time.Minute)
		b.do(func(ctx context.Context) { s.Touch(ctx, false) })
	}
	clock.Advance(time.Minute)
	if currentUser(b) != nil {
		t.Fatal("session outlived its lifetime through activity")
	}
}

func TestSessionCookie(t *testing.T) {
	cases := []struct {
		name     string
		cookie   string
		secure   bool
		wantName string
	}{
		{"https default", "", true, "__Host-agentdesk"},
		{"plain-HTTP demo", "", false, "agentdesk_session"},
		{"custom __Host- name over HTTP", "__Host-portal", false, "portal"},
		{"custom name", "portal", true, "portal"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sm := NewSessionManager(newMemStore(t), time.Hour, tc.cookie, tc.secure)
			s := NewSessions(sm, time.Hour)
			if sm.IdleTimeout != 0 {
				t.Error("scs IdleTimeout set")
			}
			var signInCookie *http.Cookie
			h := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/in":
					if err := s.SignIn(r.Context(), testUser); err != nil {
						t.Error(err)
					}
				case "/out":
					if err := s.SignOut(r.Context()); err != nil {
						t.Error(err)
					}
				}
			}))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/in", nil))
			for _, c := range rec.Result().Cookies() {
				if c.Name == tc.wantName {
					signInCookie = c
				}
			}
			if signInCookie == nil {
				t.Fatalf("no %s cookie in %v", tc.wantName, rec.Header().Values("Set-Cookie"))
			}
			c := signInCookie
			if c.Secure != tc.secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" ||
				c.Domain != "" || c.MaxAge != 0 || !c.Expires.IsZero() {
				t.Errorf("cookie attributes: %s", rec.Header().Get("Set-Cookie"))
			}

			rec = httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, "/out", nil)
			req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
			h.ServeHTTP(rec, req)
			cleared := false
			for _, rc := range rec.Result().Cookies() {
				cleared = cleared || (rc.Name == tc.wantName && rc.Value == "" && rc.MaxAge < 0)
			}
			if !cleared {
				t.Errorf("sign-out did not clear the cookie: %v", rec.Header().Values("Set-Cookie"))
			}
		})
	}
}

func TestIsBackground(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  bool
	}{{"1", true}, {"", false}, {"0", false}, {"true", false}} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if tc.value != "" {
			r.Header.Set(BackgroundHeader, tc.value)
		}
		if got := IsBackground(r); got != tc.want {
			t.Errorf("%s: %q = %t", BackgroundHeader, tc.value, got)
		}
	}
}

// TestCurrentIsUserThenTouch: Current answers like User and moves the idle
// timeout like Touch after it (throttled, never for background requests,
// never for a session that is not signed in).
func TestCurrentIsUserThenTouch(t *testing.T) {
	const idle = time.Hour
	s, clock := newTestSessions(t, idle)
	b := &browser{t: t, s: s}
	current := func(background bool) (*User, scs.Status, int64) {
		ctx := b.begin()
		defer b.finish(ctx)
		u, _ := s.Current(ctx, background)
		return u, s.sm.Status(ctx), s.sm.GetInt64(ctx, keyActive)
	}
	if u, st, _ := current(false); u != nil || st != scs.Unmodified {
		t.Fatalf("no sign-in: user %v, status %v", u, st)
	}
	signIn(t, b, testUser)
	signedInAt := clock.Now().UnixNano()
	clock.Advance(30 * time.Second)
	u, st, active := current(false)
	if u == nil || u.Key() != testUser.Key() || st != scs.Unmodified || active != signedInAt {
		t.Fatalf("within a minute: user %v, status %v, active %d (want %d)", u, st, active, signedInAt)
	}
	clock.Advance(31 * time.Second)
	if u, st, active := current(true); u == nil || st != scs.Unmodified || active != signedInAt {
		t.Fatalf("background after a minute: user %v, status %v, active %d (want %d)", u, st, active, signedInAt)
	}
	if u, st, active := current(false); u == nil || st != scs.Modified || active != clock.Now().UnixNano() {
		t.Fatalf("foreground after a minute: user %v, status %v, active %d (want %d)", u, st, active, clock.Now().UnixNano())
	}
	clock.Advance(idle + time.Second)
	if u, _, _ := current(false); u != nil {
		t.Fatalf("idle too long: still signed in as %v", u)
	}
}
