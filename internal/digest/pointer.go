package digest

import (
	"fmt"
	"strconv"
	"strings"
)

// KeyedByName reports whether list is a list of named entries (containers, env
// vars, ports, volumes, ...): non-empty, every element a map with a non-empty string
// "name", and no name twice. In such a list a JSON pointer token may name the entry
// ("/spec/template/spec/containers/app/image") instead of giving its index, and
// package drift keys the entry's paths by name, so that inserting an env var does
// not make every later one look changed. Duplicate names (two volumeMounts of the
// same volume) make names ambiguous, so such lists are indexed by position.
func KeyedByName(list []interface{}) bool {
	if len(list) == 0 {
		return false
	}
	seen := make(map[string]struct{}, len(list))
	for _, e := range list {
		m, ok := e.(map[string]interface{})
		if !ok {
			return false
		}
		name, ok := m["name"].(string)
		if !ok || name == "" {
			return false
		}
		if _, dup := seen[name]; dup {
			return false
		}
		seen[name] = struct{}{}
	}
	return true
}

// ParsePointer splits an RFC 6901 JSON pointer into its unescaped reference tokens
// ("~1" is "/", "~0" is "~"). The empty pointer, which designates the whole
// document, is rejected: ignoring the whole object would make every object's digest
// the same, which is never what a configuration means.
func ParsePointer(p string) ([]string, error) {
	if p == "" {
		return nil, fmt.Errorf("digest: empty JSON pointer would ignore the whole object")
	}
	if p[0] != '/' {
		return nil, fmt.Errorf("digest: JSON pointer %q does not start with /", p)
	}
	tokens := strings.Split(p[1:], "/")
	for i, t := range tokens {
		if !strings.Contains(t, "~") {
			continue
		}
		var sb strings.Builder
		for j := 0; j < len(t); j++ {
			if t[j] != '~' {
				sb.WriteByte(t[j])
				continue
			}
			if j+1 == len(t) || (t[j+1] != '0' && t[j+1] != '1') {
				return nil, fmt.Errorf("digest: JSON pointer %q has an invalid ~ escape", p)
			}
			if t[j+1] == '0' {
				sb.WriteByte('~')
			} else {
				sb.WriteByte('/')
			}
			j++
		}
		tokens[i] = sb.String()
	}
	return tokens, nil
}

// EscapeToken escapes one reference token for a JSON pointer (RFC 6901): "~"
// becomes "~0" and "/" becomes "~1", in that order so that a literal "~1" survives.
func EscapeToken(t string) string {
	if !strings.ContainsAny(t, "~/") {
		return t
	}
	return strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1")
}

// removed marks, for the caller of remove, that the value itself is ignored.
type removed struct{}

// remove deletes every location designated by paths (token lists relative to v)
// from v, which it owns and may modify, and returns the new v. All tokens of one
// level are resolved against that level before anything below it is removed, so the
// result does not depend on the order of the pointers: ignoring "/a/0" and "/a/1"
// removes the first two elements, not the first and the third.
func remove(v interface{}, paths [][]string) interface{} {
	for _, p := range paths {
		if len(p) == 0 {
			return removed{}
		}
	}
	switch x := v.(type) {
	case map[string]interface{}:
		byKey := map[string][][]string{}
		for _, p := range paths {
			if _, ok := x[p[0]]; ok {
				byKey[p[0]] = append(byKey[p[0]], p[1:])
			}
		}
		for k, rest := range byKey {
			nv := remove(x[k], rest)
			if _, gone := nv.(removed); gone {
				delete(x, k)
			} else {
				x[k] = nv
			}
		}
		return x
	case []interface{}:
		byIndex := map[int][][]string{}
		for _, p := range paths {
			if i, ok := resolveIndex(x, p[0]); ok {
				byIndex[i] = append(byIndex[i], p[1:])
			}
		}
		if len(byIndex) == 0 {
			return x
		}
		drop := map[int]bool{}
		for i, rest := range byIndex {
			nv := remove(x[i], rest)
			if _, gone := nv.(removed); gone {
				drop[i] = true
			} else {
				x[i] = nv
			}
		}
		if len(drop) == 0 {
			return x
		}
		out := make([]interface{}, 0, len(x)-len(drop))
		for i, e := range x {
			if !drop[i] {
				out = append(out, e)
			}
		}
		return out
	default:
		// A pointer through a scalar designates nothing: nothing to ignore.
		return v
	}
}

// resolveIndex finds the element a token designates in a list: in a list keyed by
// name, the entry of that name (so ignore pointers can be written like drift
// paths); otherwise, or when no entry has that name, the element at that RFC 6901
// index ("0" or a decimal without leading zeros).
func resolveIndex(list []interface{}, tok string) (int, bool) {
	if KeyedByName(list) {
		for i, e := range list {
			if e.(map[string]interface{})["name"] == tok {
				return i, true
			}
		}
	}
	if tok == "" || (len(tok) > 1 && tok[0] == '0') {
		return 0, false
	}
	for _, c := range tok {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	i, err := strconv.Atoi(tok)
	if err != nil || i >= len(list) {
		return 0, false
	}
	return i, true
}
