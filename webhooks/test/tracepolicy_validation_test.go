package test

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/provenance"
	"github.com/kubetrail/kubetrail/internal/testenv"
)

// tracePolicyWebhook is the name of the TracePolicy validating webhook in
// config/webhook/manifests.yaml.
const tracePolicyWebhook = "tracepolicies.kubetrail.io"

// withoutPolicyValidation runs write with kubetrail's TracePolicy validation removed
// from the apiserver, as in a cluster upgraded from a kubetrail without it (or with
// the webhook's configuration deleted), and puts it back.
func withoutPolicyValidation(ctx context.Context, write func() error) {
	var vwc admissionregistrationv1.ValidatingWebhookConfiguration
	var saved *admissionregistrationv1.ValidatingWebhook
	Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := admin.Get(ctx, client.ObjectKey{Name: "validating-webhook-configuration"}, &vwc); err != nil {
			return err
		}
		kept := vwc.Webhooks[:0:0]
		for i := range vwc.Webhooks {
			if vwc.Webhooks[i].Name == tracePolicyWebhook {
				saved = vwc.Webhooks[i].DeepCopy()
			} else {
				kept = append(kept, vwc.Webhooks[i])
			}
		}
		vwc.Webhooks = kept
		return admin.Update(ctx, &vwc)
	})).To(Succeed())
	Expect(saved).NotTo(BeNil(), "config/webhook/manifests.yaml has no %s webhook", tracePolicyWebhook)
	restore := func(ctx context.Context) {
		Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
			if err := admin.Get(ctx, client.ObjectKey{Name: "validating-webhook-configuration"}, &vwc); err != nil {
				return err
			}
			for _, w := range vwc.Webhooks {
				if w.Name == tracePolicyWebhook {
					return nil
				}
			}
			vwc.Webhooks = append(vwc.Webhooks, *saved)
			return admin.Update(ctx, &vwc)
		})).To(Succeed())
		// Back once the apiserver denies an invalid policy again.
		Eventually(func() error {
			return createDryRun(ctx, &v1alpha1.TracePolicy{ObjectMeta: metav1.ObjectMeta{Name: "probe-validation"},
				Spec: v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeAudit, Ignore: []v1alpha1.IgnoreRule{{Paths: []string{"spec"}}}}})
		}, 10*time.Second, 100*time.Millisecond).Should(MatchError(ContainSubstring("spec.ignore[0].paths[0]")))
	}
	DeferCleanup(restore)
	// The apiserver sees the configuration change a moment later.
	Eventually(write, 10*time.Second, 100*time.Millisecond).Should(Succeed())
	restore(ctx)
}

func createDryRun(ctx context.Context, obj client.Object) error {
	return admin.Create(ctx, obj, client.DryRunAll)
}

var _ = Describe("TracePolicy validation (H5)", func() {
	It("denies an invalid policy, naming each field and how to fix it", func(ctx SpecContext) {
		ref := &v1alpha1.SecretKeyReference{Namespace: "kubetrail-system", Name: "CI_keys", Key: "ed25519.pub"}
		cases := []struct {
			spec v1alpha1.TracePolicySpec
			want []string
		}{
			{v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeAudit, Ignore: []v1alpha1.IgnoreRule{{Paths: []string{"spec/replicas"}}}},
				[]string{`spec.ignore[0].paths[0]: Invalid value: "spec/replicas": a JSON pointer starts with "/": write "/spec/replicas"`}},
			{v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeAudit, Ignore: []v1alpha1.IgnoreRule{{Kinds: []string{"Deployment"}, Paths: []string{"/spec"}}}},
				[]string{`spec.ignore[0].paths[0]: Invalid value: "/spec": ignores the whole top-level field "spec"`}},
			{v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "env", Operator: "Equals", Values: []string{"prod"}}}}},
				[]string{`spec.namespaceSelector.matchExpressions[0].operator: Invalid value: "Equals"`}},
			{v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, Resources: []v1alpha1.ResourceSelector{{Group: "apps", Kinds: []string{"Deployments"}}}},
				[]string{`spec.resources[0].kinds[0]: Unsupported value: "Deployments": supported values: "DaemonSet", "Deployment"`}},
			{v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, Signing: &v1alpha1.Signing{Required: true, PublicKeys: []v1alpha1.PublicKey{
				{Name: "ci", SecretRef: ref}, {Name: "inline", PEM: "ssh-ed25519 AAAA"}}}},
				[]string{`spec.signing.publicKeys[0].secretRef.name: Invalid value: "CI_keys"`, "spec.signing.publicKeys[1].pem: Invalid value: no trusted keys found"}},
		}
		for i, tc := range cases {
			p := &v1alpha1.TracePolicy{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("invalid-%d", i)}, Spec: tc.spec}
			err := admin.Create(ctx, p)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "case %d: want Invalid, got %v", i, err)
			Expect(err.Error()).To(ContainSubstring(`TracePolicy.kubetrail.io "invalid-%d" is invalid`, i))
			for _, w := range tc.want {
				Expect(err.Error()).To(ContainSubstring(w), "case %d", i)
			}
			// Each cause names its field, for tools that show them.
			status := err.(apierrors.APIStatus).Status()
			Expect(status.Details).NotTo(BeNil())
			Expect(status.Details.Causes).To(HaveLen(len(tc.want)), "case %d", i)
			for j, cause := range status.Details.Causes {
				Expect(tc.want[j]).To(HavePrefix(cause.Field + ":"))
			}
		}

		By("a valid policy is admitted, and changing it into an invalid one is denied")
		p := &v1alpha1.TracePolicy{ObjectMeta: metav1.ObjectMeta{Name: "valid-then-typo"}, Spec: v1alpha1.TracePolicySpec{
			Mode: v1alpha1.ModeAudit, Ignore: []v1alpha1.IgnoreRule{{Kinds: []string{"Deployment"}, Paths: []string{"/spec/replicas"}}}}}
		Expect(admin.Create(ctx, p)).To(Succeed())
		DeferCleanup(func(ctx context.Context) { Expect(client.IgnoreNotFound(admin.Delete(ctx, p))).To(Succeed()) })
		p.Spec.Ignore[0].Paths = append(p.Spec.Ignore[0].Paths, "spec/paused")
		err := admin.Update(ctx, p)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring(`spec.ignore[0].paths[1]: Invalid value: "spec/paused"`))
	})

	It("a policy stored with a bad pointer never fails the updates of what it selects, the control plane's included", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		alice := users[human]
		gcCfg, err := testenv.UserConfig(testEnv, "system:serviceaccount:kube-system:generic-garbage-collector", "system:masters", "system:serviceaccounts")
		Expect(err).NotTo(HaveOccurred())
		gc, err := client.New(gcCfg, client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())

		d := deployment(ns, "hello", "nginx:1.27", nil)
		d.Spec.Replicas = ptr.To[int32](1)
		Expect(alice.Create(ctx, d)).To(Succeed())
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "settings"}, Data: map[string]string{"level": "info"}}
		Expect(alice.Create(ctx, cm)).To(Succeed())

		By("an Audit policy with the typo of the review is written while validation is absent")
		typo := &v1alpha1.TracePolicy{ObjectMeta: metav1.ObjectMeta{Name: "typo-audit-" + ns}, Spec: v1alpha1.TracePolicySpec{
			Mode:              v1alpha1.ModeAudit,
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubetrail.io/story": ns}},
			Ignore:            []v1alpha1.IgnoreRule{{Paths: []string{"spec/replicas"}}},
		}}
		withoutPolicyValidation(ctx, func() error { return admin.Create(ctx, typo.DeepCopy()) })
		DeferCleanup(func(ctx context.Context) { Expect(client.IgnoreNotFound(admin.Delete(ctx, typo))).To(Succeed()) })

		By("a human's label change and ConfigMap patch are admitted, with the policy's problem as a warning")
		alice.Warnings()
		Eventually(func(g Gomega) {
			var got appsv1.Deployment
			g.Expect(alice.Get(ctx, client.ObjectKeyFromObject(d), &got)).To(Succeed())
			got.Labels = map[string]string{"tier": fmt.Sprintf("web-%d", time.Now().UnixNano())}
			g.Expect(alice.Update(ctx, &got)).To(Succeed())
			// The Enforcer applies the policy (its problem is told): the cache has it.
			g.Expect(joined(alice.Warnings())).To(ContainSubstring(`TracePolicy ` + typo.Name + `: spec.ignore[0].paths[0]: Invalid value: "spec/replicas"`))
		}, 10*time.Second, 200*time.Millisecond).Should(Succeed())
		patch := client.MergeFrom(cm.DeepCopy())
		cm.Data["level"] = "debug"
		Expect(alice.Patch(ctx, cm, patch)).To(Succeed())
		Expect(cm.Annotations[provenance.AdmittedByKey]).To(Equal(human), "the patch is stamped, not just let through")

		By("the bad pointer is skipped, not half-applied: a replicas change is tracked content")
		var got appsv1.Deployment
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(d), &got)).To(Succeed())
		got.Spec.Replicas = ptr.To[int32](3)
		Expect(users[sre].Update(ctx, &got)).To(Succeed())
		Expect(got.Annotations[provenance.AdmittedByKey]).To(Equal(sre))

		By("the garbage collector's label change is admitted too")
		Expect(gc.Get(ctx, client.ObjectKeyFromObject(d), &got)).To(Succeed())
		got.Labels["gc"] = "seen"
		Expect(gc.Update(ctx, &got)).To(Succeed())
		cmGC := &corev1.ConfigMap{}
		Expect(gc.Get(ctx, client.ObjectKeyFromObject(cm), cmGC)).To(Succeed())
		cmGC.Labels = map[string]string{"gc": "seen"}
		Expect(gc.Update(ctx, cmGC)).To(Succeed())

		By("the stored policy's metadata may change; its spec only into a valid one")
		var stored v1alpha1.TracePolicy
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(typo), &stored)).To(Succeed())
		stored.Labels = map[string]string{"owner": "platform"}
		Expect(admin.Update(ctx, &stored)).To(Succeed())
		stored.Spec.Mode = v1alpha1.ModeWarn
		err = admin.Update(ctx, &stored)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		stored.Spec.Ignore[0].Paths = []string{"/spec/replicas"}
		Expect(admin.Update(ctx, &stored)).To(Succeed())
	})
})
