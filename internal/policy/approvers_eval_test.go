package policy_test

import (
	"context"
	"strings"
	"testing"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/policy"
	"github.com/kubetrail/kubetrail/internal/provenance"
	"github.com/kubetrail/kubetrail/internal/rbacrisk"
)

// Two spellings of one approver do not meet minApprovers: 2 (M12).
func TestEvaluateCountsApproversNormalised(t *testing.T) {
	policies, _ := compile(v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, RBACEscalation: &v1alpha1.RBACEscalationRule{Action: v1alpha1.ActionDeny, MinApprovers: 2}})
	clusterAdmin := rbacrisk.Risk{Rule: rbacrisk.RuleClusterAdmin, Severity: rbacrisk.Critical, Scope: rbacrisk.ScopeCluster, Grant: "* *.*"}
	for approvers, wantDenied := range map[string]bool{
		"alice,Alice":       true,
		"alice,alice\u200b": true,
		"alice,\uff41lice":  true,
		"alice, ,\u200b":    true,
		"alice,bob":         false,
	} {
		ann := with(pipelineProvenance(commitA), provenance.ApproverKey, approvers)
		d := policy.Evaluate(context.Background(), policies, withRisks(create(pipeline, roleBinding(ann)), clusterAdmin))
		if got := !d.Allowed(); got != wantDenied {
			t.Errorf("approvers %q: denied = %v, want %v (%v)", approvers, got, wantDenied, d.Denied)
		}
		if wantDenied && (len(d.Denied) != 1 || !strings.Contains(d.Denied[0].String(), "2 distinct approvers in kubetrail.io/approver (it has 1)")) {
			t.Errorf("approvers %q: denied with %v, want one approver counted", approvers, d.Denied)
		}
	}
}

// With spec.allowedApprovers only the listed approvers count: a pipeline naming
// "mallory,eve" does not meet minApprovers, nor a required approver field (M12).
func TestEvaluateCountsOnlyAllowedApprovers(t *testing.T) {
	clusterAdmin := rbacrisk.Risk{Rule: rbacrisk.RuleClusterAdmin, Severity: rbacrisk.Critical, Scope: rbacrisk.ScopeCluster, Grant: "* *.*"}
	policies, problems := compile(v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce,
		RequiredFields:   []v1alpha1.ProvenanceField{v1alpha1.FieldApprover},
		AllowedApprovers: []string{"Alice", "bob"},
		RBACEscalation:   &v1alpha1.RBACEscalationRule{Action: v1alpha1.ActionDeny, MinApprovers: 2}})
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	cases := []struct {
		approvers string
		denied    []string // substrings of the denials, in order of summary
	}{
		{"alice,BOB", nil},
		{"alice,mallory", []string{`"mallory" is not among the policy's allowed approvers`}},
		{"mallory,eve", []string{"names none of the policy's allowed approvers", `"mallory", "eve" are not among the policy's allowed approvers`}},
	}
	for _, c := range cases {
		ann := with(pipelineProvenance(commitA), provenance.ApproverKey, c.approvers)
		d := policy.Evaluate(context.Background(), policies, withRisks(create(pipeline, roleBinding(ann)), clusterAdmin))
		if len(d.Denied) != len(c.denied) {
			t.Errorf("approvers %q: denied %v, want %d denials", c.approvers, d.Denied, len(c.denied))
			continue
		}
		all := ""
		for _, v := range d.Denied {
			all += v.String() + "\n"
		}
		for _, want := range c.denied {
			if !strings.Contains(all, want) {
				t.Errorf("approvers %q: denials %q do not say %q", c.approvers, all, want)
			}
		}
	}
}
