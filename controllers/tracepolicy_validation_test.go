package controllers

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
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
