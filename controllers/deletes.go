package controllers

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/tracked"
)

// DeleteRecorder writes the deletes the validating webhook admits onto the deleted
// objects' records (webhooks.DeleteRecorder), so that a tombstone names who deleted
// its target: the reconciler itself only sees the object go. It runs on every replica
// (each serves admission) as the manager, like the reconciler's own writes.
type DeleteRecorder struct {
	// Client writes the record; Reader reads it uncached (the write must not be
	// based on a stale copy).
	Client client.Client
	Reader client.Reader
	// RecordNamespace holds the records of cluster-scoped targets; DefaultRecordNamespace
	// when empty.
	RecordNamespace string
}

// RecordDelete sets status.lastDeleteRequest on the record of kind/namespace/name. A
// target without a record (never reconciled) is left alone.
func (d DeleteRecorder) RecordDelete(ctx context.Context, kind tracked.Kind, namespace, name string, req v1alpha1.DeleteRequest) error {
	key := client.ObjectKey{Namespace: namespace, Name: RecordName(kind.GVK.Kind, name)}
	if !kind.Namespaced {
		key.Namespace = d.RecordNamespace
		if key.Namespace == "" {
			key.Namespace = DefaultRecordNamespace
		}
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var rec v1alpha1.TraceRecord
		if err = d.Reader.Get(ctx, key, &rec); err != nil {
			return client.IgnoreNotFound(err)
		}
		if rec.Spec.Target.Kind != kind.GVK.Kind || rec.Spec.Target.Name != name {
			return nil // a record of the same name for another object (a hashed name)
		}
		base := rec.DeepCopy()
		rec.Status.LastDeleteRequest = &req
		// The write bumps the record's generation; like every manager write it says it
		// observed the new one (patchRecord), unless a write by someone else is still
		// to be found, which must stay visible to reconcileRecordEdits.
		if base.Status.ObservedGeneration == base.Generation {
			stampGeneration(&rec.Status, base.Generation+1)
		}
		err = d.Client.Patch(ctx, &rec, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}), client.FieldOwner(FieldManager))
		if !apierrors.IsConflict(err) {
			return client.IgnoreNotFound(err)
		}
	}
	return err
}
