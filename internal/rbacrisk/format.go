package rbacrisk

import (
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// formatRule renders a PolicyRule the way `kubectl describe role` names
// resources (resource.group, core group bare, "*.*" for everything) so a
// reviewer can match the Grant text against the manifest in the pull request.
func formatRule(r *rbacv1.PolicyRule) string {
	var parts []string
	verbs := strings.Join(r.Verbs, ",")
	if len(r.Resources) > 0 {
		var res []string
		for _, g := range r.APIGroups {
			for _, rs := range r.Resources {
				name := rs
				if g != "" {
					name += "." + g
				}
				res = appendUnique(res, name)
			}
		}
		s := verbs + " " + strings.Join(res, ",")
		if len(r.ResourceNames) > 0 {
			s += " [" + strings.Join(r.ResourceNames, ",") + "]"
		}
		parts = append(parts, s)
	}
	if len(r.NonResourceURLs) > 0 {
		parts = append(parts, verbs+" nonResourceURLs "+strings.Join(r.NonResourceURLs, ","))
	}
	return strings.Join(parts, "; ")
}
