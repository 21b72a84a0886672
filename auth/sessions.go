package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"
)

// Session keys. Values are stored as plain strings, int64 and []byte so that
// every scs codec handles them without gob registration.
const (
	keyUser   = "auth.user"   // []byte: JSON of storedUser
	keySID    = "auth.sid"    // string: random id of this sign-in, see Sessions
	keyActive = "auth.active" // int64: unix nanoseconds of the last foreground request
)

// Prefixes of the records Sessions keeps in the scs store next to the session
// data. scs tokens are unpadded base64url, which has no '.', so these keys can
// never collide with a session token.
const (
	sidKeyPrefix    = "agentdesk.sid."
	stateKeyPrefix  = "agentdesk.state."
	txKeyPrefix     = "agentdesk.tx."
	jtiKeyPrefix    = "agentdesk.jti."
	userIndexPrefix = "agentdesk.user."
	idpIndexPrefix  = "agentdesk.idpsid."
)

const (
	// DefaultCookieName is the session cookie on HTTPS. The __Host- prefix
	// makes browsers refuse it unless it is Secure, has Path=/ and no Domain,
	// so a sibling subdomain cannot plant or overwrite it.
	DefaultCookieName = "__Host-agentdesk"
	// InsecureCookieName is used when the portal is served over plain HTTP
	// (the loopback demo), where a __Host- cookie would be rejected.
	InsecureCookieName = "agentdesk_session"

	// BackgroundHeader marks requests the browser makes on its own (htmx
	// polling). Its value must be "1". Such requests never extend the idle
	// timeout.
	BackgroundHeader = "X-Background"

	// maxTouchInterval bounds how often Touch writes to the store.
	maxTouchInterval = time.Minute
)

// NewSessionManager returns an scs manager configured for the portal cookie:
// HttpOnly, SameSite=Lax, Path=/, no Domain, a session (non-persistent)
// cookie, and Secure with the __Host- prefix unless secure is false.
// lifetime is the absolute session lifetime (default 12h). IdleTimeout stays
// zero on purpose: scs would extend it on every request, including background
// polling; Sessions implements the idle timeout instead.
func NewSessionManager(store scs.Store, lifetime time.Duration, cookieName string, secure bool) *scs.SessionManager {
	sm := scs.New()
	if store != nil {
		sm.Store = store
	}
	if lifetime <= 0 {
		lifetime = 12 * time.Hour
	}
	sm.Lifetime = lifetime
	sm.IdleTimeout = 0
	sm.Codec = codec{}
	// A dump of the session table then holds no usable cookie values.
	sm.HashTokenInStore = true

	name := cookieName
	if name == "" {
		name = DefaultCookieName
	}
	if !secure {
		// Browsers drop __Host-/__Secure- cookies that are not Secure.
		switch {
		case name == DefaultCookieName:
			name = InsecureCookieName
		case strings.HasPrefix(name, "__Host-"):
			name = strings.TrimPrefix(name, "__Host-")
		case strings.HasPrefix(name, "__Secure-"):
			name = strings.TrimPrefix(name, "__Secure-")
		}
	}
	sm.Cookie = scs.SessionCookie{
		Name:     name,
		Domain:   "",
		Path:     "/",
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteLaxMode,
		Persist:  false,
	}
	return sm
}

// IsBackground reports whether r was made by the page on its own (htmx
// polling) rather than by the user: it carries "X-Background: 1".
func IsBackground(r *http.Request) bool {
	return r.Header.Get(BackgroundHeader) == "1"
}

// Sessions keeps the signed-in user in an scs session.
//
// Revocation: every sign-in gets a random sid, stored in the session AND as a
// separate record in the scs store. User accepts a session only while that
// record exists; SignOut (and idle or lifetime expiry) deletes it. A request
// that loaded the session before the sign-out and commits it afterwards
// writes the old data back under the old token, but the sid record stays
// gone, so the revived data is never accepted again. Replicas read the
// session and the sid record through a cache (storeCache): a sign-out or
// revocation holds at once on the replica that made it, and within
// MaxSessionStaleness on the others.
//
// Idle timeout: Touch records the time of the last foreground request; User
// rejects sessions idle for longer than idle. Background requests never move
// it. The absolute lifetime is the manager's Lifetime. Do not set the
// manager's IdleTimeout: scs would extend sessions on every request,
// including background polling.
type Sessions struct {
	sm    *scs.SessionManager
	cache *storeCache // sm.Store
	users userCache
	idle  time.Duration
	now   func() time.Time

	handoffTTL time.Duration // 0: DefaultHandoffTTL
	handoffMu  sync.Mutex    // makes find-and-delete of a hand-off one step
	recordMu   sync.Mutex    // makes takeRecord's find-and-delete one step
	indexMu    sync.Mutex    // serialises read-modify-write of session indexes
}

// NewSessions wraps sm. idle is the inactivity timeout (default 30 minutes).
// It puts a read cache in front of sm.Store (see MaxSessionStaleness): set
// the manager's store before, never after.
func NewSessions(sm *scs.SessionManager, idle time.Duration) *Sessions {
	if idle <= 0 {
		idle = 30 * time.Minute
	}
	s := &Sessions{sm: sm, idle: idle, now: time.Now}
	c, ok := sm.Store.(*storeCache)
	if !ok {
		c = newStoreCache(sm.Store, func() time.Time { return s.now() })
		sm.Store = c
	}
	s.cache = c
	return s
}

// SetClock replaces the clock of the idle timeout, the lifetime and the age
// of cached store reads (for tests). Call it before serving.
func (s *Sessions) SetClock(now func() time.Time) { s.now = now }

// Manager returns the wrapped scs manager (for its LoadAndSave middleware, or
// the handlers' loadAndSave).
func (s *Sessions) Manager() *scs.SessionManager { return s.sm }

// storedUser is the session form of User: short keys, no embedded types.
type storedUser struct {
	Issuer        string            `json:"iss"`
	Subject       string            `json:"sub"`
	Name          string            `json:"n,omitempty"`
	Email         string            `json:"e,omitempty"`
	Groups        []string          `json:"g,omitempty"`
	GroupsPresent bool              `json:"gp,omitempty"`
	GroupsOverage bool              `json:"go,omitempty"`
	Claims        map[string]string `json:"c,omitempty"`
	Roles         []string          `json:"r,omitempty"`
	SignedInAt    time.Time         `json:"t"`
	IDToken       string            `json:"it,omitempty"`
	BreakGlass    bool              `json:"bg,omitempty"`
}

// userCache remembers users decoded from their stored JSON, by those bytes:
// every request of a session decodes the same ones. Equal bytes decode to
// equal users, so it is never stale.
type userCache struct {
	mu sync.Mutex
	m  map[string]storedUser
}

// maxCachedUsers bounds userCache: when full it starts over.
const maxCachedUsers = 1024

func (c *userCache) decode(raw []byte) (storedUser, error) {
	c.mu.Lock()
	su, ok := c.m[string(raw)]
	c.mu.Unlock()
	if ok {
		return su, nil
	}
	return c.decodeNew(raw)
}

// decodeNew decodes raw and remembers it. (Apart from decode, whose found
// user then stays off the heap: json.Unmarshal's target escapes.)
func (c *userCache) decodeNew(raw []byte) (storedUser, error) {
	var su storedUser
	if err := json.Unmarshal(raw, &su); err != nil {
		return storedUser{}, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedUsers {
		c.m = make(map[string]storedUser)
	}
	c.m[string(raw)] = su
	c.mu.Unlock()
	return su, nil
}

// SignIn starts a new authenticated session for u: it renews the session
// token (against fixation), revokes any previous sign-in of this browser
// session and stores u. u.IDToken defaults to u.Identity.RawIDToken() and
// u.SignedInAt to now.
func (s *Sessions) SignIn(ctx context.Context, u User) error {
	if u.Issuer == "" || u.Subject == "" {
		return errors.New("auth: sign-in without issuer and subject")
	}
	now := s.now()
	if u.SignedInAt.IsZero() {
		u.SignedInAt = now
	}
	if u.IDToken == "" {
		u.IDToken = u.RawIDToken()
	}
	oldSID := s.sm.GetString(ctx, keySID)
	if err := s.sm.RenewToken(ctx); err != nil {
		return fmt.Errorf("auth: renew session token: %w", err)
	}
	// The session may have been one of pending sign-ins only, which lives
	// minutes: a signed-in one gets the full lifetime.
	s.sm.SetDeadline(ctx, time.Now().Add(s.sm.Lifetime))
	if oldSID != "" {
		if err := s.storeDelete(ctx, sidKeyPrefix+oldSID); err != nil {
			return fmt.Errorf("auth: revoke previous sign-in: %w", err)
		}
	}
	sid, err := randomToken()
	if err != nil {
		return err
	}
	if err := s.storeMark(ctx, sidKeyPrefix+sid, s.sm.Deadline(ctx)); err != nil {
		return fmt.Errorf("auth: record sign-in: %w", err)
	}
	// Indexes, so that an administrator or the IdP's back-channel logout can
	// end every session of this user, or of this IdP session.
	if err := s.index(ctx, userIndexKey(u.Key()), sid, s.sm.Deadline(ctx)); err != nil {
		return fmt.Errorf("auth: record sign-in: %w", err)
	}
	if u.IdPSID != "" {
		if err := s.index(ctx, idpIndexKey(u.Issuer, u.IdPSID), sid, s.sm.Deadline(ctx)); err != nil {
			return fmt.Errorf("auth: record sign-in: %w", err)
		}
	}
	b, err := json.Marshal(toStored(u))
	if err != nil {
		return fmt.Errorf("auth: encode user: %w", err)
	}
	s.sm.Put(ctx, keyUser, b)
	s.sm.Put(ctx, keySID, sid)
	s.sm.Put(ctx, keyActive, now.UnixNano())
	return nil
}

// User returns the signed-in user, or nil and false when the session has no
// user, was signed out (even if an in-flight request wrote it back), has been
// idle too long or outlived the manager's Lifetime. An expired session is
// destroyed on the way. Store errors count as "not signed in".
func (s *Sessions) User(ctx context.Context) (*User, bool) {
	u, _, _, ok := s.user(ctx)
	return u, ok
}

// Current is User and then, when there is a user, Touch(ctx, background):
// what every request of the portal does. It reads each session value once
// (scs looks the session up in the context for every read).
func (s *Sessions) Current(ctx context.Context, background bool) (*User, bool) {
	u, active, now, ok := s.user(ctx)
	if !ok {
		return nil, false
	}
	if !background {
		s.touch(ctx, now, active)
	}
	return u, true
}

// user is User, which also returns when the session was last active and
// the time it judged that by.
func (s *Sessions) user(ctx context.Context) (u *User, active time.Time, now time.Time, ok bool) {
	sid := s.sm.GetString(ctx, keySID)
	raw := s.sm.GetBytes(ctx, keyUser)
	if sid == "" || raw == nil {
		return nil, time.Time{}, time.Time{}, false
	}
	su, err := s.users.decode(raw)
	if err != nil {
		s.end(ctx, sid)
		return nil, time.Time{}, time.Time{}, false
	}
	now = s.now()
	last := time.Unix(0, s.sm.GetInt64(ctx, keyActive)) // missing = 1970 = expired
	if now.Sub(last) > s.idle || (s.sm.Lifetime > 0 && now.Sub(su.SignedInAt) > s.sm.Lifetime) {
		s.end(ctx, sid)
		return nil, time.Time{}, time.Time{}, false
	}
	// The sign-in record, as this replica read it at most
	// MaxSessionStaleness ago.
	_, alive, err := s.cache.findPrefixed(ctx, sidKeyPrefix, sid)
	if err != nil {
		return nil, time.Time{}, time.Time{}, false
	}
	if !alive {
		// Signed out elsewhere; this copy was written back by a late request.
		_ = s.sm.Destroy(ctx)
		return nil, time.Time{}, time.Time{}, false
	}
	user := su.user()
	return &user, last, now, true
}

// Touch records user activity for the idle timeout. Background requests
// (IsBackground) never count. Writes are throttled (at most once a minute,
// more often only for idle timeouts under four minutes) to spare the store, so
// a session may end up to that interval early. Touch never revives a session
// that is already idle-expired. Call it after User succeeded.
func (s *Sessions) Touch(ctx context.Context, background bool) {
	if background || s.sm.GetString(ctx, keySID) == "" {
		return
	}
	s.touch(ctx, s.now(), time.Unix(0, s.sm.GetInt64(ctx, keyActive)))
}

// touch is Touch of a session last active at active, at now.
func (s *Sessions) touch(ctx context.Context, now, active time.Time) {
	since := now.Sub(active)
	if since > s.idle || since < s.touchInterval() {
		return
	}
	s.sm.Put(ctx, keyActive, now.UnixNano())
}

func (s *Sessions) touchInterval() time.Duration {
	return min(maxTouchInterval, s.idle/4)
}

// SignOut revokes the sign-in and destroys the session. The caller should
// then redirect to OIDC.EndSessionURL with the user's ID token.
func (s *Sessions) SignOut(ctx context.Context) error {
	var errs []error
	if sid := s.sm.GetString(ctx, keySID); sid != "" {
		if err := s.storeDelete(ctx, sidKeyPrefix+sid); err != nil {
			errs = append(errs, fmt.Errorf("auth: revoke sign-in: %w", err))
		}
	}
	if err := s.sm.Destroy(ctx); err != nil {
		errs = append(errs, fmt.Errorf("auth: destroy session: %w", err))
	}
	return errors.Join(errs...)
}

// end revokes and destroys an expired session; errors leave it to the store's
// own expiry, and User has already refused it.
func (s *Sessions) end(ctx context.Context, sid string) {
	_ = s.storeDelete(ctx, sidKeyPrefix+sid)
	_ = s.sm.Destroy(ctx)
}

// consumeOnce records key in the store until expiry and reports whether it
// was not recorded before. It makes sign-in states single-use even when a
// concurrent request writes an old copy of the session back.
func (s *Sessions) consumeOnce(ctx context.Context, key string, expiry time.Time) (bool, error) {
	seen, err := s.storeExists(ctx, key)
	if err != nil || seen {
		return false, err
	}
	return true, s.storeMark(ctx, key, expiry)
}

// putRecord stores v (as JSON) under key until expiry, wrapped like every
// record here in an empty-looking session of the manager's codec.
func (s *Sessions) putRecord(ctx context.Context, key string, v any, expiry time.Time) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	enc, err := s.codec().Encode(expiry, map[string]any{recordValue: b})
	if err != nil {
		return err
	}
	return s.storeCommit(ctx, key, enc, expiry)
}

// readRecord reads the record under key into v.
func (s *Sessions) readRecord(ctx context.Context, key string, v any) (bool, error) {
	enc, found, err := s.storeFind(ctx, key)
	if err != nil || !found {
		return false, err
	}
	return s.decodeRecord(enc, v)
}

// takeRecord reads the record under key into v and deletes it.
func (s *Sessions) takeRecord(ctx context.Context, key string, v any) (bool, error) {
	s.recordMu.Lock() // find and delete as one step within this process
	defer s.recordMu.Unlock()
	enc, found, err := s.storeFind(ctx, key)
	if err != nil || !found {
		return false, err
	}
	if err := s.storeDelete(ctx, key); err != nil {
		return false, err
	}
	return s.decodeRecord(enc, v)
}

// decodeRecord unpacks a record stored in the session store's encoding into
// v; false when the encoding holds no record value.
func (s *Sessions) decodeRecord(enc []byte, v any) (bool, error) {
	_, vals, err := s.codec().Decode(enc)
	if err != nil {
		return false, err
	}
	b, _ := vals[recordValue].([]byte)
	if b == nil {
		return false, nil
	}
	return true, json.Unmarshal(b, v)
}

// recordValue is the key of a record's value inside its session encoding.
const recordValue = "agentdesk.record"

// The records below live in the session store itself, so they are shared by
// every replica that shares sessions. Their value is an empty session in the
// manager's codec: should one ever be presented as a session token, it loads
// as an anonymous session.
func (s *Sessions) storeMark(ctx context.Context, key string, expiry time.Time) error {
	b, err := s.codec().Encode(expiry, map[string]any{})
	if err != nil {
		return err
	}
	return s.storeCommit(ctx, key, b, expiry)
}

func (s *Sessions) storeExists(ctx context.Context, key string) (bool, error) {
	_, found, err := s.storeFind(ctx, key)
	return found, err
}

// storeFind reads key from the store itself, never from the cache: records
// are single-use or read to be changed.
func (s *Sessions) storeFind(ctx context.Context, key string) ([]byte, bool, error) {
	return storeFind(ctx, s.cache.store, key)
}

// storeCommit and storeDelete go through the cache, which forgets key.
func (s *Sessions) storeCommit(ctx context.Context, key string, b []byte, expiry time.Time) error {
	return s.cache.CommitCtx(ctx, key, b, expiry)
}

func (s *Sessions) storeDelete(ctx context.Context, key string) error {
	return s.cache.DeleteCtx(ctx, key)
}

// randomToken returns 256 random bits, base64url-encoded.
func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("auth: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
