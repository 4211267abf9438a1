package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/clusterpolicy"
	"github.com/kubetrail/kubetrail/internal/digest"
	"github.com/kubetrail/kubetrail/internal/secretscan"
	"github.com/kubetrail/kubetrail/internal/tracked"
)

const (
	// DefaultTombstoneRetention is how long the record of a deleted target is kept.
	DefaultTombstoneRetention = 30 * 24 * time.Hour
	// DefaultRecordNamespace holds the records of cluster-scoped targets.
	DefaultRecordNamespace = "kubetrail-system"

	// lastAppliedAnnotation is kubectl's copy of the last applied manifest. It is a
	// whole second copy of the object (of a Secret's values too) that kubetrail never
	// needs, so the cache drops it.
	lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"
)

// Options configure the reconcilers.
type Options struct {
	// HistoryLimit bounds status.history; DefaultHistoryLimit when 0.
	HistoryLimit int
	// TombstoneRetention is how long the record of a deleted target is kept;
	// DefaultTombstoneRetention when 0.
	TombstoneRetention time.Duration
	// RecordNamespace holds the records of cluster-scoped targets; DefaultRecordNamespace
	// when empty.
	RecordNamespace string
	// Policies finds the TracePolicies selecting a target (ignore paths, change windows).
	// When nil, one is made on the manager's cache.
	Policies *clusterpolicy.Source
	// Kinds are the traced kinds; tracked.Default when empty.
	Kinds []tracked.Kind
	// MaxConcurrentReconciles is how many objects of one kind are reconciled at once;
	// DefaultMaxConcurrentReconciles when 0. A reconcile mostly waits on the apiserver,
	// so a few in flight per kind keep a cold start from being one round trip at a time.
	MaxConcurrentReconciles int
}

// DefaultMaxConcurrentReconciles is the default of Options.MaxConcurrentReconciles.
const DefaultMaxConcurrentReconciles = 4

func (o Options) withDefaults(mgr ctrl.Manager) Options {
	if o.HistoryLimit <= 0 {
		o.HistoryLimit = DefaultHistoryLimit
	}
	if o.TombstoneRetention <= 0 {
		o.TombstoneRetention = DefaultTombstoneRetention
	}
	if o.RecordNamespace == "" {
		o.RecordNamespace = DefaultRecordNamespace
	}
	if o.Policies == nil {
		o.Policies = &clusterpolicy.Source{Cache: mgr.GetCache(), Secrets: mgr.GetAPIReader()}
	}
	if len(o.Kinds) == 0 {
		o.Kinds = tracked.Default
	}
	if o.MaxConcurrentReconciles <= 0 {
		o.MaxConcurrentReconciles = DefaultMaxConcurrentReconciles
	}
	return o
}

// SetupWithManager registers one reconciler per tracked kind with mgr, with the
// watches that keep RBAC findings current (a role's change re-reconciles the bindings
// that reference it, directly or through aggregation). It loads gitleaks' rules first,
// so that a broken rule set fails the start rather than silently finding nothing.
func SetupWithManager(mgr ctrl.Manager, opts Options) error {
	opts = opts.withDefaults(mgr)
	if err := secretscan.Load(); err != nil {
		return err
	}
	for _, k := range opts.Kinds {
		r := &TraceReconciler{
			Scheme:       mgr.GetScheme(),
			Client:       mgr.GetClient(),
			Live:         mgr.GetCache(),
			APIReader:    mgr.GetAPIReader(),
			Kind:         k,
			MetadataOnly: k.GVK.Group == "" && k.GVK.Kind == "Secret",
			Options:      opts,
			Recorder:     mgr.GetEventRecorder("kubetrail"),
		}
		if err := r.SetupWithManager(mgr); err != nil {
			return fmt.Errorf("setting up the %s reconciler: %w", k.GVK.Kind, err)
		}
	}
	return nil
}

// SetupWithManager registers r with mgr.
func (r *TraceReconciler) SetupWithManager(mgr ctrl.Manager) error {
	var forObj client.Object
	if r.MetadataOnly {
		m := &metav1.PartialObjectMetadata{}
		m.SetGroupVersionKind(r.Kind.GVK)
		forObj = m
	} else {
		forObj = newObject(r.Scheme, r.Kind.GVK)
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named("trace-"+strings.ToLower(r.Kind.GVK.Kind)).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.Options.MaxConcurrentReconciles}).
		For(forObj, builder.WithPredicates(tracedObjects(r.Kind.GVK, r.MetadataOnly))).
		// Records are listed at start: targets deleted while the manager was down become
		// tombstones, and tombstones expire. A deleted record is made again.
		Watches(&v1alpha1.TraceRecord{}, handler.EnqueueRequestsFromMapFunc(r.recordTarget),
			builder.WithPredicates(recordsToRevisit())).
		// A policy's ignore paths and change windows change what every target's record says.
		Watches(&v1alpha1.TracePolicy{}, handler.EnqueueRequestsFromMapFunc(r.allTargets))
	b = r.rbacWatches(b)
	return b.Complete(r)
}

// tracedObjects lets through the events of objects kubetrail traces, and of those only
// updates that can change a record: tracked content, annotations, labels or owners
// (status updates are not), and resyncs (same resourceVersion), which refresh what
// depends on other objects.
func tracedObjects(gvk schema.GroupVersionKind, metadataOnly bool) predicate.Predicate {
	kind := gvk.Kind
	return predicate.Funcs{
		CreateFunc:  func(e event.CreateEvent) bool { return !skipped(kind, e.Object) },
		DeleteFunc:  func(e event.DeleteEvent) bool { return !skippedNamespaces[e.Object.GetNamespace()] },
		GenericFunc: func(e event.GenericEvent) bool { return !skipped(kind, e.Object) },
		UpdateFunc: func(e event.UpdateEvent) bool {
			if skipped(kind, e.ObjectNew) && skipped(kind, e.ObjectOld) {
				return false
			}
			o, n := e.ObjectOld, e.ObjectNew
			if metadataOnly || o.GetResourceVersion() == n.GetResourceVersion() {
				return true
			}
			if !mapsEqual(o.GetAnnotations(), n.GetAnnotations()) || !mapsEqual(o.GetLabels(), n.GetLabels()) ||
				len(o.GetOwnerReferences()) != len(n.GetOwnerReferences()) || o.GetUID() != n.GetUID() {
				return true
			}
			if generationTracksSpec[kind] && o.GetGeneration() > 0 && o.GetGeneration() == n.GetGeneration() {
				// A status update (most updates of a workload): the spec, all of its tracked
				// content, is unchanged.
				return false
			}
			od, err1 := contentDigest(o, gvk)
			nd, err2 := contentDigest(n, gvk)
			return err1 != nil || err2 != nil || od != nd
		},
	}
}

// generationTracksSpec are the tracked kinds whose metadata.generation the apiserver
// moves on every change of spec, and whose tracked content is their spec alone.
var generationTracksSpec = map[string]bool{
	"Deployment": true, "StatefulSet": true, "DaemonSet": true, "Job": true, "CronJob": true,
	"Ingress": true, "NetworkPolicy": true,
}

// contentDigest is obj's digest. When it cannot be computed the update passes the
// predicate, and the reconcile reports why.
func contentDigest(obj client.Object, gvk schema.GroupVersionKind) (string, error) {
	content, err := contentOf(obj, gvk)
	if err != nil {
		return "", err
	}
	return digest.Of(content, nil)
}

// recordsToRevisit lets through the TraceRecord events a reconciler must act on:
// records listed when the manager starts (their targets may have been deleted while
// the manager was down, or their tombstones expired), records someone else created or
// wrote (with kubetrail's validating webhook removed: the reconciler repairs and flags
// them, see reconcileRecordEdits), and deleted records (made again). The manager's own
// writes need no reconcile: reconciling their targets again would only race the cache.
// Its writes leave status.observedGeneration equal to the generation (see
// patchRecord), anyone else's leave the generation ahead of it.
func recordsToRevisit() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc: func(e event.CreateEvent) bool {
			rec, ok := e.Object.(*v1alpha1.TraceRecord)
			return ok && (e.IsInInitialList || writtenByOthers(rec))
		},
		UpdateFunc: func(e event.UpdateEvent) bool {
			rec, ok := e.ObjectNew.(*v1alpha1.TraceRecord)
			return ok && writtenByOthers(rec)
		},
		DeleteFunc:  func(event.DeleteEvent) bool { return true },
		GenericFunc: func(event.GenericEvent) bool { return true },
	}
}

// writtenByOthers reports whether rec's last write was not the manager's.
func writtenByOthers(rec *v1alpha1.TraceRecord) bool {
	return rec.Generation != rec.Status.ObservedGeneration
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// recordTarget maps a TraceRecord of this kind to its target.
func (r *TraceReconciler) recordTarget(_ context.Context, o client.Object) []reconcile.Request {
	rec, ok := o.(*v1alpha1.TraceRecord)
	if !ok || rec.Spec.Target.Kind != r.Kind.GVK.Kind || digest.Group(rec.Spec.Target.APIVersion) != r.Kind.GVK.Group {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: rec.Spec.Target.Namespace, Name: rec.Spec.Target.Name}}}
}

// allTargets maps a TracePolicy change to every traced object of this kind.
func (r *TraceReconciler) allTargets(ctx context.Context, _ client.Object) []reconcile.Request {
	var list client.ObjectList
	if r.MetadataOnly {
		m := &metav1.PartialObjectMetadataList{}
		m.SetGroupVersionKind(r.Kind.GVK.GroupVersion().WithKind(r.Kind.GVK.Kind + "List"))
		list = m
	} else {
		list = newList(r.Scheme, r.Kind.GVK)
	}
	if err := r.Live.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		logf.FromContext(ctx).Error(err, "Listing targets after a TracePolicy change", "kind", r.Kind.GVK.Kind)
		return nil
	}
	objs, err := listItems(list)
	if err != nil {
		logf.FromContext(ctx).Error(err, "Listing targets after a TracePolicy change", "kind", r.Kind.GVK.Kind)
		return nil
	}
	out := make([]reconcile.Request, 0, len(objs))
	for _, o := range objs {
		if !skipped(r.Kind.GVK.Kind, o) {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(o)})
		}
	}
	return out
}

// CacheTransform returns the cache transform the manager installs (as
// cache.Options.DefaultTransform): it drops metadata.managedFields, kubectl's
// last-applied-configuration annotation and status from every cached object, and keeps
// of a TraceRecord only its identity (trimRecord). None of it is needed from the cache
// (the reconciler reads managedFields with an uncached GET when it names the managers
// of a drift, and records uncached), and together they are most of an object's size;
// the last-applied copy of a Secret would also put its values in memory.
func CacheTransform() toolscache.TransformFunc {
	return func(in interface{}) (interface{}, error) {
		obj, ok := in.(metav1.Object)
		if !ok {
			return in, nil
		}
		if rec, ok := in.(*v1alpha1.TraceRecord); ok {
			// The cache tells the reconcilers which records exist and who wrote them last
			// (recordsToRevisit); the reconciler reads the record itself uncached
			// (readRecord). Keeping only that much keeps the records' history,
			// findings and baselines out of the manager's memory.
			return trimRecord(rec), nil
		}
		obj.SetManagedFields(nil)
		// Nothing kubetrail computes reads status (digests and drift exclude it), and a
		// workload's status is a good part of its size.
		dropStatus(in)
		if ann := obj.GetAnnotations(); ann != nil {
			if _, ok := ann[lastAppliedAnnotation]; ok {
				kept := make(map[string]string, len(ann)-1)
				for k, v := range ann {
					if k != lastAppliedAnnotation {
						kept[k] = v
					}
				}
				if len(kept) == 0 {
					kept = nil
				}
				obj.SetAnnotations(kept)
			}
		}
		return obj, nil
	}
}

// trimRecord is the cached form of a record: its metadata (labels and annotations
// aside), target and generations, and its tombstone time.
func trimRecord(rec *v1alpha1.TraceRecord) *v1alpha1.TraceRecord {
	return &v1alpha1.TraceRecord{
		TypeMeta: rec.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{
			Namespace:         rec.Namespace,
			Name:              rec.Name,
			UID:               rec.UID,
			ResourceVersion:   rec.ResourceVersion,
			Generation:        rec.Generation,
			CreationTimestamp: rec.CreationTimestamp,
			DeletionTimestamp: rec.DeletionTimestamp,
		},
		Spec: v1alpha1.TraceRecordSpec{Target: rec.Spec.Target},
		Status: v1alpha1.TraceRecordStatus{
			ObservedGeneration: rec.Status.ObservedGeneration,
			DeletedAt:          rec.Status.DeletedAt,
		},
	}
}
