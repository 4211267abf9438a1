package controllers

import (
	"context"
	"strings"

	ctrl "sigs.k8s.io/controller-runtime"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/drift"
	"github.com/kubetrail/kubetrail/internal/findings"
	"github.com/kubetrail/kubetrail/internal/revision"
)

// untracedRevision is an admitted revision credited to no provenance (see
// revision.Classify): the change and the traced revision it was made on top of.
type untracedRevision struct {
	rev  v1alpha1.Revision
	base v1alpha1.Revision
}

// classifyRevision decides whether the admitted revision on the live object is
// credited to its provenance, and returns the untraced revision when it is not.
func (r *TraceReconciler) classifyRevision(s *recordState) *untracedRevision {
	base := revision.NewestTraced(s.rec.Status.History, s.facts)
	if base == nil {
		return nil
	}
	in := revision.Input{
		Derived:    s.rec.Spec.DerivedFrom != nil,
		Base:       base,
		Digest:     s.facts.Digest,
		Provenance: s.prov,
	}
	if s.contentKnown && len(s.baseline) > 0 {
		in.ChangedPaths, in.PathsKnown = capPaths(drift.Changed(s.baseline, s.fp, s.ignore)), true
	}
	if d := revision.Classify(in); d.Traced {
		return nil
	}
	rev := revision.Untraced(v1alpha1.UntracedProvenanceNotRenewed, s.facts, base, nil, s.rec.Spec.Images, in.ChangedPaths)
	rev.ObservedAt = s.now
	return &untracedRevision{rev: rev, base: *base}
}

// reconcileUntracedSpec credits the current content of an untraced revision to no
// provenance: the spec keeps its admission facts (its submitter, digest and time) and
// no commit, approver or pipeline run, so neither `kubectl get tr` nor `kubectl trail
// why` names the commit it kept as its origin. A break-glass reason came with the
// change and stays. The history says which traced revision it was made on top of.
func (r *TraceReconciler) reconcileUntracedSpec(_ context.Context, s *recordState) (ctrl.Result, error) {
	if s.untraced == nil {
		return ctrl.Result{}, nil
	}
	p := v1alpha1.Provenance{BreakGlass: s.liveProv.BreakGlass}
	s.prov = p
	s.rec.Spec.Provenance = p
	return ctrl.Result{}, nil
}

// recordUntracedRevision records an admitted revision without new provenance: an
// untraced history entry attributed to its submitter and the field managers of the
// changed paths, a Drift finding against the traced revision before, and an
// UntracedChange finding naming them.
func (r *TraceReconciler) recordUntracedRevision(ctx context.Context, s *recordState) (ctrl.Result, error) {
	u := s.untraced
	st := &s.rec.Status
	if s.contentKnown {
		if len(s.baseline) > 0 {
			s.drifted = capPaths(drift.Changed(s.baseline, s.fp, s.ignore))
		}
		s.driftUnknown = len(s.drifted) == 0
	}
	u.rev.ChangedPaths = s.drifted
	id := revision.FindingID(u.rev)
	prev := findings.Find(s.prevFindings, id)
	if prev != nil && s.prevLiveDigest == s.liveDigest {
		u.rev.Managers = prev.Managers
	} else {
		managers, err := r.untracedManagers(ctx, s)
		if err != nil {
			return ctrl.Result{}, err
		}
		u.rev.Managers = managers
	}
	if pushRevision(st, u.rev, r.Options.HistoryLimit) {
		logf.FromContext(ctx).Info("Recorded untraced revision", "kind", r.Kind.GVK.Kind, "namespace", s.live.obj.GetNamespace(),
			"name", s.live.obj.GetName(), "submitter", s.facts.AdmittedBy, "managers", u.rev.Managers,
			"reason", u.rev.UntracedReason, "changedPaths", u.rev.ChangedPaths)
	}
	if s.contentKnown && s.liveDigest != s.facts.Digest && !benignFirstSight(r.Kind.GVK.Kind, s.live.content, s.facts.Digest) {
		// Changed again since, behind the webhook.
		later := revision.Untraced(v1alpha1.UntracedNotAdmitted, v1alpha1.AdmissionFacts{Digest: s.liveDigest}, &u.base, nil, s.rec.Spec.Images, s.drifted)
		later.ObservedAt = s.now
		pushRevision(st, later, r.Options.HistoryLimit)
	}
	severity := v1alpha1.SeverityMedium
	if isRBACKind(r.Kind.GVK.Kind) {
		severity = v1alpha1.SeverityHigh
	}
	f := revision.Finding(u.rev, &u.base, severity)
	s.current = append(s.current, f)
	if s.contentKnown {
		s.current = append(s.current, revision.DriftFinding(u.rev, &u.base, severity))
	}
	if prev == nil {
		paths := ""
		if len(s.drifted) > 0 {
			paths = ": " + strings.Join(s.drifted, ", ")
		}
		s.events = append(s.events, pendingEvent{reason: "UntracedChange", note: truncate(f.Message+paths, maxMessage)})
	}
	return ctrl.Result{}, nil
}

// untracedManagers are the field managers of the changed paths, or, when the paths are
// unknown, every manager that wrote the object since the traced revision before.
func (r *TraceReconciler) untracedManagers(ctx context.Context, s *recordState) ([]string, error) {
	var ms []findings.Manager
	var err error
	if len(s.drifted) > 0 {
		ms, err = r.ownersOf(ctx, s.live.obj, s.drifted)
	} else {
		ms, err = r.managersSince(ctx, s, s.untraced.base.Admission)
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, m := range ms {
		names = append(names, m.Name)
	}
	return uniqueSorted(names), nil
}

// managersSince returns the managedFields entries written after the admission of a.
func (r *TraceReconciler) managersSince(ctx context.Context, s *recordState, a v1alpha1.AdmissionFacts) ([]findings.Manager, error) {
	saved := s.driftUnknown
	defer func() { s.driftUnknown = saved }()
	s.driftUnknown = true
	facts := s.facts
	defer func() { s.facts = facts }()
	s.facts = a
	return r.driftManagers(ctx, s)
}

// reconcilePolicyAudit judges the admitted revision again by the TracePolicies that
// select it, from the facts stamped at its admission, and records every violation as
// a finding (revision.Audit): what an Audit policy admitted silently is on record.
func (r *TraceReconciler) reconcilePolicyAudit(ctx context.Context, s *recordState) (ctrl.Result, error) {
	if !s.admitted || len(s.policies) == 0 || s.rec.Spec.DerivedFrom != nil {
		return ctrl.Result{}, nil
	}
	s.current = append(s.current, revision.Audit(ctx, revision.AuditInput{
		Policies:     s.policies,
		Object:       s.live.content,
		MetadataOnly: r.MetadataOnly,
		Facts:        s.facts,
		Base:         revision.NewestTraced(s.rec.Status.History, s.facts),
		Origin:       s.origin(),
	})...)
	return ctrl.Result{}, nil
}
