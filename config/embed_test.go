package config

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestEmbedOriginsSetting(t *testing.T) {
	tests := []struct {
		name      string
		public    string
		origins   string
		want      []string
		crossSite bool
		err       string // substring; every error names the variable
	}{
		{name: "unset", origins: "", want: nil},
		{name: "same site, several", origins: "https://intranet.example.com, https://wiki.example.com:8443 https://intranet.example.com",
			want: []string{"https://intranet.example.com", "https://wiki.example.com:8443"}},
		{name: "case folded", origins: "HTTPS://Intranet.Example.COM", want: []string{"https://intranet.example.com"}},
		{name: "wildcard", origins: "https://*.example.com", want: []string{"https://*.example.com"}},
		{name: "cross site", origins: "https://contoso.sharepoint.com", want: []string{"https://contoso.sharepoint.com"}, crossSite: true},
		{name: "other scheme is another site", origins: "http://intranet.example.com", want: []string{"http://intranet.example.com"}, crossSite: true},
		{name: "cross site needs https", public: "http://portal.example.com/", origins: "https://other.example.org", err: "needs the portal on https"},
		{name: "path", origins: "https://intranet.example.com/portal", err: "no path"},
		{name: "trailing slash", origins: "https://intranet.example.com/", err: "no path"},
		{name: "no scheme", origins: "intranet.example.com", err: "no scheme"},
		{name: "ftp", origins: "ftp://intranet.example.com", err: "http or https"},
		{name: "star", origins: "*", err: "no scheme"},
		{name: "inner wildcard", origins: "https://intra*.example.com", err: "only wildcard"},
		{name: "wildcard on a public suffix", origins: "https://*.co.uk", err: "registrable domain"},
		{name: "keyword", origins: "'self'", err: "no scheme"},
		{name: "user info", origins: "https://user@intranet.example.com", err: "no path, query, user"},
		{name: "bad port", origins: "https://intranet.example.com:99999", err: "port"},
		{name: "query", origins: "https://intranet.example.com?x=1", err: "no path, query"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{
				"AGENTDESK_EM_URL": "https://em.example.com:9398", "AGENTDESK_EM_USER": "svc", "AGENTDESK_EM_PASSWORD": "p",
				"AGENTDESK_OIDC_ISSUER": "https://idp.example.com", "AGENTDESK_OIDC_CLIENT_ID": "c",
				"AGENTDESK_PUBLIC_URL": "https://portal.example.com/", "AGENTDESK_EMBED_ORIGINS": tt.origins,
			}
			if tt.public != "" {
				env["AGENTDESK_PUBLIC_URL"] = tt.public
			}
			c, err := Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.HasPrefix(err.Error(), "AGENTDESK_EMBED_ORIGINS: ") {
					t.Fatalf("err %v, want AGENTDESK_EMBED_ORIGINS: …%s…", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.Embed.Origins, tt.want) || c.Embed.CrossSite != tt.crossSite {
				t.Fatalf("origins %q cross-site %v, want %q %v", c.Embed.Origins, c.Embed.CrossSite, tt.want, tt.crossSite)
			}
		})
	}
}

func TestCrossSite(t *testing.T) {
	tests := []struct {
		public  string
		origins []string
		want    bool
	}{
		{"https://portal.corp.example.com/", []string{"https://intranet.corp.example.com"}, false},
		{"https://portal.corp.example.com/", []string{"https://*.corp.example.com"}, false},
		{"https://portal.example.co.uk/", []string{"https://wiki.example.co.uk:8443"}, false},
		{"https://portal.example.co.uk/", []string{"https://other.co.uk"}, true},
		{"https://portal.example.com/", []string{"https://example.sharepoint.com"}, true},
		{"https://portal.example.com/", []string{"https://intranet.example.com", "https://example.atlassian.net"}, true},
		{"http://127.0.0.1:8080/", []string{"http://127.0.0.1:9000"}, false}, // ports do not make a site
		{"http://127.0.0.1:8080/", []string{"http://localhost:9000"}, true},
		{"https://portal.example.com/", nil, false},
	}
	for _, tt := range tests {
		u, _ := url.Parse(tt.public)
		if got := CrossSite(u, tt.origins); got != tt.want {
			t.Errorf("CrossSite(%s, %q) = %v, want %v", tt.public, tt.origins, got, tt.want)
		}
	}
}
