package test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/provenance"
	"github.com/kubetrail/kubetrail/internal/signing"
)

const commitA = "0f3c2a9d5e7b41c8a6f0e2d4b9c1a3e5f7d9b2c4"
const commitB = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"

var nsCounter atomic.Int32

// newNamespace makes a namespace of its own for one spec, labelled so that only the
// policy made for that spec selects it.
func newNamespace(ctx context.Context) string {
	name := fmt.Sprintf("story-%d", nsCounter.Add(1))
	Expect(admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: name, Labels: map[string]string{"kubetrail.io/story": name},
	}})).To(Succeed())
	return name
}

// newPolicy creates a TracePolicy selecting only namespace ns and waits until the
// webhook applies it (a probe create under it must be judged by it).
func newPolicy(ctx context.Context, ns string, spec v1alpha1.TracePolicySpec) *v1alpha1.TracePolicy {
	spec.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"kubetrail.io/story": ns}}
	p := &v1alpha1.TracePolicy{ObjectMeta: metav1.ObjectMeta{Name: "policy-" + ns}, Spec: spec}
	Expect(admin.Create(ctx, p)).To(Succeed())
	DeferCleanup(func(ctx context.Context) { Expect(client.IgnoreNotFound(admin.Delete(ctx, p))).To(Succeed()) })
	// The manager's cache sees the policy a moment later.
	time.Sleep(500 * time.Millisecond)
	return p
}

func deployment(ns, name, image string, ann map[string]string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: ann},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}},
			},
		},
	}
}

func pipelineProvenance(commit string) map[string]string {
	return map[string]string{
		provenance.CommitKey:      commit,
		provenance.RepositoryKey:  "https://github.com/acme/shop",
		provenance.PullRequestKey: "42",
		provenance.PipelineRunKey: "https://ci.example/runs/7",
		provenance.ApproverKey:    "alice,bob",
		provenance.ActorKey:       provenance.ActorPipeline,
		provenance.SourceKey:      provenance.SourceCode,
	}
}

// testAudience is the cluster name the envtest policies' signatures are made for.
const testAudience = "envtest"

// sign signs obj (not yet created) as `kubectl trail stamp --key --server-dry-run`
// does, valid for ttl: the content digest of what a server-side dry-run create by
// the pipeline returns (defaults and other mutating webhooks applied), its
// provenance, for audience testAudience.
func sign(obj client.Object, key ed25519.PrivateKey, ttl time.Duration) {
	signFor(obj, key, testAudience, ttl, true)
}

// signFor signs obj for audience, valid for ttl, over the content a server-side
// dry-run create returns (dryRun) or over obj as it is (a manifest signed locally).
func signFor(obj client.Object, key ed25519.PrivateKey, audience string, ttl time.Duration, dryRun bool) {
	dry := obj.DeepCopyObject().(client.Object)
	ann := dry.GetAnnotations()
	delete(ann, provenance.SignatureKey)
	dry.SetAnnotations(ann)
	if dryRun {
		Expect(users[pipeline].Create(context.Background(), dry, client.DryRunAll)).To(Succeed())
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(dry)
	Expect(err).NotTo(HaveOccurred())
	gvk, err := admin.GroupVersionKindFor(obj)
	Expect(err).NotTo(HaveOccurred())
	u["apiVersion"], u["kind"] = gvk.GroupVersion().String(), gvk.Kind
	st := signing.StatementOf(u)
	st.Audience = audience
	st.Expires = time.Now().Add(ttl)
	st.SignedAt = time.Now().Add(-time.Minute)
	if !st.Expires.After(st.SignedAt) { // an expired signature, for the tests of expiry
		st.SignedAt = st.Expires.Add(-time.Hour)
	}
	sig, err := signing.Sign(context.Background(), st, key)
	Expect(err).NotTo(HaveOccurred())
	ann = obj.GetAnnotations()
	ann[provenance.SignatureKey] = sig
	obj.SetAnnotations(ann)
}

func newKey() (ed25519.PrivateKey, string) {
	privPEM, pubPEM, err := signing.GenerateKey()
	Expect(err).NotTo(HaveOccurred())
	priv, err := signing.ParsePrivateKey(privPEM)
	Expect(err).NotTo(HaveOccurred())
	return priv, string(pubPEM)
}

func joined(ws []string) string { return strings.Join(ws, "\n") }
