package controllers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
)

func traced(d string, sec int64) v1alpha1.Revision {
	t := metav1.NewTime(time.Unix(sec, 0).UTC())
	return v1alpha1.Revision{Traced: true, Admission: v1alpha1.AdmissionFacts{Digest: d, AdmittedAt: &t}}
}

func untraced(d string) v1alpha1.Revision {
	return v1alpha1.Revision{Admission: v1alpha1.AdmissionFacts{Digest: d}}
}

func digests(h []v1alpha1.Revision) []string {
	out := make([]string, len(h))
	for i, r := range h {
		out[i] = r.Admission.Digest
		if !r.Traced {
			out[i] = "~" + out[i]
		}
	}
	return out
}

func TestPushRevision(t *testing.T) {
	type push struct {
		rev    v1alpha1.Revision
		pushed bool
	}
	cases := map[string]struct {
		limit       int
		pushes      []push
		wantHistory []string
		wantDropped int64
	}{
		"newest first": {
			limit:       5,
			pushes:      []push{{traced("a", 1), true}, {traced("b", 2), true}},
			wantHistory: []string{"b", "a"},
		},
		"same revision twice is pushed once": {
			limit:       5,
			pushes:      []push{{traced("a", 1), true}, {traced("a", 1), false}},
			wantHistory: []string{"a"},
		},
		"same revision recognised whatever the sub-second part": {
			limit: 5,
			pushes: []push{{traced("a", 1), true}, {func() v1alpha1.Revision {
				r := traced("a", 1)
				ts := metav1.NewTime(r.Admission.AdmittedAt.Add(300 * time.Millisecond))
				r.Admission.AdmittedAt = &ts
				return r
			}(), false}},
			wantHistory: []string{"a"},
		},
		"same content admitted again is a new revision": {
			limit:       5,
			pushes:      []push{{traced("a", 1), true}, {traced("a", 2), true}},
			wantHistory: []string{"a", "a"},
		},
		"bounded, counting the dropped": {
			limit:       2,
			pushes:      []push{{traced("a", 1), true}, {traced("b", 2), true}, {traced("c", 3), true}, {traced("d", 4), true}},
			wantHistory: []string{"d", "c"},
			wantDropped: 2,
		},
		"untraced once per live digest since the last traced": {
			limit:       5,
			pushes:      []push{{traced("a", 1), true}, {untraced("x"), true}, {untraced("x"), false}, {untraced("y"), true}, {untraced("x"), false}},
			wantHistory: []string{"~y", "~x", "a"},
		},
		"untraced content reached again after a traced revision is new": {
			limit:       5,
			pushes:      []push{{untraced("x"), true}, {traced("a", 1), true}, {untraced("x"), true}},
			wantHistory: []string{"~x", "a", "~x"},
		},
		"the newest traced revision is kept however many untraced follow": {
			limit:       3,
			pushes:      []push{{traced("a", 1), true}, {untraced("x"), true}, {untraced("y"), true}, {untraced("z"), true}, {traced("a", 1), false}},
			wantHistory: []string{"~z", "~y", "a"},
			wantDropped: 1,
		},
		"limit below one keeps one": {
			limit:       0,
			pushes:      []push{{traced("a", 1), true}, {traced("b", 2), true}},
			wantHistory: []string{"b"},
			wantDropped: 1,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var st v1alpha1.TraceRecordStatus
			for i, p := range tc.pushes {
				if got := pushRevision(&st, p.rev, tc.limit); got != p.pushed {
					t.Fatalf("push %d (%s): pushed = %v, want %v", i, digests([]v1alpha1.Revision{p.rev}), got, p.pushed)
				}
			}
			if got := digests(st.History); !equalStrings(got, tc.wantHistory) {
				t.Fatalf("history = %v, want %v", got, tc.wantHistory)
			}
			if st.HistoryDropped != tc.wantDropped {
				t.Fatalf("historyDropped = %d, want %d", st.HistoryDropped, tc.wantDropped)
			}
		})
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
