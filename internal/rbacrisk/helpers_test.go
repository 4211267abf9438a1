package rbacrisk

import (
	"fmt"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Builders keep the test tables readable: a reviewer should see the RBAC
// manifest shape at a glance, not struct boilerplate.

func list(s string) []string {
	if s == "-" {
		return nil
	}
	return strings.Split(s, ",")
}

// pr builds a resource rule; groups "" is the core group, "-" means none.
func pr(verbs, groups, resources string, names ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: list(verbs), APIGroups: list(groups), Resources: list(resources), ResourceNames: names}
}

func nonResource(verbs, urls string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: list(verbs), NonResourceURLs: list(urls)}
}

var adminRules = []rbacv1.PolicyRule{pr("*", "*", "*"), nonResource("*", "*")}

func cr(name string, rules ...rbacv1.PolicyRule) rbacv1.ClusterRole {
	return rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}
}

func labelled(c rbacv1.ClusterRole, k, v string) rbacv1.ClusterRole {
	c.Labels = map[string]string{k: v}
	return c
}

func aggregate(c rbacv1.ClusterRole, selectors ...metav1.LabelSelector) rbacv1.ClusterRole {
	c.AggregationRule = &rbacv1.AggregationRule{ClusterRoleSelectors: selectors}
	return c
}

func match(k, v string) metav1.LabelSelector {
	return metav1.LabelSelector{MatchLabels: map[string]string{k: v}}
}

func role(ns, name string, rules ...rbacv1.PolicyRule) rbacv1.Role {
	return rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Rules: rules}
}

func crb(name, clusterRole string, subjects ...rbacv1.Subject) rbacv1.ClusterRoleBinding {
	return rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: clusterRole},
		Subjects:   subjects,
	}
}

// rb builds a RoleBinding; kind is "Role" or "ClusterRole".
func rb(ns, name, kind, roleName string, subjects ...rbacv1.Subject) rbacv1.RoleBinding {
	return rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kind, Name: roleName},
		Subjects:   subjects,
	}
}

func sa(ns, name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}
}

func user(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}
}

func group(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: name}
}

// short renders a risk as "rule@scope:Severity" so expectations state exactly
// what fired, where, and how bad.
func short(r Risk) string {
	return fmt.Sprintf("%s@%s:%s", r.Rule, r.Scope, r.Severity)
}

func shorts(rs []Risk) []string {
	var out []string
	for _, r := range rs {
		out = append(out, short(r))
	}
	return out
}
