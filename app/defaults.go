package app

import (
	"net/url"
	"time"

	"github.com/agentdesk/agentdesk/config"
)

// DemoDefaults is the configuration of a portal at public over an EM
// simulator at emURL (account svc/secret) and the demo identity provider at
// issuer (client agentdesk/secret), keeping its data in dir: what the demo,
// the handler tests and the load test build. Zero settings (the operations
// limits, the audit retention) take the defaults of the package using them.
func DemoDefaults(public *url.URL, emURL, issuer, secret, dir string) *config.Config {
	return &config.Config{
		Site: config.Site{Addr: public.Host, PublicURL: public},
		EM: config.EM{URL: emURL, User: "svc", Password: "secret", Timeout: 30 * time.Second,
			BreakerThreshold: 5, BreakerCooldown: 15 * time.Second, ClockSkew: 2 * time.Minute},
		SignIn: config.SignIn{Issuer: issuer, ClientID: "agentdesk", ClientSecret: secret,
			Scopes: []string{"openid", "profile", "email", "groups"}, GroupsClaim: "groups",
			ExtraClaims: []string{"preferred_username", "computer"}},
		Sessions: config.Sessions{Idle: 30 * time.Minute, Lifetime: 8 * time.Hour},
		Stores:   config.Stores{DataDir: dir, Session: "sqlite", Lock: "memory", LockTTL: 30 * time.Second},
		SelfService: config.SelfService{StaleAfter: 48 * time.Hour, HoldInterval: time.Second,
			HoldDurations: config.DefaultHoldDurations},
	}
}
