package main

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestLookupTrackedKind(t *testing.T) {
	for arg, want := range map[string]string{
		"deployment": "apps/v1/deployments", "deploy": "apps/v1/deployments", "Deployments": "apps/v1/deployments",
		"deployments.apps": "apps/v1/deployments", "Deployment": "apps/v1/deployments",
		"clusterrolebinding": "rbac.authorization.k8s.io/v1/clusterrolebindings", "crb": "rbac.authorization.k8s.io/v1/clusterrolebindings",
		"ingress": "networking.k8s.io/v1/ingresses", "ing": "networking.k8s.io/v1/ingresses",
		"sa": "/v1/serviceaccounts", "cm": "/v1/configmaps", "secrets": "/v1/secrets", "pods.core": "/v1/pods",
		"cj": "batch/v1/cronjobs", "rs": "apps/v1/replicasets", "replicationcontrollers": "/v1/replicationcontrollers", "netpol": "networking.k8s.io/v1/networkpolicies",
	} {
		k, ok := lookupTrackedKind(arg)
		if got := k.GVR.Group + "/" + k.GVR.Version + "/" + k.GVR.Resource; !ok || got != want || !k.Tracked {
			t.Errorf("lookupTrackedKind(%q) = %s, %v; want %s", arg, got, ok, want)
		}
	}
	if k, _ := lookupTrackedKind("crb"); k.Namespaced || k.Kind != "ClusterRoleBinding" {
		t.Errorf("crb: %+v", k)
	}
	for _, arg := range []string{"persistentvolumeclaims", "deployments.batch", "frob"} {
		if _, ok := lookupTrackedKind(arg); ok {
			t.Errorf("lookupTrackedKind(%q) succeeded", arg)
		}
	}
}

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		args       []string
		kind, name string
	}{
		{[]string{"deploy/web"}, "deploy", "web"},
		{[]string{"sa", "builder"}, "sa", "builder"},
	} {
		k, n, err := parseTarget(tc.args)
		if err != nil || k != tc.kind || n != tc.name {
			t.Errorf("parseTarget(%v) = %q %q %v", tc.args, k, n, err)
		}
	}
	for _, bad := range [][]string{{"web"}, {"a/b/c"}, {"/web"}, {"deploy/"}, {"a/b", "c"}, {"a", "b", "c"}, nil} {
		if _, _, err := parseTarget(bad); err == nil {
			t.Errorf("parseTarget(%v) succeeded", bad)
		}
	}
}

func TestPodSpecReferences(t *testing.T) {
	var spec map[string]interface{}
	if err := yaml.Unmarshal([]byte(`
imagePullSecrets: [{name: regcred}]
volumes:
- name: config
  configMap: {name: settings}
- name: tls
  secret: {secretName: web-tls}
- name: bundle
  projected:
    sources:
    - configMap: {name: settings}
    - secret: {name: regcred}
initContainers:
- name: init
  envFrom: [{secretRef: {name: web-tls}}]
containers:
- name: web
  envFrom: [{configMapRef: {name: settings}}]
  env:
  - {name: PLAIN, value: x}
  - name: MODE
    valueFrom: {configMapKeyRef: {name: settings, key: mode}}
  - name: DB_PASSWORD
    valueFrom: {secretKeyRef: {name: web-tls, key: password}}
`), &spec); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ kind, name, want string }{
		{"ConfigMap", "settings", "volume config, projected volume bundle, envFrom (container web), env MODE (container web)"},
		{"Secret", "web-tls", "volume tls, envFrom (container init), env DB_PASSWORD (container web)"},
		{"Secret", "regcred", "projected volume bundle, imagePullSecrets"},
		{"ConfigMap", "web-tls", ""},
		{"Secret", "settings", ""},
	} {
		if got := strings.Join(podSpecReferences(spec, tc.kind, tc.name), ", "); got != tc.want {
			t.Errorf("%s %s: %q, want %q", tc.kind, tc.name, got, tc.want)
		}
	}
}
