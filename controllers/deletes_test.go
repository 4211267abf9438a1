package controllers

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/provenance"
)

// M2: deletes were neither governed nor attributed: a tombstone never said who deleted
// its target. Played through the apiserver with the webhooks and the reconciler.
var _ = Describe("Deletes are governed and attributed (M2)", func() {
	const pipelineSA = "system:serviceaccount:ci:deployer"
	BeforeEach(func() {
		SetDefaultEventuallyTimeout(30 * time.Second)
		SetDefaultEventuallyPollingInterval(250 * time.Millisecond)
	})
	settings := func(ns, name string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: stamped(sha("d1"))},
			Data: map[string]string{"mode": "prod"}}
	}
	recorded := func(ctx context.Context, ns, name string) {
		Eventually(func(g Gomega) {
			g.Expect(record(g, ctx, ns, "ConfigMap", name).Status.History).NotTo(BeEmpty())
		}).Should(Succeed())
	}

	It("denies an editor's delete under deletes: Trusted, and names the pipeline on the tombstone of its prune", func(ctx SpecContext) {
		const ns = "del-governed"
		createNamespace(ctx, ns, map[string]string{"kubetrail.test/story": ns})
		tp := &v1alpha1.TracePolicy{ObjectMeta: metav1.ObjectMeta{Name: ns}, Spec: v1alpha1.TracePolicySpec{
			Mode:              v1alpha1.ModeEnforce,
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubetrail.test/story": ns}},
			Resources:         []v1alpha1.ResourceSelector{{Group: "", Kinds: []string{"ConfigMap"}}},
			TrustedSubmitters: []v1alpha1.Subject{{Kind: v1alpha1.SubjectServiceAccount, Namespace: "ci", Name: "deployer"}},
			BreakGlass:        &v1alpha1.BreakGlass{Allowed: []v1alpha1.Subject{{Kind: v1alpha1.SubjectUser, Name: "oncall"}}},
			Deletes:           v1alpha1.DeletesTrusted,
		}}
		Expect(k8sClient.Create(ctx, tp)).To(Succeed())
		DeferCleanup(func(ctx context.Context) { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, tp))).To(Succeed()) })
		pipeline := clientAs(pipelineSA)
		for _, name := range []string{"kept", "pruned", "emergency"} {
			Eventually(func() error { return pipeline.Create(ctx, settings(ns, name)) }).Should(Succeed())
			recorded(ctx, ns, name)
		}

		err := clientAs("mallory").Delete(ctx, settings(ns, "kept"))
		Expect(err).To(HaveOccurred(), "an editor deleted a production object under deletes: Trusted")
		Expect(err.Error()).To(ContainSubstring("mallory may not delete ConfigMap kept"))
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "kept"}, &corev1.ConfigMap{})).To(Succeed())

		By("the pipeline pruning: admitted, and its tombstone names the pipeline")
		Expect(pipeline.Delete(ctx, settings(ns, "pruned"))).To(Succeed())
		Eventually(func(g Gomega) {
			rec := record(g, ctx, ns, "ConfigMap", "pruned")
			g.Expect(rec.Status.DeletedAt).NotTo(BeNil())
			g.Expect(rec.Status.LastDeleteRequest).NotTo(BeNil())
			g.Expect(rec.Status.LastDeleteRequest.RequestedBy).To(Equal(pipelineSA))
			g.Expect(rec.Status.LastDeleteRequest.Trusted).To(BeTrue())
			for _, f := range rec.Status.Findings {
				g.Expect(f.ID).NotTo(HavePrefix(recordEditedPrefix), "the webhook's write was taken for someone else's")
			}
		}).Should(Succeed())

		By("on-call under break-glass: the reason set on the object first, then the delete")
		oncall := clientAs("oncall")
		var cm corev1.ConfigMap
		Expect(oncall.Get(ctx, client.ObjectKey{Namespace: ns, Name: "emergency"}, &cm)).To(Succeed())
		patch := client.MergeFrom(cm.DeepCopy())
		cm.Annotations[provenance.BreakGlassKey] = "INC-88: this config takes the checkout down"
		Expect(oncall.Patch(ctx, &cm, patch)).To(Succeed())
		Expect(oncall.Delete(ctx, &cm)).To(Succeed())
		Eventually(func(g Gomega) {
			rec := record(g, ctx, ns, "ConfigMap", "emergency")
			g.Expect(rec.Status.DeletedAt).NotTo(BeNil())
			dr := rec.Status.LastDeleteRequest
			g.Expect(dr).NotTo(BeNil())
			g.Expect(dr.RequestedBy).To(Equal("oncall"))
			g.Expect(dr.Trusted).To(BeFalse())
			g.Expect(dr.BreakGlass).To(Equal("INC-88: this config takes the checkout down"))
			g.Expect(fmt.Sprint(dr.Violations)).To(ContainSubstring("oncall may not delete ConfigMap emergency"))
		}).Should(Succeed())
	})

	It("names who deleted an object in a namespace no policy selects", func(ctx SpecContext) {
		const ns = "del-recorded"
		createNamespace(ctx, ns, nil)
		Expect(k8sClient.Create(ctx, settings(ns, "settings"))).To(Succeed())
		recorded(ctx, ns, "settings")
		Expect(clientAs("sre1").Delete(ctx, settings(ns, "settings"))).To(Succeed())
		Eventually(func(g Gomega) {
			rec := record(g, ctx, ns, "ConfigMap", "settings")
			g.Expect(rec.Status.DeletedAt).NotTo(BeNil())
			g.Expect(rec.Status.LastDeleteRequest).NotTo(BeNil())
			g.Expect(rec.Status.LastDeleteRequest.RequestedBy).To(Equal("sre1"))
		}).Should(Succeed())
	})
})
