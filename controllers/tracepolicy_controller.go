package controllers

import (
	"context"
	"fmt"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/clusterpolicy"
	"github.com/kubetrail/kubetrail/internal/policy"
)

// EnforceWebhookName is the validating webhook on tracked objects whose failurePolicy
// follows the policies in force.
const EnforceWebhookName = "enforce.kubetrail.io"

// ConditionReady is True on a TracePolicy whose keys, selectors and windows are all
// usable (normal-true polarity).
const ConditionReady = "Ready"

// TracePolicyReconciler reports whether each TracePolicy is usable, and makes the
// validating webhook fail closed exactly while some policy enforces: a cluster with no
// enforcing policy never blocks on kubetrail being down, and one with an enforcing
// policy never lets an untraceable change through because kubetrail was down.
type TracePolicyReconciler struct {
	client.Client
	Policies *clusterpolicy.Source
	// ValidatingWebhookConfiguration is the name of kubetrail's validating webhook
	// configuration; empty leaves failurePolicy alone.
	ValidatingWebhookConfiguration string
}

// +kubebuilder:rbac:groups=kubetrail.io,resources=tracepolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=kubetrail.io,resources=tracepolicies/status,verbs=get;update;patch

// Reconcile implements reconcile.Reconciler.
func (r *TracePolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	all, err := r.Policies.All(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	var tp v1alpha1.TracePolicy
	switch err := r.Get(ctx, req.NamespacedName, &tp); {
	case apierrors.IsNotFound(err):
	case err != nil:
		return ctrl.Result{}, err
	default:
		for _, c := range all {
			if c.Name == tp.Name {
				if err := r.setReady(ctx, &tp, c); err != nil {
					return ctrl.Result{}, err
				}
			}
		}
	}
	return ctrl.Result{}, r.syncFailurePolicy(ctx, all)
}

func (r *TracePolicyReconciler) setReady(ctx context.Context, tp *v1alpha1.TracePolicy, c *policy.Compiled) error {
	base := tp.DeepCopy()
	cond := metav1.Condition{Type: ConditionReady, Status: metav1.ConditionTrue, Reason: "Compiled",
		Message: fmt.Sprintf("%s policy with %d trusted key(s)", tp.Spec.Mode, len(c.Keys)), ObservedGeneration: tp.Generation}
	if len(c.Problems) > 0 {
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, "InvalidSpec", strings.Join(c.Problems, "; ")
	}
	meta.SetStatusCondition(&tp.Status.Conditions, cond)
	tp.Status.ObservedGeneration = tp.Generation
	return r.Status().Patch(ctx, tp, client.MergeFrom(base))
}

func (r *TracePolicyReconciler) syncFailurePolicy(ctx context.Context, all []*policy.Compiled) error {
	if r.ValidatingWebhookConfiguration == "" {
		return nil
	}
	want := admissionregistrationv1.Ignore
	for _, c := range all {
		if c.Spec.Mode == v1alpha1.ModeEnforce {
			want = admissionregistrationv1.Fail
		}
	}
	var vwc admissionregistrationv1.ValidatingWebhookConfiguration
	if err := r.Get(ctx, types.NamespacedName{Name: r.ValidatingWebhookConfiguration}, &vwc); err != nil {
		return client.IgnoreNotFound(err)
	}
	base := vwc.DeepCopy()
	changed := false
	for i := range vwc.Webhooks {
		w := &vwc.Webhooks[i]
		if w.Name == EnforceWebhookName && (w.FailurePolicy == nil || *w.FailurePolicy != want) {
			w.FailurePolicy = &want
			changed = true
		}
	}
	if !changed {
		return nil
	}
	logf.FromContext(ctx).Info("Set the validating webhook's failurePolicy", "failurePolicy", want)
	return r.Patch(ctx, &vwc, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
}

// SetupWithManager registers the reconciler; every policy change re-checks them all.
func (r *TracePolicyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.TracePolicy{}).
		Named("tracepolicy").
		Complete(r)
}
