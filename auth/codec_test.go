package auth

import (
	"bytes"
	"encoding/gob"
	"maps"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
)

// codecCases are sessions as the portal and scs write them, and values of
// every type the codec takes at their edges.
func codecCases() []struct {
	name     string
	deadline time.Time
	values   map[string]any
} {
	deadline := time.Date(2026, 12, 5, 18, 30, 0, 123456789, time.UTC)
	return []struct {
		name     string
		deadline time.Time
		values   map[string]any
	}{
		{"empty (a record marker)", deadline, map[string]any{}},
		{"signed in", deadline, map[string]any{
			keyUser:   []byte(`{"iss":"https://idp.example","sub":"erin","t":"2026-12-05T10:30:00Z"}`),
			keySID:    "Zq2v8c1oWw4l3e8Q3GQ0b8i3z7mGugGZ8Q4WZ0lq2xQ",
			keyActive: int64(1796560200123456789),
			"csrf":    strings.Repeat("x", 43),
		}},
		{"a record", deadline, map[string]any{recordValue: []byte(`[{"s":"abc","e":"2026-12-05T18:30:00Z"}]`)}},
		{"every type", deadline.In(time.FixedZone("CET", 3600)), map[string]any{
			"s": "", "s2": "ünïcode\x00", "b": []byte{}, "b2": []byte{0, 1, 0xff},
			"i64": int64(math.MinInt64), "i64max": int64(math.MaxInt64), "i": -1, "imax": math.MaxInt,
			"i32": int32(math.MinInt32), "t": true, "f": false, "fl": -1.5, "inf": math.Inf(1),
			"time": time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), "now": time.Unix(1796560200, 1).UTC(),
			"__rememberMe": true, "": "empty key",
		}},
		{"zero deadline", time.Time{}, map[string]any{"k": "v"}},
	}
}

func TestCodecRoundTrip(t *testing.T) {
	for _, tc := range codecCases() {
		t.Run(tc.name, func(t *testing.T) {
			b, err := codec{}.Encode(tc.deadline, tc.values)
			if err != nil {
				t.Fatal(err)
			}
			deadline, values, err := codec{}.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if !deadline.Equal(tc.deadline) {
				t.Errorf("deadline %v, want %v", deadline, tc.deadline)
			}
			if !reflect.DeepEqual(values, tc.values) {
				t.Errorf("values\n%#v\nwant\n%#v", values, tc.values)
			}
			// What scs's getters see is what was put.
			for k, v := range tc.values {
				if reflect.TypeOf(values[k]) != reflect.TypeOf(v) {
					t.Errorf("%q: %T, want %T", k, values[k], v)
				}
			}
		})
	}
}

// TestCodecReadsGob: sessions and records written with scs's GobCodec (every
// store before this codec) decode to the same values.
func TestCodecReadsGob(t *testing.T) {
	for _, tc := range codecCases() {
		t.Run(tc.name, func(t *testing.T) {
			values := maps.Clone(tc.values)
			maps.DeleteFunc(values, func(_ string, v any) bool {
				_, isTime := v.(time.Time) // gob needs it registered; never stored
				return isTime
			})
			b, err := scs.GobCodec{}.Encode(tc.deadline, values)
			if err != nil {
				t.Fatal(err)
			}
			if b[0] == codecMagic {
				t.Fatalf("a gob stream starts with the codec's magic byte %#x", b[0])
			}
			wantDeadline, want, err := scs.GobCodec{}.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			deadline, values, err := codec{}.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if !deadline.Equal(wantDeadline) || !reflect.DeepEqual(values, want) {
				t.Errorf("decoded %v %#v, want %v %#v", deadline, values, wantDeadline, want)
			}
		})
	}
}

// TestCodecMagicNeverStartsGob: a gob stream's first byte is the length of
// its first message, a byte below 0x80 or the negated byte count of a longer
// length (0xf8–0xff): the magic byte is neither, whatever the stream's size.
func TestCodecMagicNeverStartsGob(t *testing.T) {
	if codecMagic < 0x80 || codecMagic >= 0xf8 {
		t.Fatalf("codecMagic %#x can start a gob stream", codecMagic)
	}
	for _, n := range []int{0, 1, 100, 1 << 10, 1 << 16, 1 << 20} {
		var buf bytes.Buffer
		if err := gob.NewEncoder(&buf).Encode(map[string]any{"k": strings.Repeat("x", n)}); err != nil {
			t.Fatal(err)
		}
		if c := buf.Bytes()[0]; c >= 0x80 && c < 0xf8 {
			t.Errorf("gob stream of a %d-byte value starts with %#x", n, c)
		}
	}
}

// TestCodecRejectsDamage: every truncation of an encoding, and a few
// damaged ones, are errors, never a panic or a partial session.
func TestCodecRejectsDamage(t *testing.T) {
	cases := codecCases()
	b, err := codec{}.Encode(cases[3].deadline, cases[3].values)
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(b) {
		if _, values, err := (codec{}).Decode(b[:n]); err == nil {
			t.Errorf("truncated to %d of %d bytes: decoded %v", n, len(b), values)
		}
	}
	damaged := map[string][]byte{
		"trailing byte":     append(append([]byte(nil), b...), 0),
		"unknown version":   append([]byte{codecMagic, 99}, b[2:]...),
		"huge value count":  {codecMagic, codecVersion, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"huge string":       {codecMagic, codecVersion, 0, 1, 1, 'k', tagString, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"unknown type tag":  {codecMagic, codecVersion, 0, 1, 1, 'k', 99},
		"bad time encoding": {codecMagic, codecVersion, 3, 9, 9, 9, 0},
	}
	for name, d := range damaged {
		if _, values, err := (codec{}).Decode(d); err == nil {
			t.Errorf("%s: decoded %v", name, values)
		}
	}
}

func TestCodecRefusesOtherTypes(t *testing.T) {
	type flash struct{ Msg string }
	for _, v := range []any{flash{"x"}, uint(1), []string{"a"}, map[string]string{}, nil} {
		if _, err := (codec{}).Encode(time.Now(), map[string]any{"k": v}); err == nil {
			t.Errorf("%T encoded", v)
		}
	}
}

// TestCodecBytesNotShared: a []byte value is a copy, so a caller changing it
// cannot change the encoding it came from (which the store cache shares
// between requests).
func TestCodecBytesNotShared(t *testing.T) {
	b, err := codec{}.Encode(time.Now(), map[string]any{"k": []byte("value")})
	if err != nil {
		t.Fatal(err)
	}
	orig := append([]byte(nil), b...)
	_, values, err := codec{}.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	copy(values["k"].([]byte), "XXXXX")
	if !bytes.Equal(b, orig) {
		t.Fatal("changing a decoded value changed the encoding")
	}
}

// TestCodecDecodeMemo: decodings are remembered by their bytes, yet every
// Decode gets values of its own (scs changes the map in place) and other
// bytes decode to their own values.
func TestCodecDecodeMemo(t *testing.T) {
	deadline := time.Date(2026, 12, 5, 18, 30, 0, 0, time.UTC)
	enc := func(sid string, active int64) []byte {
		b, err := codec{}.Encode(deadline, map[string]any{keySID: sid, keyActive: active, keyUser: []byte(`{"sub":"erin"}`)})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := enc("first", 1)
	_, v1, err := codec{}.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	// What one request does to its map and bytes stays with it.
	v1[keySID] = "changed"
	delete(v1, keyActive)
	v1["added"] = true
	copy(v1[keyUser].([]byte), "XXXX")
	_, v2, err := codec{}.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{keySID: "first", keyActive: int64(1), keyUser: []byte(`{"sub":"erin"}`)}
	if !reflect.DeepEqual(v2, want) {
		t.Fatalf("second decode of the same bytes: %#v, want %#v", v2, want)
	}
	// Other bytes, other values: the session's activity moved.
	_, v3, err := codec{}.Decode(enc("first", 2))
	if err != nil {
		t.Fatal(err)
	}
	if v3[keyActive] != int64(2) {
		t.Fatalf("decode of changed data: active %v, want 2", v3[keyActive])
	}
	// Damaged data is refused every time, not remembered as anything.
	bad := append(enc("first", 3), 0)
	for range 2 {
		if _, _, err := (codec{}).Decode(bad); err == nil {
			t.Fatal("trailing byte accepted")
		}
	}
}

// TestCodecDecodeMemoBounded: the memo holds at most maxDecoded encodings.
func TestCodecDecodeMemoBounded(t *testing.T) {
	for i := range maxDecoded + 10 {
		b, err := codec{}.Encode(time.Time{}, map[string]any{"i": i})
		if err != nil {
			t.Fatal(err)
		}
		if _, v, err := (codec{}).Decode(b); err != nil || v["i"] != i {
			t.Fatalf("decode %d: %v %v", i, v, err)
		}
	}
	decoded.mu.Lock()
	n := len(decoded.m)
	decoded.mu.Unlock()
	if n > maxDecoded {
		t.Fatalf("memo holds %d encodings, bound %d", n, maxDecoded)
	}
}

// TestCodecDuplicateKeyLastWins: a (hand-made) encoding naming a key twice
// decodes like a map assignment in order, the memo included.
func TestCodecDuplicateKeyLastWins(t *testing.T) {
	b := []byte{codecMagic, codecVersion}
	b, _ = appendTime(b, time.Time{})
	b = append(b, 2)
	b = appendString(b, "k")
	b = appendString(append(b, tagString), "one")
	b = appendString(b, "k")
	b = appendString(append(b, tagString), "two")
	for range 2 {
		_, v, err := codec{}.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if len(v) != 1 || v["k"] != "two" {
			t.Fatalf("values %v, want k=two only", v)
		}
	}
}
