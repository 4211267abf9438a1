package revision

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
)

var (
	commitA = strings.Repeat("a", 40)
	commitB = strings.Repeat("b", 40)
	t0      = metav1.NewTime(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	t1      = metav1.NewTime(time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC))
)

func pipelineRevision() *v1alpha1.Revision {
	return &v1alpha1.Revision{
		Provenance: v1alpha1.Provenance{Commit: commitA, PipelineRun: "run-1", Approver: "alice,bob", Actor: v1alpha1.ActorPipeline},
		Admission:  v1alpha1.AdmissionFacts{AdmittedBy: "ci", AdmittedAt: &t0, Digest: "sha256:1"},
		Traced:     true,
	}
}

func TestClassify(t *testing.T) {
	same := v1alpha1.Provenance{Commit: commitA, PipelineRun: "run-1", Approver: "alice,bob"}
	untraced := Decision{Reason: v1alpha1.UntracedProvenanceNotRenewed}
	traced := Decision{Traced: true}
	cases := map[string]struct {
		in   Input
		want Decision
	}{
		"kubectl set image keeping the pipeline's annotations": {
			Input{Base: pipelineRevision(), Digest: "sha256:2", Provenance: same, ChangedPaths: []string{"/spec/template/spec/containers/app/image"}, PathsKnown: true},
			untraced,
		},
		"paths unknown (metadata-only kind): the digest tells": {
			Input{Base: pipelineRevision(), Digest: "sha256:2", Provenance: same},
			untraced,
		},
		"approver rewritten, commit and run kept": {
			Input{Base: pipelineRevision(), Digest: "sha256:2", Provenance: v1alpha1.Provenance{Commit: commitA, PipelineRun: "run-1", Approver: "sre1"}},
			untraced,
		},
		"pipeline run dropped, commit kept": {
			Input{Base: pipelineRevision(), Digest: "sha256:2", Provenance: v1alpha1.Provenance{Commit: commitA}},
			untraced,
		},
		"all provenance removed": {
			Input{Base: pipelineRevision(), Digest: "sha256:2"},
			untraced,
		},
		"new commit": {
			Input{Base: pipelineRevision(), Digest: "sha256:2", Provenance: v1alpha1.Provenance{Commit: commitB, PipelineRun: "run-1"}},
			traced,
		},
		"same commit, new pipeline run (a re-run)": {
			Input{Base: pipelineRevision(), Digest: "sha256:2", Provenance: v1alpha1.Provenance{Commit: commitA, PipelineRun: "run-2"}},
			traced,
		},
		"same content (provenance-only change, or a revert)": {
			Input{Base: pipelineRevision(), Digest: "sha256:1", Provenance: same},
			traced,
		},
		"only ignored paths changed": {
			Input{Base: pipelineRevision(), Digest: "sha256:2", Provenance: same, PathsKnown: true},
			traced,
		},
		"derived object: its owner's provenance": {
			Input{Derived: true, Base: pipelineRevision(), Digest: "sha256:2", Provenance: same},
			traced,
		},
		"first revision": {
			Input{Digest: "sha256:1", Provenance: same},
			traced,
		},
		"nothing to reuse: the traced revision named no commit or run": {
			Input{Base: &v1alpha1.Revision{Provenance: v1alpha1.Provenance{Actor: v1alpha1.ActorHuman}, Admission: v1alpha1.AdmissionFacts{Digest: "sha256:1"}, Traced: true},
				Digest: "sha256:2", Provenance: v1alpha1.Provenance{Actor: v1alpha1.ActorHuman}},
			traced,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := Classify(tc.in); got != tc.want {
				t.Errorf("Classify = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestNewestTraced(t *testing.T) {
	base := pipelineRevision()
	cur := v1alpha1.AdmissionFacts{AdmittedBy: "sre1", AdmittedAt: &t1, Digest: "sha256:2"}
	history := []v1alpha1.Revision{
		{Admission: cur, Traced: true},                                          // the current revision itself
		{Admission: v1alpha1.AdmissionFacts{Digest: "sha256:9"}, Traced: false}, // untraced
		*base,
	}
	if got := NewestTraced(history, cur); got == nil || got.Admission.Digest != "sha256:1" {
		t.Errorf("NewestTraced = %+v, want the pipeline's revision", got)
	}
	if got := NewestTraced(history[:2], cur); got != nil {
		t.Errorf("NewestTraced = %+v, want none", got)
	}
}

func TestTexts(t *testing.T) {
	base := pipelineRevision()
	rev := Untraced(v1alpha1.UntracedProvenanceNotRenewed, v1alpha1.AdmissionFacts{AdmittedBy: "sre1", AdmittedAt: &t1, Digest: "sha256:2"},
		base, []string{"kubectl-set"}, []string{"nginx:hotfix"}, []string{"/spec/template/spec/containers/app/image"})
	if rev.Traced || rev.Commit != "" || rev.Approver != "" || rev.OnTopOf != commitA {
		t.Errorf("Untraced = %+v: must credit no provenance and name the commit it was on top of", rev)
	}
	if got, want := Summary(rev), "untraced change by sre1 via kubectl-set, on top of commit aaaaaaa"; got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
	f := Finding(rev, base, v1alpha1.SeverityMedium)
	for _, want := range []string{"sre1 (field managers kubectl-set) changed /spec/template/spec/containers/app/image, admitted without new provenance", "commit aaaaaaa", "pipeline run run-1", "admitted by ci", "credited to no commit or approver"} {
		if !strings.Contains(f.Message, want) {
			t.Errorf("Finding message %q lacks %q", f.Message, want)
		}
	}
	if strings.Contains(f.Message, "alice") {
		t.Errorf("Finding message %q names the old approvers", f.Message)
	}
	if f.Type != v1alpha1.FindingUntracedChange || f.IntroducedBy.Traced || f.Paths[0] != "/spec/template/spec/containers/app/image" || f.Managers[0] != "kubectl-set" {
		t.Errorf("Finding = %+v", f)
	}
	if f.ID != FindingID(rev) || f.ID == FindingID(Untraced(v1alpha1.UntracedProvenanceNotRenewed, v1alpha1.AdmissionFacts{AdmittedBy: "sre1", AdmittedAt: &t1, Digest: "sha256:3"}, base, nil, nil, nil)) {
		t.Errorf("FindingID must be stable per revision and differ between revisions")
	}
	d := DriftFinding(rev, base, v1alpha1.SeverityMedium)
	if d.Type != v1alpha1.FindingDrift || d.ID != "drift" || !strings.Contains(d.Message, "admitted by ci at 2026-12-01T10:00:00Z (commit aaaaaaa); changed by sre1 via kubectl-set without new provenance") {
		t.Errorf("DriftFinding = %+v", d)
	}
	if got := ConditionMessage(rev); !strings.HasPrefix(got, "Untraced change by sre1 via kubectl-set, on top of commit aaaaaaa: admitted without new provenance") {
		t.Errorf("ConditionMessage = %q", got)
	}
	notAdmitted := Untraced(v1alpha1.UntracedNotAdmitted, v1alpha1.AdmissionFacts{Digest: "sha256:4"}, base, nil, nil, nil)
	if got, want := Summary(notAdmitted), "untraced change not admitted by kubetrail, on top of commit aaaaaaa"; got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
	for _, tc := range []struct {
		submitter string
		managers  []string
		want      string
	}{
		{"sre1", []string{"kubectl-set", "kubectl-edit"}, "sre1 via kubectl-set, kubectl-edit"},
		{"sre1", nil, "sre1"},
		{"", []string{"kubectl-edit"}, "kubectl-edit"},
		{"", nil, "an unknown writer"},
	} {
		if got := Who(tc.submitter, tc.managers); got != tc.want {
			t.Errorf("Who(%q, %v) = %q, want %q", tc.submitter, tc.managers, got, tc.want)
		}
	}
}
