package loadtest

import (
	"bytes"
	"strings"
	"testing"
)

func TestAssignFollowsTheMix(t *testing.T) {
	tests := []struct {
		users int
		mix   string
		want  map[string]int
	}{
		{32, "browse=70,poll=25,act=5", map[string]int{"browse": 22, "poll": 8, "act": 2}},
		{3, "browse=98,poll=1,act=1", map[string]int{"browse": 1, "poll": 1, "act": 1}},
		{10, "job=100", map[string]int{"job": 10}},
	}
	for _, tt := range tests {
		mix, err := parseMix(tt.mix)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		roles := assign(tt.users, mix)
		for _, r := range roles {
			got[r]++
		}
		if len(roles) != tt.users {
			t.Errorf("%d users %s: %d roles", tt.users, tt.mix, len(roles))
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("%d users %s: %s = %d, want %d (%v)", tt.users, tt.mix, k, got[k], v, got)
			}
		}
	}
}

func TestFlagsAreBounded(t *testing.T) {
	for _, args := range [][]string{
		{"-users", "0"}, {"-users", "5000"}, {"-duration", "11m"}, {"-mix", "dance=3"},
		{"-portal", "http://example.com:8080"}, {"-portal", "http://10.0.0.1:8080"},
	} {
		if err := Main(args, &bytes.Buffer{}); err == nil {
			t.Errorf("Main(%v) accepted", args)
		}
	}
}

// TestShortRun runs every phase of a tiny load test in process and checks that
// the report has each part, with no request failing.
func TestShortRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole stack")
	}
	var out bytes.Buffer
	err := Main([]string{"-users", "3", "-duration", "1s", "-mix", "browse=1,poll=1,act=1",
		"-poll-interval", "200ms", "-act-interval", "200ms", "-backup-duration", "300ms"}, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	report := out.String()
	for _, want := range []string{"phase raw:", "phase cold:", "phase mix:", "raw-job", "job-cold", "portal overhead", "EM logons", "VmRSS", "act "} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if strings.Contains(report, "first error") {
		t.Errorf("a request failed:\n%s", report)
	}
}
