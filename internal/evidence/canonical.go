package evidence

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// DigestPrefix starts every bundle digest.
const DigestPrefix = "sha256:"

// digestKey is the top-level member holding the digest, left out of the canonical form.
const digestKey = "digest"

// Parse decodes a JSON document strictly: it must be valid UTF-8, hold exactly one
// value, and no object may repeat a key (a repeated key would let two readers see two
// different bundles behind one digest). Numbers are kept as written (json.Number).
func Parse(doc []byte) (interface{}, error) {
	if !utf8.Valid(doc) {
		return nil, errors.New("not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	v, err := parseValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			return nil, fmt.Errorf("unexpected data after the JSON value at offset %d", dec.InputOffset())
		}
		return nil, err
	}
	return v, nil
}

func parseValue(dec *json.Decoder) (interface{}, error) {
	tok, err := dec.Token()
	if err == io.EOF {
		return nil, io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := map[string]interface{}{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("object key expected at offset %d", dec.InputOffset())
				}
				if _, dup := obj[key]; dup {
					return nil, fmt.Errorf("duplicate key %q at offset %d", key, dec.InputOffset())
				}
				v, err := parseValue(dec)
				if err != nil {
					return nil, err
				}
				obj[key] = v
			}
			if _, err := dec.Token(); err != nil { // '}'
				return nil, err
			}
			return obj, nil
		case '[':
			list := []interface{}{}
			for dec.More() {
				v, err := parseValue(dec)
				if err != nil {
					return nil, err
				}
				list = append(list, v)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return nil, err
			}
			return list, nil
		default:
			return nil, fmt.Errorf("unexpected %q at offset %d", t, dec.InputOffset())
		}
	default:
		// string, json.Number, bool or nil
		return t, nil
	}
}

// Canonical returns the canonical JSON of a bundle document: the document parsed with
// Parse, without its top-level "digest" member, encoded again by encoding/json (object
// keys sorted, no white space, no HTML escaping, numbers as written).
func Canonical(doc []byte) ([]byte, error) {
	v, err := Parse(doc)
	if err != nil {
		return nil, err
	}
	return canonicalValue(v)
}

func canonicalValue(v interface{}) ([]byte, error) {
	if obj, ok := v.(map[string]interface{}); ok {
		if _, has := obj[digestKey]; has {
			c := make(map[string]interface{}, len(obj))
			for k, x := range obj {
				if k != digestKey {
					c[k] = x
				}
			}
			v = c
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func digestOfValue(v interface{}) (string, error) {
	c, err := canonicalValue(v)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(c)
	return DigestPrefix + hex.EncodeToString(sum[:]), nil
}

// DigestOf returns the digest of a bundle document (its "digest" member, if any, is
// not part of what is hashed).
func DigestOf(doc []byte) (string, error) {
	v, err := Parse(doc)
	if err != nil {
		return "", err
	}
	return digestOfValue(v)
}

// Seal sets b.Digest to the digest of b's JSON form.
func Seal(b *Bundle) error {
	b.Digest = ""
	doc, err := json.Marshal(b)
	if err != nil {
		return err
	}
	d, err := DigestOf(doc)
	if err != nil {
		return err
	}
	b.Digest = d
	return nil
}

// Marshal returns the file form of a bundle: indented JSON ending in a newline.
func Marshal(b *Bundle) ([]byte, error) {
	doc, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(doc, '\n'), nil
}
