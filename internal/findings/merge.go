package findings

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
)

// typeOrder sorts findings by how urgently they need a look.
var typeOrder = map[v1alpha1.FindingType]int{
	v1alpha1.FindingRBACEscalation:        0,
	v1alpha1.FindingSecretExposure:        1,
	v1alpha1.FindingDrift:                 2,
	v1alpha1.FindingUntracedChange:        3,
	v1alpha1.FindingManualOverride:        4,
	v1alpha1.FindingChangeWindowViolation: 5,
	v1alpha1.FindingInvalidProvenance:     6,
}

// Merge returns the findings of this reconcile (current) merged with those recorded
// before (previous): a finding whose ID was recorded keeps its FirstSeen and
// IntroducedBy, so re-reconciling never rewrites who introduced it or when it was
// first seen; a new one gets FirstSeen now. Findings no longer present are dropped
// (they are closed). added lists the findings recorded for the first time. The result
// is sorted by type, then ID, so that equal inputs give equal output. A current
// finding with an ID seen twice keeps its first occurrence.
func Merge(previous, current []v1alpha1.Finding, now metav1.Time) (merged, added []v1alpha1.Finding) {
	prev := make(map[string]*v1alpha1.Finding, len(previous))
	for i := range previous {
		prev[previous[i].ID] = &previous[i]
	}
	seen := map[string]bool{}
	for _, f := range current {
		if seen[f.ID] {
			continue
		}
		seen[f.ID] = true
		if p, ok := prev[f.ID]; ok {
			f.FirstSeen = p.FirstSeen
			f.IntroducedBy = p.IntroducedBy
		} else {
			f.FirstSeen = now
			added = append(added, f)
		}
		merged = append(merged, f)
	}
	Sort(merged)
	Sort(added)
	return merged, added
}

// Sort orders findings by type, then ID.
func Sort(fs []v1alpha1.Finding) {
	slices.SortFunc(fs, func(a, b v1alpha1.Finding) int {
		return cmp.Or(cmp.Compare(typeOrder[a.Type], typeOrder[b.Type]), cmp.Compare(a.ID, b.ID))
	})
}

// ID builds a stable finding ID from the finding type's prefix and the parts that
// identify it, hashing them when they could be long or hold characters unfit for a
// short identifier: "secret-1a2b3c4d5e6f".
func ID(prefix string, parts ...string) string {
	if len(parts) == 0 {
		return prefix
	}
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return prefix + "-" + hex.EncodeToString(sum[:6])
}

// Find returns the finding with id, or nil.
func Find(fs []v1alpha1.Finding, id string) *v1alpha1.Finding {
	for i := range fs {
		if fs[i].ID == id {
			return &fs[i]
		}
	}
	return nil
}

// MaxSeverity returns the most severe of severities (Info for none).
func MaxSeverity(sevs ...v1alpha1.Severity) v1alpha1.Severity {
	rank := map[v1alpha1.Severity]int{v1alpha1.SeverityInfo: 0, v1alpha1.SeverityLow: 1, v1alpha1.SeverityMedium: 2, v1alpha1.SeverityHigh: 3, v1alpha1.SeverityCritical: 4}
	out := v1alpha1.SeverityInfo
	for _, s := range sevs {
		if rank[s] > rank[out] {
			out = s
		}
	}
	return out
}
