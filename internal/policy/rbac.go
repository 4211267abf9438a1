package policy

import (
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kubetrail/kubetrail/internal/rbacrisk"
)

// RoleRules returns the rules of the Role (namespace set) or ClusterRole (namespace
// empty) named by a roleRef, and whether it exists.
type RoleRules func(kind, namespace, name string) ([]rbacv1.PolicyRule, bool)

// GrantedRisks returns the risky permissions an RBAC object grants in obj that it did
// not grant in old (nil on create). For a binding that is the referenced role's risks
// when the binding is new, its role changed, or it gained subjects; for a role, the
// risks of its rules that its old rules did not have. Aggregated ClusterRoles are left
// to the reconciler, which sees the whole aggregation.
func GrantedRisks(kind string, obj, old map[string]interface{}, rules RoleRules) []rbacrisk.Risk {
	switch kind {
	case "RoleBinding", "ClusterRoleBinding":
		var b, ob rbacv1.RoleBinding // same shape for both kinds
		if !convert(obj, &b) {
			return nil
		}
		scope := rbacrisk.ScopeCluster
		if kind == "RoleBinding" {
			scope = b.Namespace
		}
		roleNS := ""
		if b.RoleRef.Kind == "Role" {
			roleNS = b.Namespace
		}
		r, ok := rules(b.RoleRef.Kind, roleNS, b.RoleRef.Name)
		if !ok {
			return nil
		}
		risks := rbacrisk.RulesRisks(r, scope)
		if old != nil && convert(old, &ob) && ob.RoleRef == b.RoleRef && !gainedSubjects(ob.Subjects, b.Subjects) {
			return nil
		}
		return risks
	case "Role", "ClusterRole":
		var r, or rbacv1.ClusterRole
		if !convert(obj, &r) {
			return nil
		}
		scope := rbacrisk.ScopeCluster
		if kind == "Role" {
			scope = r.Namespace
		}
		now := rbacrisk.RulesRisks(r.Rules, scope)
		if old == nil || !convert(old, &or) {
			return now
		}
		before := map[string]bool{}
		for _, x := range rbacrisk.RulesRisks(or.Rules, scope) {
			before[x.Rule+"\x00"+x.Scope] = true
		}
		var gained []rbacrisk.Risk
		for _, x := range now {
			if !before[x.Rule+"\x00"+x.Scope] {
				gained = append(gained, x)
			}
		}
		return gained
	}
	return nil
}

func gainedSubjects(before, after []rbacv1.Subject) bool {
	had := map[rbacv1.Subject]bool{}
	for _, s := range before {
		had[s] = true
	}
	for _, s := range after {
		if !had[s] {
			return true
		}
	}
	return false
}

func convert(obj map[string]interface{}, into interface{}) bool {
	return runtime.DefaultUnstructuredConverter.FromUnstructured(obj, into) == nil
}
