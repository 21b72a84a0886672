package config

import (
	"fmt"
	"strconv"
	"time"
)

// operations reads the limits that keep the portal answering when EM or the
// network misbehave.
func (r *reader) operations(c *Config) {
	c.Operations.MetricsToken = r.secret("AGENTDESK_METRICS_TOKEN")
	c.Operations.RequestTimeout = r.duration("AGENTDESK_REQUEST_TIMEOUT", 15*time.Second)
	c.Operations.MaxInFlight = r.positiveInt("AGENTDESK_MAX_INFLIGHT", 512)
	// One client address's share: behind a reverse proxy this is the proxy's
	// unless AGENTDESK_TRUSTED_PROXIES names it.
	c.Operations.MaxInFlightPerClient = r.positiveInt("AGENTDESK_MAX_INFLIGHT_PER_CLIENT", max(2, c.Operations.MaxInFlight/8))
	c.Operations.SignInRate = r.positiveInt("AGENTDESK_SIGNIN_RATE", 60)
	c.Operations.ShutdownTimeout = r.duration("AGENTDESK_SHUTDOWN_TIMEOUT", 20*time.Second)
	c.Operations.ShutdownDrain = r.duration("AGENTDESK_SHUTDOWN_DRAIN", 5*time.Second)
	c.EM.BreakerThreshold = r.positiveInt("AGENTDESK_EM_BREAKER_THRESHOLD", 5)
	c.EM.BreakerCooldown = r.duration("AGENTDESK_EM_BREAKER_COOLDOWN", 15*time.Second)
	if c.Operations.RequestTimeout < time.Second {
		r.fail("AGENTDESK_REQUEST_TIMEOUT", "must be at least 1s")
	}
	if c.EM.BreakerCooldown < time.Second {
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
