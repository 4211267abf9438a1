package policy

import (
	"slices"
	"testing"
)

func TestCountApprovers(t *testing.T) {
	cases := map[string]struct {
		value          string
		allowed        []string
		wantCounted    []string
		wantNotAllowed []string
	}{
		"no list: every distinct name counts":     {value: "alice,bob", wantCounted: []string{"alice", "bob"}},
		"spellings of one name count once":        {value: "alice,Alice,alice\u200b", wantCounted: []string{"alice"}},
		"only allowed approvers count":            {value: "alice,mallory,bob", allowed: []string{"alice", "bob"}, wantCounted: []string{"alice", "bob"}, wantNotAllowed: []string{"mallory"}},
		"the list is compared normalised":         {value: "ALICE,B\u200bob", allowed: []string{"Alice", " bob "}, wantCounted: []string{"ALICE", "Bob"}},
		"a look-alike is not an allowed approver": {value: "\u0430lice", allowed: []string{"alice"}, wantNotAllowed: []string{"\u0430lice"}},
		"empty entries in the list allow nobody":  {value: "alice", allowed: []string{"", "\u200b"}, wantNotAllowed: []string{"alice"}},
		"nothing named":                           {value: " , ", allowed: []string{"alice"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := CountApprovers(tc.value, tc.allowed)
			if !slices.Equal(got.Counted, tc.wantCounted) || !slices.Equal(got.NotAllowed, tc.wantNotAllowed) {
				t.Errorf("CountApprovers(%q, %q) = %+v, want counted %q, not allowed %q", tc.value, tc.allowed, got, tc.wantCounted, tc.wantNotAllowed)
			}
		})
	}
}
