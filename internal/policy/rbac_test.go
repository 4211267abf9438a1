package policy_test

import (
	"fmt"
	"slices"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kubetrail/kubetrail/internal/policy"
)

// roles is what the webhook's RoleRules resolver finds in the cluster.
var roles = map[string][]rbacv1.PolicyRule{
	"ClusterRole//cluster-admin": {
		{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}},
		{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}},
	},
	"ClusterRole//view":  {{Verbs: []string{"get", "list", "watch"}, APIGroups: []string{""}, Resources: []string{"pods", "services"}}},
	"Role/shop/debugger": {{Verbs: []string{"create"}, APIGroups: []string{""}, Resources: []string{"pods/exec"}}},
}

func unstructured(t *testing.T, obj interface{}) map[string]interface{} {
	t.Helper()
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestGrantedRisks(t *testing.T) {
	sa := func(name string) rbacv1.Subject {
		return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: "shop"}
	}
	binding := func(kind, ns, roleKind, role string, subjects ...rbacv1.Subject) map[string]interface{} {
		b := &rbacv1.RoleBinding{RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: roleKind, Name: role}, Subjects: subjects}
		b.Kind, b.APIVersion, b.Name, b.Namespace = kind, "rbac.authorization.k8s.io/v1", "grant", ns
		return unstructured(t, b)
	}
	labelled := func(obj map[string]interface{}) map[string]interface{} {
		obj["metadata"].(map[string]interface{})["labels"] = map[string]interface{}{"team": "shop"}
		return obj
	}
	role := func(kind, ns string, rules ...rbacv1.PolicyRule) map[string]interface{} {
		r := &rbacv1.Role{Rules: rules}
		r.Kind, r.APIVersion, r.Name, r.Namespace = kind, "rbac.authorization.k8s.io/v1", "r", ns
		return unstructured(t, r)
	}
	getPods := rbacv1.PolicyRule{Verbs: []string{"get", "list"}, APIGroups: []string{""}, Resources: []string{"pods"}}
	execPods := rbacv1.PolicyRule{Verbs: []string{"create"}, APIGroups: []string{""}, Resources: []string{"pods/exec"}}
	readSecrets := rbacv1.PolicyRule{Verbs: []string{"get", "list"}, APIGroups: []string{""}, Resources: []string{"secrets"}}

	tests := map[string]struct {
		kind     string
		obj, old map[string]interface{}
		want     []string // rule@scope
		lookup   string   // the only roleRef the resolver may be asked for (and must be, when there are risks)
	}{
		"a RoleBinding to cluster-admin grants admin in its namespace only": {
			kind: "RoleBinding", obj: binding("RoleBinding", "shop", "ClusterRole", "cluster-admin", sa("deployer")),
			want: []string{"namespace-admin@shop"}, lookup: "ClusterRole//cluster-admin",
		},
		"a ClusterRoleBinding to cluster-admin grants it cluster-wide": {
			kind: "ClusterRoleBinding", obj: binding("ClusterRoleBinding", "", "ClusterRole", "cluster-admin", sa("deployer")),
			want: []string{"cluster-admin@cluster"}, lookup: "ClusterRole//cluster-admin",
		},
		"a RoleBinding to a Role resolves the Role in the binding's namespace": {
			kind: "RoleBinding", obj: binding("RoleBinding", "shop", "Role", "debugger", sa("deployer")),
			want: []string{"pods-exec@shop"}, lookup: "Role/shop/debugger",
		},
		"a binding to a harmless role": {
			kind: "RoleBinding", obj: binding("RoleBinding", "shop", "ClusterRole", "view", sa("deployer")), lookup: "ClusterRole//view",
		},
		"a binding to a role that does not exist grants nothing yet": {
			kind: "RoleBinding", obj: binding("RoleBinding", "shop", "ClusterRole", "no-such-role", sa("deployer")), lookup: "ClusterRole//no-such-role",
		},
		"an update adding a subject grants the role to it": {
			kind: "RoleBinding",
			obj:  binding("RoleBinding", "shop", "ClusterRole", "cluster-admin", sa("deployer"), sa("intruder")),
			old:  binding("RoleBinding", "shop", "ClusterRole", "cluster-admin", sa("deployer")),
			want: []string{"namespace-admin@shop"}, lookup: "ClusterRole//cluster-admin",
		},
		"an update replacing a subject grants the role to the new one": {
			kind: "ClusterRoleBinding",
			obj:  binding("ClusterRoleBinding", "", "ClusterRole", "cluster-admin", rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "devs"}),
			old:  binding("ClusterRoleBinding", "", "ClusterRole", "cluster-admin", rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "sre"}),
			want: []string{"cluster-admin@cluster"}, lookup: "ClusterRole//cluster-admin",
		},
		"an update changing nothing relevant grants nothing": {
			kind: "RoleBinding", lookup: "ClusterRole//cluster-admin",
			obj: labelled(binding("RoleBinding", "shop", "ClusterRole", "cluster-admin", sa("deployer"))),
			old: binding("RoleBinding", "shop", "ClusterRole", "cluster-admin", sa("deployer")),
		},
		"an update removing a subject grants nothing": {
			kind: "RoleBinding", lookup: "ClusterRole//cluster-admin",
			obj: binding("RoleBinding", "shop", "ClusterRole", "cluster-admin", sa("deployer")),
			old: binding("RoleBinding", "shop", "ClusterRole", "cluster-admin", sa("intruder"), sa("deployer")),
		},
		"a Role created with pods/exec": {
			kind: "Role", obj: role("Role", "shop", getPods, execPods), want: []string{"pods-exec@shop"},
		},
		"a Role gaining pods/exec reports that risk only": {
			kind: "Role", obj: role("Role", "shop", getPods, readSecrets, execPods), old: role("Role", "shop", getPods, readSecrets),
			want: []string{"pods-exec@shop"},
		},
		"a Role keeping its risky rules gains nothing": {
			kind: "Role", obj: labelled(role("Role", "shop", readSecrets, execPods)), old: role("Role", "shop", execPods, readSecrets),
		},
		"a Role losing a risky rule gains nothing": {
			kind: "Role", obj: role("Role", "shop", getPods), old: role("Role", "shop", getPods, execPods),
		},
		"a ClusterRole gaining secrets is a cluster-wide risk": {
			kind: "ClusterRole", obj: role("ClusterRole", "", getPods, readSecrets), old: role("ClusterRole", "", getPods),
			want: []string{"secrets-read@cluster"},
		},
		"a harmless Role": {
			kind: "Role", obj: role("Role", "shop", getPods),
		},
		"other kinds grant nothing": {
			kind: "Deployment", obj: deployment("nginx:1.27", nil),
		},
		"a binding that does not decode grants nothing and does not panic": {
			kind: "RoleBinding", obj: map[string]interface{}{"kind": "RoleBinding", "roleRef": "cluster-admin", "subjects": 7},
		},
		"an old object that does not decode counts as new": {
			kind: "RoleBinding",
			obj:  binding("RoleBinding", "shop", "ClusterRole", "cluster-admin", sa("deployer")),
			old:  map[string]interface{}{"subjects": "deployer"},
			want: []string{"namespace-admin@shop"}, lookup: "ClusterRole//cluster-admin",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var asked []string
			rules := func(kind, namespace, name string) ([]rbacv1.PolicyRule, bool) {
				key := kind + "/" + namespace + "/" + name
				asked = append(asked, key)
				r, ok := roles[key]
				return r, ok
			}
			var got []string
			for _, r := range policy.GrantedRisks(tc.kind, tc.obj, tc.old, rules) {
				got = append(got, fmt.Sprintf("%s@%s", r.Rule, r.Scope))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("GrantedRisks() = %v, want %v", got, tc.want)
			}
			if len(tc.want) > 0 && tc.lookup != "" && !slices.Contains(asked, tc.lookup) {
				t.Errorf("the resolver was asked for %v, want %s", asked, tc.lookup)
			}
			for _, a := range asked {
				if a != tc.lookup {
					t.Errorf("the resolver was asked for %s", a)
				}
			}
		})
	}
}
