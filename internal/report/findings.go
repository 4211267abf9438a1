package report

import (
	"github.com/kubetrail/kubetrail/internal/provenance"
	"sort"
	"strings"
	"time"

	v1alpha1 "github.com/kubetrail/kubetrail/api/v1alpha1"
)

// IntroducedBy says in one line which change introduced a finding: "1a2b3c4 (PR #42)",
// or "untraced (admitted by kubernetes-admin)" for a change without traced provenance.
func IntroducedBy(o v1alpha1.ChangeOrigin) string {
	by := o.Admission.AdmittedBy
	if by == "" {
		by = "an unknown user"
	}
	if !o.Traced {
		if strings.HasPrefix(o.Summary, "untraced change") {
			// internal/revision's words: "untraced change by sre1 via kubectl-set, on
			// top of commit 1a2b3c4".
			return o.Summary
		}
		return "untraced (admitted by " + by + ")"
	}
	var s string
	switch {
	case o.Commit != "":
		s = ShortCommit(o.Commit)
	case o.PipelineRun != "":
		s = "run " + ShortRun(o.PipelineRun)
	case o.Summary != "":
		return o.Summary
	default:
		return "traced change without a commit (admitted by " + by + ")"
	}
	if pr := ShortPR(o.PullRequest); pr != "" {
		s += " (PR " + pr + ")"
	}
	return s
}

// introducedByLong writes the introducing change with everything known about it.
func introducedByLong(o v1alpha1.ChangeOrigin, now time.Time) string {
	var parts []string
	if !o.Traced && strings.HasPrefix(o.Summary, "untraced change") {
		// Who made it and on top of what is in the summary; the admission follows.
		parts = append(parts, "an UNTRACED "+strings.TrimPrefix(o.Summary, "untraced "))
		o.Admission.AdmittedBy = ""
	} else if !o.Traced {
		parts = append(parts, "an UNTRACED change")
	} else {
		if o.Commit != "" {
			parts = append(parts, "commit "+ShortCommit(o.Commit))
		}
		if o.PullRequest != "" {
			parts = append(parts, "PR "+ShortPR(o.PullRequest))
		}
		if o.PipelineRun != "" {
			parts = append(parts, "pipeline run "+ShortRun(o.PipelineRun))
		}
		if a := actorString(o.Actor, o.Agent); a != "" {
			parts = append(parts, "by "+a)
		}
		if ap := provenance.SplitApprovers(o.Approver); len(ap) > 0 {
			parts = append(parts, "approved by "+strings.Join(ap, ", "))
		}
		if len(parts) == 0 && o.Summary != "" {
			parts = append(parts, o.Summary)
		}
	}
	if o.Admission.AdmittedBy != "" {
		parts = append(parts, "admitted by "+o.Admission.AdmittedBy)
	}
	if t := timePtr(o.Admission.AdmittedAt); t != nil {
		parts = append(parts, "at "+When(t, now))
	}
	if len(parts) == 0 {
		return "an unknown change"
	}
	return strings.Join(parts, ", ")
}

// SortFindings sorts most severe first, then newest first, then by id.
func SortFindings(fs []v1alpha1.Finding) {
	sort.SliceStable(fs, func(i, j int) bool { return findingLess(&fs[i], &fs[j]) })
}

func findingLess(a, b *v1alpha1.Finding) bool {
	if ra, rb := SeverityRank(a.Severity), SeverityRank(b.Severity); ra != rb {
		return ra > rb
	}
	if !a.FirstSeen.Equal(&b.FirstSeen) {
		return b.FirstSeen.Before(&a.FirstSeen)
	}
	return a.ID < b.ID
}

// FindingRow is one open finding of the findings verb.
type FindingRow struct {
	// Target is the object the finding is about.
	Target v1alpha1.TraceTarget `json:"target"`
	// Record is the TraceRecord holding it, as namespace/name.
	Record string `json:"record"`
	v1alpha1.Finding
	// IntroducedBySummary is IntroducedBy in one line.
	IntroducedBySummary string `json:"introducedBySummary"`
}

// FindingFilter selects findings.
type FindingFilter struct {
	// Types keeps only these types; empty keeps all.
	Types []v1alpha1.FindingType
	// MinSeverity keeps findings at least this severe; empty keeps all.
	MinSeverity v1alpha1.Severity
	// Namespace keeps only findings on objects in this namespace; empty keeps all.
	Namespace string
}

// Findings flattens the open findings of records, filters and sorts them (most severe
// first, then newest first, then by target).
func Findings(records []v1alpha1.TraceRecord, f FindingFilter) []FindingRow {
	rows := []FindingRow{}
	for i := range records {
		r := &records[i]
		if f.Namespace != "" && r.Spec.Target.Namespace != f.Namespace {
			continue
		}
		for _, fd := range r.Status.Findings {
			if len(f.Types) > 0 && !hasType(f.Types, fd.Type) {
				continue
			}
			if f.MinSeverity != "" && SeverityRank(fd.Severity) < SeverityRank(f.MinSeverity) {
				continue
			}
			rows = append(rows, FindingRow{Target: r.Spec.Target, Record: r.Namespace + "/" + r.Name,
				Finding: fd, IntroducedBySummary: IntroducedBy(fd.IntroducedBy)})
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := &rows[i], &rows[j]
		if ra, rb := SeverityRank(a.Severity), SeverityRank(b.Severity); ra != rb {
			return ra > rb
		}
		if !a.FirstSeen.Equal(&b.FirstSeen) {
			return b.FirstSeen.Before(&a.FirstSeen)
		}
		if ta, tb := TargetString(a.Target), TargetString(b.Target); ta != tb {
			return ta < tb
		}
		return a.ID < b.ID
	})
	return rows
}

func hasType(list []v1alpha1.FindingType, t v1alpha1.FindingType) bool {
	for _, x := range list {
		if x == t {
			return true
		}
	}
	return false
}
