// Package negotiate reads what a client accepts from its request headers.
package negotiate

import (
	"strconv"
	"strings"
)

// AcceptsGzip reports whether an Accept-Encoding header value allows gzip:
// gzip (or its old alias x-gzip) listed with a quality above zero, or, when
// gzip is not listed at all, a "*" with a quality above zero (RFC 9110,
// section 12.5.3).
func AcceptsGzip(header string) bool {
	wildcard := false
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		coding = strings.TrimSpace(coding)
		switch {
		case strings.EqualFold(coding, "gzip"), strings.EqualFold(coding, "x-gzip"):
			return quality(params) > 0
		case coding == "*":
			wildcard = quality(params) > 0
		}
	}
	return wildcard
}

// quality is the q parameter of one list element, 1 when absent and 0 when
// malformed (a value the client did not mean cannot enable anything).
func quality(params string) float64 {
	for p := range strings.SplitSeq(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || q < 0 || q > 1 {
			return 0
		}
		return q
	}
	return 1
}
