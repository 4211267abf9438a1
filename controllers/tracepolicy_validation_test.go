package controllers

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
)

var _ = Describe("A TracePolicy stored before validation (H5)", func() {
	It("is Ready=False naming its invalid parts, and applies the rest", func(ctx SpecContext) {
		tp := &v1alpha1.TracePolicy{ObjectMeta: metav1.ObjectMeta{Name: "stored-typo"}, Spec: v1alpha1.TracePolicySpec{
			Mode:              v1alpha1.ModeAudit,
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubetrail.io/story": "stored-typo"}},
			Ignore:            []v1alpha1.IgnoreRule{{Paths: []string{"spec/replicas", "/spec"}}},
		}}
		// Written as a cluster without kubetrail's webhooks (an older kubetrail, or
		// kubetrail down) would store it.
		createNamespace(ctx, probeNamespace, nil)
		restore := takeWebhooksDown(ctx)
		Expect(k8sClient.Create(ctx, tp)).To(Succeed())
		DeferCleanup(func(ctx context.Context) { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, tp))).To(Succeed()) })
		restore()

		Eventually(func(g Gomega) {
			var got v1alpha1.TracePolicy
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(tp), &got)).To(Succeed())
			c := meta.FindStatusCondition(got.Status.Conditions, ConditionReady)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal("InvalidSpec"))
			g.Expect(c.Message).To(ContainSubstring(`applied without its invalid parts: spec.ignore[0].paths[0]: Invalid value: "spec/replicas": a JSON pointer starts with "/": write "/spec/replicas"`))
			g.Expect(c.Message).To(ContainSubstring(`spec.ignore[0].paths[1]: Invalid value: "/spec": ignores the whole top-level field "spec"`))
		}, 20*time.Second, 250*time.Millisecond).Should(Succeed())
	})
})

var _ = Describe("A TracePolicy's coverage gaps (M4, M11)", func() {
	It("says when it leaves cluster RBAC open and when a trusted ServiceAccount lives where its editors can borrow it", func(ctx SpecContext) {
		const label = "kubetrail.io/story"
		createNamespace(ctx, "cov-team", map[string]string{label: "cov"})
		tp := &v1alpha1.TracePolicy{ObjectMeta: metav1.ObjectMeta{Name: "cov"}, Spec: v1alpha1.TracePolicySpec{
			Mode:              v1alpha1.ModeAudit,
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{label: "cov"}},
			TrustedSubmitters: []v1alpha1.Subject{{Kind: v1alpha1.SubjectServiceAccount, Namespace: "cov-team", Name: "deployer"}},
		}}
		Expect(k8sClient.Create(ctx, tp)).To(Succeed())
		DeferCleanup(func(ctx context.Context) { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, tp))).To(Succeed()) })

		gap := func(g Gomega) *metav1.Condition {
			var got v1alpha1.TracePolicy
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(tp), &got)).To(Succeed())
			c := meta.FindStatusCondition(got.Status.Conditions, ConditionCoverageGap)
			g.Expect(c).NotTo(BeNil())
			return c
		}
		Eventually(func(g Gomega) {
			c := gap(g)
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(c.Message).To(ContainSubstring("does not govern cluster-scoped ClusterRole, ClusterRoleBinding"))
			g.Expect(c.Message).To(ContainSubstring("spec.trustedSubmitters[0]: ServiceAccount cov-team/deployer lives in namespace cov-team, which this policy selects"))
		}, 20*time.Second, 250*time.Millisecond).Should(Succeed())

		By("relabelling the pipeline's namespace out of the policy closes that gap")
		var ns corev1.Namespace
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: "cov-team"}, &ns)).To(Succeed())
		delete(ns.Labels, label)
		Expect(k8sClient.Update(ctx, &ns)).To(Succeed())
		Eventually(func(g Gomega) {
			c := gap(g)
			g.Expect(c.Message).NotTo(ContainSubstring("spec.trustedSubmitters"))
			g.Expect(c.Message).To(ContainSubstring("cluster-scoped"))
		}, 20*time.Second, 250*time.Millisecond).Should(Succeed())

		By("scoping the policy to namespaced kinds leaves no gap")
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(tp), tp)).To(Succeed())
		tp.Spec.Resources = []v1alpha1.ResourceSelector{{Group: "apps"}}
		Expect(k8sClient.Update(ctx, tp)).To(Succeed())
		Eventually(func(g Gomega) {
			c := gap(g)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		}, 20*time.Second, 250*time.Millisecond).Should(Succeed())
	})
})

var _ = Describe("The enforcing webhook's failurePolicy (L6)", func() {
	It("is put back to Fail at once when someone edits it to Ignore while a policy enforces", func(ctx SpecContext) {
		tp := &v1alpha1.TracePolicy{ObjectMeta: metav1.ObjectMeta{Name: "l6-enforce"}, Spec: v1alpha1.TracePolicySpec{
			Mode:              v1alpha1.ModeEnforce,
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubetrail.io/story": "l6-nothing"}},
		}}
		Expect(k8sClient.Create(ctx, tp)).To(Succeed())
		DeferCleanup(func(ctx context.Context) { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, tp))).To(Succeed()) })
		failurePolicy := func() admissionregistrationv1.FailurePolicyType {
			_, val := kubetrailWebhooks(ctx)
			for _, w := range val.Webhooks {
				if w.Name == EnforceWebhookName && w.FailurePolicy != nil {
					return *w.FailurePolicy
				}
			}
			return ""
		}
		Eventually(failurePolicy, 20*time.Second, 100*time.Millisecond).Should(Equal(admissionregistrationv1.Fail))

		By("an admin switching enforcement off by editing the webhook configuration")
		_, val := kubetrailWebhooks(ctx)
		base := val.DeepCopy()
		ignore := admissionregistrationv1.Ignore
		for i := range val.Webhooks {
			if val.Webhooks[i].Name == EnforceWebhookName {
				val.Webhooks[i].FailurePolicy = &ignore
			}
		}
		Expect(k8sClient.Patch(ctx, val, client.MergeFrom(base))).To(Succeed())
		// No policy changes: only the watch on the configuration can put it back.
		Eventually(failurePolicy, 10*time.Second, 100*time.Millisecond).Should(Equal(admissionregistrationv1.Fail))
	})
})
