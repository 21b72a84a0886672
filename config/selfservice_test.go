package config

import (
	"slices"
	"testing"
	"time"
)

func TestSelfServiceConfig(t *testing.T) {
	base := map[string]string{
		"AGENTDESK_EM_URL": "https://em.example.com:9398", "AGENTDESK_EM_USER": "svc", "AGENTDESK_EM_PASSWORD": "x",
		"AGENTDESK_OIDC_ISSUER": "https://idp.example.com", "AGENTDESK_OIDC_CLIENT_ID": "agentdesk",
		"AGENTDESK_PUBLIC_URL": "https://portal.example.com/",
	}
	load := func(extra map[string]string) (*Config, error) {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		for k, v := range extra {
			env[k] = v
		}
		return Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	}
	c, err := load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.SelfService.StaleAfter != 48*time.Hour || c.SelfService.HoldInterval != 30*time.Second || !slices.Equal(c.SelfService.HoldDurations, DefaultHoldDurations) {
		t.Errorf("defaults: %v %v %v", c.SelfService.StaleAfter, c.SelfService.HoldInterval, c.SelfService.HoldDurations)
	}
	c, err = load(map[string]string{"AGENTDESK_SELFSERVICE_STALE_AFTER": "72h", "AGENTDESK_SCHEDULE_HOLD_INTERVAL": "10s", "AGENTDESK_SCHEDULE_HOLD_DURATIONS": "30m, 2h"})
	if err != nil {
		t.Fatal(err)
	}
	if c.SelfService.StaleAfter != 72*time.Hour || c.SelfService.HoldInterval != 10*time.Second || !slices.Equal(c.SelfService.HoldDurations, []time.Duration{30 * time.Minute, 2 * time.Hour}) {
		t.Errorf("set: %v %v %v", c.SelfService.StaleAfter, c.SelfService.HoldInterval, c.SelfService.HoldDurations)
	}
	for name, v := range map[string]string{
		"AGENTDESK_SELFSERVICE_STALE_AFTER": "0s",
		"AGENTDESK_SCHEDULE_HOLD_INTERVAL":  "10ms",
		"AGENTDESK_SCHEDULE_HOLD_DURATIONS": "1h,-4h",
	} {
		_, err := load(map[string]string{name: v})
		if e, ok := err.(*Error); !ok || e.Var != name {
			t.Errorf("%s=%s: %v", name, v, err)
		}
	}
	if _, err := ParseDurations("1h,1h"); err == nil {
		t.Error("duplicate durations accepted")
	}
}
