package emclient

import (
	"fmt"
	"strings"
)

// ValidID reports whether s is a GUID in the 8-4-4-4-12 hexadecimal form, the
// only shape of id the client ever puts into a URL path.
func ValidID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// UID is a parsed "urn:veeam:<Type>:<guid>".
type UID struct {
	Type string // AgentBackupJob, Job, BackupJobSession, BackupServer ...
	ID   string // the GUID, lower-cased
}

// ParseUID parses an EM UID. Agent jobs appear both as urn:veeam:AgentBackupJob:<guid>
// and urn:veeam:Job:<guid>; both parse, and ID is the same.
func ParseUID(s string) (UID, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 4 || !strings.EqualFold(parts[0], "urn") || !strings.EqualFold(parts[1], "veeam") || !validUIDType(parts[2]) {
		return UID{}, fmt.Errorf("emclient: bad UID %q", s)
	}
	if !ValidID(parts[3]) {
		return UID{}, fmt.Errorf("emclient: bad UID %q: id is not a GUID", s)
	}
	return UID{Type: parts[2], ID: strings.ToLower(parts[3])}, nil
}

// String formats the UID as EM writes it.
func (u UID) String() string { return "urn:veeam:" + u.Type + ":" + u.ID }

// IDFromUID returns the GUID of a UID, or "" when s is not a valid UID.
func IDFromUID(s string) string {
	u, err := ParseUID(s)
	if err != nil {
		return ""
	}
	return u.ID
}

// validUIDType follows the XSD UID pattern for the type part: [a-zA-Z_0-9-]+.
func validUIDType(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// validTaskID reports whether s has the form task-<digits>, the only task id
// shape EM issues.
func validTaskID(s string) bool {
	const prefix = "task-"
	if len(s) <= len(prefix) || len(s) > len(prefix)+19 || s[:len(prefix)] != prefix {
		return false
	}
	for i := len(prefix); i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
