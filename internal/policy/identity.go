package policy

import (
	"strings"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
)

// Identity is who sent an admission request.
type Identity struct {
	Username string
	Groups   []string
}

const serviceAccountPrefix = "system:serviceaccount:"

// systemUsers are identities of the control plane itself. They are never asked for
// provenance: blocking them would break the cluster, and what they write is derived.
var systemUsers = map[string]bool{
	"system:apiserver":               true,
	"system:kube-controller-manager": true,
	"system:kube-scheduler":          true,
	"system:kube-proxy":              true,
}

// systemGroups cover the kube-system service accounts (controllers run as them with
// --use-service-account-credentials) and the nodes.
var systemGroups = map[string]bool{
	"system:serviceaccounts:kube-system": true,
	"system:nodes":                       true,
	"system:masters":                     false, // a human admin: never exempt by group
}

// IsSystem reports whether id is part of the control plane.
func IsSystem(id Identity) bool {
	if systemUsers[id.Username] || strings.HasPrefix(id.Username, serviceAccountPrefix+"kube-system:") ||
		strings.HasPrefix(id.Username, "system:node:") {
		return true
	}
	for _, g := range id.Groups {
		if systemGroups[g] {
			return true
		}
	}
	return false
}

// Matches reports whether subject s names identity id.
func Matches(s v1alpha1.Subject, id Identity) bool {
	switch s.Kind {
	case v1alpha1.SubjectUser:
		return s.Name == id.Username
	case v1alpha1.SubjectGroup:
		for _, g := range id.Groups {
			if g == s.Name {
				return true
			}
		}
	case v1alpha1.SubjectServiceAccount:
		rest, isSA := strings.CutPrefix(id.Username, serviceAccountPrefix)
		ns, name, ok := strings.Cut(rest, ":")
		// Like the apiserver's serviceaccount.SplitUsername: exactly "namespace:name",
		// neither empty. Anything else is no service account, not even for "*".
		if !isSA || !ok || ns == "" || name == "" || strings.Contains(name, ":") || ns != s.Namespace {
			return false
		}
		return s.Name == "*" || s.Name == name
	}
	return false
}

// MatchesAny reports whether any of subjects names id.
func MatchesAny(subjects []v1alpha1.Subject, id Identity) bool {
	for _, s := range subjects {
		if Matches(s, id) {
			return true
		}
	}
	return false
}
