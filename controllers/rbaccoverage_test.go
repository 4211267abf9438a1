package controllers

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
)

// M4: the reconciler once skipped every RBAC object named system:* and every system:*
// subject but three broad groups. These are the review's bindings, made as an admin
// would: each grants cluster-admin to someone who is not the control plane.
var _ = Describe("RBAC escalations by names an RBAC writer chooses (M4)", func() {
	clusterAdminTo := func(name string, s rbacv1.Subject) *rbacv1.ClusterRoleBinding {
		return &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
			Subjects:   []rbacv1.Subject{s},
		}
	}

	It("records a finding for a system:-named binding, system:nodes, system:bootstrappers and a kube-system agent", func(ctx SpecContext) {
		cases := map[string]struct {
			subject rbacv1.Subject
			says    string
		}{
			"system:backdoor": {rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "mallory"}, "User mallory"},
			"node-admin":      {rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "system:nodes"}, "Group system:nodes"},
			"bootstrap-admin": {rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "system:bootstrappers"}, "Group system:bootstrappers"},
			"agent-admin":     {rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: "kube-system", Name: "vendor-agent"}, "ServiceAccount kube-system/vendor-agent"},
		}
		for name, c := range cases {
			crb := clusterAdminTo(name, c.subject)
			Expect(k8sClient.Create(ctx, crb)).To(Succeed())
			DeferCleanup(func(ctx SpecContext) { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, crb))).To(Succeed()) })
		}
		for name, c := range cases {
			Eventually(func(g Gomega) {
				rec := record(g, ctx, DefaultRecordNamespace, "ClusterRoleBinding", name)
				f := finding(rec, v1alpha1.FindingRBACEscalation)
				g.Expect(f).NotTo(BeNil(), "%s: no RBACEscalation finding", name)
				g.Expect(f.Subject).To(Equal(c.says))
				g.Expect(f.Severity).To(Equal(v1alpha1.SeverityCritical))
			}).Should(Succeed())
		}
	})

	It("leaves out the exact control-plane identities and the bootstrap bindings (by their label)", func(ctx SpecContext) {
		own := clusterAdminTo("controller-admin", rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: "kube-system", Name: "deployment-controller"})
		masters := clusterAdminTo("masters-admin", rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "system:masters"})
		for _, crb := range []*rbacv1.ClusterRoleBinding{own, masters} {
			Expect(k8sClient.Create(ctx, crb)).To(Succeed())
			DeferCleanup(func(ctx SpecContext) { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, crb))).To(Succeed()) })
		}
		for _, name := range []string{"controller-admin", "masters-admin"} {
			Eventually(func(g Gomega) {
				rec := record(g, ctx, DefaultRecordNamespace, "ClusterRoleBinding", name)
				g.Expect(rec.Status.ObservedGeneration).NotTo(BeZero())
			}).Should(Succeed())
			Consistently(func(g Gomega) {
				rec := record(g, ctx, DefaultRecordNamespace, "ClusterRoleBinding", name)
				g.Expect(finding(rec, v1alpha1.FindingRBACEscalation)).To(BeNil(), "%s", name)
			}, "1s").Should(Succeed())
		}
		// The apiserver's own cluster-admin binding (labelled rbac-defaults) gets no record.
		var bootstrap rbacv1.ClusterRoleBinding
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: "cluster-admin"}, &bootstrap)).To(Succeed())
		Expect(bootstrap.Labels).To(HaveKeyWithValue("kubernetes.io/bootstrapping", "rbac-defaults"))
		Consistently(func() error {
			return k8sClient.Get(ctx, client.ObjectKey{Namespace: DefaultRecordNamespace, Name: RecordName("ClusterRoleBinding", "cluster-admin")}, &v1alpha1.TraceRecord{})
		}, "1s").ShouldNot(Succeed())
	})
})
