package drift

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strconv"
	"strings"

	"github.com/kubetrail/kubetrail/internal/digest"
)

// MaxDepth is the number of path tokens below which a subtree is hashed as one
// leaf. 8 reaches every field of a container's env entry
// ("/spec/template/spec/containers/app/env/DB_HOST/value") and of its resources,
// which is where deploys usually differ.
const MaxDepth = 8

// hashLen is the number of hex digits kept of each leaf's SHA-256.
const hashLen = 8

// Fingerprints flattens obj's tracked content (digest.TrackedContent(obj, nil)) into
// a map from each leaf's path to a short hash of its value. See the package
// documentation for how paths are formed.
func Fingerprints(obj map[string]interface{}) map[string]string {
	fp := map[string]string{}
	for k, v := range digest.TrackedContent(obj, nil) {
		walk(fp, "/"+digest.EscapeToken(k), v, 1)
	}
	return fp
}

func walk(fp map[string]string, path string, v interface{}, depth int) {
	if depth >= MaxDepth {
		fp[path] = hash(v)
		return
	}
	switch x := v.(type) {
	case map[string]interface{}:
		if len(x) == 0 {
			fp[path] = hash(x)
			return
		}
		for k, e := range x {
			walk(fp, path+"/"+digest.EscapeToken(k), e, depth+1)
		}
	case []interface{}:
		if len(x) == 0 {
			fp[path] = hash(x)
			return
		}
		if !digest.KeyedByName(x) {
			for i, e := range x {
				walk(fp, path+"/"+strconv.Itoa(i), e, depth+1)
			}
			return
		}
		names := make([]interface{}, len(x))
		for i, e := range x {
			name := e.(map[string]interface{})["name"].(string)
			names[i] = name
			walk(fp, path+"/"+digest.EscapeToken(name), e, depth+1)
		}
		if len(names) > 1 {
			// The order of named entries, which their name-keyed paths no longer show.
			fp[path] = hash(names)
		}
	default:
		fp[path] = hash(x)
	}
}

// hash is the fingerprint of one value. The value comes from TrackedContent, so it
// is already canonical and CanonicalValue cannot fail on it; were it to, the hash
// of nothing is still a stable answer.
func hash(v interface{}) string {
	b, _ := digest.CanonicalValue(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:hashLen/2])
}

// Matches reports whether path is one of the ignore pointers or lies below one
// ("/spec/template/metadata" matches "/spec/template/metadata/labels/app").
// Pointers are compared as written, with the paths of this package: an entry of a
// named list is matched by "/spec/template/spec/containers/app", not by ".../0", and
// a pointer below a leaf hashed whole at MaxDepth matches nothing. A pointer that
// does not start with "/" (including "", the whole document) matches nothing:
// digest.Of rejects such pointers, and ignoring everything is never meant.
func Matches(path string, ignore []string) bool {
	for _, p := range ignore {
		if p == "" || p[0] != '/' {
			continue
		}
		if path == p || (strings.HasPrefix(path, p) && path[len(p)] == '/') {
			return true
		}
	}
	return false
}

// Changed returns, sorted, the paths whose fingerprint differs between a and b, or
// that exist in only one of them, leaving out paths that Match ignore.
//
// Additions and removals are collapsed: when a whole subtree exists on one side
// only, its root is reported instead of its leaves (a new container reports
// "/spec/template/spec/containers/sidecar", not its dozen fields). And a path is not
// reported when a path below it is: a list's own leaf (its emptiness, or the order
// of its named entries) changes whenever entries come or go, which the entries'
// paths already say.
func Changed(a, b map[string]string, ignore []string) []string {
	a, b = without(a, ignore), without(b, ignore)
	inA, inB := nodes(a), nodes(b)
	seen := map[string]bool{}
	var out []string
	report := func(p string) {
		// Collapse to the highest ancestor missing on one side: everything below it
		// was added or removed with it.
		for i := 1; i < len(p); i++ {
			if p[i] != '/' {
				continue
			}
			if anc := p[:i]; !inA[anc] || !inB[anc] {
				p = anc
				break
			}
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for p, h := range a {
		if hb, ok := b[p]; !ok || hb != h {
			report(p)
		}
	}
	for p := range b {
		if _, ok := a[p]; !ok {
			report(p)
		}
	}
	sort.Strings(out)
	// Sorted, a path's descendants follow it; keep a path only if the next one is
	// not below it.
	kept := out[:0]
	for i, p := range out {
		if i+1 < len(out) && strings.HasPrefix(out[i+1], p+"/") {
			continue
		}
		kept = append(kept, p)
	}
	return kept
}

// without returns fp minus the ignored paths (fp itself when nothing is ignored).
func without(fp map[string]string, ignore []string) map[string]string {
	if len(ignore) == 0 {
		return fp
	}
	out := make(map[string]string, len(fp))
	for p, h := range fp {
		if !Matches(p, ignore) {
			out[p] = h
		}
	}
	return out
}

// nodes returns every path of fp and every ancestor of one: the nodes that exist in
// the object fp was taken from.
func nodes(fp map[string]string) map[string]bool {
	n := make(map[string]bool, 2*len(fp))
	for p := range fp {
		n[p] = true
		for i := len(p) - 1; i > 0; i-- {
			if p[i] != '/' {
				continue
			}
			if n[p[:i]] {
				break // its ancestors are in already
			}
			n[p[:i]] = true
		}
	}
	return n
}
