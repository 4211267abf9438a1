package controllers

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

func TestRecordName(t *testing.T) {
	long := strings.Repeat("a", 253)
	cases := map[string]struct {
		kind, name string
		want       string // exact, when the plain form fits
		hashed     bool
	}{
		"plain deployment":        {kind: "Deployment", name: "web", want: "deployment.web"},
		"dotted name":             {kind: "ConfigMap", name: "app.config", want: "configmap.app.config"},
		"cluster role":            {kind: "ClusterRole", name: "agg-reader", want: "clusterrole.agg-reader"},
		"fits exactly":            {kind: "Pod", name: strings.Repeat("b", 253-len("pod.")), want: "pod." + strings.Repeat("b", 253-len("pod."))},
		"one over":                {kind: "Pod", name: strings.Repeat("b", 254-len("pod.")), hashed: true},
		"longest name":            {kind: "ClusterRoleBinding", name: long, hashed: true},
		"colons":                  {kind: "ClusterRole", name: "system:controller:foo", hashed: true},
		"capitals":                {kind: "Role", name: "Admin", hashed: true},
		"only invalid characters": {kind: "Role", name: ":::", hashed: true},
		"trailing dot after cut":  {kind: "ClusterRole", name: strings.Repeat("a.", 130), hashed: true},
	}
	seen := map[string]string{}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := RecordName(tc.kind, tc.name)
			if errs := validation.IsDNS1123Subdomain(got); len(errs) > 0 {
				t.Fatalf("RecordName(%q, %q) = %q is not a valid name: %v", tc.kind, tc.name, got, errs)
			}
			if tc.want != "" && got != tc.want {
				t.Fatalf("RecordName(%q, %q) = %q, want %q", tc.kind, tc.name, got, tc.want)
			}
			if tc.hashed && !strings.Contains(got, "-") {
				t.Fatalf("RecordName(%q, %q) = %q carries no hash", tc.kind, tc.name, got)
			}
			if again := RecordName(tc.kind, tc.name); again != got {
				t.Fatalf("RecordName is not deterministic: %q then %q", got, again)
			}
		})
		got := RecordName(tc.kind, tc.name)
		if other, dup := seen[got]; dup {
			t.Fatalf("%s and %s share the record name %q", name, other, got)
		}
		seen[got] = name
	}
	// Names that differ only where sanitising rewrites them must not collide.
	if RecordName("ClusterRole", "system:foo") == RecordName("ClusterRole", "system-foo") ||
		RecordName("Role", "Admin") == RecordName("Role", "admin") {
		t.Fatal("sanitised names collide")
	}
	// L1: a name chosen to equal another object's hashed record name gets a record of
	// its own (its plain form ends like a hash, so it is hashed too).
	victim := RecordName("Role", "db:reader")
	chosen := strings.TrimPrefix(victim, "role.")
	if RecordName("Role", chosen) == victim {
		t.Fatalf("Role %q takes the record %q of Role db:reader", chosen, victim)
	}
	if got := RecordName("ReplicaSet", "web-5d4f8b6c"); got != "replicaset.web-5d4f8b6c" {
		t.Errorf("a name not ending like a hash is kept plain, got %q", got)
	}
	// Truncated names differing only in their tail must not collide.
	if RecordName("Pod", long+"x") == RecordName("Pod", long+"y") {
		t.Fatal("truncated names collide")
	}
}
