package views

import "time"

// Status is the administrators' page about the portal's dependencies. It never
// holds a credential, a token or a session id.
type Status struct {
	CheckedAt time.Time

	EMHost        string // host:port of Enterprise Manager
	EMLoggedOn    bool
	EMLogons      int64
	EMCircuit     string // closed, open, half-open
	EMDownSince   time.Time
	EMLastError   string
	EMLastErrorAt time.Time

	// EMAccountRefused: EM refuses the service account; logons are backed off.
	EMAccountRefused bool
	EMRefusedSince   time.Time
	EMNextLogon      time.Time
	EMRefusedError   string

	IdPIssuer     string
	IdPDiscovered bool

	PolicyWarnings []string // rules on claims users may edit (policy.Policy.Warnings)

	// Ending one person's sessions (administrators only; "" hides the form).
	EndSessionsURL  string
	CSRFToken       string
	SessionsMessage string // the outcome of the last request
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func circuitLabel(s string) string {
	switch s {
	case "closed":
		return "closed: requests go out normally"
	case "open":
		return "open: requests fail at once, a probe follows after the cooldown"
	case "half-open":
		return "half-open: one probe request is out"
	}
	return s
}
