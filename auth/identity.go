package auth

import (
	"fmt"
	"log/slog"
	"time"
)

// Identity is who the OpenID provider says signed in.
type Identity struct {
	Issuer, Subject string // the user's key is Issuer+"|"+Subject, never the e-mail
	Name, Email     string
	Groups          []string
	GroupsPresent   bool              // false when neither the ID token nor UserInfo had a groups claim
	GroupsOverage   bool              // Entra-style overage (_claim_names/hasgroups) without groups: fail closed
	Claims          map[string]string // Config.ExtraClaims that were strings, for policy
	IdPSID          string            // the ID token's sid: the IdP session, for back-channel logout

	// idToken is the raw ID token of the sign-in that produced this identity.
	// It is unexported so that it cannot leak through templates or JSON;
	// Sessions.SignIn copies it into User.IDToken for the logout hint.
	idToken string
}

// Key identifies the user across sign-ins: issuer and subject, never the
// e-mail address, which users can change and IdPs can reassign.
func (i Identity) Key() string { return i.Issuer + "|" + i.Subject }

// RawIDToken returns the ID token of the sign-in that produced i (empty for
// identities not made by OIDC.Exchange). Keep it server-side; never log it.
func (i Identity) RawIDToken() string { return i.idToken }

// String keeps tokens out of fmt output such as log lines built with %v.
func (i Identity) String() string {
	return fmt.Sprintf("{key=%q name=%q email=%q groups=%d}", i.Key(), i.Name, i.Email, len(i.Groups))
}

// GoString covers %#v, which would otherwise print the unexported token.
func (i Identity) GoString() string { return "auth.Identity" + i.String() }

// LogValue makes slog print a redacted identity.
func (i Identity) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("key", i.Key()),
		slog.String("name", i.Name),
		slog.String("email", i.Email),
		slog.Int("groups", len(i.Groups)),
		slog.Bool("groups_present", i.GroupsPresent),
		slog.Bool("groups_overage", i.GroupsOverage),
	)
}

// User is a signed-in portal user as stored in the session.
type User struct {
	Identity
	Roles      []string
	SignedInAt time.Time
	IDToken    string // server-side only: the id_token_hint for RP-initiated logout
	BreakGlass bool
}

// String keeps the ID token out of fmt output.
func (u User) String() string {
	return fmt.Sprintf("{key=%q name=%q roles=%v breakglass=%t}", u.Key(), u.Name, u.Roles, u.BreakGlass)
}

// GoString covers %#v.
func (u User) GoString() string { return "auth.User" + u.String() }

// LogValue makes slog print a redacted user.
func (u User) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("key", u.Key()),
		slog.String("name", u.Name),
		slog.Any("roles", u.Roles),
		slog.Bool("break_glass", u.BreakGlass),
	)
}
