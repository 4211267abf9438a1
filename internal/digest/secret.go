package digest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"sort"
	"sync/atomic"
)

// A Secret's values are tracked content only as keyed hashes: with a secret key set
// (SetSecretKey; the manager sets one at start, the same for all its replicas), each
// value under data and stringData is replaced by
//
//	"hmac-sha256:" + hex(HMAC-SHA256(key, name + "\x00" + tag + value))
//
// where value is the decoded bytes of a data entry (tag "b"), the bytes of a
// stringData entry (also tag "b": the apiserver moves stringData into data, and both
// must hash alike), or, for malformed input only, the raw string ("r") or the
// canonical JSON ("j") of an entry that is not valid base64 or not a string. An entry
// of stringData wins over the data entry of the same name, as in the apiserver.
// A value change then changes the digest, but nobody without the key can test a
// guess of the value against a digest offline.
//
// Without a key (the CLI, which never holds the manager's key), a Secret's data and
// stringData are replaced by the sorted list of their key names, as before keyed
// hashing: values are never hashed without a key. Such a digest differs from the one
// the manager stamps on a Secret with data (see Recomputable).

// MinSecretKeyLen is the shortest key SetSecretKey accepts.
const MinSecretKeyLen = 32

var secretKey atomic.Pointer[[]byte]

// SetSecretKey sets the key of the keyed hashes of Secret values, for every digest
// computed from then on in this process; nil unsets it. It is meant to be called once
// at start, before any digest is computed.
func SetSecretKey(key []byte) error {
	if key == nil {
		secretKey.Store(nil)
		return nil
	}
	if len(key) < MinSecretKeyLen {
		return errors.New("digest: secret key shorter than 32 bytes")
	}
	k := append([]byte(nil), key...)
	secretKey.Store(&k)
	return nil
}

// HasSecretKey reports whether a secret key is set.
func HasSecretKey() bool { return secretKey.Load() != nil }

// Recomputable reports whether this process computes obj's digest as the manager
// stamps it: false for a Secret with data or stringData when no secret key is set
// (the stamped digest covers keyed hashes of its values, see SetSecretKey).
func Recomputable(obj map[string]interface{}) bool {
	if obj["kind"] != "Secret" || HasSecretKey() {
		return true
	}
	_, data := obj["data"]
	_, stringData := obj["stringData"]
	return !data && !stringData
}

// redactSecret replaces a Secret's data and stringData by a single "data" field: a
// map of key names to keyed hashes of the values with a secret key set, the sorted
// list of the key names without one. Values that are not maps (malformed) count as
// empty all the same: whatever they hold might be secret.
func redactSecret(out map[string]interface{}) {
	data, hasData := out["data"]
	stringData, hasStringData := out["stringData"]
	if !hasData && !hasStringData {
		return
	}
	delete(out, "stringData")
	dm, _ := data.(map[string]interface{})
	sm, _ := stringData.(map[string]interface{})
	if key := secretKey.Load(); key != nil {
		out["data"] = keyedValues(*key, dm, sm)
		return
	}
	seen := map[string]bool{}
	names := []string{}
	for _, m := range []map[string]interface{}{dm, sm} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				names = append(names, k)
			}
		}
	}
	sort.Strings(names)
	list := make([]interface{}, len(names))
	for i, k := range names {
		list[i] = k
	}
	out["data"] = list
}

// keyedValues maps every key name of data and stringData to the keyed hash of its value.
func keyedValues(key []byte, data, stringData map[string]interface{}) map[string]interface{} {
	mac := hmac.New(sha256.New, key)
	out := make(map[string]interface{}, len(data)+len(stringData))
	var sum [sha256.Size]byte
	hash := func(name string, tag byte, value []byte) string {
		mac.Reset()
		mac.Write([]byte(name))
		mac.Write([]byte{0, tag})
		mac.Write(value)
		return "hmac-sha256:" + hex.EncodeToString(mac.Sum(sum[:0]))
	}
	for name, v := range data {
		if _, ok := stringData[name]; ok {
			continue
		}
		s, isString := v.(string)
		switch b, err := base64.StdEncoding.DecodeString(s); {
		case isString && err == nil:
			out[name] = hash(name, 'b', b)
		case isString:
			out[name] = hash(name, 'r', []byte(s))
		default:
			out[name] = hash(name, 'j', appendValue(nil, v))
		}
	}
	for name, v := range stringData {
		if s, ok := v.(string); ok {
			out[name] = hash(name, 'b', []byte(s))
		} else {
			out[name] = hash(name, 'j', appendValue(nil, v))
		}
	}
	return out
}
