package policy_test

import (
	"strings"
	"testing"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/policy"
)

// kubectl scale goes through the scale subresource: a Scale carries no annotations, so
// no provenance and no break-glass. These are the answers an on-call engineer and a
// reviewer would expect from each policy.
func TestEvaluateScale(t *testing.T) {
	ignoreReplicas := []v1alpha1.IgnoreRule{{Kinds: []string{"Deployment"}, Paths: []string{"/spec/replicas"}}}
	ignoreForOtherKind := []v1alpha1.IgnoreRule{{Kinds: []string{"StatefulSet"}, Paths: []string{"/spec/replicas"}}}
	cases := []struct {
		name       string
		spec       v1alpha1.TracePolicySpec
		who        policy.Identity
		from, to   int64
		denied     []string
		warned     []string
		audited    []string
		messageHas string
	}{
		{name: "an editor scaling production to zero under Enforce is denied",
			spec: v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, TrustedSubmitters: trustPipeline}, who: human, from: 3, to: 0,
			denied: []string{"UntracedChange spec.replicas (p0)"}, messageHas: "alice scaled Deployment web from 3 to 0 replicas"},
		{name: "replicas ignored for the kind: scaling is no change",
			spec: v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, TrustedSubmitters: trustPipeline, Ignore: ignoreReplicas}, who: human, from: 3, to: 0},
		{name: "replicas ignored for another kind only: still denied",
			spec: v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, TrustedSubmitters: trustPipeline, Ignore: ignoreForOtherKind}, who: human, from: 3, to: 0,
			denied: []string{"UntracedChange spec.replicas (p0)"}},
		{name: "the trusted pipeline under a policy requiring provenance: a Scale cannot carry it",
			spec: v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, TrustedSubmitters: trustPipeline, RequiredFields: requireAll}, who: pipeline, from: 2, to: 5,
			denied: []string{"UntracedChange spec.replicas (p0)"}, messageHas: "cannot carry"},
		{name: "the trusted pipeline under a policy asking no provenance is admitted",
			spec: v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, TrustedSubmitters: trustPipeline}, who: pipeline, from: 2, to: 5},
		{name: "same replicas (a no-op scale) is no change",
			spec: v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, TrustedSubmitters: trustPipeline}, who: human, from: 3, to: 3},
		{name: "Warn warns",
			spec: v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeWarn, TrustedSubmitters: trustPipeline}, who: human, from: 3, to: 1,
			warned: []string{"UntracedChange spec.replicas (p0)"}},
		{name: "Audit admits and keeps the violation for the record",
			spec: v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeAudit, TrustedSubmitters: trustPipeline}, who: human, from: 3, to: 1,
			audited: []string{"UntracedChange spec.replicas (p0)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			policies, problems := compile(c.spec)
			if len(problems) > 0 {
				t.Fatalf("policy problems: %v", problems)
			}
			d, err := policy.EvaluateScale(policies, policy.ScaleInput{Kind: "Deployment", Name: "web", Identity: c.who, OldReplicas: c.from, Replicas: c.to})
			if err != nil {
				t.Fatal(err)
			}
			for _, got := range []struct {
				what      string
				got, want []string
			}{{"denied", summary(d.Denied), c.denied}, {"warned", summary(d.Warned), c.warned}, {"audited", summary(d.Audited), c.audited}} {
				if strings.Join(got.got, "|") != strings.Join(got.want, "|") {
					t.Errorf("%s: got %v, want %v", got.what, got.got, got.want)
				}
			}
			if d.Allowed() != (len(c.denied) == 0) {
				t.Errorf("Allowed() = %v with %d denials", d.Allowed(), len(d.Denied))
			}
			if c.messageHas != "" {
				all := append(append(append([]policy.Violation{}, d.Denied...), d.Warned...), d.Audited...)
				if len(all) == 0 || !strings.Contains(all[0].Err.Error(), c.messageHas) {
					t.Errorf("message %v does not say %q", all, c.messageHas)
				}
			}
		})
	}
}
