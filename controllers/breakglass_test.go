package controllers

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/provenance"
)

// M10: removing a break-glass annotation once closed its ManualOverride finding.
var _ = Describe("Break-glass evidence (M10)", func() {
	It("stays open when the annotation is removed, until the pipeline deploys a traced revision", func(ctx SpecContext) {
		const ns = "bg-sticky"
		createNamespace(ctx, ns, nil)
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "settings", Annotations: stamped(sha("e1"))},
			Data: map[string]string{"mode": "normal"}}
		Expect(k8sClient.Create(ctx, cm)).To(Succeed())
		override := func(g Gomega) *v1alpha1.Finding {
			return finding(record(g, ctx, ns, "ConfigMap", "settings"), v1alpha1.FindingManualOverride)
		}
		Eventually(func(g Gomega) { g.Expect(record(g, ctx, ns, "ConfigMap", "settings").Status.History).NotTo(BeEmpty()) }, 30*time.Second).Should(Succeed())

		sre1 := clientAs("sre1")
		patch := func(c client.Client, body string) {
			Expect(c.Patch(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "settings"}},
				client.RawPatch(types.MergePatchType, []byte(body)))).To(Succeed())
		}
		patch(sre1, fmt.Sprintf(`{"metadata":{"annotations":{%q:"INC-4711: checkout down, emergency mode"}},"data":{"mode":"emergency"}}`, provenance.BreakGlassKey))
		Eventually(func(g Gomega) { g.Expect(override(g)).NotTo(BeNil()) }, 30*time.Second).Should(Succeed())

		By("sre1 removing the annotation afterwards")
		patch(sre1, fmt.Sprintf(`{"metadata":{"annotations":{%q:null}}}`, provenance.BreakGlassKey))
		Eventually(func(g Gomega) {
			var live corev1.ConfigMap
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "settings"}, &live)).To(Succeed())
			g.Expect(live.Annotations).NotTo(HaveKey(provenance.BreakGlassKey))
		}).Should(Succeed())
		Consistently(func(g Gomega) {
			f := override(g)
			g.Expect(f).NotTo(BeNil(), "the override's evidence was closed by removing an annotation")
			g.Expect(f.Message).To(ContainSubstring("INC-4711"))
		}, 3*time.Second, 250*time.Millisecond).Should(Succeed())

		By("the pipeline deploying the fix with a new commit closes it")
		ann := stamped(sha("e2"))
		body := `{"metadata":{"annotations":{`
		first := true
		for k, v := range ann {
			if !first {
				body += ","
			}
			first = false
			body += fmt.Sprintf("%q:%q", k, v)
		}
		patch(k8sClient, body+`}},"data":{"mode":"fixed"}}`)
		Eventually(func(g Gomega) { g.Expect(override(g)).To(BeNil()) }, 30*time.Second).Should(Succeed())
	})
})
