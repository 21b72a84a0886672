package auth

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestBreakGlass(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("correct horse battery staple"), minBreakGlassCost)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "breakglass")
	content := "# emergency administrator\n\nbreakglass:" + string(hash) + "\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	bg, err := LoadBreakGlass(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bg.Enabled() || bg.Username() != "breakglass" {
		t.Fatalf("enabled=%t user=%q", bg.Enabled(), bg.Username())
	}
	cases := []struct {
		user, pass string
		want       bool
	}{
		{"breakglass", "correct horse battery staple", true},
		{"breakglass", "correct horse battery stapl", false},
		{"breakglass", "", false},
		{"Breakglass", "correct horse battery staple", false},
		{"breakglass ", "correct horse battery staple", false},
		{"breakglas", "correct horse battery staple", false},
		{"", "correct horse battery staple", false},
		{"admin", "correct horse battery staple", false},
	}
	for _, tc := range cases {
		if got := bg.Check(tc.user, tc.pass); got != tc.want {
			t.Errorf("Check(%q, %q) = %t", tc.user, tc.pass, got)
		}
	}
	if id := bg.Identity(); id.Issuer != BreakGlassIssuer || id.Subject != "breakglass" {
		t.Errorf("identity = %v", id)
	}
}

func TestBreakGlassOff(t *testing.T) {
	bg, err := LoadBreakGlass("")
	if err != nil {
		t.Fatal(err)
	}
	var nilBG *BreakGlass
	for _, b := range []*BreakGlass{bg, nilBG, {}} {
		if b.Enabled() || b.Check("", "") || b.Check("breakglass", "x") {
			t.Errorf("%#v is not off", b)
		}
	}
}

func TestBreakGlassRejectsBadFiles(t *testing.T) {
	weak, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	good, _ := bcrypt.GenerateFromPassword([]byte("pw"), minBreakGlassCost)
	for name, content := range map[string]string{
		"empty":          "",
		"only comments":  "# nothing\n",
		"no colon":       "breakglass " + string(good),
		"no user":        ":" + string(good),
		"plain password": "breakglass:hunter2",
		"weak cost":      "breakglass:" + string(weak),
		"two accounts":   "a:" + string(good) + "\nb:" + string(good),
	} {
		if _, err := ParseBreakGlass([]byte(content)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := LoadBreakGlass(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing file accepted")
	}
}
