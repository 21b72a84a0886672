package auth

import (
	"net/url"
	"strings"
	"testing"
)

// Values SafeReturnTo must refuse: other hosts in every spelling browsers,
// proxies and frameworks are known to accept, schemes, and control bytes.
var unsafeReturnTos = []string{
	"",
	" ",
	"jobs",
	"evil.com",
	"?q=1",
	"#frag",
	"//evil.com",
	"///evil.com",
	"////evil.com",
	"//evil.com/jobs",
	"//@evil.com",
	"//evil.com\\@portal",
	`/\evil.com`,
	`/\/evil.com`,
	`\\evil.com`,
	`\/evil.com`,
	`/\\evil.com`,
	`///\evil.com`,
	`/jobs\..\..\evil`,
	`/jobs?q=\`,
	"https://evil.com",
	"HTTP://evil.com",
	"hTTpS://evil.com/jobs",
	"http:evil.com",
	"https:/evil.com",
	"http:/\\evil.com",
	"ftp://evil.com",
	"javascript:alert(1)",
	"JavaScript:alert(1)",
	"javascript://%0aalert(1)",
	" javascript:alert(1)",
	"data:text/html,<script>alert(1)</script>",
	"vbscript:msgbox(1)",
	" /jobs",
	"  //evil.com",
	"\t/jobs",
	"\n//evil.com",
	"\r\n/jobs",
	"/\t/evil.com",
	"/\n/evil.com",
	"/\r/evil.com",
	"/ /evil.com",
	"/jobs ",
	"/jobs?q=a b",
	"/jobs\x00",
	"/jobs\x7f",
	"/\x00/evil.com",
	"/jobs/é",
	"/\u2215\u2215evil.com",
	"/\uff0f\uff0fevil.com",
	"/%2F%2Fevil.com",
	"/%2f%2fevil.com",
	"%2F%2Fevil.com",
	"/%2Fevil.com",
	"/%2F/evil.com",
	"/%5Cevil.com",
	"/%5cevil.com",
	"/%5C%5Cevil.com",
	"/jobs%5C..%5Cevil",
	"/%252F%252Fevil.com",
	"/%25252F%25252Fevil.com",
	"/%2525252F%2525252Fevil.com",
	"/%255Cevil.com",
	"/%252f%255cevil.com",
	"/%25%32%46%25%32%46evil.com",
	"/%09/evil.com",
	"/%0a/evil.com",
	"/%0d%0aSet-Cookie:%20x=y",
	"/jobs%0d%0aLocation:%20https://evil.com",
	"/%00",
	"/jobs?q=%00",
	"/%7f",
	"/%E2%88%95%E2%88%95evil.com",
	"/%EF%BC%8F%EF%BC%8Fevil.com",
	"/%C0%AF%C0%AFevil.com",
	"/..//evil.com",
	"/../evil",
	"/./evil",
	"/jobs/../..//evil.com",
	"/jobs/..",
	"/%2e%2e//evil.com",
	"/%2E%2E/%2F/evil.com",
	"/jobs/%2e",
	"/jobs%",
	"/%zz",
	"/" + strings.Repeat("a", maxReturnTo),
}

// Same-origin paths that must survive unchanged.
var safeReturnTos = []string{
	"/",
	"/jobs",
	"/jobs/",
	"/jobs?q=a&b=c",
	"/jobs/123#frag",
	"/jobs/3f2a8a54-2d4b-4e57-9d6c-5b8e1c0f8a11?tab=history#last",
	"/jobs?q=Erin%27s%20laptop",
	"/jobs?q=%2F%2Fx",
	"/jobs?next=https://evil.com",
	"/jobs?q=100%25",
	"/search?q=M%C3%BCller",
	"/jobs?q=%5C",
	"/https://evil.com",
	"/@evil.com",
	"/a/b/c/d",
	"/jobs/..foo/...",
	"/jobs;x=1",
	"/jobs?",
	"/#",
}

func TestSafeReturnTo(t *testing.T) {
	for _, raw := range unsafeReturnTos {
		if got, ok := SafeReturnTo(raw); ok || got != "/" {
			t.Errorf("SafeReturnTo(%q) = %q, %t; want \"/\", false", raw, got, ok)
		}
	}
	for _, raw := range safeReturnTos {
		if got, ok := SafeReturnTo(raw); !ok || got != raw {
			t.Errorf("SafeReturnTo(%q) = %q, %t; want it unchanged", raw, got, ok)
		}
	}
}

func FuzzSafeReturnTo(f *testing.F) {
	for _, s := range unsafeReturnTos {
		f.Add(s)
	}
	for _, s := range safeReturnTos {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, ok := SafeReturnTo(raw)
		if !ok {
			if got != "/" {
				t.Fatalf("rejected %q but returned %q", raw, got)
			}
			return
		}
		if got != raw {
			t.Fatalf("accepted %q as %q", raw, got)
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("accepted %q, which does not parse: %v", got, err)
		}
		if u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
			t.Fatalf("accepted %q with scheme %q host %q", got, u.Scheme, u.Host)
		}
		if !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") || strings.HasPrefix(u.Path, `/\`) {
			t.Fatalf("accepted %q with path %q", got, u.Path)
		}
		// Whatever a decoder makes of it, it stays a path on this origin.
		for d := got; ; {
			if strings.HasPrefix(d, "//") || strings.HasPrefix(d, `/\`) || strings.ContainsAny(d, "\t\r\n\x00") {
				t.Fatalf("accepted %q, which decodes to %q", got, d)
			}
			next, err := url.PathUnescape(d)
			if err != nil || next == d {
				break
			}
			d = next
		}
	})
}
