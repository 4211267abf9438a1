package provenance

import (
	"strings"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// SplitApprovers splits a comma-separated approver list into the distinct approvers it
// names, in order. Two names are the same approver when NormalizeApprover makes them
// equal, so `alice,Alice` and `alice,alice<U+200B>` name one; the first spelling is
// kept, in NFKC and without its format characters and surrounding blanks. Names that
// normalise to nothing are dropped.
//
// The names are unauthenticated strings: whoever writes the annotation chooses them,
// and a signature only proves that the pipeline's key signed them (docs/admission.md,
// "Approvers").
func SplitApprovers(s string) []string {
	var out []string
	seen := map[string]bool{}
	for _, a := range strings.Split(s, ",") {
		n := NormalizeApprover(a)
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		out = append(out, strings.TrimFunc(norm.NFKC.String(stripFormat(a)), unicode.IsSpace))
	}
	return out
}

// NormalizeApprover is the form in which approver names are compared and counted:
// Unicode NFKC (fullwidth letters, ligatures and composed accents become their
// ordinary forms), without format characters (Unicode category Cf: zero-width
// spaces and joiners, soft hyphens, byte order marks, direction marks), case-folded,
// NFKC again (folding can undo it), and trimmed of blanks (non-breaking ones too).
//
// It does not make look-alike letters of different scripts equal (Latin "a" and
// Cyrillic "а" stay two names): only a list of allowed approvers (ApproversAllowed in
// internal/policy) or signed approvals rule those out.
func NormalizeApprover(s string) string {
	s = norm.NFKC.String(s)
	s = stripFormat(s)
	s = cases.Fold().String(s)
	s = norm.NFKC.String(s)
	return strings.TrimFunc(s, unicode.IsSpace)
}

// stripFormat removes the characters of Unicode category Cf.
func stripFormat(s string) string {
	if strings.IndexFunc(s, isFormat) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isFormat(r) {
			return -1
		}
		return r
	}, s)
}

func isFormat(r rune) bool { return unicode.Is(unicode.Cf, r) }
