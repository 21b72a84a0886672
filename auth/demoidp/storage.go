package demoidp

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

const (
	authRequestTTL = 10 * time.Minute // time to sign in
	codeTTL        = time.Minute      // time to redeem a code
	tokenTTL       = time.Hour        // access token lifetime
	maxFailures    = 5                // wrong passwords per auth request
)

var (
	errNotFound = errors.New("demoidp: not found")
	errExpired  = errors.New("demoidp: expired")
)

// storage is the in-memory op.Storage: one client, fixed users, pending
// auth requests, codes and access tokens, and one signing key.
type storage struct {
	client *client
	users  []User
	key    signingKey
	now    func() time.Time

	issuer      string
	backChannel string // back-channel logout URI of the client; "" none
	log         *slog.Logger

	mu       sync.Mutex
	requests map[string]*authRequest
	codes    map[string]string // code -> auth request id
	tokens   map[string]*token
}

var _ op.Storage = (*storage)(nil)
var _ op.CanSetUserinfoFromRequest = (*storage)(nil)

type token struct {
	id, subject, clientID string
	scopes                []string
	expires               time.Time
}

func newStorage(c *client, users []User) (*storage, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("demoidp: signing key: %w", err)
	}
	return &storage{
		client:   c,
		users:    users,
		key:      signingKey{id: "demo-" + randomID()[:12], key: k},
		now:      time.Now,
		requests: map[string]*authRequest{},
		codes:    map[string]string{},
		tokens:   map[string]*token{},
	}, nil
}

// randomID returns an unguessable identifier (130 random bits).
func randomID() string { return rand.Text() }

func (s *storage) user(subject string) (*User, bool) {
	for i := range s.users {
		if s.users[i].Subject == subject {
			return &s.users[i], true
		}
	}
	return nil, false
}

// checkPassword compares in constant time per user, so the answer time does
// not reveal which usernames exist.
func (s *storage) checkPassword(username, password string) (*User, bool) {
	var found *User
	for i := range s.users {
		u := &s.users[i]
		nameOK := subtle.ConstantTimeCompare([]byte(u.Username), []byte(username)) == 1
		passOK := subtle.ConstantTimeCompare([]byte(u.Password), []byte(password)) == 1
		if nameOK && passOK {
			found = u
		}
	}
	return found, found != nil
}

// --- auth requests -------------------------------------------------------

func (s *storage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, userID string) (op.AuthRequest, error) {
	// The op validated client, redirect URI and scopes already; what it
	// leaves to the storage is our own stricter rule: code flow with PKCE S256.
	if req.ResponseType != oidc.ResponseTypeCode {
		return nil, oidc.ErrUnauthorizedClient().WithDescription("only the authorization code flow is supported")
	}
	if req.CodeChallenge == "" || req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE with code_challenge_method=S256 is required")
	}
	if slices.Contains(req.Prompt, oidc.PromptNone) {
		// There are no provider sessions: every sign-in shows the form.
		return nil, oidc.ErrLoginRequired()
	}
	now := s.now()
	ar := &authRequest{
		id:            randomID(),
		clientID:      req.ClientID,
		redirectURI:   req.RedirectURI,
		scopes:        slices.Clone(req.Scopes),
		state:         req.State,
		nonce:         req.Nonce,
		responseType:  req.ResponseType,
		responseMode:  req.ResponseMode,
		codeChallenge: &oidc.CodeChallenge{Challenge: req.CodeChallenge, Method: req.CodeChallengeMethod},
		loginHint:     req.LoginHint,
		created:       now,
		csrf:          randomID(),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(now)
	s.requests[ar.id] = ar
	return ar.snapshot(), nil
}

// sweep drops what has expired; called with mu held on every new request,
// which keeps memory bounded without a background goroutine.
func (s *storage) sweep(now time.Time) {
	for id, ar := range s.requests {
		if now.Sub(ar.created) > authRequestTTL {
			delete(s.requests, id)
		}
	}
	for code, id := range s.codes {
		if _, ok := s.requests[id]; !ok {
			delete(s.codes, code)
		}
	}
	for id, t := range s.tokens {
		if now.After(t.expires) {
			delete(s.tokens, id)
		}
	}
}

// pending returns the live auth request with id, with mu held.
func (s *storage) pendingLocked(id string) (*authRequest, error) {
	ar, ok := s.requests[id]
	if !ok {
		return nil, errNotFound
	}
	if s.now().Sub(ar.created) > authRequestTTL {
		delete(s.requests, id)
		return nil, errExpired
	}
	return ar, nil
}

func (s *storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ar, err := s.pendingLocked(id)
	if err != nil {
		return nil, err
	}
	return ar.snapshot(), nil
}

// AuthRequestByCode redeems a code: a code works once, even when the
// exchange then fails (for example on a wrong PKCE verifier).
func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.codes[code]
	if !ok {
		return nil, errNotFound
	}
	delete(s.codes, code)
	ar, err := s.pendingLocked(id)
	if err != nil {
		return nil, err
	}
	if !ar.done || s.now().Sub(ar.codeIssued) > codeTTL {
		delete(s.requests, id)
		return nil, errExpired
	}
	return ar.snapshot(), nil
}

func (s *storage) SaveAuthCode(ctx context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ar, err := s.pendingLocked(id)
	if err != nil {
		return err
	}
	if !ar.codeIssued.IsZero() {
		// The callback URL was replayed: one sign-in, one code.
		return oidc.ErrInvalidRequest().WithDescription("a code was already issued for this sign-in")
	}
	ar.codeIssued = s.now()
	s.codes[code] = id
	return nil
}

func (s *storage) DeleteAuthRequest(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.requests, id)
	for code, rid := range s.codes {
		if rid == id {
			delete(s.codes, code)
		}
	}
	return nil
}

// login outcomes for the form handler.
type loginResult int

const (
	loginOK loginResult = iota
	loginWrongPassword
	loginTooManyAttempts
	loginBadRequest // unknown/expired request, CSRF mismatch, already done
)

// completeLogin checks the form's CSRF token and the credentials for the
// auth request id and, when they are right, marks the request done.
func (s *storage) completeLogin(id, csrf, username, password string) (loginResult, *User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ar, err := s.pendingLocked(id)
	if err != nil || ar.done {
		return loginBadRequest, nil
	}
	if subtle.ConstantTimeCompare([]byte(ar.csrf), []byte(csrf)) != 1 {
		return loginBadRequest, nil
	}
	u, ok := s.checkPassword(username, password)
	if !ok {
		ar.failures++
		if ar.failures >= maxFailures {
			delete(s.requests, id)
			return loginTooManyAttempts, nil
		}
		return loginWrongPassword, nil
	}
	ar.done = true
	ar.subject = u.Subject
	ar.authTime = s.now()
	return loginOK, u
}

// loginPage returns what the login form needs to render, with mu held
// briefly.
func (s *storage) loginInfo(id string) (csrf, loginHint string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ar, err := s.pendingLocked(id)
	if err != nil {
		return "", "", err
	}
	if ar.done {
		return "", "", errNotFound
	}
	return ar.csrf, ar.loginHint, nil
}

// --- tokens --------------------------------------------------------------

func (s *storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	t := &token{
		id:      randomID(),
		subject: req.GetSubject(),
		scopes:  slices.Clone(req.GetScopes()),
		expires: s.now().Add(tokenTTL),
	}
	if ar, ok := req.(op.AuthRequest); ok {
		t.clientID = ar.GetClientID()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[t.id] = t
	return t.id, t.expires, nil
}

func (s *storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	return "", "", time.Time{}, oidc.ErrUnsupportedGrantType().WithDescription("refresh tokens are not supported")
}

func (s *storage) TokenRequestByRefreshToken(ctx context.Context, refreshToken string) (op.RefreshTokenRequest, error) {
	return nil, oidc.ErrInvalidGrant().WithDescription("refresh tokens are not supported")
}

func (s *storage) GetRefreshTokenInfo(ctx context.Context, clientID, token string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

// TerminateSession ends what the provider keeps of a sign-in: there are no
// provider sessions, so it revokes the user's access tokens for the client.
func (s *storage) TerminateSession(ctx context.Context, userID, clientID string) error {
	s.mu.Lock()
	for id, t := range s.tokens {
		if t.subject == userID && (clientID == "" || t.clientID == clientID) {
			delete(s.tokens, id)
		}
	}
	s.mu.Unlock()
	if s.backChannel != "" {
		// The user signed out here: tell the portal, so that every portal
		// session of the user ends too (OpenID Connect Back-Channel Logout).
		if err := s.sendLogoutToken(ctx, userID); err != nil {
			s.log.Warn("back-channel logout failed", "err", err)
		}
	}
	return nil
}

// sendLogoutToken posts a logout token for subject to the back-channel
// logout URI and waits (5 s at most) for the answer.
func (s *storage) sendLogoutToken(ctx context.Context, subject string) error {
	now := s.now()
	claims := map[string]any{
		"iss": s.issuer, "aud": s.client.id, "sub": subject,
		"iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(), "jti": randomID(),
		"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}},
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: s.key.key, KeyID: s.key.id}},
		(&jose.SignerOptions{}).WithType("logout+jwt"))
	if err != nil {
		return err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return err
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.backChannel, strings.NewReader(url.Values{"logout_token": {raw}}.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("back-channel logout answered %d", resp.StatusCode)
	}
	return nil
}

func (s *storage) RevokeToken(ctx context.Context, tokenOrID, userID, clientID string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tokens[tokenOrID]; ok {
		if t.clientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
		}
		delete(s.tokens, tokenOrID)
	}
	return nil
}

func (s *storage) liveToken(id, subject string) (*token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[id]
	if !ok || t.subject != subject {
		return nil, errNotFound
	}
	if s.now().After(t.expires) {
		delete(s.tokens, id)
		return nil, errExpired
	}
	return t, nil
}

// --- keys ----------------------------------------------------------------

type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k signingKey) Key() any                                    { return k.key }
func (k signingKey) ID() string                                  { return k.id }

type publicKey struct{ signingKey }

func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return &k.key.PublicKey }

func (s *storage) SigningKey(ctx context.Context) (op.SigningKey, error) { return s.key, nil }

func (s *storage) SignatureAlgorithms(ctx context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *storage) KeySet(ctx context.Context) ([]op.Key, error) {
	return []op.Key{publicKey{s.key}}, nil
}

// --- clients and claims --------------------------------------------------

func (s *storage) GetClientByClientID(ctx context.Context, clientID string) (op.Client, error) {
	if clientID != s.client.id {
		return nil, fmt.Errorf("demoidp: unknown client %q", clientID)
	}
	return s.client, nil
}

func (s *storage) AuthorizeClientIDSecret(ctx context.Context, clientID, clientSecret string) error {
	idOK := subtle.ConstantTimeCompare([]byte(clientID), []byte(s.client.id)) == 1
	secretOK := subtle.ConstantTimeCompare([]byte(clientSecret), []byte(s.client.secret)) == 1
	if !idOK || !secretOK {
		return errors.New("demoidp: wrong client credentials")
	}
	return nil
}

// SetUserinfoFromScopes is left empty as the op package asks; ID token
// claims come from SetUserinfoFromRequest.
func (s *storage) SetUserinfoFromScopes(ctx context.Context, info *oidc.UserInfo, userID, clientID string, scopes []string) error {
	return nil
}

// SetUserinfoFromRequest fills the ID token. The op has already removed
// profile and email from scopes when it also issues an access token, so the
// ID token carries sub, groups and computer, and the rest is in UserInfo.
func (s *storage) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	return s.setUserinfo(info, req.GetSubject(), scopes)
}

// SetUserinfoFromToken answers the UserInfo endpoint.
func (s *storage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, origin string) error {
	t, err := s.liveToken(tokenID, subject)
	if err != nil {
		return fmt.Errorf("demoidp: access token: %w", err)
	}
	return s.setUserinfo(info, t.subject, t.scopes)
}

func (s *storage) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	t, err := s.liveToken(tokenID, subject)
	if err != nil || t.clientID != clientID {
		return errNotFound
	}
	info := new(oidc.UserInfo)
	if err := s.setUserinfo(info, t.subject, t.scopes); err != nil {
		return err
	}
	resp.SetUserInfo(info)
	resp.Active = true
	resp.Scope = t.scopes
	resp.ClientID = t.clientID
	resp.Expiration = oidc.FromTime(t.expires)
	return nil
}

// GetPrivateClaimsFromScopes adds the custom claims to JWT access tokens
// (this client gets opaque ones; kept consistent for other uses).
func (s *storage) GetPrivateClaimsFromScopes(ctx context.Context, userID, clientID string, scopes []string) (map[string]any, error) {
	u, ok := s.user(userID)
	if !ok {
		return nil, errNotFound
	}
	claims := map[string]any{}
	for k, v := range customClaims(u, scopes) {
		claims[k] = v
	}
	return claims, nil
}

func (s *storage) setUserinfo(info *oidc.UserInfo, subject string, scopes []string) error {
	u, ok := s.user(subject)
	if !ok {
		return fmt.Errorf("demoidp: unknown user %q: %w", subject, errNotFound)
	}
	for _, sc := range scopes {
		switch sc {
		case oidc.ScopeOpenID:
			info.Subject = u.Subject
		case oidc.ScopeProfile:
			info.Name = u.Name
			info.PreferredUsername = u.Username
		case oidc.ScopeEmail:
			info.Email = u.Email
			info.EmailVerified = oidc.Bool(true)
		}
	}
	for k, v := range customClaims(u, scopes) {
		info.AppendClaims(k, v)
	}
	return nil
}

// customClaims: groups with the groups scope; computer with openid, so an
// end user's computer reaches the portal whatever else it asks for.
func customClaims(u *User, scopes []string) map[string]any {
	out := map[string]any{}
	switch {
	case !slices.Contains(scopes, ScopeGroups) || u.NoGroupsClaim:
	case u.GroupsOverage:
		out["_claim_names"] = map[string]string{"groups": "src1"}
		out["_claim_sources"] = map[string]any{"src1": map[string]string{
			"endpoint": "https://graph.microsoft.com/v1.0/users/" + u.Subject + "/getMemberObjects"}}
	default:
		groups := slices.Clone(u.Groups)
		if groups == nil {
			groups = []string{} // present but empty: the user is in no group
		}
		out["groups"] = groups
	}
	if u.Computer != "" && slices.Contains(scopes, oidc.ScopeOpenID) {
		out["computer"] = u.Computer
	}
	return out
}

func (s *storage) GetKeyByIDAndClientID(ctx context.Context, keyID, clientID string) (*jose.JSONWebKey, error) {
	return nil, errors.New("demoidp: JWT client authentication is not supported")
}

func (s *storage) ValidateJWTProfileScopes(ctx context.Context, userID string, scopes []string) ([]string, error) {
	return nil, errors.New("demoidp: JWT profile grant is not supported")
}

func (s *storage) Health(ctx context.Context) error { return nil }
