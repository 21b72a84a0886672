package config

import (
	"net/url"
	"os"
	"strings"
	"time"
)

// sharedStores checks the stores replicas share: each choice needs the
// address of its server, and the addresses must be URLs those clients accept.
func (r *reader) sharedStores(c *Config) {
	for _, use := range []struct{ name, kind string }{
		{"AGENTDESK_SESSION_STORE", c.Stores.Session},
		{"AGENTDESK_LOCK_STORE", c.Stores.Lock},
	} {
		switch {
		case use.kind == "postgres" && c.Stores.DatabaseURL == "":
			r.fail("AGENTDESK_DATABASE_URL", "is required when "+use.name+"=postgres")
		case use.kind == "redis" && c.Stores.RedisURL == "":
			r.fail("AGENTDESK_REDIS_URL", "is required when "+use.name+"=redis")
		}
	}
	// pgx also takes key=value connection strings ("host=db dbname=agentdesk").
	keyValue := !strings.Contains(c.Stores.DatabaseURL, "://") && strings.Contains(c.Stores.DatabaseURL, "=")
	if c.Stores.DatabaseURL != "" && !keyValue && !validURL(c.Stores.DatabaseURL, "postgres", "postgresql") {
		// Never echo the value: it usually holds a password.
		r.fail("AGENTDESK_DATABASE_URL", "want a URL such as postgres://agentdesk:…@db.example.com:5432/agentdesk")
	}
	if c.Stores.RedisURL != "" && !validURL(c.Stores.RedisURL, "redis", "rediss") {
		r.fail("AGENTDESK_REDIS_URL", "want a URL such as redis://redis.example.com:6379/0 (rediss:// for TLS)")
	}
	if c.Stores.LockTTL < time.Second {
		r.fail("AGENTDESK_LOCK_TTL", "must be at least 1s")
	}
	if c.Stores.InstanceID == "" {
		c.Stores.InstanceID = defaultInstanceID(c.Site.Addr)
	}
	if len(c.Stores.InstanceID) > 200 || strings.ContainsFunc(c.Stores.InstanceID, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		r.fail("AGENTDESK_INSTANCE_ID", "want a name of this replica (1 to 200 printable characters), e.g. its host name")
	}
}

// defaultInstanceID is the host name and the listen address: unique per
// replica (two on one host listen on different ports) and stable across
// restarts of a process on the same host or in the same pod.
func defaultInstanceID(addr string) string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "agentdesk"
	}
	return h + "/" + addr
}

func validURL(raw string, schemes ...string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return false
	}
	for _, s := range schemes {
		if strings.EqualFold(u.Scheme, s) {
			return true
		}
	}
	return false
}
