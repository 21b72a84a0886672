package config

import "time"

// actions reads how actions are followed:
//
//	AGENTDESK_EM_CLOCK_SKEW   how far the clocks of EM and the backup servers may
//	                          be behind the portal's (2m). A start's session is the
//	                          job's newest one created at or after the moment the
//	                          start was sent minus this, because EM links none to
//	                          the task.
func (r *reader) actions(c *Config) {
	c.EM.ClockSkew = r.duration("AGENTDESK_EM_CLOCK_SKEW", 2*time.Minute)
	if c.EM.ClockSkew < time.Second || c.EM.ClockSkew > time.Hour {
		r.fail("AGENTDESK_EM_CLOCK_SKEW", "must be between 1s and 1h")
	}
}
