package config

import (
	"fmt"
	"strconv"
	"time"
)

// operations reads the limits that keep the portal answering when EM or the
// network misbehave.
func (r *reader) operations(c *Config) {
	c.RequestTimeout = r.duration("AGENTDESK_REQUEST_TIMEOUT", 15*time.Second)
	c.MaxInFlight = r.positiveInt("AGENTDESK_MAX_INFLIGHT", 512)
	// One client address's share: behind a reverse proxy this is the proxy's
	// unless AGENTDESK_TRUSTED_PROXIES names it.
	c.MaxInFlightPerClient = r.positiveInt("AGENTDESK_MAX_INFLIGHT_PER_CLIENT", max(2, c.MaxInFlight/8))
	c.SignInRate = r.positiveInt("AGENTDESK_SIGNIN_RATE", 60)
	c.ShutdownTimeout = r.duration("AGENTDESK_SHUTDOWN_TIMEOUT", 20*time.Second)
	c.ShutdownDrain = r.duration("AGENTDESK_SHUTDOWN_DRAIN", 5*time.Second)
	c.BreakerThreshold = r.positiveInt("AGENTDESK_EM_BREAKER_THRESHOLD", 5)
	c.BreakerCooldown = r.duration("AGENTDESK_EM_BREAKER_COOLDOWN", 15*time.Second)
	if c.RequestTimeout < time.Second {
		r.fail("AGENTDESK_REQUEST_TIMEOUT", "must be at least 1s")
	}
	if c.BreakerCooldown < time.Second {
		r.fail("AGENTDESK_EM_BREAKER_COOLDOWN", "must be at least 1s")
	}
}

func (r *reader) positiveInt(name string, def int) int {
	v := r.str(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		r.fail(name, fmt.Sprintf("want a whole number above 0, got %q", v))
		return def
	}
	return n
}
