package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/kubetrail/kubetrail/api/v1alpha1"
)

var now = time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)

const (
	shaA = "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"
	shaB = "bbbbbbb5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1"
)

func at(d time.Duration) *metav1.Time { t := metav1.NewTime(now.Add(-d)); return &t }

func cond(t string, s metav1.ConditionStatus, reason, msg string) metav1.Condition {
	return metav1.Condition{Type: t, Status: s, Reason: reason, Message: msg, LastTransitionTime: *at(10 * time.Minute)}
}

// webRecord is a Deployment whose current revision was made by an agent and approved by
// alice, with an older human revision, an untraced kubectl edit on top, drift and two
// findings.
func webRecord() *v1alpha1.TraceRecord {
	agentProv := v1alpha1.Provenance{
		Commit: shaA, Repository: "https://github.com/org/shop", PullRequest: "https://github.com/org/shop/pull/42",
		PipelineRun: "https://github.com/org/shop/actions/runs/99", Approver: "alice", Actor: v1alpha1.ActorAgent,
		Agent: "deploy-bot run 7", Verified: true,
	}
	agentAdm := v1alpha1.AdmissionFacts{AdmittedBy: "system:serviceaccount:ci:deployer", AdmittedAt: at(time.Hour), Digest: "sha256:" + strings.Repeat("a", 64)}
	return &v1alpha1.TraceRecord{
		ObjectMeta: metav1.ObjectMeta{Name: "deployment.web", Namespace: "shop"},
		Spec: v1alpha1.TraceRecordSpec{
			Target:     v1alpha1.TraceTarget{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "web"},
			Provenance: agentProv, Admission: agentAdm, Images: []string{"registry.example.com/web:1.3.0"},
		},
		Status: v1alpha1.TraceRecordStatus{
			Conditions: []metav1.Condition{
				cond(v1alpha1.ConditionDrifted, metav1.ConditionTrue, v1alpha1.ReasonFieldsChanged, "1 field changed outside the pipeline"),
				cond(v1alpha1.ConditionTraced, metav1.ConditionFalse, v1alpha1.ReasonUntracedChange, "changed by kubernetes-admin without provenance"),
			},
			History: []v1alpha1.Revision{
				{Traced: false, Admission: v1alpha1.AdmissionFacts{AdmittedBy: "kubernetes-admin", AdmittedAt: at(10 * time.Minute)},
					ChangedPaths: []string{"/spec/replicas"}, ObservedAt: *at(10 * time.Minute)},
				{Traced: true, Provenance: agentProv, Admission: agentAdm, Images: []string{"registry.example.com/web:1.3.0"},
					ChangedPaths: []string{"/spec/template/spec/containers/web/image"}, ObservedAt: *at(time.Hour)},
				{Traced: true, Provenance: v1alpha1.Provenance{Commit: shaB, PullRequest: "41", Approver: "bob, carol", Actor: v1alpha1.ActorHuman},
					Admission: v1alpha1.AdmissionFacts{AdmittedBy: "system:serviceaccount:ci:deployer", AdmittedAt: at(48 * time.Hour)}},
			},
			HistoryDropped: 2,
			Findings: []v1alpha1.Finding{
				{ID: "drift", Type: v1alpha1.FindingDrift, Severity: v1alpha1.SeverityMedium, Message: "Drifted from the last traced revision; changed by kubectl-edit (Update)",
					Paths: []string{"/spec/replicas"}, Managers: []string{"kubectl-edit"}, FirstSeen: *at(10 * time.Minute),
					IntroducedBy: v1alpha1.ChangeOrigin{Traced: false, Admission: v1alpha1.AdmissionFacts{AdmittedBy: "kubernetes-admin", AdmittedAt: at(10 * time.Minute)}}},
				{ID: "secret", Type: v1alpha1.FindingSecretExposure, Severity: v1alpha1.SeverityHigh, Message: "env API_KEY holds a literal AWS access key",
					Paths: []string{"/spec/template/spec/containers/web/env/API_KEY"}, Rule: "aws-access-token", Fingerprint: "fp:AKIA…XYZ",
					FirstSeen: *at(time.Hour), IntroducedBy: v1alpha1.ChangeOrigin{Traced: true, Provenance: agentProv, Admission: agentAdm}},
			},
		},
	}
}

func render(t *testing.T, in WhyInput) (*Why, string) {
	t.Helper()
	a := BuildWhy(in)
	var buf bytes.Buffer
	if err := RenderWhy(&buf, a, now); err != nil {
		t.Fatal(err)
	}
	return a, buf.String()
}

// section returns the text of one section: from its heading to the next blank line.
func section(out, heading string) string {
	i := strings.Index(out, "\n"+heading)
	if i < 0 {
		return ""
	}
	s := out[i+1:]
	if j := strings.Index(s, "\n\n"); j >= 0 {
		s = s[:j]
	}
	return s
}

func TestWhy(t *testing.T) {
	cases := map[string]struct {
		record func() *v1alpha1.TraceRecord
		in     WhyInput
		want   map[string][]string // section heading -> lines it contains
		absent []string
		check  func(t *testing.T, a *Why)
	}{
		"agent change with untraced edit, drift and findings": {
			record: webRecord,
			in: WhyInput{Live: &Live{Found: true, Digest: "sha256:" + strings.Repeat("f", 64), Signed: true,
				Images: []string{"registry.example.com/web:1.3.0"}}},
			want: map[string][]string{
				"Deployment shop/web": {"record shop/deployment.web", "Traced: False (UntracedChange)"},
				"WHAT CHANGED": {
					"2026-05-10 11:50:00 UTC (10m ago)  UNTRACED change (no traced provenance)",
					"admitted by kubernetes-admin",
					"changed /spec/replicas",
					"2026-05-10 11:00:00 UTC (1h ago)  commit 1a2b3c4  PR #42  run 99  by agent deploy-bot run 7  [current]",
					"admitted by system:serviceaccount:ci:deployer; approved by alice; signature verified",
					"changed /spec/template/spec/containers/web/image",
					"commit bbbbbbb  PR #41  by human",
					"approved by bob, carol",
					"2 older revision(s) fell off",
				},
				"WHO APPROVED": {
					"approvers     alice",
					"actor         agent deploy-bot run 7 (an AI agent's change, approved by alice)",
					"signature     signed, verified against a trusted key",
					"submitted by  system:serviceaccount:ci:deployer",
					"change        commit " + shaA + " in https://github.com/org/shop",
					"pull request  https://github.com/org/shop/pull/42",
					"pipeline run  https://github.com/org/shop/actions/runs/99",
					"!! the object changed since without traced provenance",
				},
				"WHAT DEPLOYED": {
					"digest        sha256:" + strings.Repeat("a", 64) + "  (the live object DIFFERS: sha256:" + strings.Repeat("f", 64) + ")",
					"images        registry.example.com/web:1.3.0",
					"admitted      2026-05-10 11:00:00 UTC (1h ago) by system:serviceaccount:ci:deployer",
				},
				"WHAT DEPENDS ON IT": {"not applicable to a Deployment"},
				"DRIFT": {"DRIFTED since 2026-05-10 11:50:00 UTC (10m ago) (FieldsChanged)", "1 field changed outside the pipeline",
					"paths         /spec/replicas", "changed by    kubectl-edit"},
				"FINDINGS": {
					"FINDINGS  (2 open)",
					"High      SecretExposure: env API_KEY holds a literal AWS access key",
					"introduced by commit 1a2b3c4, PR #42, pipeline run 99, by agent deploy-bot run 7, approved by alice, admitted by system:serviceaccount:ci:deployer",
					"at /spec/template/spec/containers/web/env/API_KEY; rule aws-access-token",
					"Medium    Drift: Drifted from the last traced revision; changed by kubectl-edit (Update)",
					"introduced by an UNTRACED change, admitted by kubernetes-admin, at 2026-05-10 11:50:00 UTC (10m ago)",
				},
			},
			absent: []string{"AKIA", "fp:"},
			check: func(t *testing.T, a *Why) {
				if len(a.WhatChanged) != 3 || !a.WhatChanged[1].Current || a.WhatChanged[0].Traced {
					t.Errorf("changes = %+v", a.WhatChanged)
				}
				if a.WhatDeployed.Live != LiveDiffers || !a.WhoApproved.Untraced || a.WhoApproved.Signature != SignatureVerified {
					t.Errorf("answers = %+v %+v", a.WhatDeployed, a.WhoApproved)
				}
				if a.Findings[0].ID != "secret" || a.Findings[0].IntroducedBySummary != "1a2b3c4 (PR #42)" ||
					a.Findings[1].IntroducedBySummary != "untraced (admitted by kubernetes-admin)" {
					t.Errorf("findings = %+v", a.Findings)
				}
			},
		},
		"human change in sync, unsigned, spec not in history": {
			record: func() *v1alpha1.TraceRecord {
				r := webRecord()
				r.Spec.Provenance = v1alpha1.Provenance{Commit: shaB, Approver: "bob", Actor: v1alpha1.ActorHuman, PullRequest: "#7"}
				r.Spec.Admission = v1alpha1.AdmissionFacts{AdmittedBy: "alice@example.com", AdmittedAt: at(5 * time.Minute), Digest: "sha256:" + strings.Repeat("c", 64)}
				r.Status.History = r.Status.History[1:]
				r.Status.HistoryDropped = 0
				r.Status.Conditions = []metav1.Condition{
					cond(v1alpha1.ConditionDrifted, metav1.ConditionFalse, v1alpha1.ReasonInSync, ""),
					cond(v1alpha1.ConditionTraced, metav1.ConditionTrue, v1alpha1.ReasonAdmitted, ""),
				}
				r.Status.Findings = nil
				return r
			},
			in: WhyInput{
				Live: &Live{Found: true, Digest: "sha256:" + strings.Repeat("c", 64)},
				Policies: []v1alpha1.TracePolicy{{ObjectMeta: metav1.ObjectMeta{Name: "prod"}, Spec: v1alpha1.TracePolicySpec{
					TrustedSubmitters: []v1alpha1.Subject{{Kind: v1alpha1.SubjectServiceAccount, Namespace: "ci", Name: "deployer"}}}}},
			},
			want: map[string][]string{
				"WHAT CHANGED": {"2026-05-10 11:55:00 UTC (5m ago)  commit bbbbbbb  PR #7  by human  [current]", "commit 1a2b3c4"},
				"WHO APPROVED": {"approvers     bob", "actor         human", "signature     NOT signed",
					"submitted by  alice@example.com (NOT a trusted submitter of TracePolicy prod)"},
				"WHAT DEPLOYED": {"(the live object matches)"},
				"DRIFT":         {"in sync with the last traced revision"},
				"FINDINGS":      {"FINDINGS  (0 open)"},
			},
			absent: []string{"UNTRACED", "!!"},
			check: func(t *testing.T, a *Why) {
				if !a.WhatChanged[0].Current || a.WhatChanged[0].Commit != shaB || len(a.WhatChanged) != 3 {
					t.Errorf("current revision not inserted on top: %+v", a.WhatChanged)
				}
			},
		},
		"service account with dependents": {
			record: func() *v1alpha1.TraceRecord {
				return &v1alpha1.TraceRecord{
					ObjectMeta: metav1.ObjectMeta{Name: "serviceaccount.builder", Namespace: "shop"},
					Spec: v1alpha1.TraceRecordSpec{
						Target:     v1alpha1.TraceTarget{APIVersion: "v1", Kind: "ServiceAccount", Namespace: "shop", Name: "builder"},
						Provenance: v1alpha1.Provenance{Commit: shaA, Actor: v1alpha1.ActorPipeline},
						Admission:  v1alpha1.AdmissionFacts{AdmittedBy: "system:serviceaccount:ci:deployer", AdmittedAt: at(2 * time.Hour)},
					},
					Status: v1alpha1.TraceRecordStatus{Findings: []v1alpha1.Finding{{
						ID: "esc", Type: v1alpha1.FindingRBACEscalation, Severity: v1alpha1.SeverityCritical,
						Message: "ServiceAccount shop/builder gained cluster-admin", Subject: "ServiceAccount shop/builder",
						Permissions:  []string{"* *.*"},
						Dependents:   []v1alpha1.ObjectReference{{Kind: "CronJob", Namespace: "shop", Name: "nightly"}, {Kind: "Deployment", Namespace: "shop", Name: "builder"}},
						IntroducedBy: v1alpha1.ChangeOrigin{Traced: true, Provenance: v1alpha1.Provenance{Commit: shaB, PullRequest: "43"}},
					}}},
				}
			},
			in: WhyInput{
				Live: &Live{Found: true},
				DependsOn: &DependsOn{
					Subjects:  []SubjectInfo{{Subject: "ServiceAccount shop/builder", Risks: []string{"Critical cluster-admin (cluster): * *.*"}}},
					Workloads: []Workload{{Kind: "Deployment", Namespace: "shop", Name: "builder", Via: "runs as ServiceAccount shop/builder", Source: "live"}},
				},
			},
			want: map[string][]string{
				"WHAT DEPENDS ON IT": {
					"ServiceAccount shop/builder can: Critical cluster-admin (cluster): * *.*",
					"CronJob shop/nightly     runs as ServiceAccount shop/builder  (recorded in a finding)",
					"Deployment shop/builder  runs as ServiceAccount shop/builder",
				},
				"WHO APPROVED": {"approvers     NONE recorded", "actor         pipeline"},
				"FINDINGS":     {"Critical  RBACEscalation", "introduced by commit bbbbbbb, PR #43", "subject ServiceAccount shop/builder; permissions * *.*; dependents CronJob shop/nightly, Deployment shop/builder"},
				"DRIFT":        {"unknown: not checked yet"},
			},
			check: func(t *testing.T, a *Why) {
				if n := len(a.WhatDependsOnIt.Workloads); n != 2 {
					t.Errorf("workloads = %+v, want 2 (the finding's Deployment is the live one)", a.WhatDependsOnIt.Workloads)
				}
			},
		},
		"agent without approver, never admitted": {
			record: func() *v1alpha1.TraceRecord {
				r := webRecord()
				r.Spec.Provenance = v1alpha1.Provenance{Actor: v1alpha1.ActorAgent, Agent: "copilot", Commit: shaA}
				r.Spec.Admission = v1alpha1.AdmissionFacts{}
				r.Status = v1alpha1.TraceRecordStatus{}
				return r
			},
			in: WhyInput{Live: &Live{Found: false}},
			want: map[string][]string{
				"WHO APPROVED":  {"actor         agent copilot (an AI agent's change, approved by NO human)", "submitted by  -"},
				"WHAT DEPLOYED": {"digest        none recorded at admission  (the object no longer exists)"},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := tc.in
			in.Record, in.Now = tc.record(), now
			a, out := render(t, in)
			for heading, lines := range tc.want {
				sec := section("\n"+out, heading)
				if sec == "" {
					t.Errorf("no section %q in:\n%s", heading, out)
					continue
				}
				for _, l := range lines {
					if !strings.Contains(sec, l) {
						t.Errorf("section %q lacks %q:\n%s", heading, l, sec)
					}
				}
			}
			for _, s := range tc.absent {
				if strings.Contains(out, s) {
					t.Errorf("output contains %q:\n%s", s, out)
				}
			}
			for _, h := range []string{"WHAT CHANGED", "WHO APPROVED", "WHAT DEPLOYED", "WHAT DEPENDS ON IT", "DRIFT", "FINDINGS"} {
				if !strings.Contains(out, "\n"+h) {
					t.Errorf("section %s missing", h)
				}
			}
			if tc.check != nil {
				tc.check(t, a)
			}
			if _, err := json.Marshal(a); err != nil {
				t.Error(err)
			}
			if t.Failed() {
				t.Logf("output:\n%s", out)
			}
		})
	}
}

func TestWhyJSON(t *testing.T) {
	a := BuildWhy(WhyInput{Record: webRecord(), Now: now})
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"whatChanged":[{"traced":false`, `"current":true,"traced":true,"commit":"` + shaA,
		`"whoApproved":{`, `"approvers":["alice"]`, `"actor":"agent"`, `"agent":"deploy-bot run 7"`,
		`"whatDeployed":{`, `"live":"unknown"`, `"drift":{"drifted":true`, `"introducedBySummary":"1a2b3c4 (PR #42)"`} {
		if !bytes.Contains(b, []byte(k)) {
			t.Errorf("JSON lacks %s:\n%s", k, b)
		}
	}
	if bytes.Contains(b, []byte("whatDependsOnIt")) {
		t.Errorf("not-applicable answer 4 should be absent: %s", b)
	}
}

func TestFindings(t *testing.T) {
	crb := v1alpha1.TraceRecord{
		ObjectMeta: metav1.ObjectMeta{Name: "clusterrolebinding.ci-admin", Namespace: "kubetrail-system"},
		Spec:       v1alpha1.TraceRecordSpec{Target: v1alpha1.TraceTarget{Kind: "ClusterRoleBinding", Name: "ci-admin"}},
		Status: v1alpha1.TraceRecordStatus{Findings: []v1alpha1.Finding{{ID: "x", Type: v1alpha1.FindingRBACEscalation,
			Severity: v1alpha1.SeverityCritical, Message: "ServiceAccount shop/builder gained\ncluster-admin", FirstSeen: *at(time.Hour),
			IntroducedBy: v1alpha1.ChangeOrigin{Traced: true, Provenance: v1alpha1.Provenance{Commit: shaB, PullRequest: "https://gitlab.com/o/r/-/merge_requests/12"}}}}},
	}
	recs := []v1alpha1.TraceRecord{*webRecord(), crb}
	for name, tc := range map[string]struct {
		f    FindingFilter
		want []string
	}{
		"all":        {FindingFilter{}, []string{"x", "secret", "drift"}},
		"type":       {FindingFilter{Types: []v1alpha1.FindingType{v1alpha1.FindingDrift}}, []string{"drift"}},
		"min high":   {FindingFilter{MinSeverity: v1alpha1.SeverityHigh}, []string{"x", "secret"}},
		"namespace":  {FindingFilter{Namespace: "shop"}, []string{"secret", "drift"}},
		"type+sever": {FindingFilter{Types: []v1alpha1.FindingType{v1alpha1.FindingDrift}, MinSeverity: v1alpha1.SeverityHigh}, nil},
	} {
		rows := Findings(recs, tc.f)
		var ids []string
		for _, r := range rows {
			ids = append(ids, r.ID)
		}
		if strings.Join(ids, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: ids = %v, want %v", name, ids, tc.want)
		}
	}
	var buf bytes.Buffer
	if err := RenderFindings(&buf, Findings(recs, FindingFilter{})); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "NAMESPACE") {
		t.Fatalf("table:\n%s", out)
	}
	for i, want := range [][]string{
		{"NAMESPACE", "TARGET", "TYPE", "SEVERITY", "INTRODUCED-BY", "MESSAGE"},
		{"-", "ClusterRoleBinding/ci-admin", "RBACEscalation", "Critical", "bbbbbbb (PR #12)", "ServiceAccount shop/builder gained cluster-admin"},
		{"shop", "Deployment/web", "SecretExposure", "High", "1a2b3c4 (PR #42)", "env API_KEY"},
		{"shop", "Deployment/web", "Drift", "Medium", "untraced (admitted by kubernetes-admin)", "changed by kubectl-edit (Update) (at /spec/replicas)"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("line %d lacks %q: %s", i, w, lines[i])
			}
		}
	}
}

func TestCommit(t *testing.T) {
	web := webRecord() // current shaA (drifted), history shaB
	cm := v1alpha1.TraceRecord{
		ObjectMeta: metav1.ObjectMeta{Name: "configmap.settings", Namespace: "shop"},
		Spec: v1alpha1.TraceRecordSpec{Target: v1alpha1.TraceTarget{Kind: "ConfigMap", Namespace: "shop", Name: "settings"},
			Provenance: v1alpha1.Provenance{Commit: shaB},
			Admission:  v1alpha1.AdmissionFacts{AdmittedBy: "ci", AdmittedAt: at(48 * time.Hour)}},
	}
	gone := v1alpha1.TraceRecord{
		ObjectMeta: metav1.ObjectMeta{Name: "service.old", Namespace: "shop"},
		Spec: v1alpha1.TraceRecordSpec{Target: v1alpha1.TraceTarget{Kind: "Service", Namespace: "shop", Name: "old"},
			Provenance: v1alpha1.Provenance{Commit: shaB}},
		Status: v1alpha1.TraceRecordStatus{DeletedAt: at(time.Minute)},
	}
	recs := []v1alpha1.TraceRecord{*web, cm, gone}
	if got := MatchCommits(recs, "1A2B"); len(got) != 1 || got[0] != shaA {
		t.Errorf("MatchCommits(1A2B) = %v", got)
	}
	if got := MatchCommits(recs, ""); len(got) != 2 {
		t.Errorf("MatchCommits('') = %v", got)
	}
	if got := MatchCommits(recs, "ffff"); got != nil {
		t.Errorf("MatchCommits(ffff) = %v", got)
	}
	rows := CommitRows(recs, shaB)
	var got []string
	for _, r := range rows {
		got = append(got, r.Target.Kind+"="+r.State)
	}
	if want := "ConfigMap=current,Deployment=overwritten,Service=deleted"; strings.Join(got, ",") != want {
		t.Errorf("rows = %v, want %s", got, want)
	}
	if rows[1].AdmittedAt == nil || !rows[1].AdmittedAt.Equal(now.Add(-48*time.Hour)) {
		t.Errorf("overwritten row has the history admission time: %+v", rows[1])
	}
	if r := CommitRows(recs, shaA); len(r) != 1 || r[0].State != StateDrifted {
		t.Errorf("shaA rows = %+v", r)
	}
	var buf bytes.Buffer
	if err := RenderCommit(&buf, rows); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"NAMESPACE  KIND        NAME      STATE        ADMITTED-AT           ADMITTED-BY",
		"shop       ConfigMap   settings  current      2026-05-08T12:00:00Z  ci",
		"shop       Deployment  web       overwritten  2026-05-08T12:00:00Z  system:serviceaccount:ci:deployer",
		"shop       Service     old       deleted      -                     -"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestShortForms(t *testing.T) {
	for in, want := range map[string]string{"42": "#42", "#42": "#42", "https://github.com/o/r/pull/42": "#42",
		"https://gitlab.com/o/r/-/merge_requests/7/": "#7", "PR-9x": "PR-9x", "": ""} {
		if got := ShortPR(in); got != want {
			t.Errorf("ShortPR(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"https://github.com/o/r/actions/runs/99": "99", "run-7": "run-7", "https://ci.example.com": "ci.example.com"} {
		if got := ShortRun(in); got != want {
			t.Errorf("ShortRun(%q) = %q, want %q", in, got, want)
		}
	}
	if s, err := ParseSeverity("critical"); err != nil || s != v1alpha1.SeverityCritical {
		t.Errorf("ParseSeverity: %v %v", s, err)
	}
	if _, err := ParseFindingType("nope"); err == nil || !strings.Contains(err.Error(), "RBACEscalation") {
		t.Errorf("ParseFindingType error = %v", err)
	}
}

func TestSubmitterTrust(t *testing.T) {
	pol := func(name string, subs ...v1alpha1.Subject) v1alpha1.TracePolicy {
		return v1alpha1.TracePolicy{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.TracePolicySpec{TrustedSubmitters: subs}}
	}
	sa := v1alpha1.Subject{Kind: v1alpha1.SubjectServiceAccount, Namespace: "ci", Name: "deployer"}
	grp := v1alpha1.Subject{Kind: v1alpha1.SubjectGroup, Name: "ci-admins"}
	for name, tc := range map[string]struct {
		user string
		pols []v1alpha1.TracePolicy
		want string
	}{
		"no policy":      {"x", nil, ""},
		"trusted sa":     {"system:serviceaccount:ci:deployer", []v1alpha1.TracePolicy{pol("prod", sa)}, "trusted submitter (TracePolicy prod)"},
		"untrusted user": {"bob", []v1alpha1.TracePolicy{pol("prod", sa)}, "NOT a trusted submitter of TracePolicy prod"},
		"groups only":    {"bob", []v1alpha1.TracePolicy{pol("prod", grp)}, "trust unknown: TracePolicy prod trusts groups, and group membership is not recorded"},
		"sa group":       {"system:serviceaccount:ci:x", []v1alpha1.TracePolicy{pol("prod", v1alpha1.Subject{Kind: v1alpha1.SubjectGroup, Name: "system:serviceaccounts:ci"})}, "trusted submitter (TracePolicy prod)"},
	} {
		if got := SubmitterTrust(tc.user, tc.pols); got != tc.want {
			t.Errorf("%s: %q, want %q", name, got, tc.want)
		}
	}
}

func TestArticle(t *testing.T) {
	for kind, want := range map[string]string{"Ingress": "an", "Deployment": "a", "": "a"} {
		if got := article(kind); got != want {
			t.Errorf("article(%q) = %q, want %q", kind, got, want)
		}
	}
}
