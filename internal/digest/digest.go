package digest

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
)

// Prefix starts every digest; it names the hash so that the format can change
// without old values being misread.
const Prefix = "sha256:"

// Of returns the digest of obj's tracked content, "sha256:" followed by 64 hex
// digits. ignore lists RFC 6901 JSON pointers into the tracked content (for
// example "/spec/replicas" for a Deployment scaled by an autoscaler) whose values
// are left out; a pointer that designates nothing is fine, an invalid one (not
// starting with "/", a bad "~" escape, or "") is an error. In lists keyed by name
// (see KeyedByName) a token may be the entry's name as well as its index.
func Of(obj map[string]interface{}, ignore []string) (string, error) {
	buf := buffers.Get().(*[]byte)
	defer buffers.Put(buf)
	b, err := appendCanonical((*buf)[:0], obj, ignore)
	if err != nil {
		return "", err
	}
	*buf = b
	sum := sha256.Sum256(b)
	var out [len(Prefix) + 2*sha256.Size]byte
	copy(out[:], Prefix)
	hex.Encode(out[len(Prefix):], sum[:])
	return string(out[:]), nil
}

// buffers keeps the canonical JSON buffers of Of, which are only hashed.
var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// Canonical returns the canonical JSON of obj's tracked content, the bytes Of
// hashes. It is there to be shown when two digests differ unexpectedly.
func Canonical(obj map[string]interface{}, ignore []string) ([]byte, error) {
	return appendCanonical(make([]byte, 0, 1024), obj, ignore)
}

func appendCanonical(b []byte, obj map[string]interface{}, ignore []string) ([]byte, error) {
	if out, ok := appendTrackedDirect(b, obj, ignore); ok {
		return out, nil
	}
	return appendCanonicalGeneral(b, obj, ignore)
}

// appendCanonicalGeneral builds the tracked content as a normalized copy, removes the
// ignored paths from it and encodes it.
func appendCanonicalGeneral(b []byte, obj map[string]interface{}, ignore []string) ([]byte, error) {
	paths := make([][]string, 0, len(ignore))
	for _, p := range ignore {
		toks, err := ParsePointer(p)
		if err != nil {
			return nil, err
		}
		paths = append(paths, toks)
	}
	content, err := tracked(obj, paths)
	if err != nil {
		return nil, err
	}
	return appendValue(b, content), nil
}

// TrackedContent returns a deep copy of obj's tracked content, the value Canonical
// encodes, with numbers canonicalised (int64 when integral, float64 otherwise).
// Unlike Canonical it cannot fail: invalid ignore pointers are skipped, and values
// that are not JSON (see the package documentation) come back as nil.
func TrackedContent(obj map[string]interface{}, ignore []string) map[string]interface{} {
	paths := make([][]string, 0, len(ignore))
	for _, p := range ignore {
		if toks, err := ParsePointer(p); err == nil {
			paths = append(paths, toks)
		}
	}
	content, _ := tracked(obj, paths)
	return content
}

// tracked builds the tracked content of obj and removes the ignored paths. It
// always returns a usable (possibly partial) map; the error says whether it is
// partial.
func tracked(obj map[string]interface{}, ignore [][]string) (map[string]interface{}, error) {
	var n normalizer
	out := make(map[string]interface{}, len(obj))
	for k, v := range obj {
		switch k {
		case "status":
			// Written by controllers, not by a deploy.
		case "metadata":
			md, ok := v.(map[string]interface{})
			if !ok {
				// Not an object's metadata (malformed input): nothing in it is
				// tracked.
				continue
			}
			keep := map[string]interface{}{}
			for _, f := range trackedMetadataFields {
				fv, ok := md[f]
				if !ok {
					continue
				}
				if f == "labels" || f == "annotations" {
					m, isMap := trackedStrings(f, fv)
					if !isMap {
						keep[f] = n.value(fv, 2) // malformed: tracked as it is
					} else if m != nil {
						keep[f] = n.value(m, 2)
					}
					continue
				}
				keep[f] = n.value(fv, 2)
			}
			if len(keep) > 0 {
				out[k] = keep
			}
		case "apiVersion":
			if s, ok := v.(string); ok {
				out[k] = Group(s)
			} else {
				out[k] = n.value(v, 1)
			}
		default:
			out[k] = n.value(v, 1)
		}
	}
	kind, _ := obj["kind"].(string)
	if extra := serverAllocatedPaths(kind, obj); len(extra) > 0 {
		ignore = append(append([][]string(nil), ignore...), extra...)
	}
	if len(ignore) > 0 {
		remove(out, ignore)
	}
	if kind == "Job" {
		// The labels map the apiserver created only for its own labels is not content.
		pruneEmptyMap(out, "spec", "template", "metadata", "labels")
	}
	// Decided on the input, not on out: ignoring "/kind" must not expose values.
	if obj["kind"] == "Secret" {
		redactSecret(out)
	}
	return out, n.err
}

// serverAllocated are fields the apiserver fills in after mutating admission (in the
// registry's PrepareForCreate, between the mutating and the validating webhooks): a
// Service's cluster IPs and node ports, a Job's generated selector and the labels it
// puts on the pod template. The stamped digest is computed before they exist, so
// they are not tracked content; what a deploy writes into them is immutable or
// allocated anyway. A Service's node ports are among them (serverAllocatedPaths adds
// one path per port): the apiserver allocates them, and restores them on an update
// that leaves them out, after the mutating webhook and before the validating one, so
// the two webhooks would otherwise see different content. A node port a deploy sets
// explicitly is therefore not tracked either.
var serverAllocated = map[string][][]string{
	"Service": {
		{"spec", "clusterIP"}, {"spec", "clusterIPs"}, {"spec", "ipFamilies"}, {"spec", "ipFamilyPolicy"},
		{"spec", "healthCheckNodePort"},
	},
	"Job": {
		{"spec", "selector"}, {"spec", "manualSelector"},
		{"spec", "template", "metadata", "labels", "controller-uid"},
		{"spec", "template", "metadata", "labels", "batch.kubernetes.io/controller-uid"},
		{"spec", "template", "metadata", "labels", "job-name"},
		{"spec", "template", "metadata", "labels", "batch.kubernetes.io/job-name"},
	},
}

// serverAllocatedPaths are the serverAllocated paths of obj, of kind: the kind's fixed
// ones, and for a Service the nodePort of each of its ports.
func serverAllocatedPaths(kind string, obj map[string]interface{}) [][]string {
	fixed := serverAllocated[kind]
	if kind != "Service" {
		return fixed
	}
	spec, _ := obj["spec"].(map[string]interface{})
	ports, _ := spec["ports"].([]interface{})
	keyed := KeyedByName(ports)
	out := fixed
	for i, p := range ports {
		port, _ := p.(map[string]interface{})
		if _, ok := port["nodePort"]; !ok {
			continue
		}
		tok := strconv.Itoa(i)
		if keyed {
			tok, _ = port["name"].(string)
		}
		if len(out) == len(fixed) {
			out = append([][]string(nil), fixed...)
		}
		out = append(out, []string{"spec", "ports", tok, "nodePort"})
	}
	return out
}

// pruneEmptyMap deletes the map at path if it exists and is empty.
func pruneEmptyMap(obj map[string]interface{}, path ...string) {
	cur := obj
	for _, f := range path[:len(path)-1] {
		next, ok := cur[f].(map[string]interface{})
		if !ok {
			return
		}
		cur = next
	}
	last := path[len(path)-1]
	if m, ok := cur[last].(map[string]interface{}); ok && len(m) == 0 {
		delete(cur, last)
	}
}

// Group returns the API group of an apiVersion: "apps" for "apps/v1", "" for the
// core group's "v1".
func Group(apiVersion string) string {
	if i := strings.IndexByte(apiVersion, '/'); i >= 0 {
		return apiVersion[:i]
	}
	return ""
}

// Valid reports whether s has the form of a digest, so that a malformed annotation
// is told apart from a digest that does not match.
func Valid(s string) bool {
	if !strings.HasPrefix(s, Prefix) || len(s) != len(Prefix)+2*sha256.Size {
		return false
	}
	for _, c := range s[len(Prefix):] {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
