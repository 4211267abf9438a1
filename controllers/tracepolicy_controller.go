package controllers

import (
	"context"
	"fmt"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/clusterpolicy"
	"github.com/kubetrail/kubetrail/internal/policy"
	"github.com/kubetrail/kubetrail/internal/signing"
	"github.com/kubetrail/kubetrail/internal/tracked"
)

// EnforceWebhookName is the validating webhook on tracked objects whose failurePolicy
// follows the policies in force.
const EnforceWebhookName = "enforce.kubetrail.io"

// NamespaceWebhookName is the validating webhook on namespace relabelling, whose
// failurePolicy follows the enforce webhook's.
const NamespaceWebhookName = "namespaces.kubetrail.io"

// ConditionReady is True on a TracePolicy whose keys, selectors and windows are all
// usable (normal-true polarity).
const ConditionReady = "Ready"

// ConditionCoverageGap is True on a TracePolicy that leaves open something its
// author may believe it closes (abnormal-true polarity, like Stalled): cluster-scoped
// RBAC under a namespace selector, a trusted ServiceAccount its editors can borrow.
// The message names each field and what to do (internal/policy.CoverageGaps).
const ConditionCoverageGap = "CoverageGap"

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
	meta.SetStatusCondition(&tp.Status.Conditions, readyCondition(tp, c))
	meta.SetStatusCondition(&tp.Status.Conditions, coverageCondition(tp, policy.CoverageGaps(c, r.namespaceLabels(ctx), clusterScopedKinds())))
	tp.Status.ObservedGeneration = tp.Generation
	return r.Status().Patch(ctx, tp, client.MergeFrom(base))
}

// readyCondition says whether the compiled policy is usable, and which keys it
// trusts (by KeyID, the ID a signature's envelope names): after a key rotation in a
// Secret, the status shows the new key's ID within seconds.
func readyCondition(tp *v1alpha1.TracePolicy, c *policy.Compiled) metav1.Condition {
	cond := metav1.Condition{Type: ConditionReady, Status: metav1.ConditionTrue, Reason: "Compiled",
		Message: fmt.Sprintf("%s policy with %d trusted key(s)", tp.Spec.Mode, len(c.Keys)), ObservedGeneration: tp.Generation}
	if len(c.Problems) > 0 {
		cond.Status, cond.Reason = metav1.ConditionFalse, "InvalidSpec"
		cond.Message = fmt.Sprintf("%s policy, applied without its invalid parts: %s; %d trusted key(s)",
			tp.Spec.Mode, strings.Join(c.Problems, "; "), len(c.Keys))
	}
	if len(c.Keys) > 0 {
		ids := make([]string, len(c.Keys))
		for i, k := range c.Keys {
			ids[i] = signing.KeyID(k)
		}
		cond.Message += ": " + strings.Join(ids, ", ")
	}
	return cond
}

// coverageCondition reports the policy's coverage gaps.
func coverageCondition(tp *v1alpha1.TracePolicy, gaps []string) metav1.Condition {
	if len(gaps) == 0 {
		return metav1.Condition{Type: ConditionCoverageGap, Status: metav1.ConditionFalse, Reason: "NoGap",
			Message: "no known gap in what this policy governs", ObservedGeneration: tp.Generation}
	}
	return metav1.Condition{Type: ConditionCoverageGap, Status: metav1.ConditionTrue, Reason: "GapsFound",
		Message: strings.Join(gaps, "; "), ObservedGeneration: tp.Generation}
}

// namespaceLabels reads namespaces' labels from the cache (metadata only).
func (r *TracePolicyReconciler) namespaceLabels(ctx context.Context) policy.NamespaceLabels {
	return func(name string) (map[string]string, bool) {
		var ns metav1.PartialObjectMetadata
		ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
		if err := r.Get(ctx, types.NamespacedName{Name: name}, &ns); err != nil {
			return nil, false
		}
		return ns.Labels, true
	}
}

// clusterScopedKinds are the tracked kinds without a namespace.
func clusterScopedKinds() []schema.GroupKind {
	var out []schema.GroupKind
	for _, k := range tracked.Default {
		if !k.Namespaced {
			out = append(out, k.GVK.GroupKind())
		}
	}
	return out
}

// policiesSelectingNamespace maps a Namespace's event to every policy: a relabelled
// namespace can open or close a coverage gap of any of them.
func (r *TracePolicyReconciler) policiesSelectingNamespace(ctx context.Context, _ client.Object) []reconcile.Request {
	all, err := r.Policies.All(ctx)
	if err != nil {
		logf.FromContext(ctx).Error(err, "Listing TracePolicies for a Namespace event")
		return nil
	}
	out := make([]reconcile.Request, len(all))
	for i, p := range all {
		out[i] = reconcile.Request{NamespacedName: types.NamespacedName{Name: p.Name}}
	}
	return out
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
		if (w.Name == EnforceWebhookName || w.Name == NamespaceWebhookName) && (w.FailurePolicy == nil || *w.FailurePolicy != want) {
			w.FailurePolicy = &want
			changed = true
		}
	}
	if !changed {
		return nil
	}
	logf.FromContext(ctx).Info("Set the validating webhook's failurePolicy", "failurePolicy", want, "was", failurePolicyOf(base))
	return r.Patch(ctx, &vwc, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
}

// SetupWithManager registers the reconciler; every policy change re-checks them all,
// and so does every change of a Secret a policy takes a trusted key from. The
// Secrets are watched by metadata (the values are read uncached, when a policy is
// compiled), on every replica: WatchKeySecrets.
func (r *TracePolicyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := WatchKeySecrets(mgr, r.Policies); err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.TracePolicy{}).
		Watches(secretMetadata(), handler.EnqueueRequestsFromMapFunc(r.policiesReadingSecret)).
		Watches(namespaceMetadata(), handler.EnqueueRequestsFromMapFunc(r.policiesSelectingNamespace))
	if r.ValidatingWebhookConfiguration != "" {
		// An edit of the enforcing webhook's failurePolicy (back to Ignore while a
		// policy enforces) is undone at once, not at the next policy event (L6).
		b = b.Watches(&admissionregistrationv1.ValidatingWebhookConfiguration{},
			handler.EnqueueRequestsFromMapFunc(r.webhookConfigurationChanged))
	}
	return b.Named("tracepolicy").Complete(r)
}

// webhookConfigurationChanged maps an event of kubetrail's validating webhook
// configuration to one reconcile (named after it; it names no policy, so only the
// failurePolicy is synced), and logs who last changed it when its failurePolicy is
// not the one the policies ask for.
func (r *TracePolicyReconciler) webhookConfigurationChanged(ctx context.Context, o client.Object) []reconcile.Request {
	if o.GetName() != r.ValidatingWebhookConfiguration {
		return nil
	}
	if vwc, ok := o.(*admissionregistrationv1.ValidatingWebhookConfiguration); ok {
		for _, w := range vwc.Webhooks {
			if w.Name != EnforceWebhookName || w.FailurePolicy == nil {
				continue
			}
			var managers []string
			for _, m := range vwc.GetManagedFields() {
				managers = append(managers, m.Manager)
			}
			logf.FromContext(ctx).V(1).Info("Kubetrail's validating webhook configuration changed", "failurePolicy", *w.FailurePolicy, "managers", managers)
		}
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: r.ValidatingWebhookConfiguration}}}
}

// policiesReadingSecret maps a Secret's event to the policies that read a key from it,
// after dropping their compiled form, so that their reconcile reads the key again.
func (r *TracePolicyReconciler) policiesReadingSecret(ctx context.Context, o client.Object) []reconcile.Request {
	r.Policies.InvalidateSecret(o.GetNamespace(), o.GetName())
	names, err := r.Policies.PoliciesReadingSecret(ctx, o.GetNamespace(), o.GetName())
	if err != nil {
		logf.FromContext(ctx).Error(err, "Finding the TracePolicies reading a Secret", "secret", client.ObjectKeyFromObject(o))
		return nil
	}
	out := make([]reconcile.Request, len(names))
	for i, n := range names {
		out[i] = reconcile.Request{NamespacedName: types.NamespacedName{Name: n}}
	}
	return out
}

func secretMetadata() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	return m
}

// WatchKeySecrets makes policies read a trusted key again as soon as its Secret
// changes (a rotation, a revocation), on this replica, leader or not: every replica
// serves admission with its own compiled policies. It shares the manager's informer
// of Secret metadata with the Secret reconciler.
func WatchKeySecrets(mgr ctrl.Manager, policies *clusterpolicy.Source) error {
	return mgr.Add(keySecretWatch{cache: mgr.GetCache(), policies: policies})
}

type keySecretWatch struct {
	cache    cache.Cache
	policies *clusterpolicy.Source
}

// NeedLeaderElection implements manager.LeaderElectionRunnable: every replica.
func (keySecretWatch) NeedLeaderElection() bool { return false }

// Start implements manager.Runnable.
func (w keySecretWatch) Start(ctx context.Context) error {
	inf, err := w.cache.GetInformer(ctx, secretMetadata())
	if err != nil {
		return fmt.Errorf("watching the Secrets of trusted keys: %w", err)
	}
	if err := w.policies.WatchSecrets(inf); err != nil {
		return fmt.Errorf("watching the Secrets of trusted keys: %w", err)
	}
	<-ctx.Done()
	return nil
}

func namespaceMetadata() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	return m
}

func failurePolicyOf(vwc *admissionregistrationv1.ValidatingWebhookConfiguration) string {
	for _, w := range vwc.Webhooks {
		if w.Name == EnforceWebhookName && w.FailurePolicy != nil {
			return string(*w.FailurePolicy)
		}
	}
	return ""
}
