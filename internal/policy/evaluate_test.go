package policy_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/policy"
	"github.com/kubetrail/kubetrail/internal/provenance"
	"github.com/kubetrail/kubetrail/internal/rbacrisk"
)

// Field paths as they appear in denials.
const (
	fCommit     = "metadata.annotations[kubetrail.io/commit]"
	fRepository = "metadata.annotations[kubetrail.io/repository]"
	fRun        = "metadata.annotations[kubetrail.io/pipeline-run]"
	fApprover   = "metadata.annotations[kubetrail.io/approver]"
	fActor      = "metadata.annotations[kubetrail.io/actor]"
	fSignature  = "metadata.annotations[kubetrail.io/signature]"
	fBreakGlass = "metadata.annotations[kubetrail.io/break-glass]"
	fTokenEnv   = "spec.template.spec.containers[app].env[GITHUB_TOKEN]"
)

// githubPAT is shaped like a real GitHub token (not an allowlisted example), split so
// that scanners of this repository do not flag it.
const githubPAT = "ghp_" + "R8xKq2LmN5vT9wYbC3dF6gH1jP4sZ7uE0aQi"

const incident = "INC-4711: checkout is down, hotfix cannot wait for CI"

func create(id policy.Identity, obj map[string]interface{}) policy.Input {
	return policy.Input{Create: true, Identity: id, Object: obj, ContentChanged: true, Now: now}
}

func update(id policy.Identity, obj, old map[string]interface{}, contentChanged bool) policy.Input {
	return policy.Input{Identity: id, Object: obj, OldObject: old, ContentChanged: contentChanged, Now: now}
}

func at(in policy.Input, t time.Time) policy.Input {
	in.Now = t
	return in
}

func withRisks(in policy.Input, risks ...rbacrisk.Risk) policy.Input {
	in.RBACRisks = risks
	return in
}

func roleBinding(ann map[string]string) map[string]interface{} {
	md := map[string]interface{}{"name": "deployer-admin", "namespace": "shop"}
	if ann != nil {
		a := map[string]interface{}{}
		for k, v := range ann {
			a[k] = v
		}
		md["annotations"] = a
	}
	return map[string]interface{}{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": md,
		"roleRef":  map[string]interface{}{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
		"subjects": []interface{}{map[string]interface{}{"kind": "ServiceAccount", "name": "deployer", "namespace": "shop"}},
	}
}

// inBerlin is a wall-clock time in Europe/Berlin.
func inBerlin(t *testing.T, year int, month time.Month, day, hour, min int) time.Time {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skipf("no time zone database: %v", err)
	}
	return time.Date(year, month, day, hour, min, 0, 0, loc)
}

func mtime(t time.Time) *metav1.Time { return &metav1.Time{Time: t} }

func TestEvaluate(t *testing.T) {
	k1, k2 := newKey(t), newKey(t)
	web := func(image string) func(map[string]string) map[string]interface{} {
		return func(a map[string]string) map[string]interface{} { return deployment(image, a) }
	}
	api := func(a map[string]string) map[string]interface{} {
		obj := deployment("nginx:1.27", a)
		obj["metadata"].(map[string]interface{})["name"] = "api"
		return obj
	}
	provA, provB := pipelineProvenance(commitA), pipelineProvenance(commitB)
	signedA := signed(t, k1, now.Add(time.Hour), provA, web("nginx:1.27"))
	signingPolicy := func(mode v1alpha1.PolicyMode, required bool) v1alpha1.TracePolicySpec {
		return v1alpha1.TracePolicySpec{Mode: mode, RequiredFields: requireAll, TrustedSubmitters: trustPipeline,
			Signing: &v1alpha1.Signing{Required: required, PublicKeys: []v1alpha1.PublicKey{{Name: "ci", PEM: k1.pub}}}}
	}
	enforce := func(fields ...v1alpha1.ProvenanceField) v1alpha1.TracePolicySpec {
		return v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, RequiredFields: fields}
	}
	audit := func(fields ...v1alpha1.ProvenanceField) v1alpha1.TracePolicySpec {
		return v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeAudit, RequiredFields: fields}
	}
	warn := func(fields ...v1alpha1.ProvenanceField) v1alpha1.TracePolicySpec {
		return v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeWarn, RequiredFields: fields}
	}
	pipelined := v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, RequiredFields: requireAll, TrustedSubmitters: trustPipeline}
	secrets := func(mode v1alpha1.PolicyMode, action v1alpha1.Action) v1alpha1.TracePolicySpec {
		s := pipelined
		s.Mode, s.SecretLiterals = mode, action
		return s
	}
	rbac := func(rule *v1alpha1.RBACEscalationRule) v1alpha1.TracePolicySpec {
		return v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, TrustedSubmitters: trustPipeline, RBACEscalation: rule,
			Signing: &v1alpha1.Signing{PublicKeys: []v1alpha1.PublicKey{{Name: "ci", PEM: k1.pub}}}}
	}
	breakGlass := func(mode v1alpha1.PolicyMode, bg *v1alpha1.BreakGlass) v1alpha1.TracePolicySpec {
		return v1alpha1.TracePolicySpec{Mode: mode, RequiredFields: requireAll, BreakGlass: bg}
	}
	freeze := func(mode v1alpha1.PolicyMode, w v1alpha1.ChangeWindow) v1alpha1.TracePolicySpec {
		s := pipelined
		s.Mode, s.ChangeWindows = mode, []v1alpha1.ChangeWindow{w}
		return s
	}
	blackFriday := v1alpha1.ChangeWindow{Name: "black-friday", Start: mtime(now.Add(-time.Hour)), End: mtime(now.Add(time.Hour))}
	weekend := v1alpha1.ChangeWindow{Name: "weekend", Weekly: &v1alpha1.WeeklyWindow{
		Days: []v1alpha1.Weekday{"Friday"}, Start: "16:00", Duration: metav1.Duration{Duration: 64 * time.Hour}, TimeZone: "Europe/Berlin"}}
	clusterAdmin := rbacrisk.Risk{Rule: rbacrisk.RuleClusterAdmin, Severity: rbacrisk.Critical, Scope: rbacrisk.ScopeCluster, Grant: "* *.*"}
	rbProv := with(provA, provenance.ApproverKey, "alice")
	rbSigned := signed(t, k1, now.Add(time.Hour), with(provA, provenance.ApproverKey, "alice,bob"), roleBinding)
	trusting := func(subjects ...v1alpha1.Subject) v1alpha1.TracePolicySpec {
		return v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, RequiredFields: requireAll, TrustedSubmitters: subjects}
	}
	allTrusted := trusting(
		v1alpha1.Subject{Kind: v1alpha1.SubjectUser, Name: "release-bot"},
		v1alpha1.Subject{Kind: v1alpha1.SubjectGroup, Name: "deployers"},
		v1alpha1.Subject{Kind: v1alpha1.SubjectServiceAccount, Namespace: "ci", Name: "deployer"},
		v1alpha1.Subject{Kind: v1alpha1.SubjectServiceAccount, Namespace: "gitops", Name: "*"},
	)
	required := []string{
		"InvalidProvenance " + fApprover + " (p0)", "InvalidProvenance " + fCommit + " (p0)",
		"InvalidProvenance " + fRun + " (p0)", "InvalidProvenance " + fRepository + " (p0)",
	}
	plus := func(list []string, more ...string) []string { return append(slices.Clone(list), more...) }

	tests := map[string]struct {
		policies []v1alpha1.TracePolicySpec
		in       policy.Input

		denied, warned, audited, overridden []string
		// msgs must each appear in some violation; secrets must appear in none, nor in a warning.
		msgs, secrets []string
		verified      bool
		keyID         string
		freeze        string
		breakGlass    string
		warnings      []string
		// problem is what Compile must report about the policies; "" means none.
		problem string
	}{
		// With no TracePolicy installed, kubetrail records but never denies.
		"no policies: an unstamped object passes silently": {
			in: create(human, deployment("nginx:1.27", nil)),
		},
		"no policies: bad formats are only warnings": {
			in:     create(human, deployment("nginx:1.27", with(provA, provenance.CommitKey, "abc123", provenance.ActorKey, "robot"))),
			warned: []string{"InvalidProvenance " + fActor + " ()", "InvalidProvenance " + fCommit + " ()"},
			msgs:   []string{"40 or 64 lowercase hex"},
		},
		"no policies: a forged signature, a short break-glass, a secret and cluster-admin are never denied": {
			in: withRisks(create(human, deployment("nginx:1.27", with(provA, provenance.SignatureKey, "bm90IGFuIGVudmVsb3Bl", provenance.BreakGlassKey, "now"),
				"GITHUB_TOKEN", githubPAT)), clusterAdmin),
			warned: []string{"InvalidProvenance " + fBreakGlass + " ()"},
		},

		// Modes route the same violation.
		"Enforce denies a missing required field": {
			policies: []v1alpha1.TracePolicySpec{enforce(v1alpha1.FieldCommit, v1alpha1.FieldApprover)},
			in:       create(human, deployment("nginx:1.27", nil)),
			denied:   []string{"InvalidProvenance " + fApprover + " (p0)", "InvalidProvenance " + fCommit + " (p0)"},
			msgs:     []string{"add kubetrail.io/commit with the full 40-hex commit SHA", "kubectl trail stamp", "TracePolicy p0"},
		},
		"Warn warns about it": {
			policies: []v1alpha1.TracePolicySpec{warn(v1alpha1.FieldCommit, v1alpha1.FieldApprover)},
			in:       create(human, deployment("nginx:1.27", nil)),
			warned:   []string{"InvalidProvenance " + fApprover + " (p0)", "InvalidProvenance " + fCommit + " (p0)"},
		},
		"Audit records it silently": {
			policies: []v1alpha1.TracePolicySpec{audit(v1alpha1.FieldCommit, v1alpha1.FieldApprover)},
			in:       create(human, deployment("nginx:1.27", nil)),
			audited:  []string{"InvalidProvenance " + fApprover + " (p0)", "InvalidProvenance " + fCommit + " (p0)"},
		},
		"Enforce denies a badly formatted field even when it is not required": {
			policies: []v1alpha1.TracePolicySpec{enforce()},
			in:       create(human, deployment("nginx:1.27", map[string]string{provenance.CommitKey: "HEAD"})),
			denied:   []string{"InvalidProvenance " + fCommit + " (p0)"},
		},
		"a whitespace-only required field is missing": {
			policies: []v1alpha1.TracePolicySpec{enforce(v1alpha1.FieldApprover)},
			in:       create(pipeline, deployment("nginx:1.27", with(provA, provenance.ApproverKey, "   "))),
			denied:   []string{"InvalidProvenance " + fApprover + " (p0)", "InvalidProvenance " + fApprover + " (p0)"},
			msgs:     []string{"must not be empty", "Required value"},
		},

		// Several policies: most restrictive wins, per violation.
		"Enforce and Audit raise the same violation: denied, naming both": {
			policies: []v1alpha1.TracePolicySpec{enforce(v1alpha1.FieldCommit), audit(v1alpha1.FieldCommit)},
			in:       create(human, deployment("nginx:1.27", nil)),
			denied:   []string{"InvalidProvenance " + fCommit + " (p0,p1)"},
			msgs:     []string{"TracePolicy p0,p1"},
		},
		"Audit listed before Enforce cannot soften it": {
			policies: []v1alpha1.TracePolicySpec{audit(v1alpha1.FieldCommit), enforce(v1alpha1.FieldCommit)},
			in:       create(human, deployment("nginx:1.27", nil)),
			denied:   []string{"InvalidProvenance " + fCommit + " (p0,p1)"},
		},
		"Warn and Audit raise the same violation: warned": {
			policies: []v1alpha1.TracePolicySpec{audit(v1alpha1.FieldCommit), warn(v1alpha1.FieldCommit)},
			in:       create(human, deployment("nginx:1.27", nil)),
			warned:   []string{"InvalidProvenance " + fCommit + " (p0,p1)"},
		},
		"each violation keeps the mode of the policies that raised it": {
			policies: []v1alpha1.TracePolicySpec{audit(v1alpha1.FieldApprover), enforce(v1alpha1.FieldCommit), warn(v1alpha1.FieldPipelineRun)},
			in:       create(human, deployment("nginx:1.27", nil)),
			denied:   []string{"InvalidProvenance " + fCommit + " (p1)"},
			warned:   []string{"InvalidProvenance " + fRun + " (p2)"},
			audited:  []string{"InvalidProvenance " + fApprover + " (p0)"},
		},

		// Required fields follow content, not every write.
		"an update that does not change tracked content is not asked for provenance again": {
			policies: []v1alpha1.TracePolicySpec{pipelined},
			in:       update(human, deployment("nginx:1.27", nil), deployment("nginx:1.27", nil), false),
		},
		"an update that changes content must carry the required fields": {
			policies: []v1alpha1.TracePolicySpec{enforce(requireAll...)},
			in:       update(pipeline, deployment("nginx:1.28", nil), deployment("nginx:1.27", nil), true),
			denied:   required,
		},

		// Trusted submitters.
		"a trusted service account may submit provenance": {
			policies: []v1alpha1.TracePolicySpec{allTrusted},
			in:       create(pipeline, deployment("nginx:1.27", provA)),
		},
		"a trusted user may submit provenance": {
			policies: []v1alpha1.TracePolicySpec{allTrusted},
			in:       create(policy.Identity{Username: "release-bot"}, deployment("nginx:1.27", provA)),
		},
		"a member of a trusted group may submit provenance": {
			policies: []v1alpha1.TracePolicySpec{allTrusted},
			in:       create(policy.Identity{Username: "carol", Groups: []string{"system:authenticated", "deployers"}}, deployment("nginx:1.27", provA)),
		},
		"any service account of a wildcard namespace may submit provenance": {
			policies: []v1alpha1.TracePolicySpec{allTrusted},
			in:       create(policy.Identity{Username: "system:serviceaccount:gitops:argocd-application-controller"}, deployment("nginx:1.27", provA)),
		},
		"the same service account name in another namespace may not": {
			policies: []v1alpha1.TracePolicySpec{allTrusted},
			in:       create(policy.Identity{Username: "system:serviceaccount:gitops-dev:argocd-application-controller"}, deployment("nginx:1.27", provA)),
			denied:   []string{"InvalidProvenance metadata.annotations (p0)"},
			msgs:     []string{"system:serviceaccount:gitops-dev:argocd-application-controller is not a trusted submitter"},
		},
		"a similarly named service account may not": {
			policies: []v1alpha1.TracePolicySpec{allTrusted},
			in:       create(policy.Identity{Username: "system:serviceaccount:ci:deployer-2"}, deployment("nginx:1.27", provA)),
			denied:   []string{"InvalidProvenance metadata.annotations (p0)"},
		},
		"a human may not set provenance": {
			policies: []v1alpha1.TracePolicySpec{allTrusted},
			in:       create(human, deployment("nginx:1.27", provA)),
			denied:   []string{"InvalidProvenance metadata.annotations (p0)"},
			msgs:     []string{"alice is not a trusted submitter of provenance", "spec.trustedSubmitters"},
		},
		"with no trusted submitters listed, anyone's provenance is taken": {
			policies: []v1alpha1.TracePolicySpec{enforce(requireAll...)},
			in:       create(human, deployment("nginx:1.27", provA)),
		},

		// Untraced changes.
		"a human editing traced content without new provenance is an untraced change": {
			policies: []v1alpha1.TracePolicySpec{pipelined},
			in:       update(human, deployment("nginx:1.28", provA), deployment("nginx:1.27", provA), true),
			denied:   []string{"UntracedChange spec (p0)"},
			msgs:     []string{"alice changed tracked content outside the pipeline", "kubetrail.io/break-glass"},
		},
		"a human relabelling a traced object is fine": {
			policies: []v1alpha1.TracePolicySpec{pipelined},
			in:       update(human, deployment("nginx:1.27", provA), deployment("nginx:1.27", provA), false),
		},
		"a human editing content and forging a new commit is an untrusted submitter": {
			policies: []v1alpha1.TracePolicySpec{pipelined},
			in:       update(human, deployment("nginx:1.28", provB), deployment("nginx:1.27", provA), true),
			denied:   []string{"InvalidProvenance metadata.annotations (p0)"},
		},
		"the pipeline changing content under the previous revision's provenance": {
			policies: []v1alpha1.TracePolicySpec{pipelined},
			in:       update(pipeline, deployment("nginx:1.28", provA), deployment("nginx:1.27", provA), true),
			denied:   []string{"UntracedChange " + fCommit + " (p0)"},
			msgs:     []string{"the provenance is the same as the previous revision's"},
		},
		"the pipeline changing content with a new commit": {
			policies: []v1alpha1.TracePolicySpec{pipelined},
			in:       update(pipeline, deployment("nginx:1.28", provB), deployment("nginx:1.27", provA), true),
		},
		"the pipeline re-applying the same content": {
			policies: []v1alpha1.TracePolicySpec{pipelined},
			in:       update(pipeline, deployment("nginx:1.27", provA), deployment("nginx:1.27", provA), false),
		},
		"the pipeline stamping a previously untraced object": {
			policies: []v1alpha1.TracePolicySpec{pipelined},
			in:       update(pipeline, deployment("nginx:1.28", provA), deployment("nginx:1.27", nil), true),
		},

		// Signatures.
		"a signature by a trusted key verifies": {
			policies: []v1alpha1.TracePolicySpec{signingPolicy(v1alpha1.ModeEnforce, true)},
			in:       create(pipeline, deployment("nginx:1.27", signedA)),
			verified: true, keyID: k1.id,
		},
		"a required signature that is absent": {
			policies: []v1alpha1.TracePolicySpec{signingPolicy(v1alpha1.ModeEnforce, true)},
			in:       create(pipeline, deployment("nginx:1.27", provA)),
			denied:   []string{"InvalidProvenance " + fSignature + " (p0)"},
			msgs:     []string{"a signature by a trusted key is required", "kubectl trail stamp --key"},
		},
		"signature required through requiredFields": {
			policies: []v1alpha1.TracePolicySpec{{Mode: v1alpha1.ModeEnforce, RequiredFields: []v1alpha1.ProvenanceField{v1alpha1.FieldSignature},
				Signing: &v1alpha1.Signing{PublicKeys: []v1alpha1.PublicKey{{Name: "ci", PEM: k1.pub}}}}},
			in:     create(pipeline, deployment("nginx:1.27", provA)),
			denied: []string{"InvalidProvenance " + fSignature + " (p0)"},
		},
		"an absent signature nobody requires": {
			policies: []v1alpha1.TracePolicySpec{signingPolicy(v1alpha1.ModeEnforce, false)},
			in:       create(pipeline, deployment("nginx:1.27", provA)),
		},
		"provenance changed after signing": {
			policies: []v1alpha1.TracePolicySpec{signingPolicy(v1alpha1.ModeEnforce, true)},
			in:       create(pipeline, deployment("nginx:1.27", with(signedA, provenance.CommitKey, commitB))),
			denied:   []string{"InvalidProvenance " + fSignature + " (p0)"},
			msgs:     []string{"does not cover this object's kubetrail.io/commit"},
		},
		"image changed after signing": {
			policies: []v1alpha1.TracePolicySpec{signingPolicy(v1alpha1.ModeEnforce, true)},
			in:       create(pipeline, deployment("nginx:1.28", signedA)),
			denied:   []string{"InvalidProvenance " + fSignature + " (p0)"},
			msgs:     []string{"signed content digest is"},
		},
		"a signature replayed from another object": {
			policies: []v1alpha1.TracePolicySpec{signingPolicy(v1alpha1.ModeEnforce, true)},
			in:       create(pipeline, deployment("nginx:1.27", signed(t, k1, now.Add(time.Hour), provA, api))),
			denied:   []string{"InvalidProvenance " + fSignature + " (p0)"},
			msgs:     []string{"does not cover this object's name"},
		},
		"an expired signature": {
			policies: []v1alpha1.TracePolicySpec{signingPolicy(v1alpha1.ModeEnforce, true)},
			in:       create(pipeline, deployment("nginx:1.27", signed(t, k1, now.Add(-time.Minute), provA, web("nginx:1.27")))),
			denied:   []string{"InvalidProvenance " + fSignature + " (p0)"},
			msgs:     []string{"has expired", "re-run the pipeline"},
		},
		"a signature by an untrusted key": {
			policies: []v1alpha1.TracePolicySpec{signingPolicy(v1alpha1.ModeEnforce, true)},
			in:       create(pipeline, deployment("nginx:1.27", signed(t, k2, now.Add(time.Hour), provA, web("nginx:1.27")))),
			denied:   []string{"InvalidProvenance " + fSignature + " (p0)"},
			msgs:     []string{"not signed by a trusted key", k2.id, "spec.signing.publicKeys"},
		},
		"a malformed signature": {
			policies: []v1alpha1.TracePolicySpec{signingPolicy(v1alpha1.ModeEnforce, true)},
			in:       create(pipeline, deployment("nginx:1.27", with(provA, provenance.SignatureKey, "%%% not base64 %%%"))),
			denied:   []string{"InvalidProvenance " + fSignature + " (p0)"},
			msgs:     []string{"malformed"},
		},
		"a signature that is there must hold even where none is required": {
			policies: []v1alpha1.TracePolicySpec{signingPolicy(v1alpha1.ModeEnforce, false)},
			in:       create(pipeline, deployment("nginx:1.27", with(signedA, provenance.ApproverKey, "alice,bob,mallory"))),
			denied:   []string{"InvalidProvenance " + fSignature + " (p0)"},
			msgs:     []string{"does not cover this object's kubetrail.io/approver"},
		},
		"a bad signature under Warn is a warning": {
			policies: []v1alpha1.TracePolicySpec{signingPolicy(v1alpha1.ModeWarn, true)},
			in:       create(pipeline, deployment("nginx:1.27", signed(t, k2, now.Add(time.Hour), provA, web("nginx:1.27")))),
			warned:   []string{"InvalidProvenance " + fSignature + " (p0)"},
		},
		"a signature is not re-checked when content did not change": {
			policies: []v1alpha1.TracePolicySpec{signingPolicy(v1alpha1.ModeEnforce, true)},
			in:       at(update(pipeline, deployment("nginx:1.27", signedA), deployment("nginx:1.27", signedA), false), now.Add(48*time.Hour)),
		},

		// Break-glass.
		"break-glass by an allowed identity turns denials into warnings": {
			policies:   []v1alpha1.TracePolicySpec{breakGlass(v1alpha1.ModeEnforce, sreMayBreak)},
			in:         create(sre, deployment("nginx:1.27", map[string]string{provenance.BreakGlassKey: incident})),
			overridden: required,
			breakGlass: incident,
			warnings:   []string{"admitted by break-glass", "4 violation(s) overridden"},
		},
		"break-glass by an identity that is not allowed is itself denied": {
			policies: []v1alpha1.TracePolicySpec{breakGlass(v1alpha1.ModeEnforce, sreMayBreak)},
			in:       create(human, deployment("nginx:1.27", map[string]string{provenance.BreakGlassKey: incident})),
			denied:   plus(required, "ManualOverride "+fBreakGlass+" (p0)"),
			msgs:     []string{"alice may not use break-glass under this policy"},
		},
		"break-glass under a policy that allows nobody": {
			policies: []v1alpha1.TracePolicySpec{breakGlass(v1alpha1.ModeEnforce, nil)},
			in:       create(sre, deployment("nginx:1.27", map[string]string{provenance.BreakGlassKey: incident})),
			denied:   plus(required, "ManualOverride "+fBreakGlass+" (p0)"),
		},
		"break-glass must be allowed by every enforcing policy": {
			policies: []v1alpha1.TracePolicySpec{breakGlass(v1alpha1.ModeEnforce, sreMayBreak), breakGlass(v1alpha1.ModeEnforce, nil)},
			in:       create(sre, deployment("nginx:1.27", map[string]string{provenance.BreakGlassKey: incident})),
			denied: []string{
				"InvalidProvenance " + fApprover + " (p0,p1)", "InvalidProvenance " + fCommit + " (p0,p1)",
				"InvalidProvenance " + fRun + " (p0,p1)", "InvalidProvenance " + fRepository + " (p0,p1)",
				"ManualOverride " + fBreakGlass + " (p1)",
			},
		},
		"an auditing policy has nothing to override and does not block break-glass": {
			policies: []v1alpha1.TracePolicySpec{breakGlass(v1alpha1.ModeEnforce, sreMayBreak), breakGlass(v1alpha1.ModeAudit, nil)},
			in:       create(sre, deployment("nginx:1.27", map[string]string{provenance.BreakGlassKey: incident})),
			overridden: []string{
				"InvalidProvenance " + fApprover + " (p0,p1)", "InvalidProvenance " + fCommit + " (p0,p1)",
				"InvalidProvenance " + fRun + " (p0,p1)", "InvalidProvenance " + fRepository + " (p0,p1)",
			},
			breakGlass: incident,
			warnings:   []string{"4 violation(s) overridden"},
		},
		"break-glass lets an allowed identity through a freeze": {
			policies:   []v1alpha1.TracePolicySpec{{Mode: v1alpha1.ModeEnforce, BreakGlass: sreMayBreak, ChangeWindows: []v1alpha1.ChangeWindow{blackFriday}}},
			in:         create(sre, deployment("nginx:1.27", map[string]string{provenance.BreakGlassKey: incident})),
			overridden: []string{"ChangeWindowViolation metadata (p0)"},
			freeze:     "black-friday",
			breakGlass: incident,
			warnings:   []string{"1 violation(s) overridden"},
		},
		"a break-glass reason that is not a reason does not override": {
			policies: []v1alpha1.TracePolicySpec{breakGlass(v1alpha1.ModeEnforce, sreMayBreak)},
			in:       create(sre, deployment("nginx:1.27", map[string]string{provenance.BreakGlassKey: "because"})),
			denied:   plus(required, "InvalidProvenance "+fBreakGlass+" (p0)"),
			msgs:     []string{"at least 10 characters"},
		},

		// Freezes.
		"a one-off freeze denies a content change": {
			policies: []v1alpha1.TracePolicySpec{freeze(v1alpha1.ModeEnforce, blackFriday)},
			in:       create(pipeline, deployment("nginx:1.27", provA)),
			denied:   []string{"ChangeWindowViolation metadata (p0)"},
			freeze:   "black-friday",
			msgs:     []string{`change window "black-friday" is frozen now`, "kubetrail.io/break-glass"},
		},
		"a one-off freeze ends at its end": {
			policies: []v1alpha1.TracePolicySpec{freeze(v1alpha1.ModeEnforce, blackFriday)},
			in:       at(create(pipeline, deployment("nginx:1.27", provA)), now.Add(time.Hour)),
		},
		"a one-off freeze starts at its start": {
			policies: []v1alpha1.TracePolicySpec{freeze(v1alpha1.ModeEnforce, blackFriday)},
			in:       at(create(pipeline, deployment("nginx:1.27", provA)), now.Add(-time.Hour)),
			denied:   []string{"ChangeWindowViolation metadata (p0)"},
			freeze:   "black-friday",
		},
		"a freeze does not stop changes that leave content alone": {
			policies: []v1alpha1.TracePolicySpec{freeze(v1alpha1.ModeEnforce, blackFriday)},
			in:       update(pipeline, deployment("nginx:1.27", provA), deployment("nginx:1.27", provA), false),
		},
		"a freeze under Warn warns": {
			policies: []v1alpha1.TracePolicySpec{freeze(v1alpha1.ModeWarn, blackFriday)},
			in:       create(pipeline, deployment("nginx:1.27", provA)),
			warned:   []string{"ChangeWindowViolation metadata (p0)"},
			freeze:   "black-friday",
		},
		"a weekend freeze in Berlin holds on Sunday noon": {
			policies: []v1alpha1.TracePolicySpec{freeze(v1alpha1.ModeEnforce, weekend)},
			in:       at(create(pipeline, deployment("nginx:1.27", provA)), inBerlin(t, 2026, 11, 29, 12, 0)),
			denied:   []string{"ChangeWindowViolation metadata (p0)"},
			freeze:   "weekend",
		},
		"the weekend freeze is over on Monday 09:00 Berlin": {
			policies: []v1alpha1.TracePolicySpec{freeze(v1alpha1.ModeEnforce, weekend)},
			in:       at(create(pipeline, deployment("nginx:1.27", provA)), inBerlin(t, 2026, 11, 30, 9, 0)),
		},
		"one broken window does not disable the others": {
			policies: []v1alpha1.TracePolicySpec{{Mode: v1alpha1.ModeEnforce, ChangeWindows: []v1alpha1.ChangeWindow{
				{Name: "typo", Weekly: &v1alpha1.WeeklyWindow{Days: []v1alpha1.Weekday{"Friday"}, Start: "16:00", Duration: metav1.Duration{Duration: time.Hour}, TimeZone: "Europe/Berln"}},
				blackFriday,
			}}},
			in:      create(pipeline, deployment("nginx:1.27", provA)),
			denied:  []string{"ChangeWindowViolation metadata (p0)"},
			freeze:  "black-friday",
			problem: `spec.changeWindows[0].weekly.timeZone: Invalid value: "Europe/Berln": is not an IANA time zone`,
		},

		// Secret literals.
		"a credential under secretLiterals Deny is denied, without the value": {
			policies: []v1alpha1.TracePolicySpec{secrets(v1alpha1.ModeEnforce, v1alpha1.ActionDeny)},
			in:       create(pipeline, deployment("nginx:1.27", provA, "GITHUB_TOKEN", githubPAT)),
			denied:   []string{"SecretExposure " + fTokenEnv + " (p0)"},
			msgs:     []string{"looks like a credential", "github-pat", "fingerprint sha256:", "secretKeyRef"},
			secrets:  []string{githubPAT, githubPAT[4:20]},
		},
		"secretLiterals Warn under an Enforce policy only warns": {
			policies: []v1alpha1.TracePolicySpec{secrets(v1alpha1.ModeEnforce, v1alpha1.ActionWarn)},
			in:       create(pipeline, deployment("nginx:1.27", provA, "GITHUB_TOKEN", githubPAT)),
			warned:   []string{"SecretExposure " + fTokenEnv + " (p0)"},
			secrets:  []string{githubPAT},
		},
		"secretLiterals defaults to Warn": {
			policies: []v1alpha1.TracePolicySpec{secrets(v1alpha1.ModeEnforce, "")},
			in:       create(pipeline, deployment("nginx:1.27", provA, "GITHUB_TOKEN", githubPAT)),
			warned:   []string{"SecretExposure " + fTokenEnv + " (p0)"},
		},
		"secretLiterals Ignore": {
			policies: []v1alpha1.TracePolicySpec{secrets(v1alpha1.ModeEnforce, v1alpha1.ActionIgnore)},
			in:       create(pipeline, deployment("nginx:1.27", provA, "GITHUB_TOKEN", githubPAT)),
		},
		"secretLiterals Deny under Audit only records": {
			policies: []v1alpha1.TracePolicySpec{secrets(v1alpha1.ModeAudit, v1alpha1.ActionDeny)},
			in:       create(pipeline, deployment("nginx:1.27", provA, "GITHUB_TOKEN", githubPAT)),
			audited:  []string{"SecretExposure " + fTokenEnv + " (p0)"},
		},
		"secretLiterals Deny and Warn from two policies: denied": {
			policies: []v1alpha1.TracePolicySpec{secrets(v1alpha1.ModeEnforce, v1alpha1.ActionWarn), secrets(v1alpha1.ModeEnforce, v1alpha1.ActionDeny)},
			in:       create(pipeline, deployment("nginx:1.27", provA, "GITHUB_TOKEN", githubPAT)),
			denied:   []string{"SecretExposure " + fTokenEnv + " (p0,p1)"},
		},
		"a harmless env value is no finding": {
			policies: []v1alpha1.TracePolicySpec{secrets(v1alpha1.ModeEnforce, v1alpha1.ActionDeny)},
			in:       create(pipeline, deployment("nginx:1.27", provA, "LOG_LEVEL", "debug")),
		},

		// RBAC escalations.
		"cluster-admin with one approver needs two by default": {
			policies: []v1alpha1.TracePolicySpec{rbac(nil)},
			in:       withRisks(create(pipeline, roleBinding(rbProv)), clusterAdmin),
			denied:   []string{"RBACEscalation roleRef (p0)"},
			msgs:     []string{"Critical cluster-admin at cluster", "2 distinct approvers in kubetrail.io/approver (it has 1)"},
		},
		"cluster-admin with two approvers": {
			policies: []v1alpha1.TracePolicySpec{rbac(nil)},
			in:       withRisks(create(pipeline, roleBinding(with(rbProv, provenance.ApproverKey, "alice,bob"))), clusterAdmin),
		},
		"the same approver twice is one approver": {
			policies: []v1alpha1.TracePolicySpec{rbac(nil)},
			in:       withRisks(create(pipeline, roleBinding(with(rbProv, provenance.ApproverKey, "alice, alice,"))), clusterAdmin),
			denied:   []string{"RBACEscalation roleRef (p0)"},
		},
		"minApprovers 3": {
			policies: []v1alpha1.TracePolicySpec{rbac(&v1alpha1.RBACEscalationRule{Action: v1alpha1.ActionDeny, MinApprovers: 3})},
			in:       withRisks(create(pipeline, roleBinding(with(rbProv, provenance.ApproverKey, "alice,bob"))), clusterAdmin),
			denied:   []string{"RBACEscalation roleRef (p0)"},
			msgs:     []string{"3 distinct approvers in kubetrail.io/approver (it has 2)"},
		},
		"requireSignature without a verified signature": {
			policies: []v1alpha1.TracePolicySpec{rbac(&v1alpha1.RBACEscalationRule{Action: v1alpha1.ActionDeny, MinApprovers: 2, RequireSignature: true})},
			in:       withRisks(create(pipeline, roleBinding(with(rbProv, provenance.ApproverKey, "alice,bob"))), clusterAdmin),
			denied:   []string{"RBACEscalation roleRef (p0)"},
			msgs:     []string{"a signature by a trusted key"},
		},
		"requireSignature with a verified signature": {
			policies: []v1alpha1.TracePolicySpec{rbac(&v1alpha1.RBACEscalationRule{Action: v1alpha1.ActionDeny, MinApprovers: 2, RequireSignature: true})},
			in:       withRisks(create(pipeline, roleBinding(rbSigned)), clusterAdmin),
			verified: true, keyID: k1.id,
		},
		"an RBAC escalation under action Warn only warns": {
			policies: []v1alpha1.TracePolicySpec{rbac(&v1alpha1.RBACEscalationRule{Action: v1alpha1.ActionWarn, MinApprovers: 2})},
			in:       withRisks(create(pipeline, roleBinding(rbProv)), clusterAdmin),
			warned:   []string{"RBACEscalation roleRef (p0)"},
		},
		"an RBAC escalation under action Ignore": {
			policies: []v1alpha1.TracePolicySpec{rbac(&v1alpha1.RBACEscalationRule{Action: v1alpha1.ActionIgnore, MinApprovers: 2})},
			in:       withRisks(create(pipeline, roleBinding(rbProv)), clusterAdmin),
		},
		"minApprovers 0 asks for none": {
			policies: []v1alpha1.TracePolicySpec{rbac(&v1alpha1.RBACEscalationRule{Action: v1alpha1.ActionDeny})},
			in:       withRisks(create(pipeline, roleBinding(rbProv)), clusterAdmin),
		},
		"no risky grant, no approvers needed": {
			policies: []v1alpha1.TracePolicySpec{rbac(nil)},
			in:       create(pipeline, roleBinding(rbProv)),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			policies, problems := compile(tc.policies...)
			if tc.problem == "" && len(problems) > 0 || tc.problem != "" && !strings.Contains(strings.Join(problems, "\n"), tc.problem) {
				t.Fatalf("Compile problems %q, want %q", problems, tc.problem)
			}
			d := policy.Evaluate(context.Background(), policies, tc.in)
			for _, b := range []struct {
				name      string
				got, want []string
			}{
				{"Denied", summary(d.Denied), tc.denied},
				{"Warned", summary(d.Warned), tc.warned},
				{"Audited", summary(d.Audited), tc.audited},
				{"Overridden", summary(d.Overridden), tc.overridden},
			} {
				want := slices.Clone(b.want)
				slices.Sort(want)
				if !slices.Equal(b.got, want) {
					t.Errorf("%s =\n\t%s\nwant\n\t%s", b.name, strings.Join(b.got, "\n\t"), strings.Join(want, "\n\t"))
				}
			}
			if got, want := d.Allowed(), len(tc.denied) == 0; got != want {
				t.Errorf("Allowed() = %v, want %v", got, want)
			}
			all := slices.Concat(d.Denied, d.Warned, d.Audited, d.Overridden)
			var text []string
			for _, v := range all {
				text = append(text, v.String())
			}
			joined := strings.Join(append(text, d.Warnings...), "\n")
			for _, m := range tc.msgs {
				if !strings.Contains(joined, m) {
					t.Errorf("no violation says %q:\n%s", m, joined)
				}
			}
			for _, s := range tc.secrets {
				if strings.Contains(joined, s) {
					t.Errorf("a violation or warning reveals the secret %q:\n%s", s, joined)
				}
			}
			if d.Verified != tc.verified || d.KeyID != tc.keyID {
				t.Errorf("Verified, KeyID = %v, %q; want %v, %q", d.Verified, d.KeyID, tc.verified, tc.keyID)
			}
			if d.Freeze != tc.freeze {
				t.Errorf("Freeze = %q, want %q", d.Freeze, tc.freeze)
			}
			if d.BreakGlass != tc.breakGlass {
				t.Errorf("BreakGlass = %q, want %q", d.BreakGlass, tc.breakGlass)
			}
			warnings := strings.Join(d.Warnings, "\n")
			for _, w := range tc.warnings {
				if !strings.Contains(warnings, w) {
					t.Errorf("Warnings %q do not say %q", d.Warnings, w)
				}
			}
			if len(tc.warnings) == 0 && len(d.Warnings) > 0 {
				t.Errorf("unexpected Warnings %q", d.Warnings)
			}
		})
	}
}
