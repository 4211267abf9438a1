package policy

import (
	"fmt"
	"strings"

	"github.com/kubetrail/kubetrail/internal/provenance"
)

// Approvers is the outcome of counting the approvers a change names.
type Approvers struct {
	// Counted are the distinct approvers that count, as named.
	Counted []string
	// NotAllowed are the distinct approvers named that the policy does not allow.
	NotAllowed []string
}

// CountApprovers counts the distinct approvers of a kubetrail.io/approver value:
// names are compared as provenance.NormalizeApprover makes them (case, Unicode
// compatibility forms, format characters and blanks do not make a second approver).
// When allowed is not empty only the approvers it lists count, compared the same way;
// the others are returned as NotAllowed, so that a denial can name them.
//
// allowed is the policy's spec.allowedApprovers. The names remain unauthenticated
// strings either way (bound by the pipeline's signature only); see docs/admission.md,
// "Approvers".
func CountApprovers(value string, allowed []string) Approvers {
	var allow map[string]bool
	if len(allowed) > 0 {
		allow = map[string]bool{}
		for _, a := range allowed {
			if n := provenance.NormalizeApprover(a); n != "" {
				allow[n] = true
			}
		}
	}
	var out Approvers
	for _, a := range provenance.SplitApprovers(value) {
		if allow != nil && !allow[provenance.NormalizeApprover(a)] {
			out.NotAllowed = append(out.NotAllowed, a)
			continue
		}
		out.Counted = append(out.Counted, a)
	}
	return out
}

// approversMissing says what a change short of min approvers needs, for a denial.
func approversMissing(min int32, ap Approvers) string {
	msg := fmt.Sprintf("%d distinct approvers in kubetrail.io/approver (it has %d)", min, len(ap.Counted))
	if len(ap.NotAllowed) > 0 {
		quoted := make([]string, len(ap.NotAllowed))
		for i, a := range ap.NotAllowed {
			quoted[i] = fmt.Sprintf("%q", a)
		}
		msg += fmt.Sprintf("; %s %s not among the policy's allowed approvers", strings.Join(quoted, ", "), map[bool]string{true: "is", false: "are"}[len(quoted) == 1])
	}
	return msg
}
