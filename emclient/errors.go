package emclient

import (
	"errors"
	"fmt"
	"net/http"
)

// Sentinel errors; test for them with errors.Is.
var (
	// ErrNotFound: EM answered 404.
	ErrNotFound = errors.New("emclient: not found")
	// ErrUnauthorized: EM answered 401 (bad credentials, or a session that stayed
	// invalid after one re-logon).
	ErrUnauthorized = errors.New("emclient: unauthorized")
	// ErrForbidden: EM answered 403 (the account lacks the Portal Administrator role).
	ErrForbidden = errors.New("emclient: forbidden")
	// ErrUnavailable: EM answered 502/503/504, could not be reached, or did not
	// answer in time.
	ErrUnavailable = errors.New("emclient: Enterprise Manager unavailable")
	// ErrInvalidID: an id was not a GUID (or a task id not task-<n>); no request was made.
	ErrInvalidID = errors.New("emclient: invalid id")
	// ErrMalformed: EM's answer could not be decoded (not XML, wrong root element,
	// or larger than the body limit).
	ErrMalformed = errors.New("emclient: malformed response")
	// ErrOutcomeUnknown: an action was written to the connection but no answer
	// came back (connection lost or deadline). It is never resent: EM may or may
	// not have acted, so the caller must look at the job before trying again.
	ErrOutcomeUnknown = errors.New("emclient: action sent, outcome unknown")
	// ErrCertificate: EM's TLS certificate could not be verified (unknown
	// authority, wrong name, expired, or not the pinned one). Nothing was
	// sent: the request is written only after the handshake.
	ErrCertificate = errors.New("emclient: Enterprise Manager's certificate is not trusted")
)

// ConfigError is a Config field New cannot use; Field is its name, so a
// caller can name its own setting (an environment variable) instead.
type ConfigError struct {
	Field string // e.g. "CAFile"
	Msg   string
}

func (e *ConfigError) Error() string { return "emclient: " + e.Field + ": " + e.Msg }

// Error is an HTTP error answer of EM. Message comes from EM's Error element,
// or is the HTTP status text when the body is not one. Detail is the Error
// element's FirstChanceExceptionMessage (the real 9.5 error carries the
// underlying exception's text there), "" when absent.
type Error struct {
	StatusCode int
	Message    string
	Detail     string
	Method     string
	Endpoint   string // the route pattern below /api, e.g. "/agents/jobs/{id}"
}

func (e *Error) Error() string {
	return fmt.Sprintf("emclient: %s %s: %d %s", e.Method, e.Endpoint, e.StatusCode, e.Message)
}

// Is maps the status code onto the sentinel errors.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrUnavailable:
		return e.StatusCode == http.StatusBadGateway || e.StatusCode == http.StatusServiceUnavailable ||
			e.StatusCode == http.StatusGatewayTimeout
	}
	return false
}
