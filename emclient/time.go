package emclient

import (
	"bytes"
	"fmt"
	"strings"
	"time"
)

// Time is an xs:dateTime as EM writes it: UTC with "Z" and 0 to 7 fractional
// digits. Offsets other than Z are accepted too. The zero Time marshals as an
// empty element, which is how optional dates appear when EM has none.
type Time struct{ time.Time }

// emTimeLayouts cover what EM and its documentation show; time.Parse accepts any
// number of fractional digits after a comma or dot when the layout has none.
var emTimeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05Z07:00",
	"2006-01-02T15:04:05",
}

// ParseTime parses an EM date-time.
func ParseTime(s string) (Time, error) {
	if t, ok := parseRFC3339(strings.TrimSpace(s)); ok {
		return Time{t}, nil
	}
	return parseTimeLayouts(s)
}

// parseTime is ParseTime of an element's text, for the token walks: what EM
// writes takes no allocation.
func parseTime(b []byte) (time.Time, error) {
	if t, ok := parseRFC3339(string(bytes.TrimSpace(b))); ok {
		return t, nil
	}
	t, err := parseTimeLayouts(string(b))
	return t.Time, err
}

// parseRFC3339 reads the form EM writes, "2006-01-02T15:04:05", up to nine
// fractional digits, then "Z", "±hh:mm" or nothing (UTC), as time.Parse
// would with emTimeLayouts; ok is false for anything else, which is left to
// time.Parse (and its errors).
func parseRFC3339(s string) (t time.Time, ok bool) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	num := func(s string) (int, bool) {
		v := 0
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return 0, false
			}
			v = v*10 + int(s[i]-'0')
		}
		return v, true
	}
	year, ok1 := num(s[0:4])
	month, ok2 := num(s[5:7])
	day, ok3 := num(s[8:10])
	hour, ok4 := num(s[11:13])
	minute, ok5 := num(s[14:16])
	sec, ok6 := num(s[17:19])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || month < 1 || month > 12 || day < 1 ||
		day > daysIn(time.Month(month), year) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	rest, nsec := s[19:], 0
	if len(rest) > 0 && rest[0] == '.' {
		n := 1
		for n < len(rest) && '0' <= rest[n] && rest[n] <= '9' {
			n++
		}
		if n == 1 || n > 10 {
			return time.Time{}, false
		}
		nsec, _ = num(rest[1:n])
		for range 10 - n {
			nsec *= 10
		}
		rest = rest[n:]
	}
	offset := 0
	switch {
	case rest == "" || rest == "Z":
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, okh := num(rest[1:3])
		om, okm := num(rest[4:6])
		if !okh || !okm || oh > 23 || om > 59 {
			return time.Time{}, false
		}
		offset = oh*3600 + om*60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, false
	}
	t = time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	return t.Add(-time.Duration(offset) * time.Second), true
}

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// parseTimeLayouts is ParseTime by time.Parse, for what parseRFC3339 leaves.
func parseTimeLayouts(s string) (Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Time{}, nil
	}
	for _, layout := range emTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return Time{t.UTC()}, nil
		}
	}
	return Time{}, fmt.Errorf("emclient: bad date-time %q", s)
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (t *Time) UnmarshalText(b []byte) error {
	v, err := ParseTime(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// MarshalText writes UTC with as many fractional digits as needed (none for whole seconds).
func (t Time) MarshalText() ([]byte, error) {
	if t.IsZero() {
		return nil, nil
	}
	return []byte(t.UTC().Format("2006-01-02T15:04:05.9999999Z")), nil
}

// TimeOfDay is an xs:time from a schedule, e.g. "16:00:00.0000000+01:00". The raw
// text is kept so that a value EM sends is written back unchanged.
type TimeOfDay struct {
	Raw string
}

// Clock returns hour, minute and second, and the UTC offset in seconds when the
// value carries one. Accepted: "hh:mm:ss", an optional fraction of any length,
// then optionally "Z" or "±hh:mm"; the JSON form (a full date-time) is accepted
// too and its date part ignored.
func (t TimeOfDay) Clock() (hour, min, sec int, offset int, hasOffset bool, err error) {
	bad := func() (int, int, int, int, bool, error) {
		return 0, 0, 0, 0, false, fmt.Errorf("emclient: bad time of day %q", t.Raw)
	}
	s := strings.TrimSpace(t.Raw)
	if i := strings.IndexByte(s, 'T'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) < 8 || s[2] != ':' || s[5] != ':' {
		return bad()
	}
	var ok1, ok2, ok3 bool
	hour, ok1 = twoDigits(s[0:2])
	min, ok2 = twoDigits(s[3:5])
	sec, ok3 = twoDigits(s[6:8])
	if !ok1 || !ok2 || !ok3 || hour > 23 || min > 59 || sec > 60 {
		return bad()
	}
	rest := s[8:]
	if strings.HasPrefix(rest, ".") {
		n := 1
		for n < len(rest) && '0' <= rest[n] && rest[n] <= '9' {
			n++
		}
		if n == 1 {
			return bad()
		}
		rest = rest[n:]
	}
	switch {
	case rest == "":
		return hour, min, sec, 0, false, nil
	case rest == "Z":
		return hour, min, sec, 0, true, nil
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, okh := twoDigits(rest[1:3])
		om, okm := twoDigits(rest[4:6])
		if !okh || !okm || oh > 14 || om > 59 {
			return bad()
		}
		offset = oh*3600 + om*60
		if rest[0] == '-' {
			offset = -offset
		}
		return hour, min, sec, offset, true, nil
	}
	return bad()
}

func twoDigits(s string) (int, bool) {
	if len(s) != 2 || s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' {
		return 0, false
	}
	return int(s[0]-'0')*10 + int(s[1]-'0'), true
}

// UnmarshalText implements encoding.TextUnmarshaler; validation is left to Clock
// so that an odd value never makes a whole job undecodable.
func (t *TimeOfDay) UnmarshalText(b []byte) error {
	t.Raw = strings.TrimSpace(string(b))
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (t TimeOfDay) MarshalText() ([]byte, error) { return []byte(t.Raw), nil }
