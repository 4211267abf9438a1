package controllers

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/revision"
)

// maxMessage bounds condition messages (the CRD allows 32768).
const maxMessage = 1024

// traceState is what the conditions are computed from.
type traceState struct {
	// admitted is true when the live object carries kubetrail's admission facts.
	admitted bool
	// hasProvenance is true when it carries provenance annotations.
	hasProvenance bool
	// contentKnown is false for kinds watched metadata-only (Secrets): drift is unknown.
	contentKnown bool
	// tracedBefore is true when a traced revision was ever recorded.
	tracedBefore bool
	// drifted are the paths that changed outside admission since the last traced revision.
	drifted []string
	// driftUnknown is true when the live object is not the admitted content but the
	// changed paths are unknown.
	driftUnknown bool
	// facts are the admission facts of the current revision.
	facts v1alpha1.AdmissionFacts
	// commit is the current provenance's commit.
	commit string
	// deleted is true when the target is gone.
	deleted bool
	// untraced is the admitted revision credited to no provenance, when the current
	// one is (facts are then the traced revision's it changed).
	untraced *v1alpha1.Revision
}

// setDriftedCondition sets the Drifted condition (abnormal-true) from s.
func setDriftedCondition(conds *[]metav1.Condition, generation int64, s traceState) {
	c := metav1.Condition{Type: v1alpha1.ConditionDrifted, ObservedGeneration: generation}
	switch {
	case s.deleted:
		c.Status, c.Reason, c.Message = metav1.ConditionUnknown, v1alpha1.ReasonTargetDeleted, "The target was deleted; the record is kept as a tombstone"
	case !s.contentKnown:
		c.Status, c.Reason, c.Message = metav1.ConditionUnknown, v1alpha1.ReasonNotYetObserved, "The target is watched by metadata only; its content is never read, so drift is not observed"
	case len(s.drifted) > 0 && s.untraced != nil:
		c.Status, c.Reason = metav1.ConditionTrue, v1alpha1.ReasonFieldsChanged
		c.Message = "Fields changed without new provenance since the last traced revision"
		if s.untraced.OnTopOf != "" {
			c.Message += " (commit " + s.untraced.OnTopOf + ")"
		}
		c.Message += ": " + strings.Join(s.drifted, ", ")
	case len(s.drifted) > 0:
		c.Status, c.Reason = metav1.ConditionTrue, v1alpha1.ReasonFieldsChanged
		c.Message = "Fields changed outside kubetrail's admission since the last traced revision: " + strings.Join(s.drifted, ", ")
	case s.driftUnknown:
		c.Status, c.Reason = metav1.ConditionTrue, v1alpha1.ReasonFieldsChanged
		c.Message = "The live object is not the content admitted by " + s.facts.AdmittedBy + at(s.facts.AdmittedAt) +
			"; the admitted content is known only by its digest (" + s.facts.Digest + "), so the changed paths are unknown"
	case !s.admitted && !s.tracedBefore:
		c.Status, c.Reason, c.Message = metav1.ConditionUnknown, v1alpha1.ReasonNoProvenance, "No traced revision to compare the live object with"
	default:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, v1alpha1.ReasonInSync, "The live object matches its last traced revision"
	}
	c.Message = truncate(c.Message, maxMessage)
	meta.SetStatusCondition(conds, c)
}

// setTracedCondition sets the Traced condition (normal-true) from s.
func setTracedCondition(conds *[]metav1.Condition, generation int64, s traceState) {
	c := metav1.Condition{Type: v1alpha1.ConditionTraced, ObservedGeneration: generation}
	switch {
	case s.deleted:
		// The last word on a deleted target stays what it was; only Drifted says deleted.
		if old := meta.FindStatusCondition(*conds, v1alpha1.ConditionTraced); old != nil {
			return
		}
		c.Status, c.Reason, c.Message = metav1.ConditionUnknown, v1alpha1.ReasonTargetDeleted, "The target was deleted"
	case s.untraced != nil:
		c.Status, c.Reason = metav1.ConditionFalse, v1alpha1.ReasonUntracedChange
		c.Message = revision.ConditionMessage(*s.untraced)
	case len(s.drifted) > 0:
		c.Status, c.Reason = metav1.ConditionFalse, v1alpha1.ReasonUntracedChange
		c.Message = "Changed outside kubetrail's admission since the last traced revision"
	case s.driftUnknown:
		c.Status, c.Reason = metav1.ConditionFalse, v1alpha1.ReasonUntracedChange
		c.Message = "The live object was changed without passing kubetrail's admission (the changed paths are unknown)"
	case !s.admitted:
		c.Status, c.Reason = metav1.ConditionFalse, v1alpha1.ReasonUntracedChange
		c.Message = "The live object carries no admission record: it predates kubetrail, or reached the cluster while kubetrail's webhook was down or bypassed"
	case !s.hasProvenance:
		c.Status, c.Reason = metav1.ConditionFalse, v1alpha1.ReasonNoProvenance
		c.Message = fmt.Sprintf("Admitted by %s%s without provenance annotations (kubetrail.io/commit, ...)", s.facts.AdmittedBy, at(s.facts.AdmittedAt))
	default:
		c.Status, c.Reason = metav1.ConditionTrue, v1alpha1.ReasonAdmitted
		c.Message = fmt.Sprintf("Admitted by %s%s", s.facts.AdmittedBy, at(s.facts.AdmittedAt))
		if s.commit != "" {
			c.Message += " with commit " + s.commit
		}
	}
	c.Message = truncate(c.Message, maxMessage)
	meta.SetStatusCondition(conds, c)
}

func at(t *metav1.Time) string {
	if t == nil {
		return ""
	}
	return " at " + t.UTC().Format("2006-01-02T15:04:05Z07:00")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary.
	cut := n - len("...")
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "..."
}
