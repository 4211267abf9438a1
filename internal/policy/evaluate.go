package policy

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/provenance"
	"github.com/kubetrail/kubetrail/internal/rbacrisk"
	"github.com/kubetrail/kubetrail/internal/signing"
)

// Input is one admission request, with what the webhook resolved for it.
type Input struct {
	// Create is true for CREATE, false for UPDATE.
	Create bool
	// Identity sent the request.
	Identity Identity
	// Object is the object as it will be stored; OldObject the stored one (updates).
	Object, OldObject map[string]interface{}
	// ContentChanged is true when the tracked content differs from OldObject (always
	// true on create).
	ContentChanged bool
	// RBACRisks are risky permissions the change grants that were not granted before.
	RBACRisks []rbacrisk.Risk
	// Now is the admission time.
	Now time.Time
	// DryRun is true for a dry-run request, which stores nothing. An unsigned object
	// is then judged as if it were signed (with a warning): `kubectl trail stamp
	// --server-dry-run` sends the object unsigned to learn the content to sign.
	DryRun bool
}

// Violation is one way the change falls short of one or more policies.
type Violation struct {
	// Type is the finding type the reconciler records for it.
	Type v1alpha1.FindingType
	// Err names the field, what is wrong and how to fix it.
	Err *field.Error
	// Mode is the most restrictive mode of the policies that raised it.
	Mode v1alpha1.PolicyMode
	// Policies are the names of the policies that raised it.
	Policies []string
}

func (v Violation) String() string {
	return fmt.Sprintf("%s (TracePolicy %s)", v.Err.Error(), strings.Join(v.Policies, ","))
}

// Decision is what admission does.
type Decision struct {
	// Denied are violations of Enforce policies; any means the request is denied.
	Denied []Violation
	// Warned are violations the client is warned about.
	Warned []Violation
	// Audited are violations admitted silently for the reconciler to record.
	Audited []Violation
	// BreakGlass is the override reason when break-glass turned denials into warnings.
	BreakGlass string
	// Overridden are the violations break-glass let through.
	Overridden []Violation
	// Freeze names the change window the request fell in, if any.
	Freeze string
	// Verified is true when the signature verified against a trusted key.
	Verified bool
	// KeyID is the key that verified it.
	KeyID string
	// Warnings are notes for the client that are not violations.
	Warnings []string
}

// Allowed reports whether the request is admitted.
func (d Decision) Allowed() bool { return len(d.Denied) == 0 }

var annotationsPath = field.NewPath("metadata", "annotations")

// Evaluate decides a request under the policies that select its object. Exempt
// identities and controller-owned objects must be filtered out before; with no
// policies, only formats are checked, and only as warnings.
func Evaluate(ctx context.Context, policies []*Compiled, in Input) Decision {
	ann := AnnotationsOf(in.Object)
	var d Decision
	raised := map[string]*Violation{}
	var order []string
	raise := func(p *Compiled, mode v1alpha1.PolicyMode, t v1alpha1.FindingType, err *field.Error) {
		key := string(t) + "\x00" + err.Error()
		v, ok := raised[key]
		if !ok {
			v = &Violation{Type: t, Err: err, Mode: mode}
			raised[key] = v
			order = append(order, key)
		} else if restrictiveness(mode) > restrictiveness(v.Mode) {
			v.Mode = mode
		}
		if p != nil {
			v.Policies = append(v.Policies, p.Name)
		}
	}

	formatErrs := provenance.Validate(ann, annotationsPath)
	if len(policies) == 0 {
		for _, e := range formatErrs {
			raise(nil, v1alpha1.ModeWarn, v1alpha1.FindingInvalidProvenance, e)
		}
	}

	// Signature: verified once against every trusted key of the selecting policies.
	var sigErr error
	var signed signing.Statement
	sig := ann[provenance.SignatureKey]
	if sig != "" {
		keys := Keys(policies)
		var v signing.Verified
		v, sigErr = signing.VerifyStatement(ctx, sig, signing.StatementOf(in.Object), keys, in.Now)
		d.KeyID, signed, d.Verified = v.KeyID, v.Statement, sigErr == nil
	}
	// What a signature would satisfy is not required of an unsigned dry run.
	assumeSigned := in.DryRun && sig == ""
	if assumeSigned && len(policies) > 0 {
		d.Warnings = append(d.Warnings, "kubetrail: dry run of an unsigned object: judged as if a trusted key had signed it")
	}

	oldAnn := AnnotationsOf(in.OldObject)
	provenanceChanged := in.Create && hasAnyProvenance(ann) || !sameProvenance(ann, oldAnn)
	breakGlass := strings.TrimSpace(ann[provenance.BreakGlassKey])
	secrets := secretScan(ctx, in)

	for _, p := range policies {
		mode := p.Spec.Mode
		for _, e := range formatErrs {
			raise(p, mode, v1alpha1.FindingInvalidProvenance, e)
		}
		trusted := len(p.Spec.TrustedSubmitters) == 0 || MatchesAny(p.Spec.TrustedSubmitters, in.Identity)
		if provenanceChanged && !trusted {
			raise(p, mode, v1alpha1.FindingInvalidProvenance, field.Forbidden(annotationsPath,
				fmt.Sprintf("%s is not a trusted submitter of provenance: only the pipeline identities listed in the policy's spec.trustedSubmitters may set kubetrail.io/* annotations; deploy through the pipeline", in.Identity.Username)))
		}
		if in.ContentChanged {
			if !in.Create && !trusted && !provenanceChanged {
				raise(p, mode, v1alpha1.FindingUntracedChange, field.Forbidden(field.NewPath("spec"),
					fmt.Sprintf("%s changed tracked content outside the pipeline: changes must come from a trusted submitter with new provenance (commit the change and let the pipeline apply it), or carry a kubetrail.io/break-glass reason", in.Identity.Username)))
			}
			for _, f := range p.Spec.RequiredFields {
				if f == v1alpha1.FieldSignature {
					continue // checked with signing below
				}
				key := annotationKey(f)
				switch {
				case strings.TrimSpace(ann[key]) == "":
					raise(p, mode, v1alpha1.FindingInvalidProvenance, field.Required(annotationsPath.Key(key), requiredHint(f)))
				case f == v1alpha1.FieldApprover && len(p.Spec.AllowedApprovers) > 0:
					if ap := CountApprovers(ann[key], p.Spec.AllowedApprovers); len(ap.Counted) == 0 {
						raise(p, mode, v1alpha1.FindingInvalidProvenance, field.Invalid(annotationsPath.Key(key), ann[key],
							"names none of the policy's allowed approvers (spec.allowedApprovers): the change must be approved by one of them"))
					}
				}
			}
			if !in.Create && trusted && len(p.Spec.RequiredFields) > 0 && hasAnyProvenance(oldAnn) && !provenanceChanged {
				raise(p, mode, v1alpha1.FindingUntracedChange, field.Invalid(annotationsPath.Key(provenance.CommitKey), ann[provenance.CommitKey],
					"the tracked content changed but the provenance is the same as the previous revision's: stamp the change with its own commit and pipeline run"))
			}
			signatureRequired := contains(asStrings(p.Spec.RequiredFields), string(v1alpha1.FieldSignature)) || (p.Spec.Signing != nil && p.Spec.Signing.Required)
			switch {
			// A signature is judged only by a policy that has keys to judge it with or
			// asks for one; elsewhere an unverifiable signature is just not verified.
			case sigErr != nil && (len(p.Keys) > 0 || signatureRequired):
				raise(p, mode, v1alpha1.FindingInvalidProvenance, field.Invalid(annotationsPath.Key(provenance.SignatureKey), "<signature>", signatureHint(sigErr)))
			case d.Verified && (len(p.Keys) > 0 || signatureRequired):
				// The signature binds this content; whether it was made for this
				// cluster, and for how long, is this policy's to say.
				if err := signingRules(p, signed, in.Now); err != nil {
					raise(p, mode, v1alpha1.FindingInvalidProvenance, field.Invalid(annotationsPath.Key(provenance.SignatureKey), "<signature>", err.Error()))
				}
			case signatureRequired && !d.Verified && !assumeSigned:
				raise(p, mode, v1alpha1.FindingInvalidProvenance, field.Required(annotationsPath.Key(provenance.SignatureKey),
					"a signature by a trusted key is required: sign in the pipeline with `kubectl trail stamp --key <private key>`"))
			}
			if w, err := p.ActiveFreeze(in.Now); err == nil && w != nil {
				d.Freeze = w.Name
				raise(p, mode, v1alpha1.FindingChangeWindowViolation, field.Forbidden(field.NewPath("metadata"),
					fmt.Sprintf("change window %q is frozen now (%s): wait for it to end, or set kubetrail.io/break-glass with the reason if this change cannot wait", w.Name, in.Now.UTC().Format(time.RFC3339))))
			}
			evaluateSecrets(p, secrets, raise)
			evaluateRBAC(p, in, ann, d.Verified || assumeSigned, raise)
		}
		// Only an enforcing policy has anything to override; the others just record.
		if breakGlass != "" && mode == v1alpha1.ModeEnforce && (p.Spec.BreakGlass == nil || !MatchesAny(p.Spec.BreakGlass.Allowed, in.Identity)) {
			raise(p, mode, v1alpha1.FindingManualOverride, field.Forbidden(annotationsPath.Key(provenance.BreakGlassKey),
				fmt.Sprintf("%s may not use break-glass under this policy (spec.breakGlass.allowed); remove the annotation or ask an allowed identity", in.Identity.Username)))
		}
	}

	allowed := breakGlassAllowed(policies, in.Identity, breakGlass)
	// A reason that fails its own format check ("fix", not UTF-8, over the length
	// limit) is no reason: it overrides nothing, and its format violation stands.
	for _, e := range formatErrs {
		if e.Field == annotationsPath.Key(provenance.BreakGlassKey).String() {
			allowed = false
		}
	}
	for _, key := range order {
		d.add(*raised[key], allowed)
	}
	d.noteBreakGlass(breakGlass)
	return d
}

// breakGlassAllowed reports whether reason holds as break-glass for id: there is a
// reason, a policy, and every enforcing policy lists id in spec.breakGlass.allowed.
func breakGlassAllowed(policies []*Compiled, id Identity, reason string) bool {
	if reason == "" || len(policies) == 0 {
		return false
	}
	for _, p := range policies {
		if p.Spec.Mode == v1alpha1.ModeEnforce && (p.Spec.BreakGlass == nil || !MatchesAny(p.Spec.BreakGlass.Allowed, id)) {
			return false
		}
	}
	return true
}

// add files v by its mode: denied (or overridden, when break-glass holds), warned or
// audited. A violation of break-glass itself is never overridden.
func (d *Decision) add(v Violation, breakGlass bool) {
	switch {
	case v.Mode == v1alpha1.ModeEnforce && breakGlass && v.Type != v1alpha1.FindingManualOverride:
		d.Overridden = append(d.Overridden, v)
	case v.Mode == v1alpha1.ModeEnforce:
		d.Denied = append(d.Denied, v)
	case v.Mode == v1alpha1.ModeWarn:
		d.Warned = append(d.Warned, v)
	default:
		d.Audited = append(d.Audited, v)
	}
}

// noteBreakGlass records reason as the override when it overrode anything.
func (d *Decision) noteBreakGlass(reason string) {
	if len(d.Overridden) > 0 {
		d.BreakGlass = reason
		d.Warnings = append(d.Warnings, fmt.Sprintf("kubetrail: admitted by break-glass (%q); %d violation(s) overridden and recorded as a ManualOverride", reason, len(d.Overridden)))
	}
}

func evaluateRBAC(p *Compiled, in Input, ann map[string]string, verified bool, raise func(*Compiled, v1alpha1.PolicyMode, v1alpha1.FindingType, *field.Error)) {
	if len(in.RBACRisks) == 0 {
		return
	}
	rule := v1alpha1.RBACEscalationRule{Action: v1alpha1.ActionDeny, MinApprovers: 2}
	if p.Spec.RBACEscalation != nil {
		rule = *p.Spec.RBACEscalation
		if rule.Action == "" {
			rule.Action = v1alpha1.ActionDeny
		}
	}
	if rule.Action == v1alpha1.ActionIgnore {
		return
	}
	var missing []string
	// With spec.allowedApprovers only those count; otherwise every distinct
	// (normalised) name does.
	if ap := CountApprovers(ann[provenance.ApproverKey], p.Spec.AllowedApprovers); len(ap.Counted) < int(rule.MinApprovers) {
		missing = append(missing, approversMissing(rule.MinApprovers, ap))
	}
	if rule.RequireSignature && !verified {
		missing = append(missing, "a signature by a trusted key (kubectl trail stamp --key)")
	}
	if len(missing) == 0 {
		return
	}
	var grants []string
	for _, r := range in.RBACRisks {
		grants = append(grants, fmt.Sprintf("%s %s at %s (%s)", r.Severity, r.Rule, r.Scope, r.Grant))
	}
	sort.Strings(grants)
	raise(p, capMode(p.Spec.Mode, rule.Action), v1alpha1.FindingRBACEscalation, field.Forbidden(field.NewPath("roleRef"),
		fmt.Sprintf("grants risky permissions [%s]; such a change needs %s", strings.Join(grants, "; "), strings.Join(missing, " and "))))
}

// capMode lowers a policy's mode to what a check's action allows.
func capMode(mode v1alpha1.PolicyMode, action v1alpha1.Action) v1alpha1.PolicyMode {
	if action == v1alpha1.ActionWarn && mode == v1alpha1.ModeEnforce {
		return v1alpha1.ModeWarn
	}
	return mode
}

func restrictiveness(m v1alpha1.PolicyMode) int {
	switch m {
	case v1alpha1.ModeEnforce:
		return 2
	case v1alpha1.ModeWarn:
		return 1
	}
	return 0
}

// signingRules checks a verified signature against the policy's spec.signing
// audience and maxValidity.
func signingRules(p *Compiled, signed signing.Statement, now time.Time) error {
	if p.Spec.Signing == nil {
		return signing.CheckLifetime(signed, 0, now)
	}
	if a := p.Spec.Signing.Audience; a != "" {
		if err := signing.CheckAudience(signed, a); err != nil {
			return err
		}
	}
	var max time.Duration
	if p.Spec.Signing.MaxValidity != nil {
		max = p.Spec.Signing.MaxValidity.Duration
	}
	return signing.CheckLifetime(signed, max, now)
}

func signatureHint(err error) string {
	var mm *signing.MismatchError
	switch {
	case errors.As(err, &mm) && mm.Field == "digest":
		return err.Error()
	case errors.As(err, &mm):
		return fmt.Sprintf("the signature does not cover this object's %s (%s): it was made for another object or the field was changed after signing; re-stamp with `kubectl trail stamp --key`", mm.Field, mm.Detail())
	case errors.Is(err, signing.ErrExpired):
		return err.Error() + "; re-run the pipeline to sign again"
	case errors.Is(err, signing.ErrUntrustedKey):
		return err.Error() + "; sign with a key listed in the policy's spec.signing.publicKeys"
	default:
		return err.Error()
	}
}

// provenanceFields maps each field a policy can require to its annotation and to what
// a pipeline should put there, for the denial's hint.
var provenanceFields = map[v1alpha1.ProvenanceField]struct{ key, what string }{
	v1alpha1.FieldCommit:      {provenance.CommitKey, "the full 40-hex commit SHA"},
	v1alpha1.FieldRepository:  {provenance.RepositoryKey, "the repository URL"},
	v1alpha1.FieldPullRequest: {provenance.PullRequestKey, "the pull request number or URL"},
	v1alpha1.FieldPipelineRun: {provenance.PipelineRunKey, "the pipeline run URL or id"},
	v1alpha1.FieldApprover:    {provenance.ApproverKey, "the approvers, comma-separated"},
	v1alpha1.FieldActor:       {provenance.ActorKey, "human, pipeline or agent"},
	v1alpha1.FieldSource:      {provenance.SourceKey, "code, ci-variable or generated:<tool>"},
	v1alpha1.FieldPath:        {provenance.PathKey, "the manifest's path in the repository"},
	v1alpha1.FieldSignature:   {provenance.SignatureKey, "a signature by a trusted key"},
}

func annotationKey(f v1alpha1.ProvenanceField) string {
	if pf, ok := provenanceFields[f]; ok {
		return pf.key
	}
	return provenance.Prefix + string(f)
}

func requiredHint(f v1alpha1.ProvenanceField) string {
	return fmt.Sprintf("add %s with %s; `kubectl trail stamp` does this in a pipeline", annotationKey(f), provenanceFields[f].what)
}

// AnnotationsOf reads an unstructured object's string annotations (others are left out).
func AnnotationsOf(obj map[string]interface{}) map[string]string {
	md, _ := obj["metadata"].(map[string]interface{})
	raw, _ := md["annotations"].(map[string]interface{})
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

func hasAnyProvenance(ann map[string]string) bool {
	for _, k := range provenance.SignedKeys {
		if ann[k] != "" {
			return true
		}
	}
	return ann[provenance.SignatureKey] != ""
}

func sameProvenance(a, b map[string]string) bool {
	for _, k := range append(append([]string(nil), provenance.SignedKeys...), provenance.SignatureKey) {
		if a[k] != b[k] {
			return false
		}
	}
	return true
}

func asStrings(fs []v1alpha1.ProvenanceField) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = string(f)
	}
	return out
}
