package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// embed reads the parent origins allowed to frame the /embed/ cards.
func (r *reader) embed(c *Config) {
	v := r.str("AGENTDESK_EMBED_ORIGINS", "")
	origins, err := ParseEmbedOrigins(v)
	if err != nil {
		r.fail("AGENTDESK_EMBED_ORIGINS", err.Error())
		return
	}
	c.Embed.Origins = origins
	c.Embed.CrossSite = CrossSite(c.Site.PublicURL, origins)
	if c.Embed.CrossSite && !c.Site.Secure() {
		// SameSite=None cookies must be Secure; browsers drop them over HTTP.
		r.fail("AGENTDESK_EMBED_ORIGINS", "an origin on another site than AGENTDESK_PUBLIC_URL needs the portal on https (its session cookie must be SameSite=None; Secure)")
	}
}

// ParseEmbedOrigins parses a comma- or space-separated list of origins such as
// "https://intranet.example.com, https://wiki.example.com:8443". Each must be a
// scheme (http or https) and a host with an optional port: no path, query,
// user or fragment. One wildcard form is accepted, "https://*.example.com",
// meaning every subdomain (not example.com itself); the part after "*." must
// not be a public suffix, so "https://*.com" is refused. The result is
// lower-case, without duplicates, in the given order.
func ParseEmbedOrigins(v string) ([]string, error) {
	var out []string
	for _, f := range strings.FieldsFunc(v, func(c rune) bool { return c == ',' || c == ' ' || c == '\t' || c == '\n' }) {
		o, err := parseOrigin(f)
		if err != nil {
			return nil, err
		}
		dup := false
		for _, x := range out {
			dup = dup || x == o
		}
		if !dup {
			out = append(out, o)
		}
	}
	return out, nil
}

func parseOrigin(s string) (string, error) {
	bad := func(why string) error {
		return fmt.Errorf("%q is not an origin: %s (want scheme://host[:port], e.g. https://intranet.example.com)", s, why)
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return "", bad("no scheme")
	}
	scheme = strings.ToLower(scheme)
	if scheme != "https" && scheme != "http" {
		return "", bad("the scheme must be http or https")
	}
	if rest == "" {
		return "", bad("no host")
	}
	if strings.ContainsAny(rest, "/?#@\\ ;'\"") {
		return "", bad("only scheme, host and port are allowed (no path, query, user or quotes)")
	}
	wild := strings.HasPrefix(rest, "*.")
	if wild {
		rest = strings.TrimPrefix(rest, "*.")
	}
	if strings.Contains(rest, "*") {
		return "", bad(`the only wildcard allowed is a leading "*." as in https://*.example.com`)
	}
	u, err := url.Parse(scheme + "://" + rest)
	if err != nil || u.Host != rest || u.Hostname() == "" {
		return "", bad("the host is not valid")
	}
	if p := u.Port(); p != "" {
		var n int
		if _, err := fmt.Sscanf(p, "%d", &n); err != nil || n < 1 || n > 65535 || fmt.Sprint(n) != p {
			return "", bad("the port is not valid")
		}
	}
	host := strings.ToLower(u.Hostname())
	if wild {
		if net.ParseIP(host) != nil {
			return "", bad("a wildcard needs a domain name")
		}
		if suffix, _ := publicsuffix.PublicSuffix(host); suffix == host {
			return "", bad("a wildcard must stay below a registrable domain, not " + host)
		}
		host = "*." + host
	}
	out := scheme + "://" + host
	if strings.Contains(host, ":") && !wild { // IPv6 literal
		out = scheme + "://[" + host + "]"
	}
	if p := u.Port(); p != "" {
		out += ":" + p
	}
	return out, nil
}

// CrossSite reports whether any origin is on another site than the portal's
// public URL. A site is the scheme and the registrable domain (eTLD+1, from the
// public suffix list); ports do not matter. Then the framed card is a
// third-party context and its session cookie must be SameSite=None; Secure;
// Partitioned. A nil public URL (unknown) is treated as same-site.
func CrossSite(public *url.URL, origins []string) bool {
	if public == nil {
		return false
	}
	ps, pd := site(public.Scheme, public.Hostname())
	for _, o := range origins {
		u, err := url.Parse(strings.Replace(o, "://*.", "://", 1))
		if err != nil {
			return true
		}
		s, d := site(u.Scheme, u.Hostname())
		if s != ps || d != pd {
			return true
		}
	}
	return false
}

// site is a host's scheme and registrable domain; an IP address or a name
// without one (localhost, a single-label intranet host) is its own site.
func site(scheme, host string) (string, string) {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if net.ParseIP(host) != nil {
		return scheme, host
	}
	d, err := publicsuffix.EffectiveTLDPlusOne(host)
	if err != nil {
		return scheme, host
	}
	return scheme, d
}
