package findings

import (
	"strings"

	"github.com/kubetrail/kubetrail/internal/digest"
)

// LocationPointer turns a location in dotted form (a secretscan location, a field.Path)
// into the JSON pointer of the value, with
// the paths of package drift (named list entries by name, others by index):
//
//	spec.template.spec.containers[app].env[DB_PASSWORD] -> /spec/template/spec/containers/app/env/DB_PASSWORD/value
//	spec.containers[app].args[2]                        -> /spec/containers/app/args/2
//	spec.template.spec.containers[app].env[#3]          -> /spec/template/spec/containers/app/env/3/value
//	data[credentials.json]                              -> /data/credentials.json
//
// A bracket holds a name or "#<index>". Location segments are split on "." outside
// brackets only, so ConfigMap keys with dots survive.
func LocationPointer(location string) string {
	var toks []string
	var cur strings.Builder
	depth := 0
	flush := func() {
		if cur.Len() > 0 {
			toks = append(toks, digest.EscapeToken(cur.String()))
			cur.Reset()
		}
	}
	for i := 0; i < len(location); i++ {
		c := location[i]
		switch {
		case c == '[' && depth == 0:
			flush()
			depth++
		case c == ']' && depth == 1:
			depth--
			s := cur.String()
			cur.Reset()
			toks = append(toks, digest.EscapeToken(strings.TrimPrefix(s, "#")))
		case c == '.' && depth == 0:
			flush()
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	// An env entry's literal is its value field.
	if n := len(toks); n >= 2 && toks[n-2] == "env" {
		toks = append(toks, "value")
	}
	return "/" + strings.Join(toks, "/")
}
