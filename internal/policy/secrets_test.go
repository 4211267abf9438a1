package policy_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/policy"
)

// A ConfigMap made to trip gitleaks' slowest rules, too slow to scan within the
// webhook's budget.
func slowConfigMap() map[string]interface{} {
	data := map[string]interface{}{}
	for i := range 4000 {
		k := fmt.Sprintf("linkedin-bittrex-hubspot-%04d-", i)
		data[k+strings.Repeat(fmt.Sprintf("%08x", uint32(i)*2654435761), 40)[:250-len(k)]] = "x"
	}
	return map[string]interface{}{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]interface{}{"name": "big", "namespace": "shop"}, "data": data}
}

// An object that cannot be scanned within the budget is never passed as clean: Deny
// denies it saying why and how to fix it, Warn warns, Audit records (M6).
func TestEvaluateIncompleteSecretScan(t *testing.T) {
	if testing.Short() {
		t.Skip("scans for the length of the budget")
	}
	obj := slowConfigMap()
	for _, tc := range []struct {
		action v1alpha1.Action
		mode   v1alpha1.PolicyMode
		pick   func(policy.Decision) []policy.Violation
	}{
		{v1alpha1.ActionDeny, v1alpha1.ModeEnforce, func(d policy.Decision) []policy.Violation { return d.Denied }},
		{v1alpha1.ActionWarn, v1alpha1.ModeEnforce, func(d policy.Decision) []policy.Violation { return d.Warned }},
		{v1alpha1.ActionDeny, v1alpha1.ModeAudit, func(d policy.Decision) []policy.Violation { return d.Audited }},
	} {
		t.Run(string(tc.mode)+"/"+string(tc.action), func(t *testing.T) {
			policies, _ := compile(v1alpha1.TracePolicySpec{Mode: tc.mode, SecretLiterals: tc.action})
			d := policy.Evaluate(context.Background(), policies, create(human, obj))
			vs := tc.pick(d)
			if len(vs) != 1 || vs[0].Type != v1alpha1.FindingSecretExposure ||
				!strings.Contains(vs[0].String(), "too large to scan for credentials within kubetrail's budget") ||
				!strings.Contains(vs[0].String(), "move large data into a Secret") ||
				!strings.HasPrefix(vs[0].Err.Field, "data[") {
				t.Errorf("violations = %v, want one SecretExposure saying the object is too large to scan", vs)
			}
		})
	}
}
