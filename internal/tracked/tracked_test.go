package tracked

import "testing"

func TestLookupAndOwnership(t *testing.T) {
	if k, ok := Lookup("rbac.authorization.k8s.io", "ClusterRoleBinding"); !ok || k.Namespaced || k.Resource != "clusterrolebindings" {
		t.Fatalf("ClusterRoleBinding lookup = %+v, %v", k, ok)
	}
	if k, ok := LookupResource("apps", "deployments"); !ok || k.GVK.Kind != "Deployment" {
		t.Fatalf("deployments lookup = %+v, %v", k, ok)
	}
	if _, ok := Lookup("apps", "ReplicaSet"); ok {
		t.Fatal("ReplicaSets are derived from Deployments and must not be tracked on their own")
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
