package webhooks_test

import (
	"context"
	"testing"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/tracked"
	"github.com/kubetrail/kubetrail/webhooks"
)

// A manager started with --tracked-kinds judges and stamps those kinds only; the same
// request for a kind it was not configured to trace passes both handlers untouched.
func TestHandlersJudgeOnlyTheConfiguredKinds(t *testing.T) {
	h := newHandlers(v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, RequiredFields: []v1alpha1.ProvenanceField{v1alpha1.FieldCommit}})
	cm := []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"web","namespace":"shop"},"data":{"k":"v"}}`)
	req := request(0, configmaps, alice, 0, cm, nil)
	ctx := context.Background()

	if resp := h.enforcer.Handle(ctx, req); resp.Allowed {
		t.Fatal("with every kind tracked, a ConfigMap without provenance must be denied under Enforce")
	}
	if resp := h.stamper.Handle(ctx, req); !resp.Allowed || len(resp.Patches) == 0 {
		t.Fatalf("with every kind tracked, the ConfigMap must be stamped: %+v", resp.Result)
	}

	onlyDeployments, err := tracked.Select([]string{"deploy"})
	if err != nil {
		t.Fatal(err)
	}
	enforcer := &webhooks.Enforcer{Policies: h.enforcer.Policies, Kinds: onlyDeployments}
	stamper := &webhooks.Stamper{Policies: h.stamper.Policies, Kinds: onlyDeployments}
	if resp := enforcer.Handle(ctx, req); !resp.Allowed || len(resp.Warnings) > 0 {
		t.Fatalf("ConfigMaps are not tracked: the Enforcer must admit untouched, got %+v %v", resp.Result, resp.Warnings)
	}
	if resp := stamper.Handle(ctx, req); !resp.Allowed || len(resp.Patches) > 0 {
		t.Fatalf("ConfigMaps are not tracked: the Stamper must not patch, got %d patches", len(resp.Patches))
	}
	deploy := []byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"shop"},"spec":{"template":{"spec":{"containers":[{"name":"a","image":"x"}]}}}}`)
	if resp := enforcer.Handle(ctx, request(0, deployments, alice, 0, deploy, nil)); resp.Allowed {
		t.Fatal("Deployments are tracked: one without provenance must be denied")
	}
}
