package policy_test

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/policy"
	"github.com/kubetrail/kubetrail/internal/provenance"
)

// The review's M8: `kubectl label ns prod kubetrail.io/environment-` took prod out of
// Enforce for anyone who may label namespaces.
func TestEvaluateRelabel(t *testing.T) {
	prod := &metav1.LabelSelector{MatchLabels: map[string]string{"kubetrail.io/environment": "production"}}
	enforce := v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, NamespaceSelector: prod, TrustedSubmitters: trustPipeline, BreakGlass: sreMayBreak}
	warn, audit := enforce, enforce
	warn.Mode, audit.Mode = v1alpha1.ModeWarn, v1alpha1.ModeAudit
	inProd := map[string]string{"kubetrail.io/environment": "production", "team": "shop"}
	out := map[string]string{"team": "shop"}
	reason := map[string]string{provenance.BreakGlassKey: "INC-9: move prod out for the migration"}
	cases := []struct {
		name           string
		spec           v1alpha1.TracePolicySpec
		who            policy.Identity
		old, new, ann  map[string]string
		denied, warned bool
		overridden     bool
	}{
		{name: "an admin removing the selector label", spec: enforce, who: human, old: inProd, new: out, denied: true},
		{name: "the pipeline removing it", spec: enforce, who: pipeline, old: inProd, new: out},
		{name: "a label the selector does not read", spec: enforce, who: human, old: inProd, new: map[string]string{"kubetrail.io/environment": "production"}},
		{name: "bringing a namespace under the policy", spec: enforce, who: human, old: out, new: inProd},
		{name: "on-call with break-glass", spec: enforce, who: sre, old: inProd, new: out, ann: reason, overridden: true},
		{name: "an admin with someone's break-glass", spec: enforce, who: human, old: inProd, new: out, ann: reason, denied: true},
		{name: "Warn warns", spec: warn, who: human, old: inProd, new: out, warned: true},
		{name: "Audit records nothing at admission", spec: audit, who: human, old: inProd, new: out},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			policies, problems := compile(c.spec)
			if len(problems) > 0 {
				t.Fatal(problems)
			}
			d := policy.EvaluateRelabel(policies, policy.RelabelInput{Name: "prod", Identity: c.who, OldLabels: c.old, Labels: c.new, Annotations: c.ann})
			if got := !d.Allowed(); got != c.denied {
				t.Errorf("denied = %v (%v), want %v", got, d.Denied, c.denied)
			}
			if c.denied && !strings.Contains(d.Denied[0].Err.Error(), c.who.Username+" may not take namespace prod out of TracePolicy p0 (mode Enforce)") {
				t.Errorf("denial %q", d.Denied[0].Err.Error())
			}
			if got := len(d.Warned) > 0; got != c.warned {
				t.Errorf("warned %v", d.Warned)
			}
			if got := len(d.Overridden) > 0; got != c.overridden {
				t.Errorf("overridden %v", d.Overridden)
			}
		})
	}
}
