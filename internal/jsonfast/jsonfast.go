// Package jsonfast decodes JSON in the admission hot path faster than encoding/json,
// with exactly its results: UnmarshalObject for whole objects, Scanner for decoders
// of one fixed shape. Whatever they do not accept goes to encoding/json (or is left
// for the caller to give to it), so errors and edge cases stay encoding/json's.
package jsonfast

import (
	"encoding/json"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// UnmarshalObject decodes raw like json.Unmarshal into a map[string]interface{} does,
// with the same result and the same errors, in about half the time. Both admission
// handlers decode every object they are sent, and encoding/json was a fifth of their
// time: it validates the whole input in one pass before decoding it in another, and
// copies every string.
//
// The parser here takes one pass and slices strings out of one copy of raw. It
// accepts only a JSON object in the exact grammar encoding/json accepts; on anything
// else (a syntax error, a number out of float64 range, another top-level value,
// nesting deeper than encoding/json allows) it hands raw to json.Unmarshal, so errors
// and edge cases are encoding/json's own. FuzzUnmarshalObject compares the two.
func UnmarshalObject(raw []byte) (map[string]interface{}, error) {
	p := Scanner{s: string(raw)}
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == '{' {
		if obj, ok := p.object(1); ok {
			if p.skipSpace(); p.i == len(p.s) {
				return obj, nil
			}
		}
	}
	var obj map[string]interface{}
	err := json.Unmarshal(raw, &obj)
	return obj, err
}

// maxJSONDepth is encoding/json's nesting limit; deeper input goes to it for its error.
const maxJSONDepth = 10000

// Scanner reads JSON from a string, for decoders of one fixed shape (see
// signing's envelope decoder): each method skips white space, reads one token or
// value, and reports whether it was there and valid. Strings are unquoted exactly
// like encoding/json unquotes them.
type Scanner struct {
	s string
	i int
}

// NewScanner scans s.
func NewScanner(s string) *Scanner { return &Scanner{s: s} }

// Token reads the literal tok (punctuation, or a key with its quotes).
func (p *Scanner) Token(tok string) bool {
	p.skipSpace()
	if len(p.s)-p.i >= len(tok) && p.s[p.i:p.i+len(tok)] == tok {
		p.i += len(tok)
		return true
	}
	return false
}

// Peek returns the next byte after white space, or 0 at the end.
func (p *Scanner) Peek() byte {
	p.skipSpace()
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

// StringValue reads a JSON string and returns it unquoted.
func (p *Scanner) StringValue() (string, bool) {
	p.skipSpace()
	if p.i >= len(p.s) || p.s[p.i] != '"' {
		return "", false
	}
	return p.str()
}

// RawStringValue reads a JSON string and returns it as it is written, quotes included:
// what encoding/json hands a json.Unmarshaler.
func (p *Scanner) RawStringValue() (string, bool) {
	p.skipSpace()
	start := p.i
	if p.i >= len(p.s) || p.s[p.i] != '"' {
		return "", false
	}
	if _, ok := p.str(); !ok {
		return "", false
	}
	return p.s[start:p.i], true
}

// End reports whether only white space is left.
func (p *Scanner) End() bool {
	p.skipSpace()
	return p.i == len(p.s)
}

func (p *Scanner) skipSpace() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// value parses the value at p.i (after white space). depth counts the enclosing
// objects and arrays.
func (p *Scanner) value(depth int) (interface{}, bool) {
	if p.i >= len(p.s) {
		return nil, false
	}
	switch c := p.s[p.i]; {
	case c == '{':
		obj, ok := p.object(depth + 1)
		return obj, ok
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		return p.str()
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	}
	return nil, false
}

func (p *Scanner) literal(word string) bool {
	if len(p.s)-p.i >= len(word) && p.s[p.i:p.i+len(word)] == word {
		p.i += len(word)
		return true
	}
	return false
}

// object parses an object; p.i is at its '{'.
func (p *Scanner) object(depth int) (map[string]interface{}, bool) {
	if depth > maxJSONDepth {
		return nil, false
	}
	p.i++
	obj := make(map[string]interface{})
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return obj, true
	}
	for {
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			return nil, false
		}
		key, ok := p.str()
		if !ok {
			return nil, false
		}
		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, false
		}
		p.i++
		p.skipSpace()
		v, ok := p.value(depth)
		if !ok {
			return nil, false
		}
		obj[key] = v // a repeated key keeps its last value, as in encoding/json
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, false
		}
		switch p.s[p.i] {
		case ',':
			p.i++
			p.skipSpace()
		case '}':
			p.i++
			return obj, true
		default:
			return nil, false
		}
	}
}

// array parses an array; p.i is at its '['.
func (p *Scanner) array(depth int) (interface{}, bool) {
	if depth > maxJSONDepth {
		return nil, false
	}
	p.i++
	list := make([]interface{}, 0, 4)
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		return list, true
	}
	for {
		v, ok := p.value(depth)
		if !ok {
			return nil, false
		}
		list = append(list, v)
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, false
		}
		switch p.s[p.i] {
		case ',':
			p.i++
			p.skipSpace()
		case ']':
			p.i++
			return list, true
		default:
			return nil, false
		}
	}
}

// number parses a number in JSON's grammar, as a float64 like encoding/json.
func (p *Scanner) number() (interface{}, bool) {
	start := p.i
	if p.s[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.s) && p.s[p.i] == '0':
		p.i++
	case p.i < len(p.s) && p.s[p.i] >= '1' && p.s[p.i] <= '9':
		p.digits()
	default:
		return nil, false
	}
	if p.i < len(p.s) && p.s[p.i] == '.' {
		p.i++
		if !p.digits() {
			return nil, false
		}
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		p.i++
		if p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
			p.i++
		}
		if !p.digits() {
			return nil, false
		}
	}
	f, err := strconv.ParseFloat(p.s[start:p.i], 64)
	if err != nil {
		return nil, false // out of range: encoding/json's error
	}
	return f, true
}

// digits skips one or more decimal digits and reports whether there was one.
func (p *Scanner) digits() bool {
	start := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	return p.i > start
}

// str parses a string; p.i is at its opening quote. A string without escapes and
// with valid UTF-8 is a slice of the input; others are unquoted like encoding/json
// does (invalid UTF-8 and lone surrogates become U+FFFD).
func (p *Scanner) str() (string, bool) {
	p.i++
	start := p.i
	ascii := true
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			s := p.s[start:p.i]
			p.i++
			if !ascii && !utf8.ValidString(s) {
				return string(appendUnquoted(make([]byte, 0, len(s)+utf8.UTFMax), s)), true
			}
			return s, true
		case c == '\\':
			return p.escapedStr(start)
		case c < ' ':
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		p.i++
	}
	return "", false
}

// escapedStr finishes a string that has escapes; p.i is at the first backslash.
func (p *Scanner) escapedStr(start int) (string, bool) {
	b := make([]byte, 0, len(p.s)-start)
	b = appendUnquoted(b, p.s[start:p.i])
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return string(b), true
		case c < ' ':
			return "", false
		case c == '\\':
			if p.i+1 >= len(p.s) {
				return "", false
			}
			switch e := p.s[p.i+1]; e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r := hex4(p.s[p.i+2:])
				if r < 0 {
					return "", false
				}
				p.i += 6
				if utf16.IsSurrogate(r) {
					// A valid pair is one rune; anything else is U+FFFD for the first
					// half, and what follows is read on its own.
					if r2 := hex4Escape(p.s[p.i:]); r2 >= 0 {
						if dec := utf16.DecodeRune(r, r2); dec != unicode.ReplacementChar {
							b = utf8.AppendRune(b, dec)
							p.i += 6
							continue
						}
					}
					r = unicode.ReplacementChar
				}
				b = utf8.AppendRune(b, r)
				continue
			default:
				return "", false
			}
			p.i += 2
		default:
			// Up to the next quote, backslash or control character.
			j := p.i + 1
			for j < len(p.s) && p.s[j] != '"' && p.s[j] != '\\' && p.s[j] >= ' ' {
				j++
			}
			b = appendUnquoted(b, p.s[p.i:j])
			p.i = j
		}
	}
	return "", false
}

// appendUnquoted appends s, which holds no quote, backslash or control character,
// with invalid UTF-8 replaced by U+FFFD byte by byte, as encoding/json does.
func appendUnquoted(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			b = append(b, s[i])
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		b = utf8.AppendRune(b, r)
		i += size
	}
	return b
}

// hex4 reads the four hex digits after a "\u" (s starts after the "u"), or -1.
func hex4(s string) rune {
	if len(s) < 4 {
		return -1
	}
	var r rune
	for _, c := range []byte(s[:4]) {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// hex4Escape reads a whole "\uXXXX" at the start of s, or -1.
func hex4Escape(s string) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	return hex4(s[2:])
}
