package digest

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"unicode/utf8"
)

// Limits on input that cannot come from decoding an apiserver response but can be
// built in memory: a cyclic map would recurse forever, and a map shared many times
// over (a DAG) would be copied exponentially. Real objects are a few dozen levels
// deep and hold fewer values than bytes (etcd caps an object at 1.5 MiB, and every
// JSON value takes at least two bytes with its separator), so these bounds only
// ever stop pathological input. maxValues is a variable for tests only.
const maxNesting = 10000

var maxValues = 1 << 20

var errTooDeep = errors.New("digest: value nested deeper than 10000 levels (cyclic?)")

// normalizer deep-copies a JSON-shaped value into the only types the encoder knows
// (nil, bool, string, int64, float64, map[string]interface{}, []interface{}). It
// stops at the first error: once the input is known to be unusable, going on would
// only waste time on what might be a cyclic structure.
type normalizer struct {
	err    error
	values int
}

func (n *normalizer) fail(err error) interface{} {
	if n.err == nil {
		n.err = err
	}
	return nil
}

func (n *normalizer) value(v interface{}, depth int) interface{} {
	if n.err != nil {
		return nil
	}
	n.values++
	if n.values > maxValues {
		return n.fail(fmt.Errorf("digest: value has more than %d elements", maxValues))
	}
	if depth > maxNesting {
		return n.fail(errTooDeep)
	}
	switch x := v.(type) {
	case nil, bool, string:
		return x
	case map[string]interface{}:
		out := make(map[string]interface{}, len(x))
		for k, e := range x {
			out[k] = n.value(e, depth+1)
		}
		return out
	case []interface{}:
		out := make([]interface{}, len(x))
		for i, e := range x {
			out[i] = n.value(e, depth+1)
		}
		return out
	// Typed containers show up when callers build objects by hand (labels as
	// map[string]string, args as []string); their JSON is the same.
	case map[string]string:
		out := make(map[string]interface{}, len(x))
		for k, e := range x {
			out[k] = e
		}
		n.values += len(x)
		return out
	case []string:
		out := make([]interface{}, len(x))
		for i, e := range x {
			out[i] = e
		}
		n.values += len(x)
		return out
	case []map[string]interface{}:
		out := make([]interface{}, len(x))
		for i, e := range x {
			out[i] = n.value(e, depth+1)
		}
		return out
	case int64:
		return x
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case int16:
		return int64(x)
	case int8:
		return int64(x)
	case uint64:
		if x > math.MaxInt64 {
			return float64(x)
		}
		return int64(x)
	case uint:
		if uint64(x) > math.MaxInt64 {
			return float64(x)
		}
		return int64(x)
	case uint32:
		return int64(x)
	case uint16:
		return int64(x)
	case uint8:
		return int64(x)
	case float64:
		return n.float(x)
	case float32:
		return n.float(float64(x))
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return n.fail(fmt.Errorf("digest: invalid number %q", string(x)))
		}
		return n.float(f)
	default:
		return n.fail(fmt.Errorf("digest: %T is not a JSON value", v))
	}
}

// float canonicalises a float64: a decoder that produced 3.0 and one that produced
// int64 3 read the same JSON, so integral values become int64.
func (n *normalizer) float(f float64) interface{} {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return n.fail(fmt.Errorf("digest: %v is not a JSON number", f))
	}
	// -2^63 and 2^63 are exact in float64; the upper bound is excluded because
	// 2^63 itself does not fit in int64.
	if f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 {
		return int64(f)
	}
	return f
}

// normalize returns a deep copy of v with every number as int64 (when integral and
// in range) or float64, and every container as map[string]interface{} or
// []interface{}: the only types appendValue has to know.
func normalize(v interface{}) (interface{}, error) {
	var n normalizer
	out := n.value(v, 0)
	return out, n.err
}

// CanonicalValue returns the canonical JSON (as defined in the package
// documentation) of any JSON-shaped value. Package drift hashes leaves with it so
// that a field's fingerprint and the object's digest agree on what "equal" means.
func CanonicalValue(v interface{}) ([]byte, error) {
	nv, err := normalize(v)
	if err != nil {
		return nil, err
	}
	return appendValue(nil, nv), nil
}

// appendValue encodes a normalized value. It is only ever called on the output of
// the normalizer, so it needs no depth or type checks of its own; anything
// unexpected is written as null rather than panicking.
func appendValue(b []byte, v interface{}) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, x)
	case string:
		return appendString(b, x)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case float64:
		return appendFloat(b, x)
	case map[string]interface{}:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendValue(b, x[k])
		}
		return append(b, '}')
	case []interface{}:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendValue(b, e)
		}
		return append(b, ']')
	default:
		return append(b, "null"...)
	}
}

// appendFloat formats a non-integral (or out of int64 range) float64 exactly like
// encoding/json does, so canonical JSON reads like ordinary JSON.
func appendFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// Shorten e-09 to e-9, as encoding/json does.
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendString quotes s like encoding/json with HTML escaping off: the escapes
// JSON requires, U+2028 and U+2029 (not valid in JavaScript strings), and invalid
// UTF-8 replaced by U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
