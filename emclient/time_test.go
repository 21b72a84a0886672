package emclient

import "testing"

// fastAgrees fails when parseRFC3339 reads s and time.Parse (with the
// layouts ParseTime had before the fast path) does not read the same instant.
func fastAgrees(t *testing.T, s string) bool {
	t.Helper()
	fast, ok := parseRFC3339(s)
	if !ok {
		return false
	}
	slow, err := parseTimeLayouts(s)
	if err != nil {
		t.Fatalf("%q: fast path %v, time.Parse fails: %v", s, fast, err)
	}
	if fast != slow.Time {
		t.Fatalf("%q: fast path %v, time.Parse %v", s, fast, slow.Time)
	}
	return true
}

func TestParseRFC3339AgreesWithTimeParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		fast bool // the fast path reads it (otherwise time.Parse does, or fails)
	}{
		{"2026-12-05T17:15:12.949642Z", true},
		{"2020-02-12T15:00:00Z", true},
		{"2014-10-19T05:22:52", true},
		{"2014-10-19T05:22:52.1234567Z", true},
		{"2014-10-19T05:22:52.123456789Z", true},
		{"2014-10-19T05:22:52.1234567+02:00", true},
		{"2014-10-19T05:22:52-07:30", true},
		{"2024-02-29T00:00:00Z", true},
		{"2023-02-29T00:00:00Z", false},
		{"2014-10-19T24:00:00Z", false},
		{"2014-10-19T05:22:60Z", false},
		{"2014-13-19T05:22:52Z", false},
		{"2014-10-19T05:22:52.Z", false},
		{"2014-10-19T05:22:52.1234567890Z", false},
		{"2014-10-19 05:22:52Z", false},
		{"2014-10-19T05:22:52+0200", false},
		{"2014-10-19T05:22:52z", false},
		{"soon", false},
	} {
		if got := fastAgrees(t, tc.in); got != tc.fast {
			t.Errorf("%q: fast path read it %v, want %v", tc.in, got, tc.fast)
		}
	}
}

// FuzzParseTime: whatever the fast path reads, time.Parse reads alike.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2026-12-05T17:15:12.949642Z", "2014-10-19T05:22:52-07:30", "2014-10-19T05:22:52", "0000-01-01T00:00:00+23:59"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fastAgrees(t, s)
		if got, err := ParseTime(s); err == nil {
			if want, werr := parseTimeLayouts(s); werr != nil || got != want {
				t.Fatalf("%q: ParseTime %v, time.Parse %v %v", s, got, want, werr)
			}
		}
	})
}
