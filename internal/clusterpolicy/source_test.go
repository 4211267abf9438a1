package clusterpolicy

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
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
