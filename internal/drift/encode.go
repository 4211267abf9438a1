package drift

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// header starts every encoding, so that a record written in an older format is
// recognised (and the reconciler can re-fingerprint) instead of misread.
const header = "v1"

// Encode writes fp as one string for storage in a CRD status field:
//
//	v1
//	0:/apiVersion=1f2e3d4c
//	1:kind=89ab01cd
//	1:metadata/name=23cd45ef
//	10:namespace=0a1b2c3d
//
// After the version line come the paths in sorted order, one per line, each as the
// number of leading bytes it shares with the previous path, ":", the rest of the
// path, "=", and the hash. In the rest of the path and in the hash, "\" is written
// "\\", and "=", control characters, DEL and bytes that are not UTF-8 are written
// "\xHH", so that any map round-trips and the result is printable UTF-8 (a status
// field is JSON; invalid UTF-8 would be mangled). The shared prefix never splits a
// UTF-8 character.
func Encode(fp map[string]string) string {
	paths := make([]string, 0, len(fp))
	for p := range fp {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var sb strings.Builder
	sb.Grow(len(header) + 24*len(paths))
	sb.WriteString(header)
	prev := ""
	for _, p := range paths {
		n := commonPrefix(prev, p)
		for n > 0 && n < len(p) && !utf8.RuneStart(p[n]) {
			n--
		}
		sb.WriteByte('\n')
		sb.WriteString(strconv.Itoa(n))
		sb.WriteByte(':')
		writeEscaped(&sb, p[n:], true)
		sb.WriteByte('=')
		writeEscaped(&sb, fp[p], false)
		prev = p
	}
	return sb.String()
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

const hexDigits = "0123456789abcdef"

// writeEscaped writes s with "\" doubled and control characters, DEL, invalid
// UTF-8 and (in paths, where it separates the hash) "=" as \xHH.
func writeEscaped(sb *strings.Builder, s string, isPath bool) {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				sb.WriteString(`\x`)
				sb.WriteByte(hexDigits[c>>4])
				sb.WriteByte(hexDigits[c&0xf])
			} else {
				sb.WriteString(s[i : i+size])
			}
			i += size
			continue
		}
		switch {
		case c == '\\':
			sb.WriteString(`\\`)
		case c < 0x20 || c == 0x7f || (isPath && c == '='):
			sb.WriteString(`\x`)
			sb.WriteByte(hexDigits[c>>4])
			sb.WriteByte(hexDigits[c&0xf])
		default:
			sb.WriteByte(c)
		}
		i++
	}
}

// Decode reads what Encode wrote. It rejects, with an error, anything Encode would
// not have written: a missing or unknown version line, a line without its ":" or
// "=", a shared prefix longer than the previous path, a bad escape, raw control
// characters or invalid UTF-8, and paths out of order or repeated. The empty string
// decodes to an empty map, so that a record without fingerprints yet reads as one.
func Decode(s string) (map[string]string, error) {
	fp := map[string]string{}
	if s == "" {
		return fp, nil
	}
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("drift: fingerprints are not valid UTF-8")
	}
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if lines[0] != header {
		return nil, fmt.Errorf("drift: fingerprints start with %.20q, want version %q", lines[0], header)
	}
	prev := ""
	for i, line := range lines[1:] {
		lineNo := i + 2
		colon := strings.IndexByte(line, ':')
		if colon < 1 || colon > 7 {
			return nil, fmt.Errorf("drift: line %d: want <shared prefix length>:<path>=<hash>", lineNo)
		}
		n := 0
		for _, c := range line[:colon] {
			if c < '0' || c > '9' {
				return nil, fmt.Errorf("drift: line %d: shared prefix length %q is not a number", lineNo, line[:colon])
			}
			n = n*10 + int(c-'0')
		}
		if n > len(prev) {
			return nil, fmt.Errorf("drift: line %d: shares %d bytes with a %d-byte previous path", lineNo, n, len(prev))
		}
		eq := strings.IndexByte(line[colon+1:], '=')
		if eq < 0 {
			return nil, fmt.Errorf("drift: line %d: no '=' before the hash", lineNo)
		}
		rest, err := unescape(line[colon+1 : colon+1+eq])
		if err != nil {
			return nil, fmt.Errorf("drift: line %d: path: %w", lineNo, err)
		}
		hash, err := unescape(line[colon+1+eq+1:])
		if err != nil {
			return nil, fmt.Errorf("drift: line %d: hash: %w", lineNo, err)
		}
		path := prev[:n] + rest
		if i > 0 && path <= prev {
			return nil, fmt.Errorf("drift: line %d: path %.60q is not after %.60q", lineNo, path, prev)
		}
		fp[path] = hash
		prev = path
	}
	return fp, nil
}

// unescape reverses writeEscaped.
func unescape(s string) (string, error) {
	if !strings.ContainsAny(s, "\\\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f") {
		return s, nil
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f {
			return "", fmt.Errorf("raw control character %#x", c)
		}
		if c != '\\' {
			sb.WriteByte(c)
			continue
		}
		if i+1 < len(s) && s[i+1] == '\\' {
			sb.WriteByte('\\')
			i++
			continue
		}
		if i+3 < len(s) && s[i+1] == 'x' {
			hi, lo := unhex(s[i+2]), unhex(s[i+3])
			if hi >= 0 && lo >= 0 {
				sb.WriteByte(byte(hi<<4 | lo))
				i += 3
				continue
			}
		}
		return "", fmt.Errorf("bad escape at byte %d", i)
	}
	return sb.String(), nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	}
	return -1
}
