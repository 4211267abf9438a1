package revision

import (
	"context"
	"sort"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/policy"
	"github.com/kubetrail/kubetrail/internal/provenance"
)

func compiled(name string, spec v1alpha1.TracePolicySpec) *policy.Compiled {
	return policy.Compile(&v1alpha1.TracePolicy{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}, nil)
}

func object(ann map[string]string) map[string]interface{} {
	a := map[string]interface{}{}
	for k, v := range ann {
		a[k] = v
	}
	return map[string]interface{}{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]interface{}{"namespace": "team", "name": "sidecar-job", "annotations": a},
		"spec":     map[string]interface{}{"replicas": int64(1)},
	}
}

func pipelineAnnotations() map[string]string {
	return map[string]string{
		provenance.CommitKey: commitA, provenance.RepositoryKey: "https://github.com/acme/shop",
		provenance.PipelineRunKey: "run-1", provenance.ApproverKey: "alice, bob", provenance.ActorKey: "pipeline",
	}
}

func TestAudit(t *testing.T) {
	required := []v1alpha1.ProvenanceField{v1alpha1.FieldCommit, v1alpha1.FieldRepository, v1alpha1.FieldPipelineRun, v1alpha1.FieldApprover}
	auditAll := compiled("audit-all", v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeAudit, RequiredFields: required})
	trustsCI := compiled("trusts-ci", v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeAudit,
		TrustedSubmitters: []v1alpha1.Subject{{Kind: v1alpha1.SubjectUser, Name: "ci"}}})
	trustsGroup := compiled("trusts-group", v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeAudit,
		TrustedSubmitters: []v1alpha1.Subject{{Kind: v1alpha1.SubjectGroup, Name: "pipelines"}}})
	warnAll := compiled("warn-all", v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeWarn, RequiredFields: required})
	exemptMallory := compiled("exempt", v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeAudit, RequiredFields: required,
		Exempt: []v1alpha1.Subject{{Kind: v1alpha1.SubjectUser, Name: "mallory"}}})
	facts := func(by, digest string) v1alpha1.AdmissionFacts {
		return v1alpha1.AdmissionFacts{AdmittedBy: by, AdmittedAt: &t1, Digest: digest}
	}
	base := pipelineRevision()
	base.Provenance.Repository = "https://github.com/acme/shop"
	base.Provenance.Approver = "alice,bob"

	cases := map[string]struct {
		in    AuditInput
		paths []string // of the findings, sorted
		texts []string // each in some finding's message
		types []v1alpha1.FindingType
	}{
		"mallory creates with only actor: one finding per missing field": {
			in: AuditInput{Policies: []*policy.Compiled{auditAll}, Object: object(map[string]string{provenance.ActorKey: "human"}), Facts: facts("mallory", "sha256:1")},
			paths: []string{
				"/metadata/annotations/kubetrail.io~1approver", "/metadata/annotations/kubetrail.io~1commit",
				"/metadata/annotations/kubetrail.io~1pipeline-run", "/metadata/annotations/kubetrail.io~1repository",
			},
			texts: []string{"TracePolicy audit-all (Audit)", "submitted by mallory", "Enforce would deny it", "Required value"},
		},
		"a Warn policy records what it warned of": {
			in:    AuditInput{Policies: []*policy.Compiled{warnAll}, Object: object(map[string]string{provenance.CommitKey: commitA}), Facts: facts("mallory", "sha256:1")},
			paths: []string{"/metadata/annotations/kubetrail.io~1approver", "/metadata/annotations/kubetrail.io~1pipeline-run", "/metadata/annotations/kubetrail.io~1repository"},
			texts: []string{"(Warn)", "warning"},
		},
		"an untrusted submitter of provenance": {
			in:    AuditInput{Policies: []*policy.Compiled{trustsCI}, Object: object(pipelineAnnotations()), Facts: facts("mallory", "sha256:1")},
			paths: []string{"/metadata/annotations"},
			texts: []string{"mallory is not a trusted submitter"},
		},
		"an untrusted submitter changing content outside the pipeline": {
			in:    AuditInput{Policies: []*policy.Compiled{trustsCI}, Object: object(pipelineAnnotations()), Facts: facts("sre1", "sha256:2"), Base: base},
			paths: []string{"/spec"},
			texts: []string{"sre1 changed tracked content outside the pipeline"},
			types: []v1alpha1.FindingType{v1alpha1.FindingUntracedChange},
		},
		"a trusted submitter reusing the provenance of the revision before": {
			in:    AuditInput{Policies: []*policy.Compiled{auditAll}, Object: object(pipelineAnnotations()), Facts: facts("ci", "sha256:2"), Base: base},
			paths: []string{"/metadata/annotations/kubetrail.io~1commit"},
			texts: []string{"the same as the previous revision's"},
			types: []v1alpha1.FindingType{v1alpha1.FindingUntracedChange},
		},
		"the pipeline's next commit": {
			in: AuditInput{Policies: []*policy.Compiled{auditAll, trustsCI}, Facts: facts("ci", "sha256:2"), Base: base,
				Object: object(map[string]string{provenance.CommitKey: commitB, provenance.RepositoryKey: "https://github.com/acme/shop", provenance.PipelineRunKey: "run-2", provenance.ApproverKey: "alice"})},
		},
		"the same content again (provenance unchanged, content unchanged)": {
			in: AuditInput{Policies: []*policy.Compiled{auditAll, trustsCI}, Object: object(pipelineAnnotations()), Facts: facts("ci", "sha256:1"), Base: base},
		},
		"group trust is not recorded: never a false finding": {
			in: AuditInput{Policies: []*policy.Compiled{trustsGroup}, Object: object(pipelineAnnotations()), Facts: facts("ci-bot", "sha256:1")},
		},
		"break-glass by a group the record cannot tell: overridden, not 'got through'": {
			in: AuditInput{Facts: facts("sre1", "sha256:1"),
				Policies: []*policy.Compiled{compiled("enforce-all", v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, RequiredFields: required,
					BreakGlass: &v1alpha1.BreakGlass{Allowed: []v1alpha1.Subject{{Kind: v1alpha1.SubjectGroup, Name: "sre"}}}})},
				Object: object(map[string]string{provenance.BreakGlassKey: "INC-1 checkout down, rolling back by hand"})},
		},
		"an Enforce policy's violations that got through": {
			in:    AuditInput{Facts: facts("mallory", "sha256:1"), Policies: []*policy.Compiled{compiled("enforce-all", v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, RequiredFields: required[:1]})}, Object: object(nil)},
			paths: []string{"/metadata/annotations/kubetrail.io~1commit"},
			texts: []string{"(Enforce)", "admitted though Enforce denies it"},
		},
		"a signature required and missing": {
			in: AuditInput{Facts: facts("ci", "sha256:1"), Object: object(pipelineAnnotations()),
				Policies: []*policy.Compiled{compiled("signed", v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeAudit, RequiredFields: []v1alpha1.ProvenanceField{v1alpha1.FieldSignature}})}},
			paths: []string{"/metadata/annotations/kubetrail.io~1signature"},
			texts: []string{"a signature by a trusted key is required"},
		},
		"a signature that does not verify": {
			in: AuditInput{Facts: facts("ci", "sha256:1"),
				Object:   object(map[string]string{provenance.CommitKey: commitA, provenance.SignatureKey: "bm90IGEgc2lnbmF0dXJl"}),
				Policies: []*policy.Compiled{compiled("signed", v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeAudit, Signing: &v1alpha1.Signing{Required: true}})}},
			paths: []string{"/metadata/annotations/kubetrail.io~1signature"},
		},
		"a Secret's signature verdict stamped at admission stands": {
			in: AuditInput{Facts: facts("ci", "sha256:1"), MetadataOnly: true,
				Object:   object(map[string]string{provenance.CommitKey: commitA, provenance.SignatureKey: "bm90IGEgc2lnbmF0dXJl", provenance.VerifiedKey: "true"}),
				Policies: []*policy.Compiled{compiled("signed", v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeAudit, Signing: &v1alpha1.Signing{Required: true}})}},
		},
		"an exempt identity": {
			in: AuditInput{Policies: []*policy.Compiled{exemptMallory}, Object: object(nil), Facts: facts("mallory", "sha256:1")},
		},
		"the control plane": {
			in: AuditInput{Policies: []*policy.Compiled{auditAll}, Object: object(nil), Facts: facts("system:serviceaccount:kube-system:deployment-controller", "sha256:1")},
		},
		"malformed values are the invalid-provenance finding's, not repeated": {
			in: AuditInput{Policies: []*policy.Compiled{auditAll}, Facts: facts("ci", "sha256:1"),
				Object: object(map[string]string{provenance.CommitKey: "not-a-sha", provenance.RepositoryKey: "https://github.com/acme/shop", provenance.PipelineRunKey: "run-1", provenance.ApproverKey: "alice"})},
		},
		"no policy": {
			in: AuditInput{Object: object(nil), Facts: facts("mallory", "sha256:1")},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := Audit(context.Background(), tc.in)
			var paths []string
			for _, f := range got {
				paths = append(paths, f.Paths...)
				if f.IntroducedBy != tc.in.Origin {
					t.Errorf("IntroducedBy = %+v", f.IntroducedBy)
				}
			}
			sort.Strings(paths)
			if strings.Join(paths, " ") != strings.Join(tc.paths, " ") {
				t.Fatalf("paths = %v, want %v; findings %+v", paths, tc.paths, got)
			}
			for _, want := range tc.texts {
				found := false
				for _, f := range got {
					found = found || strings.Contains(f.Message, want)
				}
				if !found {
					t.Errorf("no finding says %q: %+v", want, got)
				}
			}
			for i, typ := range tc.types {
				if got[i].Type != typ {
					t.Errorf("finding %d is %s, want %s", i, got[i].Type, typ)
				}
			}
			again := Audit(context.Background(), tc.in)
			for i := range got {
				if got[i].ID != again[i].ID {
					t.Errorf("IDs not stable: %s, %s", got[i].ID, again[i].ID)
				}
			}
		})
	}
}
