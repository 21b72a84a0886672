// Package emexamples finds the documented Enterprise Manager examples
// (shared/em-api/examples, beside the checkout) for the tests of every
// package that checks itself against them.
package emexamples

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// Find walks up from the working directory (a test's package directory) to
// the folder holding shared/em-api/examples; "" when there is none.
func Find() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		p := filepath.Join(dir, "shared", "em-api", "examples")
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// Lookup is Find for a test that reads the examples where they are. CI has
// ../shared beside the checkout, so there (CI=true) a missing copy fails the
// test: a broken setup, not a reason to pass without checking anything.
// Elsewhere it returns "".
func Lookup(tb testing.TB) string {
	tb.Helper()
	dir := Find()
	if dir == "" && os.Getenv("CI") == "true" {
		tb.Fatal("shared/em-api/examples not found above the package directory (CI=true)")
	}
	return dir
}

// Dir is Lookup for a test that needs the examples: without them (outside
// CI) it is skipped.
func Dir(tb testing.TB) string {
	tb.Helper()
	dir := Lookup(tb)
	if dir == "" {
		tb.Skip("shared/em-api/examples not found above the package directory")
	}
	return dir
}

// AmpFix escapes the bare '&' the documentation's renderer left in Href
// values, as examples/README.md prescribes:
// s/&(?!amp;|lt;|gt;|quot;|apos;|#)/&amp;/g. Harmless on well-formed files.
func AmpFix(b []byte) []byte {
	var out bytes.Buffer
	for i := 0; i < len(b); i++ {
		if b[i] == '&' {
			rest := b[i+1:]
			ok := false
			for _, p := range []string{"amp;", "lt;", "gt;", "quot;", "apos;", "#"} {
				if bytes.HasPrefix(rest, []byte(p)) {
					ok = true
					break
				}
			}
			if !ok {
				out.WriteString("&amp;")
				continue
			}
		}
		out.WriteByte(b[i])
	}
	return out.Bytes()
}
