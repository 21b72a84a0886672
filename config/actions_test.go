package config

import (
	"testing"
	"time"
)

func TestClockSkewSetting(t *testing.T) {
	base := map[string]string{
		"AGENTDESK_EM_URL": "https://em.example.com:9398", "AGENTDESK_EM_USER": "svc", "AGENTDESK_EM_PASSWORD": "x",
		"AGENTDESK_OIDC_ISSUER": "https://idp.example.com", "AGENTDESK_OIDC_CLIENT_ID": "agentdesk",
		"AGENTDESK_PUBLIC_URL": "https://portal.example.com/",
	}
	load := func(v string) (*Config, error) {
		return Load(func(k string) (string, bool) {
			if k == "AGENTDESK_EM_CLOCK_SKEW" && v != "" {
				return v, true
			}
			x, ok := base[k]
			return x, ok
		})
	}
	for _, tc := range []struct {
		set  string
		want time.Duration
		bad  bool
	}{{"", 2 * time.Minute, false}, {"5m", 5 * time.Minute, false}, {"0s", 0, true}, {"2h", 0, true}, {"soon", 0, true}} {
		c, err := load(tc.set)
		if tc.bad {
			if e, ok := err.(*Error); !ok || e.Var != "AGENTDESK_EM_CLOCK_SKEW" {
				t.Errorf("%q: %v", tc.set, err)
			}
			continue
		}
		if err != nil || c.EM.ClockSkew != tc.want {
			t.Errorf("%q: %v, %v", tc.set, c, err)
		}
	}
}
