package auth

import (
	"net/url"
	"strings"
)

// maxReturnTo bounds the stored return path; a sign-in needs no more.
const maxReturnTo = 2048

// SafeReturnTo returns raw when it is a path on this origin that is safe to
// redirect to after sign-in, otherwise "/" and false.
//
// It is deliberately strict: printable ASCII only (browsers percent-encode
// everything else), no backslash anywhere, and no form of the value — raw,
// or after any number of percent-decodings — may start with "//" or "/\",
// contain control characters, a backslash in the path, or "." / ".."
// segments. Anything a browser or proxy could read as another host is out.
func SafeReturnTo(raw string) (string, bool) {
	if !safeReturnTo(raw) {
		return "/", false
	}
	return raw, true
}

func safeReturnTo(raw string) bool {
	if raw == "" || len(raw) > maxReturnTo || raw[0] != '/' {
		return false
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return false
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		!strings.HasPrefix(u.Path, "/") || !pathOK(u.Path) {
		return false
	}
	// Double and triple encodings are undone by some proxies and frameworks;
	// check every layer until decoding changes nothing.
	s := raw
	for range 6 {
		if !layerOK(s) {
			return false
		}
		d := percentDecode(s)
		if d == s {
			return true
		}
		s = d
	}
	return false // still decoding after six layers: nobody legitimate does that
}

// layerOK checks one (possibly decoded) form of the value.
func layerOK(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c == 0x7f {
			return false
		}
	}
	path := s
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	return strings.HasPrefix(path, "/") && pathOK(path)
}

// pathOK rejects "//" and "/\" starts, backslashes, dot segments and
// non-ASCII (which Unicode normalization could turn into slashes; portal
// paths are ASCII, queries may be anything).
func pathOK(path string) bool {
	if strings.HasPrefix(path, "//") || strings.HasPrefix(path, "/\\") {
		return false
	}
	for i := 0; i < len(path); i++ {
		if path[i] == '\\' || path[i] >= 0x80 {
			return false
		}
	}
	for seg := range strings.SplitSeq(path, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// percentDecode decodes valid %XX escapes and leaves anything else alone,
// like the most lenient decoders do, so that "%%2F" still reveals a "/".
func percentDecode(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
