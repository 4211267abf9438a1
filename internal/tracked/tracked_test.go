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
