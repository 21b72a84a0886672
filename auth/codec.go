package auth

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"
)

// codec is the scs codec of the portal's sessions and store records: a
// small binary form of the value types scs has getters for. scs's GobCodec
// builds a gob decoder, type descriptions and all, for every session it
// loads, which cost more than the store read itself; this one decodes a
// session in a few hundred nanoseconds.
//
// It still reads what GobCodec wrote (sessions and records in a live store
// survive the upgrade): a gob stream starts with a message length, a byte
// below 0x80 or a negated byte count 0xf8–0xff, never with codecMagic.
//
// Layout: codecMagic, codecVersion, the deadline (length-prefixed
// time.Time binary form), the number of values, then per value its key
// (length-prefixed), a type tag and the value. Lengths and integers are
// varints, floats their IEEE 754 bits.
type codec struct{}

const (
	codecMagic   = 0xb5
	codecVersion = 1
)

// Type tags of the values.
const (
	tagString = iota + 1
	tagBytes
	tagInt64
	tagInt
	tagInt32
	tagBool
	tagFloat64
	tagTime
)

var errCodecShort = errors.New("auth: session data truncated")

// Encode implements scs.Codec. Values of other types than string, []byte,
// int64, int, int32, bool, float64 and time.Time are an error.
func (codec) Encode(deadline time.Time, values map[string]any) ([]byte, error) {
	b := make([]byte, 0, 64+32*len(values))
	b = append(b, codecMagic, codecVersion)
	var err error
	if b, err = appendTime(b, deadline); err != nil {
		return nil, err
	}
	b = binary.AppendUvarint(b, uint64(len(values)))
	for k, v := range values {
		b = appendString(b, k)
		switch v := v.(type) {
		case string:
			b = appendString(append(b, tagString), v)
		case []byte:
			b = binary.AppendUvarint(append(b, tagBytes), uint64(len(v)))
			b = append(b, v...)
		case int64:
			b = binary.AppendVarint(append(b, tagInt64), v)
		case int:
			b = binary.AppendVarint(append(b, tagInt), int64(v))
		case int32:
			b = binary.AppendVarint(append(b, tagInt32), int64(v))
		case bool:
			x := byte(0)
			if v {
				x = 1
			}
			b = append(b, tagBool, x)
		case float64:
			b = binary.LittleEndian.AppendUint64(append(b, tagFloat64), math.Float64bits(v))
		case time.Time:
			if b, err = appendTime(append(b, tagTime), v); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("auth: session value %q: type %T not supported", k, v)
		}
	}
	return b, nil
}

// Decode implements scs.Codec. Every request of a session decodes the same
// bytes (the store cache hands out one read for up to MaxSessionStaleness,
// and the data changes at most once a minute for the idle timeout), so the
// values are decoded once per distinct encoding (decoded) and each call
// gets a map of its own built from them: scs changes the map in place.
func (codec) Decode(b []byte) (time.Time, map[string]any, error) {
	if len(b) == 0 || b[0] != codecMagic {
		return scs.GobCodec{}.Decode(b)
	}
	ds, err := decoded.get(b)
	if err != nil {
		return time.Time{}, nil, err
	}
	values := make(map[string]any, len(ds.keys))
	for i, k := range ds.keys {
		v := ds.vals[i]
		if p, ok := v.([]byte); ok {
			v = bytes.Clone(p) // a caller may change it: never share it
		}
		values[k] = v
	}
	return ds.deadline, values, nil
}

// decodedSession is one encoding's values, in the order of the encoding.
// Strings, numbers and times are immutable and shared by every map made
// from it; []byte values are copied for each.
type decodedSession struct {
	deadline time.Time
	keys     []string
	vals     []any
}

// decodeMemo remembers decodedSessions by their encoding. Equal bytes
// decode to equal values, so it is never stale. When full it starts over.
type decodeMemo struct {
	mu sync.Mutex
	m  map[string]*decodedSession
}

// maxDecoded bounds decodeMemo: a few MB with ID tokens in the sessions.
const maxDecoded = 1024

var decoded decodeMemo

func (dm *decodeMemo) get(b []byte) (*decodedSession, error) {
	dm.mu.Lock()
	ds, ok := dm.m[string(b)]
	dm.mu.Unlock()
	if ok {
		return ds, nil
	}
	ds, err := decode(b)
	if err != nil {
		return nil, err
	}
	dm.mu.Lock()
	if dm.m == nil || len(dm.m) >= maxDecoded {
		dm.m = make(map[string]*decodedSession)
	}
	dm.m[string(b)] = ds
	dm.mu.Unlock()
	return ds, nil
}

// decode reads an encoding of the codec's own layout.
func decode(b []byte) (*decodedSession, error) {
	d := decoder{b: b[1:]}
	if v := d.byte(); v != codecVersion && d.err == nil {
		return nil, fmt.Errorf("auth: session data version %d", v)
	}
	deadline := d.time()
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) { // every value takes more than a byte
		d.err = errCodecShort
	}
	if d.err != nil {
		return nil, d.err
	}
	ds := &decodedSession{deadline: deadline, keys: make([]string, 0, n), vals: make([]any, 0, n)}
	seen := make(map[string]bool, n)
	for range n {
		k := string(d.bytes())
		var v any
		switch tag := d.byte(); tag {
		case tagString:
			v = string(d.bytes())
		case tagBytes:
			v = bytes.Clone(d.bytes()) // never alias the store's buffer
		case tagInt64:
			v = d.varint()
		case tagInt:
			v = int(d.varint())
		case tagInt32:
			v = int32(d.varint())
		case tagBool:
			v = d.byte() != 0
		case tagFloat64:
			v = math.Float64frombits(binary.LittleEndian.Uint64(d.next(8)))
		case tagTime:
			v = d.time()
		default:
			if d.err == nil {
				d.err = fmt.Errorf("auth: session value %q: unknown type tag %d", k, tag)
			}
		}
		if d.err != nil {
			return nil, d.err
		}
		if seen[k] {
			// Encode never writes a key twice; a map would keep the last.
			i := slices.Index(ds.keys, k)
			ds.vals[i] = v
			continue
		}
		seen[k] = true
		ds.keys = append(ds.keys, k)
		ds.vals = append(ds.vals, v)
	}
	if len(d.b) != 0 {
		return nil, errors.New("auth: trailing bytes after session data")
	}
	return ds, nil
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendTime(b []byte, t time.Time) ([]byte, error) {
	tb, err := t.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("auth: encode session time: %w", err)
	}
	return append(append(b, byte(len(tb))), tb...), nil
}

// decoder reads the codec's layout; after the first error every read
// returns zero values and err keeps that error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) next(n int) []byte {
	if d.err != nil || n < 0 || n > len(d.b) {
		if d.err == nil {
			d.err = errCodecShort
		}
		return make([]byte, max(n, 8)) // zeros, long enough for any fixed-size read
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) byte() byte { return d.next(1)[0] }

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCodecShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCodecShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		if d.err == nil {
			d.err = errCodecShort
		}
		return nil
	}
	return d.next(int(n))
}

func (d *decoder) time() time.Time {
	n := int(d.byte())
	p := d.next(n)
	if d.err != nil {
		return time.Time{}
	}
	var t time.Time
	if err := t.UnmarshalBinary(p); err != nil {
		d.err = fmt.Errorf("auth: decode session time: %w", err)
	}
	return t
}
