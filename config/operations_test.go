package config

import (
	"strings"
	"testing"
	"time"
)

func TestOperationsSettings(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want func(c *Config) bool
		err  string
	}{
		{nil, func(c *Config) bool {
			return c.Operations.RequestTimeout == 15*time.Second && c.Operations.MaxInFlight == 512 && c.Operations.ShutdownTimeout == 20*time.Second && c.Operations.ShutdownDrain == 5*time.Second &&
				c.EM.BreakerThreshold == 5 && c.EM.BreakerCooldown == 15*time.Second
		}, ""},
		{map[string]string{"AGENTDESK_REQUEST_TIMEOUT": "5s", "AGENTDESK_MAX_INFLIGHT": "64", "AGENTDESK_SHUTDOWN_TIMEOUT": "40s", "AGENTDESK_SHUTDOWN_DRAIN": "0s",
			"AGENTDESK_EM_BREAKER_THRESHOLD": "3", "AGENTDESK_EM_BREAKER_COOLDOWN": "1m"}, func(c *Config) bool {
			return c.Operations.RequestTimeout == 5*time.Second && c.Operations.MaxInFlight == 64 && c.Operations.ShutdownTimeout == 40*time.Second && c.Operations.ShutdownDrain == 0 &&
				c.EM.BreakerThreshold == 3 && c.EM.BreakerCooldown == time.Minute
		}, ""},
		{map[string]string{"AGENTDESK_MAX_INFLIGHT": "0"}, nil, "AGENTDESK_MAX_INFLIGHT: want a whole number above 0"},
		{map[string]string{"AGENTDESK_EM_BREAKER_THRESHOLD": "many"}, nil, "AGENTDESK_EM_BREAKER_THRESHOLD: want a whole number"},
		{map[string]string{"AGENTDESK_REQUEST_TIMEOUT": "10ms"}, nil, "AGENTDESK_REQUEST_TIMEOUT: must be at least 1s"},
		{map[string]string{"AGENTDESK_EM_BREAKER_COOLDOWN": "soon"}, nil, "AGENTDESK_EM_BREAKER_COOLDOWN: want a duration"},
	}
	for _, tt := range tests {
		env := map[string]string{
			"AGENTDESK_EM_URL": "https://em.example.com:9398", "AGENTDESK_EM_USER": "svc", "AGENTDESK_EM_PASSWORD": "p",
			"AGENTDESK_OIDC_ISSUER": "https://idp.example.com", "AGENTDESK_OIDC_CLIENT_ID": "c",
			"AGENTDESK_PUBLIC_URL": "https://portal.example.com/",
		}
		for k, v := range tt.env {
			env[k] = v
		}
		c, err := Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%v: err %v, want %q", tt.env, err, tt.err)
			}
			continue
		}
		if err != nil || !tt.want(c) {
			t.Errorf("%v: %+v, %v", tt.env, c, err)
		}
	}
}
