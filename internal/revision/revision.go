package revision

import (
	"fmt"
	"strings"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/findings"
)

// Input is what Classify judges a newly admitted revision by.
type Input struct {
	// Derived is true for an object a controller derived from a traced one
	// (spec.derivedFrom): its provenance is its owner's, never renewed by itself.
	Derived bool
	// Base is the newest traced revision before this one; nil when there is none.
	Base *v1alpha1.Revision
	// Digest is the digest stamped at the new revision's admission.
	Digest string
	// Provenance is what the new revision's annotations claim.
	Provenance v1alpha1.Provenance
	// ChangedPaths are the tracked paths changed since Base, ignored paths left out;
	// PathsKnown is false when they could not be computed (no baseline, metadata-only
	// kinds), and the digest alone then tells a change.
	ChangedPaths []string
	PathsKnown   bool
}

// Decision is how a new admitted revision is recorded.
type Decision struct {
	// Traced is true when the revision is credited to its provenance.
	Traced bool
	// Reason says why it is not (empty when traced).
	Reason v1alpha1.UntracedReason
}

// Classify decides whether a newly admitted revision is traced. It is untraced
// (ProvenanceNotRenewed) when it changed tracked content since the traced revision
// before it and its provenance was not renewed: neither a new commit nor a new
// pipeline run. Derived objects, revisions that changed nothing but ignored paths, and
// objects whose traced revisions never named a commit or a pipeline run (nothing to
// reuse) keep the traced record they had.
func Classify(in Input) Decision {
	traced := Decision{Traced: true}
	switch {
	case in.Derived, in.Base == nil:
		return traced
	case in.Digest == "" || in.Digest == in.Base.Admission.Digest:
		// The content is the base's: what its provenance says holds.
		return traced
	case in.PathsKnown && len(in.ChangedPaths) == 0:
		// Only ignored paths changed.
		return traced
	case in.Base.Commit == "" && in.Base.PipelineRun == "":
		return traced
	case Renewed(in.Base.Provenance, in.Provenance):
		return traced
	}
	return Decision{Reason: v1alpha1.UntracedProvenanceNotRenewed}
}

// Renewed reports whether cur is new provenance compared with base: a commit or a
// pipeline run that is present and differs. Dropping an annotation renews nothing.
func Renewed(base, cur v1alpha1.Provenance) bool {
	return cur.Commit != "" && cur.Commit != base.Commit ||
		cur.PipelineRun != "" && cur.PipelineRun != base.PipelineRun
}

// NewestTraced returns the newest traced revision of history (newest first) other
// than the one admitted with facts, or nil.
func NewestTraced(history []v1alpha1.Revision, facts v1alpha1.AdmissionFacts) *v1alpha1.Revision {
	for i := range history {
		h := &history[i]
		if !h.Traced || sameAdmission(h.Admission, facts) {
			continue
		}
		return h
	}
	return nil
}

func sameAdmission(a, b v1alpha1.AdmissionFacts) bool {
	if a.Digest != b.Digest || a.AdmittedAt == nil || b.AdmittedAt == nil {
		return false
	}
	return a.AdmittedAt.Time.Unix() == b.AdmittedAt.Time.Unix()
}

// Untraced is the history entry of an untraced revision. facts are the revision's
// admission facts (only the digest of the live content for one that was not admitted);
// base is the traced revision it changed (nil when none). Its provenance stays empty:
// an untraced revision is credited to no commit and no approver.
func Untraced(reason v1alpha1.UntracedReason, facts v1alpha1.AdmissionFacts, base *v1alpha1.Revision, managers, images, paths []string) v1alpha1.Revision {
	rev := v1alpha1.Revision{
		Admission:      facts,
		Images:         images,
		ChangedPaths:   paths,
		Traced:         false,
		UntracedReason: reason,
		Managers:       managers,
	}
	if base != nil {
		rev.OnTopOf = base.Commit
	}
	return rev
}

// Who names who made an untraced change: "sre1 via kubectl-set", "sre1",
// "kubectl-edit" (not admitted: the field managers only), or "an unknown writer".
func Who(submitter string, managers []string) string {
	m := strings.Join(managers, ", ")
	switch {
	case submitter != "" && m != "":
		return submitter + " via " + m
	case submitter != "":
		return submitter
	case m != "":
		return m
	}
	return "an unknown writer"
}

// Summary says in one line what an untraced revision is, e.g. "untraced change by
// sre1 via kubectl-set, on top of commit 1a2b3c4" or "untraced change not admitted by
// kubetrail by kubectl-edit, on top of commit 1a2b3c4".
func Summary(rev v1alpha1.Revision) string {
	s := "untraced change"
	if rev.UntracedReason == v1alpha1.UntracedNotAdmitted {
		s += " not admitted by kubetrail"
	}
	if rev.Admission.AdmittedBy != "" || len(rev.Managers) > 0 {
		s += " by " + Who(rev.Admission.AdmittedBy, rev.Managers)
	}
	if rev.OnTopOf != "" {
		s += ", on top of commit " + findings.ShortCommit(rev.OnTopOf)
	}
	return s
}

// Origin is the ChangeOrigin of findings an untraced revision introduced.
func Origin(rev v1alpha1.Revision) v1alpha1.ChangeOrigin {
	return v1alpha1.ChangeOrigin{
		Admission: rev.Admission,
		Traced:    false,
		Summary:   Summary(rev),
	}
}

// FindingID identifies the UntracedChange finding of an untraced revision, stable
// across reconciles of the same revision.
func FindingID(rev v1alpha1.Revision) string {
	at := ""
	if rev.Admission.AdmittedAt != nil {
		at = rev.Admission.AdmittedAt.UTC().Format("2006-01-02T15:04:05Z")
	}
	return findings.ID("untraced-change", string(rev.UntracedReason), rev.Admission.Digest, at)
}

// Finding is the UntracedChange finding of a revision admitted without new
// provenance, naming its submitter, its field managers and the changed paths (in the
// finding's paths), and the revision whose provenance it kept.
func Finding(rev v1alpha1.Revision, base *v1alpha1.Revision, severity v1alpha1.Severity) v1alpha1.Finding {
	return v1alpha1.Finding{
		ID:           FindingID(rev),
		Type:         v1alpha1.FindingUntracedChange,
		Severity:     severity,
		Message:      Message(rev, base),
		Paths:        rev.ChangedPaths,
		Managers:     rev.Managers,
		IntroducedBy: Origin(rev),
	}
}

// Message says what happened in words: who changed what without new provenance, and
// that the revision is not credited to the commit it kept.
func Message(rev v1alpha1.Revision, base *v1alpha1.Revision) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Untraced change: %s", rev.Admission.AdmittedBy)
	if len(rev.Managers) > 0 {
		fmt.Fprintf(&b, " (field managers %s)", strings.Join(rev.Managers, ", "))
	}
	b.WriteString(" changed " + pathsText(rev.ChangedPaths))
	b.WriteString(", admitted without new provenance")
	if base != nil {
		kept := []string{}
		if base.Commit != "" {
			kept = append(kept, "commit "+findings.ShortCommit(base.Commit))
		}
		if base.PipelineRun != "" {
			kept = append(kept, "pipeline run "+base.PipelineRun)
		}
		if len(kept) > 0 {
			fmt.Fprintf(&b, ": it kept the %s of the revision admitted by %s", strings.Join(kept, " and "), base.Admission.AdmittedBy)
			if t := base.Admission.AdmittedAt; t != nil {
				b.WriteString(" at " + t.UTC().Format("2006-01-02T15:04:05Z"))
			}
		}
		b.WriteString(", so it is credited to no commit or approver")
	}
	b.WriteString(". Commit the change and let the pipeline apply it with its own commit and pipeline run")
	return b.String()
}

// ConditionMessage is the Traced condition's message for an untraced revision.
func ConditionMessage(rev v1alpha1.Revision) string {
	s := strings.ToUpper(Summary(rev)[:1]) + Summary(rev)[1:]
	if rev.UntracedReason == v1alpha1.UntracedProvenanceNotRenewed {
		s += ": admitted without new provenance (same commit and pipeline run as the traced revision before)"
	}
	return s
}

// DriftFinding is the Drift finding of an untraced revision: the live object no longer
// matches the traced revision base, changed by whoever made rev.
func DriftFinding(rev v1alpha1.Revision, base *v1alpha1.Revision, severity v1alpha1.Severity) v1alpha1.Finding {
	last := "the last traced revision"
	if base != nil {
		last = "the revision admitted by " + base.Admission.AdmittedBy
		if t := base.Admission.AdmittedAt; t != nil {
			last += " at " + t.UTC().Format("2006-01-02T15:04:05Z")
		}
		if base.Commit != "" {
			last += " (commit " + findings.ShortCommit(base.Commit) + ")"
		}
	}
	return v1alpha1.Finding{
		ID:           "drift",
		Type:         v1alpha1.FindingDrift,
		Severity:     severity,
		Message:      fmt.Sprintf("Drifted from %s; changed by %s without new provenance", last, Who(rev.Admission.AdmittedBy, rev.Managers)),
		Paths:        rev.ChangedPaths,
		Managers:     rev.Managers,
		IntroducedBy: Origin(rev),
	}
}

// maxMessagePaths bounds the paths a message names; the finding's paths hold them all.
const maxMessagePaths = 5

func pathsText(paths []string) string {
	switch n := len(paths); {
	case n == 0:
		return "tracked content"
	case n > maxMessagePaths:
		return fmt.Sprintf("%s and %d more", strings.Join(paths[:maxMessagePaths], ", "), n-maxMessagePaths)
	}
	return strings.Join(paths, ", ")
}
