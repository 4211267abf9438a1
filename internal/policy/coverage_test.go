package policy_test

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/policy"
)

func TestCoverageGaps(t *testing.T) {
	clusterScoped := []schema.GroupKind{{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}, {Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}}
	namespaces := map[string]map[string]string{"prod": {"env": "prod"}, "ci": {"env": "ci"}}
	lookup := func(n string) (map[string]string, bool) { l, ok := namespaces[n]; return l, ok }
	prod := &metav1.LabelSelector{MatchLabels: map[string]string{"env": "prod"}}
	prodSA := []v1alpha1.Subject{{Kind: v1alpha1.SubjectServiceAccount, Namespace: "prod", Name: "deployer"}}
	cases := []struct {
		name string
		spec v1alpha1.TracePolicySpec
		want []string // a substring of each gap, in order
	}{
		{"cluster-wide policy, pipeline in a namespace of its own: no gap",
			v1alpha1.TracePolicySpec{TrustedSubmitters: []v1alpha1.Subject{{Kind: v1alpha1.SubjectServiceAccount, Namespace: "pipelines", Name: "deployer"}}}, nil},
		{"namespace-selected policy of every kind leaves cluster RBAC open",
			v1alpha1.TracePolicySpec{NamespaceSelector: prod, TrustedSubmitters: trustPipeline}, []string{"spec.namespaceSelector: a namespace-selected policy does not govern cluster-scoped ClusterRole, ClusterRoleBinding"}},
		{"namespace-selected policy of Deployments only: nothing it meant to govern is open",
			v1alpha1.TracePolicySpec{NamespaceSelector: prod, Resources: []v1alpha1.ResourceSelector{{Group: "apps", Kinds: []string{"Deployment"}}}}, nil},
		{"trusted ServiceAccount in a selected namespace",
			v1alpha1.TracePolicySpec{NamespaceSelector: prod, TrustedSubmitters: prodSA, Resources: []v1alpha1.ResourceSelector{{Group: "apps"}}},
			[]string{"spec.trustedSubmitters[0]: ServiceAccount prod/deployer lives in namespace prod, which this policy selects"}},
		{"trusted ServiceAccount in a namespace the policy does not select",
			v1alpha1.TracePolicySpec{NamespaceSelector: prod, TrustedSubmitters: trustPipeline, Resources: []v1alpha1.ResourceSelector{{Group: "apps"}}}, nil},
		{"trusted ServiceAccount under a cluster-wide policy, which selects its namespace too",
			v1alpha1.TracePolicySpec{TrustedSubmitters: trustPipeline}, []string{"spec.trustedSubmitters[0]: ServiceAccount ci/deployer lives in namespace ci"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.spec.Mode = v1alpha1.ModeEnforce
			policies, problems := compile(c.spec)
			if len(problems) > 0 {
				t.Fatal(problems)
			}
			got := policy.CoverageGaps(policies[0], lookup, clusterScoped)
			if len(got) != len(c.want) {
				t.Fatalf("gaps %q, want %d", got, len(c.want))
			}
			for i := range got {
				if !strings.Contains(got[i], c.want[i]) {
					t.Errorf("gap %q does not say %q", got[i], c.want[i])
				}
			}
		})
	}
}
