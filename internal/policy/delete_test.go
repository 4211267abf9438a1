package policy_test

import (
	"strings"
	"testing"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/policy"
	"github.com/kubetrail/kubetrail/internal/provenance"
)

func TestEvaluateDelete(t *testing.T) {
	governed := v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, TrustedSubmitters: trustPipeline, BreakGlass: sreMayBreak, Deletes: v1alpha1.DeletesTrusted}
	recorded := v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, TrustedSubmitters: trustPipeline}
	audit := governed
	audit.Mode = v1alpha1.ModeAudit
	reason := map[string]string{provenance.BreakGlassKey: "INC-4711: the web tier must go now"}
	cases := []struct {
		name        string
		spec        v1alpha1.TracePolicySpec
		who         policy.Identity
		ann         map[string]string
		denied      string // substring of the one denial; "" for none
		overridden  bool
		audited     bool
		wantTrusted bool
	}{
		{name: "the pipeline pruning", spec: governed, who: pipeline, wantTrusted: true},
		{name: "an editor under deletes: Trusted", spec: governed, who: human, denied: "alice may not delete Deployment web"},
		{name: "an editor under the default deletes: Any is admitted, untrusted", spec: recorded, who: human},
		{name: "on-call with a break-glass reason on the object", spec: governed, who: sre, ann: reason, overridden: true},
		{name: "an editor with someone's break-glass reason on the object", spec: governed, who: human, ann: reason, denied: "alice may not delete"},
		{name: "Audit admits and keeps the violation", spec: audit, who: human, audited: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			policies, problems := compile(c.spec)
			if len(problems) > 0 {
				t.Fatal(problems)
			}
			d, trusted := policy.EvaluateDelete(policies, policy.DeleteInput{Kind: "Deployment", Name: "web", Identity: c.who, Object: deployment("nginx:1.27", c.ann)})
			if trusted != c.wantTrusted {
				t.Errorf("trusted = %v, want %v", trusted, c.wantTrusted)
			}
			switch {
			case c.denied == "" && !d.Allowed():
				t.Errorf("denied: %v", d.Denied)
			case c.denied != "" && (len(d.Denied) != 1 || !strings.Contains(d.Denied[0].Err.Error(), c.denied)):
				t.Errorf("denied %v, want one saying %q", d.Denied, c.denied)
			}
			if got := len(d.Overridden) > 0 && d.BreakGlass == reason[provenance.BreakGlassKey]; got != c.overridden {
				t.Errorf("overridden = %v (%v, %q), want %v", got, d.Overridden, d.BreakGlass, c.overridden)
			}
			if got := len(d.Audited) > 0; got != c.audited {
				t.Errorf("audited %v, want %v", d.Audited, c.audited)
			}
		})
	}
}

// With no policy a delete is trusted: nothing asks more of it.
func TestEvaluateDeleteWithoutPolicy(t *testing.T) {
	if d, trusted := policy.EvaluateDelete(nil, policy.DeleteInput{Kind: "ConfigMap", Name: "x", Identity: human}); !d.Allowed() || !trusted {
		t.Fatalf("allowed %v trusted %v", d.Allowed(), trusted)
	}
}
