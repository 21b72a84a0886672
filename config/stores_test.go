package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// base is a complete single-replica configuration.
func base() map[string]string {
	return map[string]string{
		"AGENTDESK_EM_URL":         "https://em.example.com:9398",
		"AGENTDESK_EM_USER":        "svc",
		"AGENTDESK_EM_PASSWORD":    "secret",
		"AGENTDESK_OIDC_ISSUER":    "https://idp.example.com",
		"AGENTDESK_OIDC_CLIENT_ID": "agentdesk",
		"AGENTDESK_PUBLIC_URL":     "https://portal.example.com/",
	}
}

func load(vars map[string]string) (*Config, error) {
	return Load(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
}

func TestSharedStores(t *testing.T) {
	const pg = "postgres://agentdesk:pw@db.example.com:5432/agentdesk"
	const rd = "redis://redis.example.com:6379/0"
	tests := []struct {
		name    string
		set     map[string]string
		wantVar string // "" = valid
		check   func(t *testing.T, c *Config)
	}{
		{name: "defaults", check: func(t *testing.T, c *Config) {
			if c.Stores.Session != "sqlite" || c.Stores.Lock != "memory" || c.Stores.LockTTL != 30*time.Second || c.Stores.InstanceID == "" {
				t.Errorf("defaults = %q, %q, %s, instance %q; want sqlite, memory, 30s and the host name", c.Stores.Session, c.Stores.Lock, c.Stores.LockTTL, c.Stores.InstanceID)
			}
		}},
		{name: "redis for both", set: map[string]string{"AGENTDESK_SESSION_STORE": "redis", "AGENTDESK_LOCK_STORE": "Redis", "AGENTDESK_REDIS_URL": rd},
			check: func(t *testing.T, c *Config) {
				if c.Stores.Session != "redis" || c.Stores.Lock != "redis" || c.Stores.RedisURL != rd {
					t.Errorf("got %q, %q, %q", c.Stores.Session, c.Stores.Lock, c.Stores.RedisURL)
				}
			}},
		{name: "postgres for both", set: map[string]string{"AGENTDESK_SESSION_STORE": "postgres", "AGENTDESK_LOCK_STORE": "postgres", "AGENTDESK_DATABASE_URL": pg, "AGENTDESK_LOCK_TTL": "2m"},
			check: func(t *testing.T, c *Config) {
				if c.Stores.DatabaseURL != pg || c.Stores.LockTTL != 2*time.Minute {
					t.Errorf("got %q, %s", c.Stores.DatabaseURL, c.Stores.LockTTL)
				}
			}},
		{name: "key=value connection string", set: map[string]string{"AGENTDESK_SESSION_STORE": "postgres", "AGENTDESK_DATABASE_URL": "host=db dbname=agentdesk"}},
		{name: "postgres sessions without a database", set: map[string]string{"AGENTDESK_SESSION_STORE": "postgres"}, wantVar: "AGENTDESK_DATABASE_URL"},
		{name: "postgres locks without a database", set: map[string]string{"AGENTDESK_LOCK_STORE": "postgres", "AGENTDESK_REDIS_URL": rd}, wantVar: "AGENTDESK_DATABASE_URL"},
		{name: "redis sessions without redis", set: map[string]string{"AGENTDESK_SESSION_STORE": "redis", "AGENTDESK_DATABASE_URL": pg}, wantVar: "AGENTDESK_REDIS_URL"},
		{name: "redis locks without redis", set: map[string]string{"AGENTDESK_LOCK_STORE": "redis"}, wantVar: "AGENTDESK_REDIS_URL"},
		{name: "unknown session store", set: map[string]string{"AGENTDESK_SESSION_STORE": "memcached"}, wantVar: "AGENTDESK_SESSION_STORE"},
		{name: "unknown lock store", set: map[string]string{"AGENTDESK_LOCK_STORE": "etcd"}, wantVar: "AGENTDESK_LOCK_STORE"},
		{name: "redis URL with a wrong scheme", set: map[string]string{"AGENTDESK_LOCK_STORE": "redis", "AGENTDESK_REDIS_URL": "http://redis:6379"}, wantVar: "AGENTDESK_REDIS_URL"},
		{name: "database URL with a wrong scheme", set: map[string]string{"AGENTDESK_LOCK_STORE": "postgres", "AGENTDESK_DATABASE_URL": "mysql://u:pw@db/x"}, wantVar: "AGENTDESK_DATABASE_URL"},
		{name: "lock ttl too short", set: map[string]string{"AGENTDESK_LOCK_TTL": "10ms"}, wantVar: "AGENTDESK_LOCK_TTL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vars := base()
			for k, v := range tc.set {
				vars[k] = v
			}
			c, err := load(vars)
			if tc.wantVar == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if tc.check != nil {
					tc.check(t, c)
				}
				return
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Var != tc.wantVar {
				t.Fatalf("Load error = %v, want one naming %s", err, tc.wantVar)
			}
			if strings.Contains(err.Error(), "pw@") {
				t.Errorf("the error repeats the password: %v", err)
			}
		})
	}
}
