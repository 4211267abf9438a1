package findings

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubetrail/kubetrail/internal/digest"
)

// Manager is a field manager that owns some of a set of paths.
type Manager struct {
	// Name is the field manager, e.g. "kubectl-edit".
	Name string
	// Operation is Update or Apply.
	Operation string
	// Subresource is the subresource the manager wrote through ("scale"), if any.
	Subresource string
	// Time is when the manager last changed its fields.
	Time *metav1.Time
	// Paths are the paths (of those asked about) the manager owns.
	Paths []string
}

// String renders the manager for a message: "kubectl-edit (Update at 2026-05-09T10:00:00Z)".
func (m Manager) String() string {
	var b strings.Builder
	b.WriteString(m.Name)
	b.WriteString(" (")
	b.WriteString(m.Operation)
	if m.Subresource != "" {
		b.WriteString(" of /" + m.Subresource)
	}
	if m.Time != nil {
		b.WriteString(" at " + m.Time.UTC().Format(time.RFC3339))
	}
	b.WriteString(")")
	return b.String()
}

// Owners returns the field managers of entries that own any of paths, sorted by name.
// paths are JSON pointers as package drift writes them (named list entries addressed by
// name). A manager owns a path when one of its fields is the path, lies below it or
// above it: a changed container ("/spec/template/spec/containers/app") is owned by
// whoever owns any of its fields. When a plain update changes a field, the apiserver
// moves the field's ownership to the updating manager, so the owners of a drifted path
// are the managers that changed it last.
func Owners(entries []metav1.ManagedFieldsEntry, paths []string) []Manager {
	if len(paths) == 0 {
		return nil
	}
	want := make([][]string, len(paths))
	for i, p := range paths {
		want[i] = split(p)
	}
	var out []Manager
	for _, e := range entries {
		if e.FieldsV1 == nil {
			continue
		}
		owned := FieldPaths(e.FieldsV1.Raw)
		var hit []string
		for i, w := range want {
			for _, o := range owned {
				if o.Node && len(w) > len(o.Tokens) {
					// Owning an entry's existence ("."), not its fields.
					continue
				}
				if overlap(w, o.Tokens) {
					hit = append(hit, paths[i])
					break
				}
			}
		}
		if len(hit) == 0 {
			continue
		}
		out = append(out, Manager{Name: e.Manager, Operation: string(e.Operation), Subresource: e.Subresource, Time: e.Time, Paths: hit})
	}
	slices.SortStableFunc(out, func(a, b Manager) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// FieldPath is one field a manager owns.
type FieldPath struct {
	// Tokens are the JSON pointer tokens of the field (escaped), "*" for any.
	Tokens []string
	// Node is true when only the node's existence is owned (a "." member), not the
	// fields below it.
	Node bool
}

// FieldPaths turns a managedFields fieldsV1 set into the fields it owns. "f:<name>" is
// a field, "k:{...}" a list entry by key (its name when the key has one, else any
// entry, "*"), "v:<value>" a set member ("*") and "i:<n>" an index. A "." member means
// the node itself is owned. Malformed input gives nil.
func FieldPaths(raw []byte) []FieldPath {
	var root map[string]interface{}
	if err := json.Unmarshal(raw, &root); err != nil {
		return nil
	}
	var out []FieldPath
	var walk func(prefix []string, node map[string]interface{})
	walk = func(prefix []string, node map[string]interface{}) {
		for k, v := range node {
			if k == "." {
				out = append(out, FieldPath{Tokens: slices.Clone(prefix), Node: true})
				continue
			}
			tok, ok := token(k)
			if !ok {
				continue
			}
			path := append(slices.Clone(prefix), tok)
			child, _ := v.(map[string]interface{})
			if len(child) == 0 {
				out = append(out, FieldPath{Tokens: path})
				continue
			}
			walk(path, child)
		}
	}
	walk(nil, root)
	return out
}

func token(k string) (string, bool) {
	switch {
	case strings.HasPrefix(k, "f:"):
		return digest.EscapeToken(k[2:]), true
	case strings.HasPrefix(k, "k:"):
		var key map[string]interface{}
		if err := json.Unmarshal([]byte(k[2:]), &key); err == nil {
			if name, ok := key["name"].(string); ok && name != "" {
				return digest.EscapeToken(name), true
			}
		}
		return "*", true
	case strings.HasPrefix(k, "v:"):
		return "*", true
	case strings.HasPrefix(k, "i:"):
		if _, err := strconv.Atoi(k[2:]); err == nil {
			return k[2:], true
		}
		return "*", true
	}
	return "", false
}

// split splits a JSON pointer into its (still escaped) tokens.
func split(p string) []string {
	if p == "" || p == "/" {
		return nil
	}
	return strings.Split(strings.TrimPrefix(p, "/"), "/")
}

// overlap reports whether one token path is a prefix of the other, "*" matching any token.
func overlap(a, b []string) bool {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] && a[i] != "*" && b[i] != "*" {
			return false
		}
	}
	return true
}
