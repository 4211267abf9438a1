package provenance

import (
	"slices"
	"testing"
)

// Approver names count once however they are spelt: case, Unicode compatibility
// forms, invisible format characters and blanks do not make a second approver (M12).
func TestSplitApproversNormalises(t *testing.T) {
	cases := map[string]struct {
		in   string
		want []string
	}{
		"plain":                           {in: "alice,bob", want: []string{"alice", "bob"}},
		"case":                            {in: "alice,Alice,ALICE", want: []string{"alice"}},
		"zero-width space":                {in: "alice,alice\u200b", want: []string{"alice"}},
		"zero-width joiner inside":        {in: "al\u200dice,alice", want: []string{"alice"}},
		"byte order mark and soft hyphen": {in: "\ufeffalice,ali\u00adce", want: []string{"alice"}},
		"fullwidth letters (NFKC)":        {in: "alice,\uff41\uff4c\uff49\uff43\uff45", want: []string{"alice"}},
		"ligature (NFKC)":                 {in: "\ufb01na,fina", want: []string{"fina"}},
		"decomposed accent (NFKC)":        {in: "jos\u00e9,jose\u0301", want: []string{"josé"}},
		"blanks and empties":              {in: " alice , ,\t,bob ,", want: []string{"alice", "bob"}},
		"only invisible":                  {in: "\u200b,\u200c\u200d, \u2060", want: nil},
		"non-breaking space trimmed":      {in: "\u00a0alice\u00a0,alice", want: []string{"alice"}},
		"first spelling shown":            {in: "Alice,alice,Bob", want: []string{"Alice", "Bob"}},
		"shown without invisible chars":   {in: "ali\u200bce", want: []string{"alice"}},
		"distinct people stay distinct":   {in: "alice,alicia,bob", want: []string{"alice", "alicia", "bob"}},
		"empty":                           {in: "", want: nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := SplitApprovers(tc.in); !slices.Equal(got, tc.want) {
				t.Errorf("SplitApprovers(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestNormalizeApprover(t *testing.T) {
	for in, want := range map[string]string{
		"Alice":             "alice",
		"alice\u200b":       "alice",
		"\uff21lice":        "alice",
		"STRASSE":           "strasse",
		"Straße":            "strasse",
		"  bob\u00a0":       "bob",
		"\u200b":            "",
		"carol@example.com": "carol@example.com",
	} {
		if got := NormalizeApprover(in); got != want {
			t.Errorf("NormalizeApprover(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzSplitApprovers(f *testing.F) {
	for _, s := range []string{"alice,Alice", "alice,alice\u200b", "\uff41lice, ,bob", "\xff,\xfe", "Straße,STRASSE"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := SplitApprovers(s)
		seen := map[string]bool{}
		for _, a := range got {
			n := NormalizeApprover(a)
			if n == "" {
				t.Errorf("SplitApprovers(%q) kept %q, which normalises to nothing", s, a)
			}
			if seen[n] {
				t.Errorf("SplitApprovers(%q) = %q counts %q twice", s, got, n)
			}
			seen[n] = true
			if NormalizeApprover(n) != n {
				t.Errorf("NormalizeApprover is not idempotent on %q", a)
			}
		}
	})
}
