package controllers

import (
	"context"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/provenance"
	"github.com/kubetrail/kubetrail/internal/tracked"
)

// maxOwnerDepth bounds the owner chain walked (CronJob -> Job -> Pod is the longest the
// control plane makes; the bound only stops a cycle of forged references).
const maxOwnerDepth = 4

// reconcileDerivation records what a controller derived: a ReplicaSet the deployment
// controller made, a Pod of a ReplicaSet, a CronJob's Job. Such an object carries no
// provenance of its own; its record names the traced object at the top of its owner
// chain (spec.derivedFrom) and takes that object's provenance, so `kubectl trail why
// pod/web-abc12` answers with the Deployment's change.
//
// An object is derived only when its controller reference names an owner of a kind
// that derives it and it was admitted from the identity of that very controller
// (tracked.DerivedBy): an ownerReference alone is a field anyone who may write the
// object sets. Anything else with an owner is recorded like any other object, its
// untraced changes attributed to whoever made them.
func (r *TraceReconciler) reconcileDerivation(ctx context.Context, s *recordState) (ctrl.Result, error) {
	top, prov, ok, err := r.resolveOwner(ctx, s.live.obj)
	if err != nil || !ok {
		return ctrl.Result{}, err
	}
	s.rec.Spec.DerivedFrom = top
	s.rec.Spec.Provenance = prov
	s.prov = prov
	return ctrl.Result{}, nil
}

// resolveOwner walks obj's owner chain while each link was derived by its controller
// and returns the first owner that was not (the traced object a change produced), with
// its provenance. ok is false when obj itself is not derived.
func (r *TraceReconciler) resolveOwner(ctx context.Context, obj client.Object) (*v1alpha1.TraceTarget, v1alpha1.Provenance, bool, error) {
	kind := r.Kind.GVK.Kind
	cur := obj
	var top *v1alpha1.TraceTarget
	var prov v1alpha1.Provenance
	for depth := 0; depth < maxOwnerDepth; depth++ {
		ref, isOwned := controllerRef(cur)
		if !isOwned || !tracked.DerivedBy(kind, ref, cur.GetAnnotations()[provenance.AdmittedByKey]) {
			break
		}
		group, _, _ := tracked.SplitAPIVersion(ref.APIVersion)
		ownerKind, known := tracked.Lookup(group, ref.Kind)
		if !known {
			break
		}
		owner := newObject(r.Scheme, ownerKind.GVK)
		err := r.Live.Get(ctx, types.NamespacedName{Namespace: cur.GetNamespace(), Name: ref.Name}, owner)
		target := &v1alpha1.TraceTarget{
			APIVersion: ownerKind.GVK.GroupVersion().String(), Kind: ref.Kind,
			Namespace: cur.GetNamespace(), Name: ref.Name, UID: types.UID(ref.UID),
		}
		if err != nil {
			if client.IgnoreNotFound(err) != nil {
				return nil, prov, false, err
			}
			// The owner is gone (a cascading delete under way): the object was derived,
			// its origin can no longer be read.
			return target, v1alpha1.Provenance{}, true, nil
		}
		if string(owner.GetUID()) != ref.UID {
			// A reference to an owner that no longer exists under that name.
			return target, v1alpha1.Provenance{}, true, nil
		}
		top = target
		ann := owner.GetAnnotations()
		facts := factsOf(ann)
		prov = provenanceOf(ann, facts.Digest != "" && facts.AdmittedAt != nil)
		cur, kind = owner, ref.Kind
	}
	return top, prov, top != nil, nil
}

func controllerRef(obj client.Object) (tracked.OwnerRef, bool) {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.Controller != nil && *ref.Controller {
			return tracked.OwnerRef{APIVersion: ref.APIVersion, Kind: ref.Kind, Name: ref.Name, UID: string(ref.UID)}, true
		}
	}
	return tracked.OwnerRef{}, false
}
