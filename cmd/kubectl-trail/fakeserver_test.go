package main

// Error paths and fallbacks that need an API server behaving in a particular way: a
// small fake one, so these run without envtest.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1alpha1 "github.com/kubetrail/kubetrail/api/v1alpha1"
)

// fakeAPIServer answers /version, serves objects by path, and answers the rest with
// handler (nil: 404 "the server could not find the requested resource", as for a
// resource type that does not exist).
func fakeAPIServer(t *testing.T, objects map[string]interface{}, handler func(w http.ResponseWriter, r *http.Request) bool) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/version" {
			fmt.Fprint(w, `{"major":"1","minor":"37","gitVersion":"v1.37.2"}`)
			return
		}
		if handler != nil && handler(w, r) {
			return
		}
		if obj, ok := objects[r.URL.Path]; ok {
			_ = json.NewEncoder(w).Encode(obj)
			return
		}
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server could not find the requested resource","reason":"NotFound","details":{},"code":404}`)
	}))
	t.Cleanup(srv.Close)
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster: {server: %q}
users:
- name: fake
  user: {token: t}
contexts:
- name: fake
  context: {cluster: fake, user: fake, namespace: shop}
current-context: fake
`, srv.URL)
	if err := os.WriteFile(kc, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return kc
}

var fakeWeb = map[string]interface{}{
	"apiVersion": "apps/v1", "kind": "Deployment",
	"metadata": map[string]interface{}{"name": "web", "namespace": "shop", "uid": "u1"},
	"spec":     map[string]interface{}{"template": map[string]interface{}{"spec": map[string]interface{}{"containers": []interface{}{map[string]interface{}{"name": "web", "image": "web:1"}}}}},
}

func TestCRDsNotInstalled(t *testing.T) {
	kc := fakeAPIServer(t, map[string]interface{}{"/apis/apps/v1/namespaces/shop/deployments/web": fakeWeb}, nil)
	want := "error: the TraceRecord API (kubetrail.io/v1alpha1) is not installed: install kubetrail with kubectl apply -k config/default\n"
	for _, args := range [][]string{
		{"why", "deployment/web"},
		{"commit", "abcd"},
		{"findings", "-A"},
		{"export"},
	} {
		out, errOut, code := execute(t, nil, "", append([]string{"--kubeconfig", kc}, args...)...)
		if code != 1 || errOut != want || out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %q", args, code, out, errOut, want)
		}
	}
}

func TestNoKubeconfig(t *testing.T) {
	_, errOut, code := execute(t, nil, "", "--kubeconfig", filepath.Join(t.TempDir(), "missing"), "findings")
	if code != 1 || !strings.HasPrefix(errOut, "error: no usable cluster configuration: ") || !strings.HasSuffix(errOut, "; check --kubeconfig/--context\n") {
		t.Errorf("exit %d: %q", code, errOut)
	}
}

// An API server without selectable fields for TraceRecords: why asks for the record
// by its deterministic name.
func TestWhyWithoutSelectableFields(t *testing.T) {
	rec := v1alpha1.TraceRecord{}
	rec.APIVersion, rec.Kind = "kubetrail.io/v1alpha1", "TraceRecord"
	rec.Namespace, rec.Name = "shop", "deployment.web"
	rec.Spec.Target = v1alpha1.TraceTarget{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "web", UID: "u1"}
	rec.Spec.Commit = strings.Repeat("d", 40)
	kc := fakeAPIServer(t, map[string]interface{}{
		"/apis/apps/v1/namespaces/shop/deployments/web":                           fakeWeb,
		"/apis/kubetrail.io/v1alpha1/namespaces/shop/tracerecords/deployment.web": rec,
		"/apis/kubetrail.io/v1alpha1/tracepolicies":                               map[string]interface{}{"apiVersion": "kubetrail.io/v1alpha1", "kind": "TracePolicyList", "items": []interface{}{}},
	}, func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Query().Get("fieldSelector") != "" && strings.HasSuffix(r.URL.Path, "/tracerecords") {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"field label not supported: spec.target.kind","reason":"BadRequest","code":400}`)
			return true
		}
		return false
	})
	out, errOut, code := execute(t, nil, "", "--kubeconfig", kc, "why", "deploy/web")
	if code != 0 || !strings.Contains(out, "record shop/deployment.web") || !strings.Contains(out, "commit ddddddd") {
		t.Errorf("exit %d: %s%s", code, out, errOut)
	}
}

func TestRecordName(t *testing.T) {
	if got := recordName("Deployment", "web"); got != "deployment.web" {
		t.Errorf("recordName = %q", got)
	}
	long := strings.Repeat("n", 250)
	got := recordName("ClusterRoleBinding", long)
	if len(got) != 253 || !strings.HasPrefix(got, "clusterrolebinding."+long[:242-len("clusterrolebinding.")]) || got[242] != '-' {
		t.Errorf("recordName(long) = %q (%d)", got, len(got))
	}
	if recordName("ClusterRoleBinding", long) == recordName("ClusterRoleBinding", long[:249]+"m") {
		t.Error("truncated names collide")
	}
	exact := strings.Repeat("x", 253-len("pod."))
	if got := recordName("Pod", exact); got != "pod."+exact {
		t.Errorf("a 253-character name is kept: %q", got)
	}
}
