package controllers

import (
	"context"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/tracked"
)

// TestTombstones drives a record through a deletion with a fake client and clock: the
// first reconcile of a missing target makes the record a tombstone and asks to come
// back when the retention ends; once it has, the record goes.
func TestTombstones(t *testing.T) {
	sch := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(sch); err != nil {
		t.Fatal(err)
	}
	if err := v1alpha1.AddToScheme(sch); err != nil {
		t.Fatal(err)
	}
	kind, _ := tracked.Lookup("", "ConfigMap")
	rec := &v1alpha1.TraceRecord{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: RecordName("ConfigMap", "settings")},
		Spec:       v1alpha1.TraceRecordSpec{Target: v1alpha1.TraceTarget{APIVersion: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "settings"}},
		Status: v1alpha1.TraceRecordStatus{Findings: []v1alpha1.Finding{
			{ID: "drift", Type: v1alpha1.FindingDrift, Severity: v1alpha1.SeverityMedium, Message: "m"},
			{ID: "secret-1", Type: v1alpha1.FindingSecretExposure, Severity: v1alpha1.SeverityHigh, Message: "m"},
		}, FindingCount: 2},
	}
	c := fake.NewClientBuilder().WithScheme(sch).WithObjects(rec).Build()
	now := time.Date(2026, 5, 9, 12, 0, 0, 0, time.UTC)
	r := &TraceReconciler{
		Client: c, Live: c, APIReader: c, Kind: kind,
		Options: Options{TombstoneRetention: 720 * time.Hour, RecordNamespace: DefaultRecordNamespace, HistoryLimit: 20},
		Now:     func() time.Time { return now },
	}
	req := ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "shop", Name: "settings"}}
	ctx := context.Background()

	res, err := r.Reconcile(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.RequeueAfter != 720*time.Hour {
		t.Fatalf("RequeueAfter = %v, want the retention", res.RequeueAfter)
	}
	got := &v1alpha1.TraceRecord{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(rec), got); err != nil {
		t.Fatal(err)
	}
	if got.Status.DeletedAt == nil || !got.Status.DeletedAt.Time.Equal(now) {
		t.Fatalf("deletedAt = %v", got.Status.DeletedAt)
	}
	if len(got.Status.Findings) != 1 || got.Status.Findings[0].Type != v1alpha1.FindingSecretExposure || got.Status.FindingCount != 1 {
		t.Fatalf("a tombstone keeps what happened and closes what was wrong with the live object: %+v", got.Status.Findings)
	}

	// Reconciled again later: still a tombstone, the deletion time unchanged.
	now = now.Add(24 * time.Hour)
	if res, err = r.Reconcile(ctx, req); err != nil || res.RequeueAfter != 696*time.Hour {
		t.Fatalf("second reconcile = %v, %v", res, err)
	}

	now = now.Add(720 * time.Hour)
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(rec), got); !apierrors.IsNotFound(err) {
		t.Fatalf("expired tombstone still there: %v", err)
	}
	// No record, no target: nothing to do.
	if res, err := r.Reconcile(ctx, req); err != nil || res.RequeueAfter != 0 {
		t.Fatalf("reconcile without record = %v, %v", res, err)
	}
}
