package webhooks_test

import (
	"testing"

	"github.com/kubetrail/kubetrail/internal/provenance"
)

// An override by break-glass goes into the apiserver's audit log as well as onto the
// object (M10): there, no one who can edit the object or its record can remove it.
func TestBreakGlassIsAnAuditAnnotation(t *testing.T) {
	h := env()
	const reason = "INC-4711: checkout down, hotfix cannot wait"
	obj := mustJSON(deploymentObj("web", "nginx:1.27", 2, map[string]interface{}{provenance.BreakGlassKey: reason}))
	resp := h.enforcer.Handle(fuzzContext(), request(opCreate, deployments, sam, 0, obj, nil))
	if !resp.Allowed {
		t.Fatalf("sam's break-glass was denied: %v", resp.Result)
	}
	if resp.AuditAnnotations["break-glass"] != reason || resp.AuditAnnotations["break-glass-by"] != "sam" {
		t.Fatalf("audit annotations %v, want the reason and sam", resp.AuditAnnotations)
	}
	plain := h.enforcer.Handle(fuzzContext(), request(opCreate, deployments, deployer, 0, mustJSON(deploymentObj("web", "nginx:1.27", 2, prov(commitA))), nil))
	if len(plain.AuditAnnotations) > 0 {
		t.Fatalf("an ordinary admission carries audit annotations %v", plain.AuditAnnotations)
	}
}
