package revision

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/findings"
	"github.com/kubetrail/kubetrail/internal/policy"
	"github.com/kubetrail/kubetrail/internal/provenance"
)

// AuditInput is one admitted revision as the reconciler knows it, to be judged again
// by the policies that select it.
type AuditInput struct {
	// Policies select the object.
	Policies []*policy.Compiled
	// Object is the live object's content; its annotations carry the stamped facts.
	Object map[string]interface{}
	// MetadataOnly is true when Object holds metadata only (Secrets): a signature
	// cannot be verified against it, and the stamped kubetrail.io/verified stands.
	MetadataOnly bool
	// Facts are the revision's admission facts (admittedBy, admittedAt, digest).
	Facts v1alpha1.AdmissionFacts
	// Base is the traced revision before it (nil: the object was created with it).
	Base *v1alpha1.Revision
	// Origin is the change the findings are introduced by.
	Origin v1alpha1.ChangeOrigin
}

// auditedTypes are the violations recorded here. The others have findings of their
// own in every mode (SecretExposure, RBACEscalation, ChangeWindowViolation,
// ManualOverride from their reconcile steps), and formats are the InvalidProvenance
// finding "invalid-provenance".
var auditedTypes = map[v1alpha1.FindingType]bool{
	v1alpha1.FindingInvalidProvenance: true,
	v1alpha1.FindingUntracedChange:    true,
}

// Audit evaluates the policies that select an admitted revision with
// policy.Evaluate, the validating webhook's decision, as the webhook saw the request:
// the submitter (admitted-by), the time of admission, the object as stored and the
// provenance of the revision before. Each violation of a required field, a trusted
// submitter, a signature or a reused provenance becomes a finding, in every mode: an
// Audit policy records what Enforce would have denied, a Warn policy what it warned
// of, an Enforce policy what got through anyway (the webhook was down or bypassed).
//
// What admission knew and the reconciler does not is resolved in the submitter's
// favour, so no finding is false: group memberships are not recorded, so a policy
// that trusts, exempts or allows to break glass groups the username does not imply
// does so for it;
// system identities are never judged, as at admission.
func Audit(ctx context.Context, in AuditInput) []v1alpha1.Finding {
	if len(in.Policies) == 0 || in.Facts.AdmittedBy == "" || in.Facts.AdmittedAt == nil {
		return nil
	}
	id := impliedIdentity(in.Facts.AdmittedBy)
	if policy.IsSystem(id) {
		return nil
	}
	var ps []*policy.Compiled
	for _, p := range in.Policies {
		if policy.MatchesAny(p.Spec.Exempt, id) || groupsUnknown(p.Spec.Exempt, id) {
			continue
		}
		c := *p
		// Credentials and RBAC have findings of their own: never scan again here.
		c.Spec.SecretLiterals = v1alpha1.ActionIgnore
		self := v1alpha1.Subject{Kind: v1alpha1.SubjectUser, Name: id.Username}
		if groupsUnknown(p.Spec.TrustedSubmitters, id) {
			c.Spec.TrustedSubmitters = append(append([]v1alpha1.Subject(nil), p.Spec.TrustedSubmitters...), self)
		}
		if bg := p.Spec.BreakGlass; bg != nil && groupsUnknown(bg.Allowed, id) {
			allowed := *bg
			allowed.Allowed = append(append([]v1alpha1.Subject(nil), bg.Allowed...), self)
			c.Spec.BreakGlass = &allowed
		}
		ps = append(ps, &c)
	}
	if len(ps) == 0 {
		return nil
	}
	ann := policy.AnnotationsOf(in.Object)
	pin := policy.Input{
		Create:         in.Base == nil,
		Identity:       id,
		Object:         in.Object,
		ContentChanged: in.Base == nil || in.Base.Admission.Digest != in.Facts.Digest,
		Now:            in.Facts.AdmittedAt.Time,
	}
	if in.Base != nil {
		pin.OldObject = map[string]interface{}{"metadata": map[string]interface{}{"annotations": previousAnnotations(in.Base.Provenance, ann)}}
	}
	d := policy.Evaluate(ctx, ps, pin)

	formats := map[string]bool{}
	for _, e := range provenance.Validate(ann, field.NewPath("metadata", "annotations")) {
		formats[e.Error()] = true
	}
	sigPath := field.NewPath("metadata", "annotations").Key(provenance.SignatureKey).String()
	verifiedStamp := ann[provenance.VerifiedKey] == "true"
	var out []v1alpha1.Finding
	add := func(vs []policy.Violation, how string) {
		for _, v := range vs {
			if !auditedTypes[v.Type] || formats[v.Err.Error()] {
				continue
			}
			if in.MetadataOnly && verifiedStamp && v.Err.Field == sigPath {
				continue
			}
			out = append(out, auditFinding(v, how, in))
		}
	}
	add(d.Audited, "admitted under Audit; Enforce would deny it")
	add(d.Warned, "admitted with a warning under Warn")
	add(d.Denied, "admitted though Enforce denies it (the webhook was down or bypassed)")
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func auditFinding(v policy.Violation, how string, in AuditInput) v1alpha1.Finding {
	names := append([]string(nil), v.Policies...)
	sort.Strings(names)
	at := in.Facts.AdmittedAt.UTC().Format(time.RFC3339)
	severity := v1alpha1.SeverityMedium
	if v.Mode == v1alpha1.ModeEnforce {
		severity = v1alpha1.SeverityHigh
	}
	return v1alpha1.Finding{
		ID:       findings.ID("policy", strings.Join(names, ","), string(v.Type), v.Err.Error(), in.Facts.Digest, at),
		Type:     v.Type,
		Severity: severity,
		Message: fmt.Sprintf("TracePolicy %s (%s): %s; submitted by %s at %s, %s",
			strings.Join(names, ","), v.Mode, v.Err.Error(), in.Facts.AdmittedBy, at, how),
		Paths:        []string{findings.LocationPointer(v.Err.Field)},
		Rule:         "policy:" + strings.Join(names, ","),
		IntroducedBy: in.Origin,
	}
}

// impliedIdentity is the identity of a username with the groups it implies: a
// ServiceAccount's groups, and system:authenticated. Other memberships were not
// recorded at admission.
func impliedIdentity(username string) policy.Identity {
	id := policy.Identity{Username: username}
	if username == "system:anonymous" {
		return id
	}
	if rest, ok := strings.CutPrefix(username, "system:serviceaccount:"); ok {
		if ns, _, ok := strings.Cut(rest, ":"); ok && ns != "" {
			id.Groups = append(id.Groups, "system:serviceaccounts", "system:serviceaccounts:"+ns)
		}
	}
	id.Groups = append(id.Groups, "system:authenticated")
	return id
}

// groupsUnknown reports whether subjects do not name id but name a group id may belong
// to without the record knowing.
func groupsUnknown(subjects []v1alpha1.Subject, id policy.Identity) bool {
	if policy.MatchesAny(subjects, id) {
		return false
	}
	for _, s := range subjects {
		if s.Kind == v1alpha1.SubjectGroup {
			return true
		}
	}
	return false
}

// previousAnnotations are the provenance annotations of the revision before, as
// policy.Evaluate compares them with the new ones. The record keeps that revision's
// provenance in its bounded form (approvers normalised, no signature): a value the
// record holds as the live one is taken as the live spelling, and the signature as
// unchanged when every signed value is, so that the same provenance compares equal.
func previousAnnotations(p v1alpha1.Provenance, live map[string]string) map[string]interface{} {
	was := map[string]string{
		provenance.CommitKey:      p.Commit,
		provenance.RepositoryKey:  p.Repository,
		provenance.PullRequestKey: p.PullRequest,
		provenance.PipelineRunKey: p.PipelineRun,
		provenance.ApproverKey:    p.Approver,
		provenance.ActorKey:       string(p.Actor),
		provenance.AgentKey:       p.Agent,
		provenance.SourceKey:      p.Source,
		provenance.PathKey:        p.Path,
	}
	out := map[string]interface{}{}
	same := true
	for _, k := range provenance.SignedKeys {
		v, now := was[k], live[k]
		recorded := now
		if len(recorded) > provenance.MaxValueLength {
			recorded = recorded[:provenance.MaxValueLength]
		}
		if k == provenance.ApproverKey {
			recorded = strings.Join(provenance.SplitApprovers(now), ",")
		}
		switch {
		case v == recorded:
			v = now
		default:
			same = false
		}
		if v != "" {
			out[k] = v
		}
	}
	if sig := live[provenance.SignatureKey]; same && sig != "" {
		out[provenance.SignatureKey] = sig
	}
	return out
}
