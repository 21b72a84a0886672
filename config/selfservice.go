package config

import (
	"fmt"
	"strings"
	"time"
)

// DefaultHoldDurations are the choices of a time-boxed disable.
var DefaultHoldDurations = []time.Duration{time.Hour, 4 * time.Hour, 8 * time.Hour, 24 * time.Hour}

// selfService reads the end users' page and time-boxed disable settings:
//
//	AGENTDESK_SELFSERVICE_STALE_AFTER   a backup older than this is overdue (48h)
//	AGENTDESK_SCHEDULE_HOLD_INTERVAL    how often due disables are ended (30s)
//	AGENTDESK_SCHEDULE_HOLD_DURATIONS   the offered durations (1h,4h,8h,24h)
func (r *reader) selfService(c *Config) {
	c.SelfService.StaleAfter = r.duration("AGENTDESK_SELFSERVICE_STALE_AFTER", 48*time.Hour)
	if c.SelfService.StaleAfter <= 0 {
		r.fail("AGENTDESK_SELFSERVICE_STALE_AFTER", "must be positive")
	}
	c.SelfService.HoldInterval = r.duration("AGENTDESK_SCHEDULE_HOLD_INTERVAL", 30*time.Second)
	if c.SelfService.HoldInterval < time.Second {
		r.fail("AGENTDESK_SCHEDULE_HOLD_INTERVAL", "must be at least 1s")
	}
	c.SelfService.HoldDurations = DefaultHoldDurations
	if v := r.str("AGENTDESK_SCHEDULE_HOLD_DURATIONS", ""); v != "" {
		d, err := ParseDurations(v)
		if err != nil {
			r.fail("AGENTDESK_SCHEDULE_HOLD_DURATIONS", err.Error())
			return
		}
		c.SelfService.HoldDurations = d
	}
}

// ParseDurations reads a list such as "1h,4h,8h,24h": positive, distinct, in
// the order given (the order of the choices).
func ParseDurations(v string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range strings.FieldsFunc(v, func(c rune) bool { return c == ',' || c == ' ' }) {
		d, err := time.ParseDuration(f)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("want positive durations such as 1h,4h,8h,24h, got %q", f)
		}
		for _, x := range out {
			if x == d {
				return nil, fmt.Errorf("%s is listed twice", f)
			}
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("want at least one duration")
	}
	return out, nil
}
