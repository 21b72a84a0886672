package emclient

import (
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
// value carries one.
func (t TimeOfDay) Clock() (hour, min, sec int, offset int, hasOffset bool, err error) {
	s := strings.TrimSpace(t.Raw)
	if i := strings.IndexByte(s, 'T'); i >= 0 { // the JSON form is a full date-time
		s = s[i+1:]
	}
	if len(s) < 8 || s[2] != ':' || s[5] != ':' {
		return 0, 0, 0, 0, false, fmt.Errorf("emclient: bad time of day %q", t.Raw)
	}
	if _, err = fmt.Sscanf(s[:8], "%02d:%02d:%02d", &hour, &min, &sec); err != nil {
		return 0, 0, 0, 0, false, fmt.Errorf("emclient: bad time of day %q", t.Raw)
	}
	if hour > 23 || min > 59 || sec > 60 {
		return 0, 0, 0, 0, false, fmt.Errorf("emclient: bad time of day %q", t.Raw)
	}
	rest := s[8:]
	if i := strings.IndexAny(rest, "+-Z"); i >= 0 {
		rest = rest[i:]
		if rest == "Z" {
			return hour, min, sec, 0, true, nil
		}
		var oh, om int
		if len(rest) != 6 || rest[3] != ':' {
			return 0, 0, 0, 0, false, fmt.Errorf("emclient: bad time offset %q", t.Raw)
		}
		if _, err = fmt.Sscanf(rest[1:], "%02d:%02d", &oh, &om); err != nil {
			return 0, 0, 0, 0, false, fmt.Errorf("emclient: bad time offset %q", t.Raw)
		}
		offset = oh*3600 + om*60
		if rest[0] == '-' {
			offset = -offset
		}
		return hour, min, sec, offset, true, nil
	}
	return hour, min, sec, 0, false, nil
}

// UnmarshalText implements encoding.TextUnmarshaler; validation is left to Clock
// so that an odd value never makes a whole job undecodable.
func (t *TimeOfDay) UnmarshalText(b []byte) error {
	t.Raw = strings.TrimSpace(string(b))
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (t TimeOfDay) MarshalText() ([]byte, error) { return []byte(t.Raw), nil }
