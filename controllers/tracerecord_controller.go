package controllers

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/digest"
	"github.com/kubetrail/kubetrail/internal/drift"
	"github.com/kubetrail/kubetrail/internal/findings"
	"github.com/kubetrail/kubetrail/internal/policy"
	"github.com/kubetrail/kubetrail/internal/provenance"
	"github.com/kubetrail/kubetrail/internal/revision"
	"github.com/kubetrail/kubetrail/internal/secretscan"
	"github.com/kubetrail/kubetrail/internal/tracked"
	"github.com/kubetrail/kubetrail/internal/workload"
)

const (
	// FieldManager is the field manager of the manager's writes to TraceRecords.
	FieldManager = "kubetrail-manager"

	// eventAction is the action of the events the reconciler records.
	eventAction = "Trace"

	// maxPaths bounds the paths a finding or revision lists, so a record stays small
	// even when a whole object was replaced.
	maxPaths = 100
	// maxDependents bounds the workloads an RBAC finding lists.
	maxDependents = 50

	// conflictRequeue is how soon a reconcile that lost an optimistic-lock race runs again.
	conflictRequeue = time.Second
)

// skippedNamespaces hold the control plane's own objects: never traced.
var skippedNamespaces = map[string]bool{"kube-system": true, "kube-public": true, "kube-node-lease": true}

var annotationsPath = field.NewPath("metadata", "annotations")

// TraceReconciler keeps the TraceRecords of one tracked kind.
type TraceReconciler struct {
	// Scheme makes the typed objects the cache holds (unstructured when nil).
	Scheme *runtime.Scheme
	// Client writes TraceRecords.
	Client client.Client
	// Live reads tracked objects from the manager's cache.
	Live client.Reader
	// APIReader reads uncached, for managedFields (the cache strips them).
	APIReader client.Reader
	// Kind is the traced kind.
	Kind tracked.Kind
	// MetadataOnly is true for kinds whose content is never read (Secrets).
	MetadataOnly bool
	// Options are the shared options (defaults applied).
	Options Options
	// Recorder records events on targets.
	Recorder recorder.EventRecorder
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// liveObject is the target as read from the cache.
type liveObject struct {
	// obj is the object itself (typed or unstructured, or metadata for MetadataOnly kinds).
	obj client.Object
	// content is its unstructured content (metadata only for MetadataOnly kinds).
	content map[string]interface{}
}

// pendingEvent is an event recorded once the record is written.
type pendingEvent struct {
	reason, note string
}

// recordState is what one reconcile of a live target works with.
type recordState struct {
	rec          *v1alpha1.TraceRecord
	live         *liveObject
	ann          map[string]string
	prov         v1alpha1.Provenance
	facts        v1alpha1.AdmissionFacts
	admitted     bool
	contentKnown bool

	liveDigest   string
	fp           map[string]string
	baseline     map[string]string
	newRevision  bool
	tracedBefore bool
	drifted      []string
	// hiddenDrift is true when the live content was not the admitted content when the
	// reconciler first saw the revision (changed behind the webhook in between).
	hiddenDrift bool
	// driftUnknown is true when the live object drifted from the admitted content but
	// the changed paths are unknown (the admitted content is known only by its digest).
	driftUnknown bool
	// liveProv is the provenance the live annotations claim; prov that of the admitted
	// revision.
	liveProv v1alpha1.Provenance
	// untraced is set when the admitted revision changed tracked content without new
	// provenance (revision.Classify): it is recorded as untraced, never credited to
	// the commit it kept.
	untraced *untracedRevision

	policies []*policy.Compiled
	ignore   []string

	prevFindings   []v1alpha1.Finding
	prevLiveDigest string
	current        []v1alpha1.Finding
	events         []pendingEvent
	complete       bool
	now            metav1.Time
}

// +kubebuilder:rbac:groups=kubetrail.io,resources=tracerecords,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=kubetrail.io,resources=tracepolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=pods;services;configmaps;serviceaccounts;replicationcontrollers,verbs=get;list;watch
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets;daemonsets;replicasets,verbs=get;list;watch
// +kubebuilder:rbac:groups=batch,resources=jobs;cronjobs,verbs=get;list;watch
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses;networkpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings;clusterroles;clusterrolebindings,verbs=get;list;watch

// Reconcile brings the TraceRecord of one target up to date: its spec with the current
// provenance and admission facts, its history with any new revision, and its drift,
// findings and conditions. A deleted target's record becomes a tombstone, deleted once
// the retention has passed.
func (r *TraceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	log := logf.FromContext(ctx)
	live, err := r.getLive(ctx, req.NamespacedName)
	if err != nil {
		return ctrl.Result{}, err
	}
	recKey := types.NamespacedName{Namespace: r.recordNamespace(req.Namespace), Name: RecordName(r.Kind.GVK.Kind, req.Name)}
	rec, err := r.readRecord(ctx, recKey)
	if err != nil {
		return ctrl.Result{}, err
	}
	if rec != nil && !r.traces(rec, req.NamespacedName) {
		// Two targets whose names hash alike: astronomically unlikely, never fixed by a retry.
		return ctrl.Result{}, reconcile.TerminalError(fmt.Errorf("TraceRecord %s traces %s %s/%s, not %s %s",
			recKey, rec.Spec.Target.Kind, rec.Spec.Target.Namespace, rec.Spec.Target.Name, r.Kind.GVK.Kind, req.NamespacedName))
	}
	if live == nil {
		if rec == nil {
			return ctrl.Result{}, nil
		}
		return r.reconcileDeleted(ctx, rec)
	}
	if skipped(r.Kind.GVK.Kind, live.obj) {
		return ctrl.Result{}, nil
	}
	// base is the record as stored; nil for a record about to be created, which is then
	// written once, spec and status together.
	var base *v1alpha1.TraceRecord
	if rec == nil {
		rec = &v1alpha1.TraceRecord{ObjectMeta: metav1.ObjectMeta{Namespace: recKey.Namespace, Name: recKey.Name}}
	} else {
		base = rec.DeepCopy()
	}
	s := r.newState(rec, live)
	defer func() {
		if retErr != nil || !s.complete {
			return
		}
		created, err := r.writeRecord(ctx, base, rec)
		switch {
		case apierrors.IsAlreadyExists(err):
			// The cache has not seen our own record yet.
			result = ctrl.Result{RequeueAfter: conflictRequeue}
			return
		case apierrors.IsConflict(err):
			log.V(1).Info("TraceRecord changed while reconciling, retrying", "record", recKey)
			result = ctrl.Result{RequeueAfter: conflictRequeue}
			return
		case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
			return
		case err != nil:
			retErr = fmt.Errorf("writing TraceRecord %s: %w", recKey, err)
			return
		}
		if created {
			log.Info("Created TraceRecord", "record", recKey)
		}
		r.afterWrite(ctx, s)
	}()

	for _, step := range []func(context.Context, *recordState) (ctrl.Result, error){
		r.reconcileSpec,
		r.reconcileDerivation,
		r.reconcilePolicies,
		r.reconcileHistory,
		r.reconcileRevisionProvenance,
		r.reconcileUntracedSpec,
		r.reconcileRecordEdits,
		r.reconcileDrift,
		r.reconcileProvenanceFindings,
		r.reconcilePolicyAudit,
		r.reconcileSecrets,
		r.reconcileRBAC,
		r.reconcileStatus,
	} {
		res, err := step(ctx, s)
		if err != nil {
			return ctrl.Result{}, err
		}
		if res.RequeueAfter > 0 && (result.RequeueAfter == 0 || res.RequeueAfter < result.RequeueAfter) {
			result.RequeueAfter = res.RequeueAfter
		}
	}
	return result, nil
}

// getLive reads the target from the cache; nil when it does not exist.
func (r *TraceReconciler) getLive(ctx context.Context, key types.NamespacedName) (*liveObject, error) {
	if r.MetadataOnly {
		m := &metav1.PartialObjectMetadata{}
		m.SetGroupVersionKind(r.Kind.GVK)
		if err := r.Live.Get(ctx, key, m); err != nil {
			return nil, client.IgnoreNotFound(err)
		}
		content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(m)
		if err != nil {
			return nil, err
		}
		content["apiVersion"], content["kind"] = r.Kind.GVK.GroupVersion().String(), r.Kind.GVK.Kind
		return &liveObject{obj: m, content: content}, nil
	}
	obj := newObject(r.Scheme, r.Kind.GVK)
	if err := r.Live.Get(ctx, key, obj); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	content, err := contentOf(obj, r.Kind.GVK)
	if err != nil {
		return nil, reconcile.TerminalError(err)
	}
	return &liveObject{obj: obj, content: content}, nil
}

// skipped reports whether obj, of kind, is left alone: the control plane's namespaces
// and objects (bootstrap RBAC, kube-root-ca.crt, default service accounts). Objects a
// controller owns are recorded too (reconcileDerivation): an ownerReference is a field
// the client sets, and skipping by it froze the record of any object that claimed one.
func skipped(kind string, obj client.Object) bool {
	return skippedNamespaces[obj.GetNamespace()] || tracked.ControlPlaneObject(kind, obj.GetNamespace(), obj.GetName(), obj.GetLabels())
}

func (r *TraceReconciler) recordNamespace(targetNamespace string) string {
	if targetNamespace != "" {
		return targetNamespace
	}
	return r.Options.RecordNamespace
}

// traces reports whether rec is the record of the target key of this kind.
func (r *TraceReconciler) traces(rec *v1alpha1.TraceRecord, key types.NamespacedName) bool {
	t := rec.Spec.Target
	return t.Kind == r.Kind.GVK.Kind && digest.Group(t.APIVersion) == r.Kind.GVK.Group &&
		t.Namespace == key.Namespace && t.Name == key.Name
}

func (r *TraceReconciler) now() metav1.Time {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	// Stored times have second precision; keep them equal in memory and on the wire.
	return metav1.NewTime(now().UTC().Truncate(time.Second))
}

// readRecord returns the stored record at key, nil when there is none. The cache only
// knows whether a record exists (it keeps a trimmed copy, see CacheTransform); the
// record itself is read from the apiserver, so a reconcile always works from what is
// stored and the manager does not hold every record's history in memory.
func (r *TraceReconciler) readRecord(ctx context.Context, key types.NamespacedName) (*v1alpha1.TraceRecord, error) {
	if err := r.Live.Get(ctx, key, &v1alpha1.TraceRecord{}); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	rec := &v1alpha1.TraceRecord{}
	if err := r.APIReader.Get(ctx, key, rec); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	return rec, nil
}

func (r *TraceReconciler) newState(rec *v1alpha1.TraceRecord, live *liveObject) *recordState {
	ann := live.obj.GetAnnotations()
	facts := factsOf(ann)
	s := &recordState{
		rec:            rec,
		live:           live,
		ann:            ann,
		facts:          facts,
		admitted:       facts.Digest != "" && facts.AdmittedAt != nil,
		contentKnown:   !r.MetadataOnly,
		prevFindings:   append([]v1alpha1.Finding(nil), rec.Status.Findings...),
		prevLiveDigest: rec.Status.LiveDigest,
		now:            r.now(),
	}
	s.prov = provenanceOf(ann, s.admitted)
	return s
}

// writeRecord writes the record in one request: a create when base is nil (it reports
// created), else a merge patch of what changed since base with an optimistic lock, so a
// reconcile working from a stale read never overwrites what another recorded. Nothing
// is written when nothing changed.
func (r *TraceReconciler) writeRecord(ctx context.Context, base, rec *v1alpha1.TraceRecord) (created bool, err error) {
	if base == nil {
		// A new object starts at generation 1.
		stampGeneration(&rec.Status, 1)
		return true, r.Client.Create(ctx, rec, client.FieldOwner(FieldManager))
	}
	return false, r.patchRecord(ctx, base, rec)
}

// patchRecord patches rec over base when they differ. TraceRecords have no status
// subresource, so the apiserver moves the generation on every write that changes
// spec or status; with the optimistic lock the write lands on base exactly, so its
// generation will be base's plus one, and that is what observedGeneration says.
func (r *TraceReconciler) patchRecord(ctx context.Context, base, rec *v1alpha1.TraceRecord) error {
	stampGeneration(&rec.Status, base.Generation)
	if equality.Semantic.DeepEqual(base.Spec, rec.Spec) && equality.Semantic.DeepEqual(base.Status, rec.Status) {
		return nil
	}
	stampGeneration(&rec.Status, base.Generation+1)
	return r.Client.Patch(ctx, rec, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}), client.FieldOwner(FieldManager))
}

func stampGeneration(st *v1alpha1.TraceRecordStatus, generation int64) {
	st.ObservedGeneration = generation
	for i := range st.Conditions {
		st.Conditions[i].ObservedGeneration = generation
	}
}

// afterWrite records events and metrics once the record holds what they announce.
func (r *TraceReconciler) afterWrite(ctx context.Context, s *recordState) {
	if !s.complete {
		return
	}
	for _, e := range s.events {
		r.Recorder.Eventf(s.live.obj, nil, corev1.EventTypeWarning, e.reason, eventAction, "%s", e.note)
		logf.FromContext(ctx).Info("Recorded finding", "reason", e.reason, "kind", r.Kind.GVK.Kind,
			"namespace", s.live.obj.GetNamespace(), "name", s.live.obj.GetName())
	}
	state := stateUntraced
	switch {
	case s.isDrifted():
		state = stateDrifted
	case s.untraced != nil:
		// Admitted, but credited to no provenance: untraced.
	case s.admitted && hasProvenance(s.prov):
		state = stateTraced
	}
	c := contributionOf(state, s.rec.Status.Findings)
	gauges.set(client.ObjectKeyFromObject(s.rec).String(), &c)
}

// reconcileSpec sets the record's spec from the live object: target, current
// provenance, admission facts and images.
func (r *TraceReconciler) reconcileSpec(ctx context.Context, s *recordState) (ctrl.Result, error) {
	desired := r.desiredSpec(s.live)
	if s.rec.Spec.Target.UID != desired.Target.UID && s.rec.Spec.Target.UID != "" {
		logf.FromContext(ctx).Info("Target was recreated, tracing the new object", "kind", r.Kind.GVK.Kind,
			"namespace", s.live.obj.GetNamespace(), "name", s.live.obj.GetName())
	}
	if s.rec.Status.DeletedAt != nil {
		// The target is back (recreated, or its deletion was a stale read).
		s.rec.Status.DeletedAt = nil
	}
	s.rec.Spec = desired
	return ctrl.Result{}, nil
}

func (r *TraceReconciler) desiredSpec(live *liveObject) v1alpha1.TraceRecordSpec {
	ann := live.obj.GetAnnotations()
	facts := factsOf(ann)
	spec := v1alpha1.TraceRecordSpec{
		Target: v1alpha1.TraceTarget{
			APIVersion: r.Kind.GVK.GroupVersion().String(),
			Kind:       r.Kind.GVK.Kind,
			Namespace:  live.obj.GetNamespace(),
			Name:       live.obj.GetName(),
			UID:        live.obj.GetUID(),
		},
		Provenance: provenanceOf(ann, facts.Digest != "" && facts.AdmittedAt != nil),
		Admission:  facts,
	}
	if !r.MetadataOnly {
		spec.Images = workload.Images(live.content)
	}
	return spec
}

// reconcilePolicies finds the TracePolicies selecting the target and what they ignore.
func (r *TraceReconciler) reconcilePolicies(ctx context.Context, s *recordState) (ctrl.Result, error) {
	if r.Options.Policies == nil {
		s.ignore = controlPlaneFields(r.Kind.GVK.Kind, s.live.content)
		return ctrl.Result{}, nil
	}
	ps, err := r.Options.Policies.Selecting(ctx, r.Kind.GVK.Group, r.Kind.GVK.Kind, s.live.obj.GetNamespace())
	if err != nil {
		return ctrl.Result{}, err
	}
	s.policies = ps
	s.ignore = append(policy.IgnorePaths(ps, r.Kind.GVK.Kind), controlPlaneFields(r.Kind.GVK.Kind, s.live.content)...)
	return ctrl.Result{}, nil
}

// controlPlaneFields are the fields of tracked content the control plane itself writes
// after admission, through paths no webhook sees: a Pod's node (the binding
// subresource) and an aggregated ClusterRole's rules (the aggregation controller).
// Their changes are not drift.
func controlPlaneFields(kind string, obj map[string]interface{}) []string {
	switch kind {
	case "Pod":
		return []string{"/spec/nodeName"}
	case "ClusterRole":
		if _, ok := obj["aggregationRule"]; ok {
			return []string{"/rules"}
		}
	}
	return nil
}

// reconcileHistory records the current admitted revision once, with the paths it
// changed since the last traced revision, and moves the baseline to it. A revision
// whose provenance was not renewed (revision.Classify) is left to reconcileDrift,
// which records it as untraced.
func (r *TraceReconciler) reconcileHistory(ctx context.Context, s *recordState) (ctrl.Result, error) {
	st := &s.rec.Status
	if s.contentKnown {
		d, err := digest.Of(s.live.content, nil)
		if err != nil {
			return ctrl.Result{}, reconcile.TerminalError(fmt.Errorf("digest of the live object: %w", err))
		}
		s.liveDigest = d
		s.fp = drift.Fingerprints(s.live.content)
		if b, err := drift.Decode(st.Baseline); err == nil {
			s.baseline = b
		} else {
			logf.FromContext(ctx).Info("Unreadable baseline, starting from the live object", "error", err.Error())
		}
	}
	s.tracedBefore = newestTraced(st.History) >= 0
	if !s.admitted {
		return ctrl.Result{}, nil
	}
	if s.untraced = r.classifyRevision(s); s.untraced != nil {
		// Recorded by reconcileDrift, against the traced revision it changed.
		return ctrl.Result{}, nil
	}
	rev := v1alpha1.Revision{
		Provenance: s.prov,
		Admission:  s.facts,
		Images:     s.rec.Spec.Images,
		Traced:     true,
		ObservedAt: s.now,
	}
	if !recorded(st.History, rev) {
		// The admitted content itself is known only as a digest; the live object at the
		// first observation of the revision stands for it when its digest is the
		// admitted one. When it is not, something changed it behind the webhook before
		// the reconciler saw the revision (the manager was down, the webhook bypassed):
		// that content is no clean baseline, and reconcileDrift flags it. A generated
		// name or a field the control plane writes after admission is no such change
		// (see benignFirstSight).
		s.hiddenDrift = s.contentKnown && s.liveDigest != s.facts.Digest &&
			!benignFirstSight(r.Kind.GVK.Kind, s.live.content, s.facts.Digest)
		if s.contentKnown && len(s.baseline) > 0 && !s.hiddenDrift {
			rev.ChangedPaths = capPaths(drift.Changed(s.baseline, s.fp, nil))
		}
		pushRevision(st, rev, r.Options.HistoryLimit)
		s.newRevision = true
		if !s.hiddenDrift {
			s.baseline = s.fp
		}
		logf.FromContext(ctx).Info("Recorded revision", "kind", r.Kind.GVK.Kind, "namespace", s.live.obj.GetNamespace(),
			"name", s.live.obj.GetName(), "digest", s.facts.Digest, "commit", s.prov.Commit)
	} else if s.contentKnown && s.liveDigest == s.facts.Digest {
		s.baseline = s.fp
	}
	return ctrl.Result{}, nil
}

// reconcileDrift compares the live object with its last traced revision. Fields changed
// outside admission make a Drift and an UntracedChange finding and an untraced revision;
// an object with no admission record at all makes an UntracedChange finding and an
// untraced revision per distinct live content.
func (r *TraceReconciler) reconcileDrift(ctx context.Context, s *recordState) (ctrl.Result, error) {
	if s.untraced != nil {
		return r.recordUntracedRevision(ctx, s)
	}
	st := &s.rec.Status
	if s.contentKnown {
		switch {
		case s.admitted && (s.hiddenDrift || !s.newRevision && s.liveDigest != s.facts.Digest):
			// With a hidden drift the baseline is the previous revision's (when there is
			// one): the paths then include the admitted change itself.
			if len(s.baseline) > 0 {
				s.drifted = capPaths(drift.Changed(s.baseline, s.fp, s.ignore))
			}
			s.driftUnknown = len(s.drifted) == 0 && (s.hiddenDrift || len(s.baseline) == 0)
		case !s.admitted && s.tracedBefore:
			s.drifted = capPaths(drift.Changed(s.baseline, s.fp, s.ignore))
		}
	}
	if s.admitted && !s.isDrifted() {
		return ctrl.Result{}, nil
	}

	untracedDigest := s.liveDigest
	if !s.contentKnown {
		d, err := digest.Of(s.live.content, nil)
		if err != nil {
			return ctrl.Result{}, reconcile.TerminalError(fmt.Errorf("digest of the live object's metadata: %w", err))
		}
		untracedDigest = d
	}
	rev := revision.Untraced(v1alpha1.UntracedNotAdmitted, v1alpha1.AdmissionFacts{Digest: untracedDigest},
		revision.NewestTraced(st.History, v1alpha1.AdmissionFacts{}), nil, s.rec.Spec.Images, nil)
	rev.ObservedAt = s.now
	switch {
	case len(s.drifted) > 0:
		rev.ChangedPaths = s.drifted
	case s.contentKnown && len(s.baseline) > 0:
		rev.ChangedPaths = capPaths(drift.Changed(s.baseline, s.fp, nil))
	}
	if pushRevision(st, rev, r.Options.HistoryLimit) {
		logf.FromContext(ctx).Info("Recorded untraced revision", "kind", r.Kind.GVK.Kind, "namespace", s.live.obj.GetNamespace(),
			"name", s.live.obj.GetName(), "digest", untracedDigest, "changedPaths", rev.ChangedPaths)
	}
	if s.contentKnown && !s.tracedBefore && !s.admitted {
		// Never traced: later untraced changes are named against this one.
		s.baseline = s.fp
	}

	if !s.isDrifted() {
		// No admission record at all.
		s.current = append(s.current, v1alpha1.Finding{
			ID:       "untraced-change",
			Type:     v1alpha1.FindingUntracedChange,
			Severity: v1alpha1.SeverityLow,
			Message: "The object carries no admission record: it predates kubetrail, or was created or changed while " +
				"kubetrail's webhook was down or bypassed. Re-apply it through the pipeline to trace it",
			IntroducedBy: findings.Origin(v1alpha1.Provenance{}, v1alpha1.AdmissionFacts{}, false),
		})
		return ctrl.Result{}, nil
	}

	// The same drift of the same live content as last time: what was recorded still
	// holds, and managedFields need not be read again.
	if prev := findings.Find(s.prevFindings, "drift"); prev != nil && s.prevLiveDigest == s.liveDigest &&
		equality.Semantic.DeepEqual(prev.Paths, s.drifted) {
		for _, f := range s.prevFindings {
			if f.Type == v1alpha1.FindingDrift || f.Type == v1alpha1.FindingUntracedChange {
				s.current = append(s.current, f)
			}
		}
		return ctrl.Result{}, nil
	}
	managers, err := r.driftManagers(ctx, s)
	if err != nil {
		return ctrl.Result{}, err
	}
	var names, who []string
	for _, m := range managers {
		names = append(names, m.Name)
		who = append(who, m.String())
	}
	names = uniqueSorted(names)
	changedBy := "the field managers could not be determined"
	if len(who) > 0 {
		changedBy = "changed by " + strings.Join(who, ", ")
	}
	last := "the last traced revision"
	if s.facts.AdmittedBy != "" {
		last = "the revision admitted by " + s.facts.AdmittedBy + at(s.facts.AdmittedAt)
		if s.prov.Commit != "" {
			last += " (commit " + findings.ShortCommit(s.prov.Commit) + ")"
		}
	}
	origin := v1alpha1.ChangeOrigin{Traced: false, Summary: "untraced"}
	if len(names) > 0 {
		origin.Summary += ", changed by " + strings.Join(names, ",")
	}
	if s.facts.AdmittedBy != "" {
		origin.Summary += " (last admitted by " + s.facts.AdmittedBy + ")"
	}
	severity := v1alpha1.SeverityMedium
	if isRBACKind(r.Kind.GVK.Kind) {
		severity = v1alpha1.SeverityHigh
	}
	// The paths are named once, in the findings' paths (and the Drifted condition); the
	// messages say what the paths cannot.
	what := ""
	switch {
	case s.driftUnknown:
		what = ": the admitted content is known only by its digest " + s.facts.Digest +
			", the live content is not it and the changed paths are unknown"
	case s.hiddenDrift:
		what = ": the live content was not the admitted content when kubetrail first saw the revision, so the " +
			"paths are counted from the previous revision and include the admitted change"
	}
	s.current = append(s.current,
		v1alpha1.Finding{
			ID:           "drift",
			Type:         v1alpha1.FindingDrift,
			Severity:     severity,
			Message:      fmt.Sprintf("Drifted from %s%s; %s", last, what, changedBy),
			Paths:        s.drifted,
			Managers:     names,
			IntroducedBy: origin,
		},
		v1alpha1.Finding{
			ID:       "untraced-change",
			Type:     v1alpha1.FindingUntracedChange,
			Severity: v1alpha1.SeverityMedium,
			Message: "Changed without passing kubetrail's admission (webhook down or bypassed, or a subresource such as /scale); " +
				changedBy,
			Paths:        s.drifted,
			Managers:     names,
			IntroducedBy: origin,
		})
	if findings.Find(s.prevFindings, "drift") == nil {
		paths := ""
		if len(s.drifted) > 0 {
			paths = ": " + strings.Join(s.drifted, ", ")
		}
		s.events = append(s.events, pendingEvent{reason: "Drifted", note: truncate(fmt.Sprintf("Drifted from %s%s%s; %s", last, what, paths, changedBy), maxMessage)})
	}
	return ctrl.Result{}, nil
}

// driftManagers returns the field managers owning the drifted paths, from managedFields
// read with an uncached GET (the cache strips them).
func (r *TraceReconciler) driftManagers(ctx context.Context, s *recordState) ([]findings.Manager, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(r.Kind.GVK)
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(s.live.obj), u); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading managedFields: %w", err)
	}
	if s.driftUnknown {
		// No paths to ask about: whoever wrote the object after its admission.
		var out []findings.Manager
		for _, e := range u.GetManagedFields() {
			if e.Time != nil && s.facts.AdmittedAt != nil && e.Time.After(s.facts.AdmittedAt.Time) {
				out = append(out, findings.Manager{Name: e.Manager, Operation: string(e.Operation), Subresource: e.Subresource, Time: e.Time})
			}
		}
		return out, nil
	}
	return findings.Owners(u.GetManagedFields(), s.drifted), nil
}

// reconcileProvenanceFindings checks the current revision's provenance: its format
// (InvalidProvenance), a break-glass override (ManualOverride) and admission inside a
// freeze (ChangeWindowViolation).
func (r *TraceReconciler) reconcileProvenanceFindings(_ context.Context, s *recordState) (ctrl.Result, error) {
	origin := s.origin()
	if errs := provenance.Validate(s.ann, annotationsPath); len(errs) > 0 {
		var msgs, paths []string
		for _, e := range errs {
			msgs = append(msgs, e.Error())
			paths = append(paths, findings.LocationPointer(e.Field))
		}
		s.current = append(s.current, v1alpha1.Finding{
			ID:           "invalid-provenance",
			Type:         v1alpha1.FindingInvalidProvenance,
			Severity:     v1alpha1.SeverityMedium,
			Message:      "Malformed provenance: " + strings.Join(msgs, "; "),
			Paths:        uniqueSorted(paths),
			IntroducedBy: origin,
		})
	}
	reason := strings.TrimSpace(s.ann[provenance.BreakGlassKey])
	// A break-glass override is evidence: it stays open until a traced revision without
	// break-glass replaces the overridden one (M10). Removing the annotation is no
	// content change, so the annotation alone must not close it.
	if !(s.newRevision && s.untraced == nil && reason == "") {
		for _, f := range s.prevFindings {
			if f.Type == v1alpha1.FindingManualOverride {
				s.current = append(s.current, f)
			}
		}
	}
	if !s.admitted {
		return ctrl.Result{}, nil
	}
	admittedAt := s.facts.AdmittedAt.UTC().Format(time.RFC3339)
	if reason != "" {
		s.current = append(s.current, v1alpha1.Finding{
			ID:       findings.ID("manual-override", s.facts.Digest, admittedAt),
			Type:     v1alpha1.FindingManualOverride,
			Severity: v1alpha1.SeverityHigh,
			Message: fmt.Sprintf("Break-glass override: %s changed the object at %s with reason %q",
				s.facts.AdmittedBy, admittedAt, truncate(reason, 512)),
			Paths:        []string{"/metadata/annotations/" + digest.EscapeToken(provenance.BreakGlassKey)},
			IntroducedBy: origin,
		})
	}
	id := policy.Identity{Username: s.facts.AdmittedBy}
	if policy.IsSystem(id) {
		return ctrl.Result{}, nil
	}
	for _, p := range s.policies {
		if policy.MatchesAny(p.Spec.Exempt, id) {
			continue
		}
		w, err := p.ActiveFreeze(s.facts.AdmittedAt.Time)
		if err != nil || w == nil {
			continue
		}
		sev := v1alpha1.SeverityMedium
		how := "admitted under mode " + string(p.Spec.Mode)
		if p.Spec.Mode == v1alpha1.ModeEnforce {
			sev = v1alpha1.SeverityHigh
			how = "admitted by break-glass"
		}
		s.current = append(s.current, v1alpha1.Finding{
			ID:       findings.ID("change-window", p.Name, w.Name, s.facts.Digest, admittedAt),
			Type:     v1alpha1.FindingChangeWindowViolation,
			Severity: sev,
			Message: fmt.Sprintf("Changed by %s at %s during change window %q of TracePolicy %s (%s)",
				s.facts.AdmittedBy, admittedAt, w.Name, p.Name, how),
			IntroducedBy: origin,
		})
	}
	return ctrl.Result{}, nil
}

// reconcileSecrets scans the live object for credentials written literally. Secrets
// themselves are never read. A finding keeps the revision that introduced it.
func (r *TraceReconciler) reconcileSecrets(ctx context.Context, s *recordState) (ctrl.Result, error) {
	if !s.contentKnown || r.Kind.GVK.Kind == "Secret" {
		return ctrl.Result{}, nil
	}
	if s.liveDigest == s.prevLiveDigest {
		// Same content, same credentials: gitleaks need not run again.
		for _, f := range s.prevFindings {
			if f.Type == v1alpha1.FindingSecretExposure {
				s.current = append(s.current, f)
			}
		}
		return ctrl.Result{}, nil
	}
	origin := s.origin()
	scan := secretscan.ScanWithin(ctx, s.live.content, nil, secretscan.ReconcileBudget)
	if inc := scan.Incomplete; inc != nil {
		// Never a silent pass: what could not be scanned is a finding of its own.
		s.current = append(s.current, v1alpha1.Finding{
			ID:       findings.ID("secret-scan-incomplete", inc.Location),
			Type:     v1alpha1.FindingSecretExposure,
			Severity: v1alpha1.SeverityMedium,
			Message: fmt.Sprintf("Not fully scanned for credentials from %s on: %s. "+
				"Move large data into a Secret, or split the object", inc.Location, inc.Reason()),
			Paths:        []string{findings.LocationPointer(inc.Location)},
			Rule:         "scan-incomplete",
			IntroducedBy: origin,
		})
	}
	for _, f := range scan.Findings {
		id := findings.ID("secret", f.Location, f.RuleID, f.Fingerprint)
		introducedBy := origin
		if prev := findings.Find(s.prevFindings, id); prev != nil {
			introducedBy = prev.IntroducedBy
		}
		came := "through an untraced change"
		if introducedBy.Traced {
			came = findings.SourceText(introducedBy.Provenance)
		}
		s.current = append(s.current, v1alpha1.Finding{
			ID:       id,
			Type:     v1alpha1.FindingSecretExposure,
			Severity: v1alpha1.SeverityHigh,
			Message: fmt.Sprintf("A credential (gitleaks rule %s) is written literally at %s, fingerprint %s; it came %s. "+
				"Rotate it and reference a Secret (valueFrom.secretKeyRef) instead", f.RuleID, f.Location, f.Fingerprint, came),
			Paths:        []string{findings.LocationPointer(f.Location)},
			Rule:         f.RuleID,
			Fingerprint:  f.Fingerprint,
			IntroducedBy: introducedBy,
		})
	}
	return ctrl.Result{}, nil
}

// reconcileStatus merges this reconcile's findings into the record and sets the
// conditions, the live digest and the baseline.
func (r *TraceReconciler) reconcileStatus(_ context.Context, s *recordState) (ctrl.Result, error) {
	st := &s.rec.Status
	merged, added := findings.Merge(s.prevFindings, s.current, s.now)
	st.Findings = merged
	st.FindingCount = int32(len(merged))
	st.LiveDigest = s.liveDigest
	if s.contentKnown && s.baseline != nil {
		st.Baseline = drift.Encode(s.baseline)
	}
	ts := traceState{
		admitted:      s.admitted,
		hasProvenance: hasProvenance(s.prov),
		contentKnown:  s.contentKnown,
		tracedBefore:  newestTraced(st.History) >= 0,
		drifted:       s.drifted,
		driftUnknown:  s.driftUnknown,
		facts:         s.facts,
		commit:        s.prov.Commit,
	}
	if s.untraced != nil {
		// The drift is against the traced revision the untraced one changed.
		ts.facts = s.untraced.base.Admission
		ts.untraced = &s.untraced.rev
	}
	setDriftedCondition(&st.Conditions, s.rec.Generation, ts)
	setTracedCondition(&st.Conditions, s.rec.Generation, ts)
	for _, f := range added {
		if f.Type == v1alpha1.FindingRBACEscalation {
			s.events = append(s.events, pendingEvent{reason: "RBACEscalation", note: truncate(f.Message, maxMessage)})
		}
	}
	s.complete = true
	return ctrl.Result{}, nil
}

// reconcileDeleted turns the record of a deleted target into a tombstone and deletes
// it once the retention has passed.
func (r *TraceReconciler) reconcileDeleted(ctx context.Context, rec *v1alpha1.TraceRecord) (ctrl.Result, error) {
	log := logf.FromContext(ctx)
	key := client.ObjectKeyFromObject(rec)
	gauges.set(key.String(), nil)
	now := r.now()
	if rec.Spec.DerivedFrom != nil {
		// A derived object comes and goes with its owner's rollouts; the owner's record
		// keeps the history. A tombstone per replaced Pod would bury the ones that matter.
		uid := rec.UID
		if err := r.Client.Delete(ctx, rec, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, err
		}
		log.V(1).Info("Deleted the TraceRecord of a derived object with its target", "record", key)
		return ctrl.Result{}, nil
	}
	if rec.Status.DeletedAt == nil {
		base := rec.DeepCopy()
		rec.Status.DeletedAt = &now
		// What was wrong with the live object is closed; what happened stays on record.
		var kept []v1alpha1.Finding
		for _, f := range rec.Status.Findings {
			switch f.Type {
			case v1alpha1.FindingDrift, v1alpha1.FindingUntracedChange, v1alpha1.FindingRBACEscalation:
			default:
				kept = append(kept, f)
			}
		}
		rec.Status.Findings = kept
		rec.Status.FindingCount = int32(len(kept))
		ts := traceState{deleted: true}
		setDriftedCondition(&rec.Status.Conditions, rec.Generation, ts)
		setTracedCondition(&rec.Status.Conditions, rec.Generation, ts)
		if err := r.patchRecord(ctx, base, rec); err != nil {
			if apierrors.IsConflict(err) {
				return ctrl.Result{RequeueAfter: conflictRequeue}, nil
			}
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
		log.Info("Target deleted, keeping its TraceRecord as a tombstone", "record", key, "retention", r.Options.TombstoneRetention.String())
	}
	expiry := rec.Status.DeletedAt.Add(r.Options.TombstoneRetention)
	if left := expiry.Sub(now.Time); left > 0 {
		return ctrl.Result{RequeueAfter: left}, nil
	}
	uid := rec.UID
	if err := r.Client.Delete(ctx, rec, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, err
	}
	log.Info("Deleted tombstone TraceRecord after its retention", "record", key)
	return ctrl.Result{}, nil
}

// origin is the change that introduced what the reconcile finds now: the current
// revision when the live object is what was admitted, else an untraced change.
func (s *recordState) origin() v1alpha1.ChangeOrigin {
	if s.untraced != nil {
		return revision.Origin(s.untraced.rev)
	}
	if s.admitted && !s.isDrifted() {
		return findings.Origin(s.prov, s.facts, true)
	}
	o := findings.Origin(v1alpha1.Provenance{}, v1alpha1.AdmissionFacts{AdmittedBy: s.facts.AdmittedBy}, false)
	return o
}

// isDrifted reports whether the live object drifted from its last traced revision.
func (s *recordState) isDrifted() bool {
	return len(s.drifted) > 0 || s.driftUnknown
}

// provenanceOf reads the provenance annotations into the record's form. Values are
// bounded and an actor outside the enum is left out (InvalidProvenance reports it), so
// a malformed annotation can never make the record itself invalid.
func provenanceOf(ann map[string]string, admitted bool) v1alpha1.Provenance {
	p := provenance.FromAnnotations(ann)
	bound := func(s string) string { return truncate(s, provenance.MaxValueLength) }
	out := v1alpha1.Provenance{
		Commit:      bound(p.Commit),
		Repository:  bound(p.Repository),
		PullRequest: bound(p.PullRequest),
		PipelineRun: bound(p.PipelineRun),
		Approver:    bound(strings.Join(p.Approvers, ",")),
		Agent:       bound(p.Agent),
		Source:      bound(p.Source),
		Path:        bound(p.Path),
		BreakGlass:  bound(p.BreakGlass),
		Verified:    admitted && ann[provenance.VerifiedKey] == "true",
	}
	switch v1alpha1.Actor(p.Actor) {
	case v1alpha1.ActorHuman, v1alpha1.ActorPipeline, v1alpha1.ActorAgent:
		out.Actor = v1alpha1.Actor(p.Actor)
	}
	return out
}

// factsOf reads the admission annotations; malformed values are left out.
func factsOf(ann map[string]string) v1alpha1.AdmissionFacts {
	var f v1alpha1.AdmissionFacts
	f.AdmittedBy = truncate(ann[provenance.AdmittedByKey], provenance.MaxValueLength)
	if t, err := time.Parse(time.RFC3339, ann[provenance.AdmittedAtKey]); err == nil {
		mt := metav1.NewTime(t.UTC())
		f.AdmittedAt = &mt
	}
	if d := ann[provenance.DigestKey]; digest.Valid(d) {
		f.Digest = d
	}
	return f
}

func hasProvenance(p v1alpha1.Provenance) bool {
	return p.Commit != "" || p.Repository != "" || p.PullRequest != "" || p.PipelineRun != "" ||
		p.Approver != "" || p.Actor != "" || p.Agent != "" || p.Source != "" || p.Path != ""
}

func capPaths(paths []string) []string {
	if len(paths) > maxPaths {
		return paths[:maxPaths]
	}
	return paths
}

func uniqueSorted(list []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

func isRBACKind(kind string) bool {
	switch kind {
	case "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding":
		return true
	}
	return false
}
