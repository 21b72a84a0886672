package auth

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// BreakGlassIssuer is the Identity.Issuer of the break-glass administrator,
// so its key can never collide with an OpenID provider's users.
const BreakGlassIssuer = "urn:agentdesk:break-glass"

// minBreakGlassCost rejects hashes cheap enough to brute-force offline.
const minBreakGlassCost = 10

// BreakGlass is the local administrator for when the IdP is down. It is off
// (Check always false) unless loaded from a file. The zero value and a nil
// *BreakGlass are off.
type BreakGlass struct {
	username string
	hash     []byte
}

// LoadBreakGlass reads a file holding one "username:bcrypt-hash" line (blank
// lines and lines starting with # are ignored). An empty path means
// break-glass is off and is not an error.
func LoadBreakGlass(path string) (*BreakGlass, error) {
	if path == "" {
		return &BreakGlass{}, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth: break-glass file: %w", err)
	}
	b, err := ParseBreakGlass(data)
	if err != nil {
		return nil, fmt.Errorf("auth: break-glass file %s: %w", path, err)
	}
	return b, nil
}

// ParseBreakGlass parses the contents of a break-glass file.
func ParseBreakGlass(data []byte) (*BreakGlass, error) {
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line != "" && !strings.HasPrefix(line, "#") {
			lines = append(lines, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(lines) != 1 {
		return nil, fmt.Errorf("want exactly one username:bcrypt-hash line, found %d", len(lines))
	}
	user, hash, ok := strings.Cut(lines[0], ":")
	if !ok || user == "" || hash == "" {
		return nil, errors.New("want username:bcrypt-hash")
	}
	cost, err := bcrypt.Cost([]byte(hash))
	if err != nil {
		return nil, fmt.Errorf("not a bcrypt hash: %w", err)
	}
	if cost < minBreakGlassCost {
		return nil, fmt.Errorf("bcrypt cost %d is below %d", cost, minBreakGlassCost)
	}
	return &BreakGlass{username: user, hash: []byte(hash)}, nil
}

// Enabled reports whether a break-glass account is configured.
func (b *BreakGlass) Enabled() bool { return b != nil && b.username != "" }

// Username returns the configured user name ("" when off).
func (b *BreakGlass) Username() string {
	if b == nil {
		return ""
	}
	return b.username
}

// Check reports whether user and pass are the break-glass credentials. The
// bcrypt comparison runs even for a wrong user name, and names are compared
// in constant time, so timing does not reveal the name. Callers must rate
// limit and audit every attempt.
func (b *BreakGlass) Check(user, pass string) bool {
	if !b.Enabled() {
		return false
	}
	// Hashing both names first makes the comparison independent of length.
	want, got := sha256.Sum256([]byte(b.username)), sha256.Sum256([]byte(user))
	userOK := subtle.ConstantTimeCompare(want[:], got[:]) == 1
	passOK := bcrypt.CompareHashAndPassword(b.hash, []byte(pass)) == nil
	return userOK && passOK
}

// Identity returns the identity to sign the break-glass user in with.
func (b *BreakGlass) Identity() Identity {
	return Identity{Issuer: BreakGlassIssuer, Subject: b.Username(), Name: b.Username()}
}
