package tracked

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// hashLen is the number of hex digits of the name hash appended to names that had to
// be shortened or rewritten.
const hashLen = 10

// RecordName is the name of the TraceRecord of the object kind/name: "<lowercase
// kind>.<name>", e.g. "deployment.web". Every name is a valid object name (a DNS-1123
// subdomain of at most 253 characters) whatever the target's name: when the plain form
// is too long or not valid (RBAC objects may be named "system:controller:foo", with
// colons and capitals), characters that cannot appear are replaced by "-", the name is
// truncated to 242 characters (without a trailing "-" or "."), and "-" and the first 10
// hex digits of sha256("<lowercase kind>/<name>") are appended, so that distinct targets
// keep distinct records. A plain form that itself ends like such a suffix ("-" and 10
// hex digits) is hashed too, so that no chosen name can equal another object's hashed
// record name and pre-empt its record (review finding L1). The CLI and the webhooks
// compute the name the same way.
func RecordName(kind, name string) string {
	plain := strings.ToLower(kind) + "." + name
	if len(plain) <= validation.DNS1123SubdomainMaxLength && len(validation.IsDNS1123Subdomain(plain)) == 0 && !endsLikeHash(plain) {
		return plain
	}
	sum := sha256.Sum256([]byte(strings.ToLower(kind) + "/" + name))
	suffix := "-" + hex.EncodeToString(sum[:])[:hashLen]
	base := sanitize(plain)
	if max := validation.DNS1123SubdomainMaxLength - len(suffix); len(base) > max {
		base = base[:max]
	}
	base = strings.TrimRight(base, "-.")
	if base == "" {
		return strings.TrimPrefix(suffix, "-")
	}
	return base + suffix
}

// sanitize lowercases s and rewrites it into DNS-1123 subdomain characters: every
// dot-separated label keeps [a-z0-9-], other characters become "-", labels neither
// start nor end with "-", and empty labels are dropped.
func sanitize(s string) string {
	labels := strings.Split(strings.ToLower(s), ".")
	out := labels[:0]
	for _, l := range labels {
		b := []byte(l)
		for i, c := range b {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				b[i] = '-'
			}
		}
		if l = strings.Trim(string(b), "-"); l != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, ".")
}

// endsLikeHash reports whether s ends with "-" and hashLen lowercase hex digits, the
// shape of RecordName's suffix.
func endsLikeHash(s string) bool {
	if len(s) < hashLen+1 || s[len(s)-hashLen-1] != '-' {
		return false
	}
	for _, c := range s[len(s)-hashLen:] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
