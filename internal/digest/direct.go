package digest

import (
	"math"
	"slices"
	"strconv"
)

// appendTrackedDirect appends the canonical JSON of obj's tracked content, with the
// ignored paths left out, straight from obj: the same bytes as tracked, remove and
// appendValue produce, without first deep-copying the object into a normalized one.
// The admission webhooks hash every object twice per request, and the reconciler
// every object it reads; the copy was most of that cost.
//
// It covers the common case: kinds other than Job and Secret (whose tracked content
// is rewritten after the copy), valid ignore pointers, and values of the types
// encoding/json and the unstructured decoder produce (nil, bool, string, float64,
// int64, map[string]interface{}, []interface{}). For anything else, and wherever the
// normalizer would fail, it returns false and the caller takes the general path,
// which also produces the error. TestDirectMatchesNormalized and
// FuzzDirectMatchesNormalized compare the two.
func appendTrackedDirect(b []byte, obj map[string]interface{}, ignore []string) ([]byte, bool) {
	kind, _ := obj["kind"].(string)
	if kind == "Job" || obj["kind"] == "Secret" {
		return b, false
	}
	allocated := serverAllocatedPaths(kind, obj)
	paths := make([][]string, 0, len(ignore)+len(allocated))
	for _, p := range ignore {
		toks, err := ParsePointer(p)
		if err != nil {
			return b, false
		}
		paths = append(paths, toks)
	}
	paths = append(paths, allocated...)

	e := directEncoder{b: b}
	// The top-level keys tracked keeps, sorted; metadata only when it keeps a field.
	keys := make([]string, 0, len(obj))
	for k, v := range obj {
		switch k {
		case "status":
			continue
		case "metadata":
			md, ok := v.(map[string]interface{})
			if !ok {
				continue
			}
			if !keepsMetadata(md) {
				continue
			}
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	e.b = append(e.b, '{')
	first := true
	for _, k := range keys {
		sub, gone := e.below(paths, k)
		if !gone {
			if !first {
				e.b = append(e.b, ',')
			}
			first = false
			e.b = appendString(e.b, k)
			e.b = append(e.b, ':')
		}
		// A value left out is still walked: the normalizer copies (and counts and
		// checks) everything before the ignored paths are removed.
		mark := len(e.b)
		v := obj[k]
		switch k {
		case "metadata":
			e.metadata(v.(map[string]interface{}), sub)
		case "apiVersion":
			if s, ok := v.(string); ok {
				e.b = appendString(e.b, Group(s))
			} else {
				e.value(v, 1, sub)
			}
		default:
			e.value(v, 1, sub)
		}
		if e.failed {
			return b, false
		}
		if gone {
			e.b = e.b[:mark]
		}
	}
	return append(e.b, '}'), true
}

// directEncoder writes the normalized JSON of values as appendValue(normalize(v))
// would, leaving out ignored paths, and counts values and depth like the normalizer
// so that it gives up wherever the normalizer would fail.
type directEncoder struct {
	b      []byte
	keys   []string // sorted keys of the maps being written, a stack
	values int
	failed bool
}

// below returns the rest of the paths that go through key, and whether one of them
// ends there (the value is left out).
func (e *directEncoder) below(paths [][]string, key string) (sub [][]string, gone bool) {
	for _, p := range paths {
		// An empty path ends at the value being written: it is left out and only
		// walked, so nothing below it needs leaving out.
		if len(p) == 0 || p[0] != key {
			continue
		}
		if len(p) == 1 {
			gone = true
		}
		sub = append(sub, p[1:])
	}
	return sub, gone
}

// keepsMetadata reports whether the tracked content keeps a field of md.
func keepsMetadata(md map[string]interface{}) bool {
	for _, f := range trackedMetadataFields {
		fv, ok := md[f]
		if !ok {
			continue
		}
		if f == "labels" || f == "annotations" {
			if m, isMap := trackedStrings(f, fv); isMap && m == nil {
				continue
			}
		}
		return true
	}
	return false
}

// metadata writes the tracked part of metadata: labels and annotations without the
// keys left out (see trackedStrings), name and namespace.
func (e *directEncoder) metadata(md map[string]interface{}, paths [][]string) {
	e.b = append(e.b, '{')
	first := true
	for _, f := range trackedMetadataFields { // sorted
		fv, ok := md[f]
		if !ok {
			continue
		}
		if f == "labels" || f == "annotations" {
			m, isMap := trackedStrings(f, fv)
			if !isMap {
				// Malformed: the general path tracks it as it is.
				e.failed = true
				return
			}
			if m == nil {
				continue
			}
			fv = m
		}
		sub, gone := e.below(paths, f)
		mark := len(e.b)
		if !first {
			e.b = append(e.b, ',')
		}
		e.b = appendString(e.b, f)
		e.b = append(e.b, ':')
		e.value(fv, 2, sub)
		if gone {
			e.b = e.b[:mark]
		} else {
			first = false
		}
	}
	e.b = append(e.b, '}')
}

func (e *directEncoder) value(v interface{}, depth int, paths [][]string) {
	if e.failed {
		return
	}
	e.values++
	if e.values > maxValues || depth > maxNesting {
		e.failed = true
		return
	}
	switch x := v.(type) {
	case nil:
		e.b = append(e.b, "null"...)
	case bool:
		e.b = strconv.AppendBool(e.b, x)
	case string:
		e.b = appendString(e.b, x)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			e.failed = true
			return
		}
		// As normalizer.float: integral values in the int64 range are integers.
		if x == math.Trunc(x) && x >= -(1<<63) && x < 1<<63 {
			e.b = strconv.AppendInt(e.b, int64(x), 10)
		} else {
			e.b = appendFloat(e.b, x)
		}
	case int64:
		e.b = strconv.AppendInt(e.b, x, 10)
	case map[string]interface{}:
		base := len(e.keys)
		for k := range x {
			e.keys = append(e.keys, k)
		}
		slices.Sort(e.keys[base:])
		e.b = append(e.b, '{')
		first := true
		for i := base; i < len(e.keys); i++ {
			k := e.keys[i]
			var sub [][]string
			gone := false
			if len(paths) > 0 {
				sub, gone = e.below(paths, k)
			}
			mark := len(e.b)
			if !first {
				e.b = append(e.b, ',')
			}
			e.b = appendString(e.b, k)
			e.b = append(e.b, ':')
			e.value(x[k], depth+1, sub)
			if gone {
				e.b = e.b[:mark]
			} else {
				first = false
			}
		}
		e.b = append(e.b, '}')
		e.keys = e.keys[:base]
	case []interface{}:
		// As remove: every token resolved against the whole list first.
		var byIndex map[int][][]string
		var drop map[int]bool
		for _, p := range paths {
			if len(p) == 0 {
				continue
			}
			if i, ok := resolveIndex(x, p[0]); ok {
				if byIndex == nil {
					byIndex, drop = map[int][][]string{}, map[int]bool{}
				}
				byIndex[i] = append(byIndex[i], p[1:])
				if len(p) == 1 {
					drop[i] = true
				}
			}
		}
		e.b = append(e.b, '[')
		first := true
		for i, el := range x {
			mark := len(e.b)
			if !first {
				e.b = append(e.b, ',')
			}
			e.value(el, depth+1, byIndex[i])
			if drop[i] {
				e.b = e.b[:mark]
			} else {
				first = false
			}
		}
		e.b = append(e.b, ']')
	default:
		// Typed containers, other number types: the general path.
		e.failed = true
	}
}
