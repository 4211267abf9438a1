package test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/provenance"
)

var _ = Describe("Approvers are checked against those the policy allows (M12)", func() {
	It("denies a trusted pipeline's cluster-admin grant approved by names the policy does not allow", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		newPolicy(ctx, ns, v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, TrustedSubmitters: trustPipeline,
			RequiredFields:   []v1alpha1.ProvenanceField{v1alpha1.FieldCommit, v1alpha1.FieldApprover},
			AllowedApprovers: []string{"alice@acme.example", "bob@acme.example"},
			RBACEscalation:   &v1alpha1.RBACEscalationRule{Action: v1alpha1.ActionDeny, MinApprovers: 2}})
		grant := func(name, approvers string) *rbacv1.RoleBinding {
			ann := pipelineProvenance(commitA)
			ann[provenance.ApproverKey] = approvers
			return &rbacv1.RoleBinding{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: ann},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
				Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: "builder"}},
			}
		}

		err := users[pipeline].Create(ctx, grant("self-approved", "mallory,eve"))
		Expect(err).To(HaveOccurred(), "two names of the pipeline's choosing approved a cluster-admin grant")
		Expect(err.Error()).To(ContainSubstring("names none of the policy's allowed approvers"))
		Expect(err.Error()).To(ContainSubstring(`"mallory", "eve" are not among the policy's allowed approvers`))

		err = users[pipeline].Create(ctx, grant("half-approved", "alice@acme.example,mallory"))
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("2 distinct approvers in kubetrail.io/approver (it has 1)"))

		Expect(users[pipeline].Create(ctx, grant("approved", "Alice@ACME.example, bob@acme.example"))).To(Succeed())
	})
})
