package controllers

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/provenance"
	"github.com/kubetrail/kubetrail/internal/signing"
)

// rotationKey is a signing key pair and the ID a signature by it names.
type rotationKey struct {
	priv ed25519.PrivateKey
	pub  []byte
	id   string
}

func newRotationKey() rotationKey {
	privPEM, pubPEM, err := signing.GenerateKey()
	Expect(err).NotTo(HaveOccurred())
	priv, err := signing.ParsePrivateKey(privPEM)
	Expect(err).NotTo(HaveOccurred())
	pub, err := signing.ParsePublicKey(pubPEM)
	Expect(err).NotTo(HaveOccurred())
	return rotationKey{priv: priv, pub: pubPEM, id: signing.KeyID(pub)}
}

// signedConfigMap is a ConfigMap with pipeline provenance, signed with key as
// `kubectl trail stamp --key` signs it (a ConfigMap has no server defaults).
func signedConfigMap(ns, name string, key rotationKey) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: stamped(sha("c"))},
		Data:       map[string]string{"level": "info"},
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(cm)
	Expect(err).NotTo(HaveOccurred())
	u["apiVersion"], u["kind"] = "v1", "ConfigMap"
	st := signing.StatementOf(u)
	st.Audience = "envtest"
	st.Expires = time.Now().Add(time.Hour)
	sig, err := signing.Sign(context.Background(), st, key.priv)
	Expect(err).NotTo(HaveOccurred())
	cm.Annotations[provenance.SignatureKey] = sig
	return cm
}

func readyMessage(ctx context.Context, g Gomega, name string) string {
	var tp v1alpha1.TracePolicy
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Name: name}, &tp)).To(Succeed())
	c := meta.FindStatusCondition(tp.Status.Conditions, ConditionReady)
	g.Expect(c).NotTo(BeNil())
	return c.Message
}

var _ = Describe("Signing keys in Secrets (H4)", func() {
	It("trusts a rotated key within seconds, without a change of the policy, and stops calling objects signed with the old one verified", func(ctx SpecContext) {
		ns := "key-rotation"
		createNamespace(ctx, ns, map[string]string{"kubetrail.io/story": ns})
		oldKey, newKey := newRotationKey(), newRotationKey()
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: DefaultRecordNamespace, Name: "rotation-signing"},
			Data: map[string][]byte{"ed25519.pub": oldKey.pub}}
		Expect(k8sClient.Create(ctx, sec)).To(Succeed())
		DeferCleanup(func(ctx context.Context) { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, sec))).To(Succeed()) })
		tp := &v1alpha1.TracePolicy{ObjectMeta: metav1.ObjectMeta{Name: "signed-" + ns}, Spec: v1alpha1.TracePolicySpec{
			Mode:              v1alpha1.ModeEnforce,
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubetrail.io/story": ns}},
			Signing: &v1alpha1.Signing{Required: true, PublicKeys: []v1alpha1.PublicKey{{Name: "pipeline",
				SecretRef: &v1alpha1.SecretKeyReference{Namespace: sec.Namespace, Name: sec.Name, Key: "ed25519.pub"}}}},
		}}
		Expect(k8sClient.Create(ctx, tp)).To(Succeed())
		DeferCleanup(func(ctx context.Context) { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, tp))).To(Succeed()) })

		By("the status lists the trusted key's ID")
		Eventually(func(g Gomega) {
			g.Expect(readyMessage(ctx, g, tp.Name)).To(Equal("Enforce policy with 1 trusted key(s): " + oldKey.id))
		}, 10*time.Second, 200*time.Millisecond).Should(Succeed())
		before := signedConfigMap(ns, "before-rotation", oldKey)
		Eventually(func() error { return k8sClient.Create(ctx, before.DeepCopy()) }, 10*time.Second, 200*time.Millisecond).Should(Succeed())
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(before), before)).To(Succeed())
		Expect(before.Annotations).To(HaveKeyWithValue(provenance.VerifiedKey, "true"))

		By("the key is rotated in its Secret, and only there")
		rotated := time.Now()
		sec.Data["ed25519.pub"] = newKey.pub
		Expect(k8sClient.Update(ctx, sec)).To(Succeed())
		probe := 0
		Eventually(func(g Gomega) {
			probe++
			// Dry-run creates: admission runs, nothing is stored.
			err := k8sClient.Create(ctx, signedConfigMap(ns, fmt.Sprintf("old-key-%d", probe), oldKey), client.DryRunAll)
			g.Expect(err).To(MatchError(ContainSubstring(oldKey.id)), "signed with the old key")
			g.Expect(err).To(MatchError(ContainSubstring("not among the 1 trusted keys")))
			g.Expect(k8sClient.Create(ctx, signedConfigMap(ns, fmt.Sprintf("new-key-%d", probe), newKey), client.DryRunAll)).To(Succeed(), "signed with the new key")
		}, 10*time.Second, 200*time.Millisecond).Should(Succeed())
		GinkgoWriter.Printf("Rotation in effect after %s\n", time.Since(rotated))
		after := signedConfigMap(ns, "after-rotation", newKey)
		Expect(k8sClient.Create(ctx, after)).To(Succeed())
		Expect(after.Annotations).To(HaveKeyWithValue(provenance.VerifiedKey, "true"))
		Expect(k8sClient.Create(ctx, signedConfigMap(ns, "old-key", oldKey))).NotTo(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(readyMessage(ctx, g, tp.Name)).To(Equal("Enforce policy with 1 trusted key(s): " + newKey.id))
		}, 10*time.Second, 200*time.Millisecond).Should(Succeed())

		By("an object signed with the old key is no longer verified after a later update that leaves its content alone")
		// endpoints.kubernetes.io/last-change-trigger-time is written by a controller and
		// is no tracked content: the update keeps the object's admission facts.
		before.Annotations["endpoints.kubernetes.io/last-change-trigger-time"] = time.Now().UTC().Format(time.RFC3339)
		Expect(k8sClient.Update(ctx, before)).To(Succeed())
		Expect(before.Annotations).To(HaveKeyWithValue(provenance.VerifiedKey, "false"))
		Expect(before.Annotations).To(HaveKeyWithValue(provenance.AdmittedAtKey, Not(BeEmpty())))

		By("a revoked key (removed from the Secret) is trusted nowhere")
		delete(sec.Data, "ed25519.pub")
		sec.Data["other.pub"] = newKey.pub
		Expect(k8sClient.Update(ctx, sec)).To(Succeed())
		Eventually(func(g Gomega) {
			probe++
			g.Expect(k8sClient.Create(ctx, signedConfigMap(ns, fmt.Sprintf("revoked-%d", probe), newKey), client.DryRunAll)).NotTo(Succeed())
			msg := readyMessage(ctx, g, tp.Name)
			g.Expect(msg).To(ContainSubstring(`spec.signing.publicKeys[0] (pipeline): reading Secret kubetrail-system/rotation-signing key "ed25519.pub"`))
			g.Expect(msg).NotTo(ContainSubstring(newKey.id))
		}, 10*time.Second, 200*time.Millisecond).Should(Succeed())
	})
})
