package tracked

import (
	"strings"
	"testing"
)

func TestLookupAndOwnership(t *testing.T) {
	if k, ok := Lookup("rbac.authorization.k8s.io", "ClusterRoleBinding"); !ok || k.Namespaced || k.Resource != "clusterrolebindings" {
		t.Fatalf("ClusterRoleBinding lookup = %+v, %v", k, ok)
	}
	if k, ok := LookupResource("apps", "deployments"); !ok || k.GVK.Kind != "Deployment" {
		t.Fatalf("deployments lookup = %+v, %v", k, ok)
	}
	// A ReplicaSet or ReplicationController an editor creates runs Pods like a
	// Deployment does: both are tracked, derived or not.
	if k, ok := Lookup("apps", "ReplicaSet"); !ok || k.Resource != "replicasets" {
		t.Fatal("ReplicaSets must be tracked")
	}
	if k, ok := LookupResource("", "replicationcontrollers"); !ok || k.GVK.Kind != "ReplicationController" {
		t.Fatal("ReplicationControllers must be tracked")
	}
	owned := map[string]interface{}{"metadata": map[string]interface{}{"ownerReferences": []interface{}{
		map[string]interface{}{"kind": "ReplicaSet", "controller": true},
	}}}
	notOwned := map[string]interface{}{"metadata": map[string]interface{}{"ownerReferences": []interface{}{
		map[string]interface{}{"kind": "ConfigMap"},
	}}}
	if !ControllerOwned(owned) || ControllerOwned(notOwned) || ControllerOwned(map[string]interface{}{"metadata": "junk"}) {
		t.Fatal("ControllerOwned misjudged ownership")
	}
}

func TestControlPlaneObject(t *testing.T) {
	cases := map[string]struct {
		kind, ns, name string
		labels         map[string]string
		want           bool
	}{
		"bootstrap cluster-admin":           {"ClusterRole", "", "cluster-admin", map[string]string{"kubernetes.io/bootstrapping": "rbac-defaults"}, true},
		"bootstrap system binding":          {"ClusterRoleBinding", "", "system:node", map[string]string{"kubernetes.io/bootstrapping": "rbac-defaults"}, true},
		"a user's binding named system:x":   {"ClusterRoleBinding", "", "system:x", nil, false},
		"root CA configmap":                 {"ConfigMap", "shop", "kube-root-ca.crt", nil, true},
		"default service account":           {"ServiceAccount", "shop", "default", nil, true},
		"the kubernetes service":            {"Service", "default", "kubernetes", nil, true},
		"a user's binding to cluster-admin": {"ClusterRoleBinding", "", "builder-cluster-admin", nil, false},
		"a user's service named kubernetes": {"Service", "shop", "kubernetes", nil, false},
		"a user's configmap":                {"ConfigMap", "shop", "flags", nil, false},
	}
	for name, tc := range cases {
		if got := ControlPlaneObject(tc.kind, tc.ns, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s: ControlPlaneObject = %v, want %v", name, got, tc.want)
		}
	}
}

func TestDerivedBy(t *testing.T) {
	rs := OwnerRef{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-abc", UID: "u1"}
	cases := map[string]struct {
		kind string
		ref  OwnerRef
		user string
		want bool
	}{
		"a ReplicaSet's Pod from the replicaset controller": {"Pod", rs, "system:serviceaccount:kube-system:replicaset-controller", true},
		"from kube-controller-manager's own identity":       {"Pod", rs, "system:kube-controller-manager", true},
		"a Deployment's ReplicaSet":                         {"ReplicaSet", OwnerRef{APIVersion: "apps/v1", Kind: "Deployment"}, "system:serviceaccount:kube-system:deployment-controller", true},
		"a CronJob's Job":                                   {"Job", OwnerRef{APIVersion: "batch/v1", Kind: "CronJob"}, "system:serviceaccount:kube-system:cronjob-controller", true},
		"an RC's Pod":                                       {"Pod", OwnerRef{APIVersion: "v1", Kind: "ReplicationController"}, "system:serviceaccount:kube-system:replication-controller", true},
		"an editor claiming a ReplicaSet owner":             {"Pod", rs, "mallory", false},
		"an editor claiming a ConfigMap owner":              {"Deployment", OwnerRef{APIVersion: "v1", Kind: "ConfigMap"}, "mallory", false},
		"the wrong controller for the derivation":           {"Pod", rs, "system:serviceaccount:kube-system:job-controller", false},
		"an owner kind that derives nothing of this kind":   {"RoleBinding", OwnerRef{APIVersion: "v1", Kind: "ConfigMap"}, "system:kube-controller-manager", false},
		"an owner of another group with the same kind":      {"Pod", OwnerRef{APIVersion: "example.com/v1", Kind: "ReplicaSet"}, "system:serviceaccount:kube-system:replicaset-controller", false},
		"a look-alike service account of another namespace": {"Pod", rs, "system:serviceaccount:team:replicaset-controller", false},
	}
	for name, tc := range cases {
		if got := DerivedBy(tc.kind, tc.ref, tc.user); got != tc.want {
			t.Errorf("%s: DerivedBy = %v, want %v", name, got, tc.want)
		}
	}
	ref, ok := ControllerRef(map[string]interface{}{"metadata": map[string]interface{}{"ownerReferences": []interface{}{
		map[string]interface{}{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc", "uid": "u1", "controller": true},
	}}})
	if !ok || ref != rs {
		t.Fatalf("ControllerRef = %+v, %v", ref, ok)
	}
}

func TestSelect(t *testing.T) {
	all, err := Select(nil)
	if err != nil || len(all) != len(Default) {
		t.Fatalf("no names must select the whole table, got %d kinds, %v", len(all), err)
	}
	got, err := Select([]string{"cm", "deployments.apps", "ClusterRoleBinding", "secrets.core"})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, k := range got {
		kinds = append(kinds, k.GVK.Kind)
	}
	// The table's order, whatever the order of the names.
	if want := "Deployment ConfigMap Secret ClusterRoleBinding"; strings.Join(kinds, " ") != want {
		t.Errorf("selected %v, want %s", kinds, want)
	}
	if _, ok := got.LookupResource("", "pods"); ok {
		t.Error("pods were not selected")
	}
	_, err = Select([]string{"deploy", "rollouts.argoproj.io", "podz"})
	if err == nil || !strings.Contains(err.Error(), `--tracked-kinds: unknown kind "rollouts.argoproj.io", "podz"`) || !strings.Contains(err.Error(), "deployments") {
		t.Fatalf("unknown kinds must be named with what can be named, got %v", err)
	}
}
