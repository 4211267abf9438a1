package clusterpolicy

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/policy"
	"github.com/kubetrail/kubetrail/internal/signing"
)

// A pipeline that runs `kubectl create ns x && kubectl apply -n x` must not be turned
// away because the manager's cache has not seen namespace x yet.
func TestSelectingFindsANamespaceTheCacheHasNotSeen(t *testing.T) {
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1alpha1.AddToScheme(scheme)
	pol := &v1alpha1.TracePolicy{ObjectMeta: metav1.ObjectMeta{Name: "prod"}, Spec: v1alpha1.TracePolicySpec{
		Mode:              v1alpha1.ModeEnforce,
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"env": "prod"}},
	}}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "fresh", Labels: map[string]string{"env": "prod"}}}
	cache := fake.NewClientBuilder().WithScheme(scheme).WithObjects(pol).Build()
	live := fake.NewClientBuilder().WithScheme(scheme).WithObjects(ns).Build()

	s := &Source{Cache: cache, Secrets: live}
	got, err := s.Selecting(context.Background(), "apps", "Deployment", "fresh")
	if err != nil {
		t.Fatalf("Selecting: %v", err)
	}
	if len(got) != 1 || got[0].Name != "prod" {
		t.Fatalf("Selecting = %v, want the prod policy", got)
	}
	if _, err := s.Selecting(context.Background(), "apps", "Deployment", "missing"); err == nil {
		t.Fatal("a namespace that exists nowhere must be an error")
	}
}

// While no policy changes, All hands out what it compiled before; a changed, added or
// deleted policy is seen on the next call.
func TestAllRecompilesOnlyOnChange(t *testing.T) {
	ctx := context.Background()
	scheme := runtime.NewScheme()
	_ = v1alpha1.AddToScheme(scheme)
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		&v1alpha1.TracePolicy{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeWarn}},
		&v1alpha1.TracePolicy{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Spec: v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeAudit}},
	).Build()
	s := &Source{Cache: c, Secrets: c}
	names := func(ps []*policy.Compiled) string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Name+"="+string(p.Spec.Mode))
		}
		return strings.Join(out, ",")
	}
	first, err := s.All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(first); got != "a=Audit,b=Warn" {
		t.Fatalf("All = %s", got)
	}
	again, _ := s.All(ctx)
	if &again[0] != &first[0] {
		t.Error("All compiled the policies again although none changed")
	}

	var b v1alpha1.TracePolicy
	if err := c.Get(ctx, client.ObjectKey{Name: "b"}, &b); err != nil {
		t.Fatal(err)
	}
	b.Spec.Mode = v1alpha1.ModeEnforce
	if err := c.Update(ctx, &b); err != nil {
		t.Fatal(err)
	}
	changed, _ := s.All(ctx)
	if got := names(changed); got != "a=Audit,b=Enforce" {
		t.Fatalf("after an update All = %s", got)
	}
	if changed[0] != first[0] {
		t.Error("the unchanged policy a was compiled again")
	}

	if err := c.Create(ctx, &v1alpha1.TracePolicy{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Spec: v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeWarn}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, &v1alpha1.TracePolicy{ObjectMeta: metav1.ObjectMeta{Name: "a"}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.All(ctx); names(got) != "b=Enforce,c=Warn" {
		t.Fatalf("after a create and a delete All = %s", names(got))
	}
	s.InvalidateSecrets()
	if got, _ := s.All(ctx); names(got) != "b=Enforce,c=Warn" {
		t.Fatalf("after InvalidateSecrets All = %s", names(got))
	}
}

// H4: a key rotated in its Secret is trusted from the next call after the Secret's
// event, without a change of the policy; a policy that reads no such Secret is not
// compiled again.
func TestInvalidateSecretReadsRotatedKeys(t *testing.T) {
	ctx := context.Background()
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1alpha1.AddToScheme(scheme)
	_, oldPub, err := signing.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	_, newPub, err := signing.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	id := func(pemBytes []byte) string {
		k, err := signing.ParsePublicKey(pemBytes)
		if err != nil {
			t.Fatal(err)
		}
		return signing.KeyID(k)
	}
	ref := &v1alpha1.SecretKeyReference{Namespace: "kubetrail-system", Name: "ci-keys", Key: "ed25519.pub"}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ref.Namespace, Name: ref.Name}, Data: map[string][]byte{ref.Key: oldPub}}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(sec,
		&v1alpha1.TracePolicy{ObjectMeta: metav1.ObjectMeta{Name: "signed"}, Spec: v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce,
			Signing: &v1alpha1.Signing{Required: true, PublicKeys: []v1alpha1.PublicKey{{Name: "ci", SecretRef: ref}}}}},
		&v1alpha1.TracePolicy{ObjectMeta: metav1.ObjectMeta{Name: "plain"}, Spec: v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeAudit}},
	).Build()
	s := &Source{Cache: c, Secrets: c}
	keyIDs := func() string {
		all, err := s.All(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, k := range policy.Keys(all) {
			out = append(out, signing.KeyID(k))
		}
		return strings.Join(out, ",")
	}
	if got := keyIDs(); got != id(oldPub) {
		t.Fatalf("keys = %s, want the old key", got)
	}
	before, _ := s.All(ctx)

	sec.Data[ref.Key] = newPub
	if err := c.Update(ctx, sec); err != nil {
		t.Fatal(err)
	}
	if got := keyIDs(); got != id(oldPub) {
		t.Fatalf("keys = %s before the Secret's event, want the compiled old key", got)
	}
	if s.InvalidateSecret("kubetrail-system", "other") {
		t.Error("a Secret no policy reads invalidated a policy")
	}
	if !s.InvalidateSecret(ref.Namespace, ref.Name) {
		t.Fatal("the key Secret's event invalidated nothing")
	}
	if got := keyIDs(); got != id(newPub) {
		t.Fatalf("keys = %s after the rotation, want only the new key", got)
	}
	after, _ := s.All(ctx)
	if after[0] != before[0] || after[0].Name != "plain" {
		t.Error("the policy that reads no Secret was compiled again")
	}
	names, err := s.PoliciesReadingSecret(ctx, ref.Namespace, ref.Name)
	if err != nil || strings.Join(names, ",") != "signed" {
		t.Errorf("PoliciesReadingSecret = %v, %v; want [signed]", names, err)
	}
}
