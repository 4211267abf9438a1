package test

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/provenance"
)

// M8: `kubectl label ns prod <selector label>-` once took prod out of Enforce for
// anyone who may label namespaces, untraced.
var _ = Describe("Relabelling a namespace out of an enforcing policy (M8)", func() {
	It("is denied to an admin who is no trusted submitter, and admitted to the pipeline and to on-call under break-glass", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		newPolicy(ctx, ns, v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, TrustedSubmitters: trustPipeline,
			BreakGlass: &v1alpha1.BreakGlass{Allowed: []v1alpha1.Subject{{Kind: v1alpha1.SubjectGroup, Name: "sre-oncall"}}}})
		key := client.ObjectKey{Name: ns}
		unlabel := `{"metadata":{"labels":{"kubetrail.io/story":null}}}`
		obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}

		err := mergePatch(ctx, users[human], obj, unlabel)
		Expect(err).To(HaveOccurred(), "an admin took the namespace out of Enforce")
		Expect(err.Error()).To(ContainSubstring(human + " may not take namespace " + ns + " out of TracePolicy policy-" + ns + " (mode Enforce)"))
		Expect(admin.Get(ctx, key, obj)).To(Succeed())
		Expect(obj.Labels).To(HaveKey("kubetrail.io/story"))

		By("a label the selector does not read is no one's business")
		Expect(mergePatch(ctx, users[human], obj, `{"metadata":{"labels":{"team":"shop"}}}`)).To(Succeed())

		By("on-call with a break-glass reason on the namespace")
		Expect(mergePatch(ctx, users[sre], obj, fmt.Sprintf(`{"metadata":{"labels":{"kubetrail.io/story":null},"annotations":{%q:"INC-12: move the namespace out for the migration"}}}`,
			provenance.BreakGlassKey))).To(Succeed())
		Expect(admin.Get(ctx, key, obj)).To(Succeed())
		Expect(obj.Labels).NotTo(HaveKey("kubetrail.io/story"))

		By("the pipeline moving it back in and out")
		Expect(mergePatch(ctx, admin, obj, fmt.Sprintf(`{"metadata":{"labels":{"kubetrail.io/story":%q}}}`, ns))).To(Succeed())
		Expect(mergePatch(ctx, users[pipeline], obj, unlabel)).To(Succeed())
	})
})
