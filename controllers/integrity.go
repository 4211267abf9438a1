package controllers

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/digest"
	"github.com/kubetrail/kubetrail/internal/findings"
	"github.com/kubetrail/kubetrail/internal/provenance"
)

// This file keeps the record honest where the webhook cannot: content changed behind
// it before the reconciler first saw a revision (hidden drift), provenance annotations
// changed without a traced change of content, and TraceRecords edited with kubetrail's
// validating webhook out of the way.

// benignFirstSight reports whether live content whose digest is not the stamped one is
// nevertheless the admitted content. Two things change an object after admission
// through paths no webhook sees, and neither is drift:
//   - a name the apiserver generated (metadata.generateName): the mutating webhook
//     hashed the object before the name existed, so the stamped digest is of the object
//     without its name. The object is what was admitted when its content without the
//     name hashes to the stamped digest (it was never changed since);
//   - the fields the control plane writes after admission (controlPlaneFields: a Pod's
//     node, an aggregated ClusterRole's rules).
//
// Every combination is tried; anything else is a real change.
func benignFirstSight(kind string, obj map[string]interface{}, stamped string) bool {
	md, _ := obj["metadata"].(map[string]interface{})
	generated, _ := md["generateName"].(string)
	cp := controlPlaneFields(kind, obj)
	if generated == "" && len(cp) == 0 {
		return false
	}
	type candidate struct {
		obj    map[string]interface{}
		ignore []string
	}
	var cands []candidate
	if generated != "" {
		cands = append(cands, candidate{withoutName(obj), nil})
	}
	if len(cp) > 0 {
		cands = append(cands, candidate{obj, cp})
		if generated != "" {
			cands = append(cands, candidate{withoutName(obj), cp})
		}
	}
	for _, c := range cands {
		if d, err := digest.Of(c.obj, c.ignore); err == nil && d == stamped {
			return true
		}
		if c.ignore != nil && kind == "ClusterRole" {
			// An aggregated role admitted with an empty rule list.
			v := shallowCopy(c.obj)
			v["rules"] = []interface{}{}
			if d, err := digest.Of(v, nil); err == nil && d == stamped {
				return true
			}
		}
	}
	return false
}

func shallowCopy(obj map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(obj))
	for k, v := range obj {
		out[k] = v
	}
	return out
}

func withoutName(obj map[string]interface{}) map[string]interface{} {
	out := shallowCopy(obj)
	if md, ok := obj["metadata"].(map[string]interface{}); ok {
		m := shallowCopy(md)
		delete(m, "name")
		out["metadata"] = m
	}
	return out
}

// provenanceKeys map the record's provenance fields to their annotations.
var provenanceKeys = []struct {
	key string
	get func(v1alpha1.Provenance) string
}{
	{provenance.CommitKey, func(p v1alpha1.Provenance) string { return p.Commit }},
	{provenance.RepositoryKey, func(p v1alpha1.Provenance) string { return p.Repository }},
	{provenance.PullRequestKey, func(p v1alpha1.Provenance) string { return p.PullRequest }},
	{provenance.PipelineRunKey, func(p v1alpha1.Provenance) string { return p.PipelineRun }},
	{provenance.ApproverKey, func(p v1alpha1.Provenance) string { return p.Approver }},
	{provenance.ActorKey, func(p v1alpha1.Provenance) string { return string(p.Actor) }},
	{provenance.AgentKey, func(p v1alpha1.Provenance) string { return p.Agent }},
	{provenance.SourceKey, func(p v1alpha1.Provenance) string { return p.Source }},
	{provenance.PathKey, func(p v1alpha1.Provenance) string { return p.Path }},
	{provenance.BreakGlassKey, func(p v1alpha1.Provenance) string { return p.BreakGlass }},
	{provenance.VerifiedKey, func(p v1alpha1.Provenance) string { return fmt.Sprint(p.Verified) }},
}

// provenanceChanges lists the annotations whose value differs between the provenance
// of the admitted revision (was) and the live annotations (now), as "key: a -> b".
func provenanceChanges(was, now v1alpha1.Provenance) (keys, changes []string) {
	for _, k := range provenanceKeys {
		a, b := k.get(was), k.get(now)
		if a == b {
			continue
		}
		if k.key == provenance.CommitKey {
			a, b = findings.ShortCommit(a), findings.ShortCommit(b)
		}
		keys = append(keys, k.key)
		changes = append(changes, fmt.Sprintf("%s %q -> %q", k.key, truncate(a, 80), truncate(b, 80)))
	}
	return keys, changes
}

// reconcileRevisionProvenance makes the record's current provenance the provenance of
// the admitted revision: the webhook keeps a revision's admission facts when only the
// provenance annotations change (no tracked content changed), so annotations changed
// later were never admitted with the content they now claim. Such a change makes an
// InvalidProvenance finding naming the managers of the changed annotations, rather than
// silently repointing spec.commit.
func (r *TraceReconciler) reconcileRevisionProvenance(ctx context.Context, s *recordState) (ctrl.Result, error) {
	s.liveProv = s.prov
	if !s.admitted {
		return ctrl.Result{}, nil
	}
	probe := v1alpha1.Revision{Admission: s.facts, Traced: true}
	var entry *v1alpha1.Revision
	for i := range s.rec.Status.History {
		if sameRevision(s.rec.Status.History[i], probe) {
			entry = &s.rec.Status.History[i]
			break
		}
	}
	if entry == nil {
		return ctrl.Result{}, nil
	}
	s.prov = entry.Provenance
	s.rec.Spec.Provenance = entry.Provenance
	keys, changes := provenanceChanges(s.prov, s.liveProv)
	if len(keys) == 0 {
		return ctrl.Result{}, nil
	}
	admittedAt := ""
	if s.facts.AdmittedAt != nil {
		admittedAt = s.facts.AdmittedAt.UTC().Format(metav1.RFC3339Micro)
	}
	parts := append([]string{s.facts.Digest, admittedAt}, changes...)
	id := findings.ID("provenance-changed", parts...)
	if prev := findings.Find(s.prevFindings, id); prev != nil {
		s.current = append(s.current, *prev)
		return ctrl.Result{}, nil
	}
	paths := make([]string, len(keys))
	for i, k := range keys {
		paths[i] = "/metadata/annotations/" + digest.EscapeToken(k)
	}
	managers, err := r.ownersOf(ctx, s.live.obj, paths)
	if err != nil {
		return ctrl.Result{}, err
	}
	var names, who []string
	for _, m := range managers {
		names = append(names, m.Name)
		who = append(who, m.String())
	}
	by := "managers that could not be determined"
	if len(who) > 0 {
		by = strings.Join(who, ", ")
	}
	msg := fmt.Sprintf("Provenance annotations changed without a traced change of content by %s: %s; the record keeps "+
		"the provenance of the revision admitted by %s%s", by, strings.Join(changes, ", "), s.facts.AdmittedBy, at(s.facts.AdmittedAt))
	origin := findings.Origin(v1alpha1.Provenance{}, v1alpha1.AdmissionFacts{AdmittedBy: s.facts.AdmittedBy}, false)
	origin.Summary = "untraced"
	if len(names) > 0 {
		origin.Summary += ", changed by " + strings.Join(uniqueSorted(names), ",")
	}
	s.current = append(s.current, v1alpha1.Finding{
		ID:           id,
		Type:         v1alpha1.FindingInvalidProvenance,
		Severity:     v1alpha1.SeverityMedium,
		Message:      truncate(msg, maxMessage),
		Paths:        paths,
		Managers:     uniqueSorted(names),
		IntroducedBy: origin,
	})
	s.events = append(s.events, pendingEvent{reason: "ProvenanceChanged", note: truncate(msg, maxMessage)})
	return ctrl.Result{}, nil
}

// ownersOf reads obj's managedFields uncached (the cache strips them) and returns the
// managers owning any of paths.
func (r *TraceReconciler) ownersOf(ctx context.Context, obj client.Object, paths []string) ([]findings.Manager, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(r.Kind.GVK)
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(obj), u); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading managedFields: %w", err)
	}
	return findings.Owners(u.GetManagedFields(), paths), nil
}

// recordEditedPrefix starts the IDs of the findings of records edited outside kubetrail.
const recordEditedPrefix = "record-edited"

// reconcileRecordEdits finds a record written by anyone but the manager (with
// kubetrail's validating webhook removed: it denies such writes). The manager stamps
// status.observedGeneration with the generation its own write produces (see
// patchRecord), so a generation ahead of it is a write since; the record's
// managedFields name who made it. The spec is repaired from the live object by the
// other steps (it is rewritten from the live annotations and the admitted revision),
// and so are the findings and conditions; the history cannot be restored (it is the
// record itself), so what was removed from it stays removed. This records an
// InvalidProvenance finding and a Warning event, open until the next traced revision.
func (r *TraceReconciler) reconcileRecordEdits(_ context.Context, s *recordState) (ctrl.Result, error) {
	if !s.newRevision {
		for _, f := range s.prevFindings {
			if strings.HasPrefix(f.ID, recordEditedPrefix+"-") {
				s.current = append(s.current, f)
			}
		}
	}
	rec := s.rec
	if rec.Status.ObservedGeneration == 0 || rec.Generation <= rec.Status.ObservedGeneration {
		return ctrl.Result{}, nil
	}
	// rec was read uncached (readRecord): its managedFields are complete.
	var names, who, paths []string
	for _, part := range []string{"/spec", "/status"} {
		for _, m := range findings.Owners(rec.GetManagedFields(), []string{part}) {
			if m.Name == FieldManager {
				continue
			}
			names = append(names, m.Name)
			who = append(who, m.String())
			paths = append(paths, part)
		}
	}
	if len(names) == 0 {
		// A write that only removed fields owns none of what is left.
		for _, e := range foreignManagedFields(rec) {
			m := findings.Manager{Name: e.Manager, Operation: string(e.Operation), Subresource: e.Subresource, Time: e.Time}
			names = append(names, m.Name)
			who = append(who, m.String())
		}
	}
	if len(names) == 0 {
		names, who = []string{"unknown"}, []string{"a writer its managedFields do not name"}
	}
	names, who = uniqueSorted(names), uniqueSorted(who)
	msg := fmt.Sprintf("TraceRecord edited outside kubetrail by %s; repaired", strings.Join(who, ", "))
	origin := findings.Origin(v1alpha1.Provenance{}, v1alpha1.AdmissionFacts{}, false)
	origin.Summary = "untraced, record edited by " + strings.Join(names, ",")
	s.current = append(s.current, v1alpha1.Finding{
		ID:           findings.ID(recordEditedPrefix, strings.Join(names, ","), fmt.Sprint(rec.Generation)),
		Type:         v1alpha1.FindingInvalidProvenance,
		Severity:     v1alpha1.SeverityHigh,
		Message:      truncate(msg, maxMessage),
		Paths:        uniqueSorted(paths),
		Managers:     names,
		IntroducedBy: origin,
	})
	s.events = append(s.events, pendingEvent{reason: "TraceRecordEdited", note: truncate(msg, maxMessage)})
	return ctrl.Result{}, nil
}

// foreignManagedFields returns the managedFields entries of obj written by anyone but
// the manager.
func foreignManagedFields(obj metav1.Object) []metav1.ManagedFieldsEntry {
	var out []metav1.ManagedFieldsEntry
	for _, e := range obj.GetManagedFields() {
		if e.Manager != FieldManager {
			out = append(out, e)
		}
	}
	return out
}
