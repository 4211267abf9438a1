package report

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
)

// hotfixRecord is a Deployment the pipeline deployed at commit shaA, then sre1 changed
// with kubectl set image, keeping the pipeline's annotations.
func hotfixRecord() *v1alpha1.TraceRecord {
	pipeline := v1alpha1.Provenance{Commit: shaA, PipelineRun: "https://ci.example.com/runs/1001", Approver: "alice,bob", Actor: v1alpha1.ActorPipeline}
	pipelineAdm := v1alpha1.AdmissionFacts{AdmittedBy: "ci", AdmittedAt: at(time.Hour), Digest: "sha256:" + strings.Repeat("1", 64)}
	hotfixAdm := v1alpha1.AdmissionFacts{AdmittedBy: "sre1", AdmittedAt: at(10 * time.Minute), Digest: "sha256:" + strings.Repeat("2", 64)}
	return &v1alpha1.TraceRecord{
		ObjectMeta: metav1.ObjectMeta{Name: "deployment.web", Namespace: "shop"},
		Spec: v1alpha1.TraceRecordSpec{
			Target:    v1alpha1.TraceTarget{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "web"},
			Admission: hotfixAdm, Images: []string{"nginx:1.27-hotfix"},
		},
		Status: v1alpha1.TraceRecordStatus{
			Conditions: []metav1.Condition{
				cond(v1alpha1.ConditionDrifted, metav1.ConditionTrue, v1alpha1.ReasonFieldsChanged, "Fields changed without new provenance"),
				cond(v1alpha1.ConditionTraced, metav1.ConditionFalse, v1alpha1.ReasonUntracedChange, "Untraced change by sre1 via kubectl-set"),
			},
			History: []v1alpha1.Revision{
				{Traced: false, UntracedReason: v1alpha1.UntracedProvenanceNotRenewed, Admission: hotfixAdm, Managers: []string{"kubectl-set"},
					OnTopOf: shaA, Images: []string{"nginx:1.27-hotfix"}, ChangedPaths: []string{"/spec/template/spec/containers/app/image"}, ObservedAt: *at(10 * time.Minute)},
				{Traced: true, Provenance: pipeline, Admission: pipelineAdm, Images: []string{"nginx:1.27"}, ObservedAt: *at(time.Hour)},
			},
		},
	}
}

func TestWhyUntracedHotfix(t *testing.T) {
	in := WhyInput{Record: hotfixRecord(), Live: &Live{Found: true, Digest: "sha256:" + strings.Repeat("2", 64)}, Now: now}
	a, out := render(t, in)
	changed := section(out, "WHAT CHANGED")
	for _, want := range []string{
		"UNTRACED change by sre1 via kubectl-set, on top of commit 1a2b3c4  [current]",
		"admitted by sre1 without new provenance",
		"changed /spec/template/spec/containers/app/image",
	} {
		if !strings.Contains(changed, want) {
			t.Errorf("WHAT CHANGED lacks %q:\n%s", want, changed)
		}
	}
	approved := section(out, "WHO APPROVED")
	for _, want := range []string{"NONE recorded", "submitted by  sre1", "the current state is an untraced change by sre1 via kubectl-set, on top of commit 1a2b3c4"} {
		if !strings.Contains(approved, want) {
			t.Errorf("WHO APPROVED lacks %q:\n%s", want, approved)
		}
	}
	for _, never := range []string{"alice", "commit " + shaA} {
		if strings.Contains(approved, never) {
			t.Errorf("WHO APPROVED credits the hotfix to the old change (%q):\n%s", never, approved)
		}
	}
	if !a.WhatChanged[0].Current || a.WhatChanged[1].Current || len(a.WhatChanged) != 2 {
		t.Errorf("the untraced revision must be the current one, and no traced one invented: %+v", a.WhatChanged)
	}
	origin := v1alpha1.ChangeOrigin{Admission: v1alpha1.AdmissionFacts{AdmittedBy: "sre1", AdmittedAt: at(10 * time.Minute)},
		Summary: "untraced change by sre1 via kubectl-set, on top of commit 1a2b3c4"}
	if got := IntroducedBy(origin); got != origin.Summary {
		t.Errorf("IntroducedBy = %q", got)
	}
	if got, want := introducedByLong(origin, now), "an UNTRACED change by sre1 via kubectl-set, on top of commit 1a2b3c4, at 2026-05-10 11:50:00 UTC (10m ago)"; got != want {
		t.Errorf("introducedByLong = %q, want %q", got, want)
	}
	if a.WhoApproved.Commit != "" || len(a.WhoApproved.Approvers) != 0 || !a.WhoApproved.Untraced {
		t.Errorf("WhoApproved = %+v", a.WhoApproved)
	}
}

func TestWhyDerived(t *testing.T) {
	pod := func() *v1alpha1.TraceRecord {
		return &v1alpha1.TraceRecord{
			ObjectMeta: metav1.ObjectMeta{Name: "pod.web-5d8f-abc12", Namespace: "shop"},
			Spec: v1alpha1.TraceRecordSpec{
				Target:      v1alpha1.TraceTarget{APIVersion: "v1", Kind: "Pod", Namespace: "shop", Name: "web-5d8f-abc12"},
				DerivedFrom: &v1alpha1.TraceTarget{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "web"},
				Provenance:  v1alpha1.Provenance{Commit: shaA, PullRequest: "42", Approver: "alice,bob", Actor: v1alpha1.ActorPipeline},
				Admission:   v1alpha1.AdmissionFacts{AdmittedBy: "system:serviceaccount:kube-system:replicaset-controller", AdmittedAt: at(time.Minute)},
			},
		}
	}
	cases := map[string]struct {
		images []string
		owner  *v1alpha1.TraceRecord
		want   string
	}{
		"the owner's traced revision running the same images": {
			images: []string{"nginx:1.27"}, owner: hotfixRecord(),
			want: "Derived by replicaset-controller from Deployment shop/web; the change that produced it: commit 1a2b3c4  run 1001  by pipeline, approved by alice, bob, admitted by ci",
		},
		"the owner's untraced hotfix": {
			images: []string{"nginx:1.27-hotfix"}, owner: hotfixRecord(),
			want: "Derived by replicaset-controller from Deployment shop/web; the change that produced it: an UNTRACED change by sre1 via kubectl-set, on top of commit 1a2b3c4",
		},
		"no owner record: the provenance the derived record carries": {
			images: []string{"nginx:1.27"},
			want:   "Derived by replicaset-controller from Deployment shop/web; the change that produced it: commit 1a2b3c4  PR #42  by pipeline, approved by alice, bob",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rec := pod()
			rec.Spec.Images = tc.images
			a, out := render(t, WhyInput{Record: rec, Owner: tc.owner, Now: now})
			if !strings.Contains(out, tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, out)
			}
			if !strings.Contains(out, "kubectl trail why deployment/web -n shop") {
				t.Errorf("output does not point at the owner:\n%s", out)
			}
			if a.DerivedFrom == nil || a.DerivedFrom.From.Name != "web" || a.DerivedFrom.By != "replicaset-controller" {
				t.Errorf("DerivedFrom = %+v", a.DerivedFrom)
			}
		})
	}
}

func TestCommitRowsUntracedOnTop(t *testing.T) {
	rows := CommitRows([]v1alpha1.TraceRecord{*hotfixRecord()}, shaA)
	if len(rows) != 1 || rows[0].State != StateDrifted || rows[0].AdmittedBy != "ci" {
		t.Errorf("CommitRows = %+v, want the Deployment drifted from the commit, admitted by ci", rows)
	}
	rec := hotfixRecord()
	rec.Status.History = append([]v1alpha1.Revision{{Traced: true, Provenance: v1alpha1.Provenance{Commit: shaB}}}, rec.Status.History...)
	if rows := CommitRows([]v1alpha1.TraceRecord{*rec}, shaA); len(rows) != 1 || rows[0].State != StateOverwritten {
		t.Errorf("CommitRows = %+v, want overwritten by the later commit", rows)
	}
}

// A tombstone says who deleted its target, and a multi-line break-glass reason cannot
// print lines of its own (L2).
func TestWhyTombstoneNamesTheDeleter(t *testing.T) {
	rec := hotfixRecord()
	rec.Status.DeletedAt = at(5 * time.Minute)
	rec.Status.LastDeleteRequest = &v1alpha1.DeleteRequest{RequestedBy: "oncall", RequestedAt: *at(5 * time.Minute),
		BreakGlass: "INC-88\nWHO APPROVED\n  approved by  alice", Violations: []string{"metadata.name: Forbidden: oncall may not delete Deployment web"}}
	_, out := render(t, WhyInput{Record: rec, Live: &Live{Found: false}, Now: now})
	for _, want := range []string{"DELETED", "Deleted by oncall", "under break-glass: INC-88 WHO APPROVED", "oncall may not delete Deployment web"} {
		if !strings.Contains(out, want) {
			t.Errorf("why lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "WHO APPROVED") != 2 { // the section heading, and the reason on one line
		t.Errorf("the reason printed a section of its own:\n%s", out)
	}
}
