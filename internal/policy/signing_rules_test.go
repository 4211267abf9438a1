package policy_test

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/policy"
)

// A policy's spec.signing.audience and maxValidity judge a signature that verified;
// a dry run of an unsigned object is judged as if signed.
func TestSigningRules(t *testing.T) {
	k := newKey(t)
	build := func(a map[string]string) map[string]interface{} { return deployment("nginx:1.27", a) }
	ann := signed(t, k, now.Add(time.Hour), pipelineProvenance(commitA), build) // audience test-cluster, 2h lifetime
	spec := func(audience string, maxValidity time.Duration) v1alpha1.TracePolicySpec {
		s := &v1alpha1.Signing{Required: true, PublicKeys: []v1alpha1.PublicKey{{Name: "ci", PEM: k.pub}}, Audience: audience}
		if maxValidity > 0 {
			s.MaxValidity = &metav1.Duration{Duration: maxValidity}
		}
		return v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, Signing: s}
	}
	cases := map[string]struct {
		spec    v1alpha1.TracePolicySpec
		obj     map[string]interface{}
		dryRun  bool
		wantErr string // "" = admitted
	}{
		"same audience":                  {spec: spec("test-cluster", 0), obj: build(ann)},
		"no audience in the policy":      {spec: spec("", 0), obj: build(ann)},
		"another cluster's signature":    {spec: spec("prod-eu-1", 0), obj: build(ann), wantErr: `audience is "test-cluster" but this cluster is "prod-eu-1"`},
		"lifetime within maxValidity":    {spec: spec("test-cluster", 3*time.Hour), obj: build(ann)},
		"lifetime over maxValidity":      {spec: spec("test-cluster", time.Hour), obj: build(ann), wantErr: "spec.signing.maxValidity"},
		"unsigned":                       {spec: spec("test-cluster", 0), obj: build(pipelineProvenance(commitA)), wantErr: "a signature by a trusted key is required"},
		"unsigned dry run":               {spec: spec("test-cluster", 0), obj: build(pipelineProvenance(commitA)), dryRun: true},
		"badly signed dry run is judged": {spec: spec("test-cluster", 0), obj: deployment("evil:1", ann), dryRun: true, wantErr: "signed content digest"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			policies, problems := compile(tc.spec)
			if len(problems) > 0 {
				t.Fatal(problems)
			}
			d := policy.Evaluate(context.Background(), policies, policy.Input{
				Create: true, Identity: policy.Identity{Username: "ci"}, Object: tc.obj, ContentChanged: true, Now: now, DryRun: tc.dryRun,
			})
			var msgs []string
			for _, v := range d.Denied {
				msgs = append(msgs, v.Err.Error())
			}
			got := strings.Join(msgs, "; ")
			switch {
			case tc.wantErr == "" && got != "":
				t.Errorf("denied: %s", got)
			case tc.wantErr != "" && !strings.Contains(got, tc.wantErr):
				t.Errorf("denials %q, want one mentioning %q", got, tc.wantErr)
			}
		})
	}
}
