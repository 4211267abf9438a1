package test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/digest"
	"github.com/kubetrail/kubetrail/internal/provenance"
)

// Other mutating webhooks (Kyverno, a Vault injector, a defaults webhook) run after
// kubetrail's: the apiserver calls mutating webhook configurations in name order, and
// "zz-defaults" sorts after kubetrail's. The stories below serve such a webhook in the
// test process, with its own self-signed certificate, as a third party would.

const (
	zzLabel    = "coexist.kubetrail.io/zz"
	injectedBy = "INJECTED_BY_ZZ"
)

// zzWebhook is a third-party mutating webhook: on create it sets one env var on the
// first container of a Deployment. Under /mutate it always writes "1"; under
// /mutate-again (reinvocationPolicy IfNeeded) it writes the number of its calls, so
// that it changes the object once more after kubetrail's reinvocation.
type zzWebhook struct {
	srv   *httptest.Server
	calls atomic.Int32
}

func startZZ() *zzWebhook {
	z := &zzWebhook{}
	z.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var review admissionv1.AdmissionReview
		if err := json.NewDecoder(r.Body).Decode(&review); err != nil || review.Request == nil {
			http.Error(w, "not an AdmissionReview", http.StatusBadRequest)
			return
		}
		n := z.calls.Add(1)
		resp := &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true}
		if review.Request.Kind.Kind == "Deployment" {
			value := "1"
			if r.URL.Path == "/mutate-again" {
				value = fmt.Sprint(n)
			}
			resp.Patch = []byte(fmt.Sprintf(`[{"op":"add","path":"/spec/template/spec/containers/0/env","value":[{"name":%q,"value":%q}]}]`, injectedBy, value))
			pt := admissionv1.PatchTypeJSONPatch
			resp.PatchType = &pt
		}
		review.Request, review.Response = nil, resp
		_ = json.NewEncoder(w).Encode(&review)
	}))
	return z
}

// install registers the webhook as MutatingWebhookConfiguration zz-defaults: /mutate
// for namespaces labelled zzLabel=defaults, /mutate-again for zzLabel=again.
func (z *zzWebhook) install(ctx context.Context) {
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: z.srv.Certificate().Raw})
	none := admissionregistrationv1.SideEffectClassNone
	fail := admissionregistrationv1.Fail
	ifNeeded := admissionregistrationv1.IfNeededReinvocationPolicy
	hook := func(name, path, label string) admissionregistrationv1.MutatingWebhook {
		url := z.srv.URL + path
		return admissionregistrationv1.MutatingWebhook{
			Name: name, AdmissionReviewVersions: []string{"v1"}, SideEffects: &none, FailurePolicy: &fail,
			ClientConfig:      admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: ca},
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{zzLabel: label}},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule: admissionregistrationv1.Rule{APIGroups: []string{"apps", ""}, APIVersions: []string{"v1"},
					Resources: []string{"deployments", "configmaps"}},
			}},
		}
	}
	again := hook("again.zz.example", "/mutate-again", "again")
	again.ReinvocationPolicy = &ifNeeded
	cfg := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "zz-defaults"},
		Webhooks:   []admissionregistrationv1.MutatingWebhook{hook("defaults.zz.example", "/mutate", "defaults"), again},
	}
	Expect(admin.Create(ctx, cfg)).To(Succeed())
	DeferCleanup(func(ctx context.Context) { Expect(client.IgnoreNotFound(admin.Delete(ctx, cfg))).To(Succeed()) })
}

// zzNamespace makes a story namespace the zz webhook mutates in (label "defaults" or
// "again") and waits until the apiserver calls it there.
func (z *zzWebhook) namespace(ctx context.Context, label string) string {
	ns := newNamespace(ctx)
	var n corev1.Namespace
	Expect(admin.Get(ctx, client.ObjectKey{Name: ns}, &n)).To(Succeed())
	n.Labels[zzLabel] = label
	Expect(admin.Update(ctx, &n)).To(Succeed())
	waitCalled(ctx, z, ns)
	return ns
}

// waitCalled waits until a dry-run ConfigMap create in ns reaches the zz webhook.
func waitCalled(ctx context.Context, z *zzWebhook, ns string) {
	Eventually(func(g Gomega) {
		before := z.calls.Load()
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: "probe-"}}
		g.Expect(admin.Create(ctx, cm, client.DryRunAll)).To(Succeed())
		g.Expect(z.calls.Load()).To(BeNumerically(">", before))
	}).WithContext(ctx).WithTimeout(30 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
}

// liveDigest is the digest the reconciler computes of the live Deployment.
func liveDigest(d *appsv1.Deployment) string {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(d)
	Expect(err).NotTo(HaveOccurred())
	u["apiVersion"], u["kind"] = "apps/v1", "Deployment"
	got, err := digest.Of(u, nil)
	Expect(err).NotTo(HaveOccurred())
	return got
}

func injected(d *appsv1.Deployment) string {
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		if e.Name == injectedBy {
			return e.Value
		}
	}
	return ""
}

// replacedWarnings are the Stamper's "the value sent was replaced" warnings.
func replacedWarnings(ws []string) []string {
	var out []string
	for _, w := range ws {
		if strings.Contains(w, "the value sent was replaced") {
			out = append(out, w)
		}
	}
	return out
}

var _ = Describe("Coexisting with another mutating webhook that runs after kubetrail's", Ordered, ContinueOnFailure, func() {
	var zz *zzWebhook
	BeforeAll(func(ctx SpecContext) {
		zz = startZZ()
		DeferCleanup(zz.srv.Close)
		zz.install(ctx)
	})

	// What a user checks: the create is admitted, the other webhook's change is there,
	// and kubetrail's stamp is of the object as stored, so the reconciler sees no drift.
	admittedAndStamped := func(ctx context.Context, u *userClient, d *appsv1.Deployment, by string) *appsv1.Deployment {
		u.Warnings()
		Expect(u.Create(ctx, d)).To(Succeed())
		Expect(replacedWarnings(u.Warnings())).To(BeEmpty(), "nobody sent admission facts")
		var live appsv1.Deployment
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(d), &live)).To(Succeed())
		Expect(injected(&live)).NotTo(BeEmpty(), "the other webhook's env var is in the stored object")
		Expect(live.Annotations).To(HaveKeyWithValue(provenance.AdmittedByKey, by))
		return &live
	}

	It("admits a create with no TracePolicy, and stamps the object the other webhook changed", func(ctx SpecContext) {
		ns := zz.namespace(ctx, "defaults")
		live := admittedAndStamped(ctx, users[human], deployment(ns, "viaweb", "nginx:1.25", nil), human)
		Expect(live.Annotations[provenance.DigestKey]).To(Equal(liveDigest(live)), "the stamped digest is the stored object's")
	})

	It("admits a trusted pipeline's signed create under Enforce, still verified", func(ctx SpecContext) {
		ns := zz.namespace(ctx, "defaults")
		key, pub := newKey()
		newPolicy(ctx, ns, v1alpha1.TracePolicySpec{
			Mode: v1alpha1.ModeEnforce, RequiredFields: append(requireAll, v1alpha1.FieldSignature),
			TrustedSubmitters: trustPipeline,
			Signing:           &v1alpha1.Signing{Required: true, PublicKeys: []v1alpha1.PublicKey{{Name: "ci", PEM: pub}}},
		})
		d := deployment(ns, "web", "nginx:1.27", pipelineProvenance(commitA))
		sign(d, key, time.Hour)
		live := admittedAndStamped(ctx, users[pipeline], d, pipeline)
		Expect(live.Annotations[provenance.DigestKey]).To(Equal(liveDigest(live)), "the stamped digest is the stored object's")
		Expect(live.Annotations).To(HaveKeyWithValue(provenance.VerifiedKey, "true"))
	})

	It("admits a create a webhook changes again after kubetrail's reinvocation; the difference is left to the reconciler", func(ctx SpecContext) {
		ns := zz.namespace(ctx, "again")
		newPolicy(ctx, ns, v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, RequiredFields: requireAll, TrustedSubmitters: trustPipeline})
		live := admittedAndStamped(ctx, users[pipeline], deployment(ns, "web", "nginx:1.27", pipelineProvenance(commitA)), pipeline)
		Expect(digest.Valid(live.Annotations[provenance.DigestKey])).To(BeTrue())
		// kubetrail hashed the object before the other webhook's last change: the live
		// digest differs, which the reconciler reports as drift (not stamped by kubetrail).
		Expect(live.Annotations[provenance.DigestKey]).NotTo(Equal(liveDigest(live)))
	})

	Context("with kubetrail's mutating webhook bypassed (down, failing open)", func() {
		var ns string
		BeforeAll(func(ctx SpecContext) {
			ns = zz.namespace(ctx, "defaults")
			bypassStamper(ctx, ns)
		})

		forged := func(by string, at time.Time, dig, verified string) map[string]string {
			ann := pipelineProvenance(commitA)
			ann[provenance.AdmittedByKey] = by
			ann[provenance.AdmittedAtKey] = at.UTC().Format(time.RFC3339)
			ann[provenance.DigestKey] = dig
			ann[provenance.VerifiedKey] = verified
			return ann
		}
		zero := "sha256:" + strings.Repeat("0", 64)

		It("still denies facts naming someone else as the submitter", func(ctx SpecContext) {
			err := users[human].Create(ctx, deployment(ns, "claims-pipeline", "nginx:1.27", forged(pipeline, time.Now(), zero, "false")))
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring("metadata.annotations[kubetrail.io/admitted-by]: Forbidden: is written only by kubetrail's admission webhook"))
		})

		It("still denies an old admission time with a digest that is not the object's", func(ctx SpecContext) {
			err := users[pipeline].Create(ctx, deployment(ns, "old-facts", "nginx:1.27", forged(pipeline, time.Now().Add(-time.Hour), zero, "false")))
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring("metadata.annotations[kubetrail.io/digest]: Forbidden"))
		})

		It("still denies verified=true without a signature", func(ctx SpecContext) {
			err := users[pipeline].Create(ctx, deployment(ns, "claims-verified", "nginx:1.27", forged(pipeline, time.Now(), zero, "true")))
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring("metadata.annotations[kubetrail.io/verified]: Forbidden"))
		})
	})
})

// bypassStamper takes namespace ns out of kubetrail's mutating webhook, as if it were
// down and failing open, until the spec ends, and waits until the apiserver stops
// calling it there.
func bypassStamper(ctx context.Context, ns string) {
	var cfg admissionregistrationv1.MutatingWebhookConfiguration
	Expect(admin.Get(ctx, client.ObjectKey{Name: "mutating-webhook-configuration"}, &cfg)).To(Succeed())
	orig := cfg.DeepCopy()
	sel := cfg.Webhooks[0].NamespaceSelector
	Expect(sel).NotTo(BeNil())
	sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{
		Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn, Values: []string{ns},
	})
	Expect(admin.Update(ctx, &cfg)).To(Succeed())
	DeferCleanup(func(ctx context.Context) {
		var now admissionregistrationv1.MutatingWebhookConfiguration
		Expect(admin.Get(ctx, client.ObjectKey{Name: orig.Name}, &now)).To(Succeed())
		now.Webhooks = orig.Webhooks
		Expect(admin.Update(ctx, &now)).To(Succeed())
	})
	Eventually(func(g Gomega) {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: "probe-"}}
		g.Expect(admin.Create(ctx, cm, client.DryRunAll)).To(Succeed())
		g.Expect(cm.Annotations).NotTo(HaveKey(provenance.AdmittedByKey))
	}).WithContext(ctx).WithTimeout(30 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
}
