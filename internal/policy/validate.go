package policy

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/digest"
	"github.com/kubetrail/kubetrail/internal/provenance"
	"github.com/kubetrail/kubetrail/internal/signing"
	"github.com/kubetrail/kubetrail/internal/tracked"
)

// Validate returns what is wrong with a TracePolicy's spec, each error naming its
// field (fldPath is "spec") and saying how to fix it. It is the one set of rules:
// the TracePolicy admission webhook denies a policy with any of these errors, and
// Compile reports the same errors of a policy stored before (Ready=False) and skips
// the parts they are about.
//
// It judges the spec alone: the keys behind a secretRef are read, and judged, by
// Compile.
func Validate(spec *v1alpha1.TracePolicySpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch spec.Mode {
	case v1alpha1.ModeEnforce, v1alpha1.ModeWarn, v1alpha1.ModeAudit:
	default:
		errs = append(errs, field.NotSupported(fldPath.Child("mode"), spec.Mode,
			[]v1alpha1.PolicyMode{v1alpha1.ModeEnforce, v1alpha1.ModeWarn, v1alpha1.ModeAudit}))
	}
	if spec.NamespaceSelector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(spec.NamespaceSelector,
			metav1validation.LabelSelectorValidationOptions{}, fldPath.Child("namespaceSelector"))...)
	}
	for i, r := range spec.Resources {
		errs = append(errs, validateResource(r, fldPath.Child("resources").Index(i))...)
	}
	for i, f := range spec.RequiredFields {
		if !slices.Contains(provenanceFieldNames, f) {
			errs = append(errs, field.NotSupported(fldPath.Child("requiredFields").Index(i), f, provenanceFieldNames))
		}
	}
	errs = append(errs, validateSubjects(spec.TrustedSubmitters, fldPath.Child("trustedSubmitters"))...)
	errs = append(errs, validateSubjects(spec.Exempt, fldPath.Child("exempt"))...)
	errs = append(errs, validateApprovers(spec.AllowedApprovers, fldPath.Child("allowedApprovers"))...)
	if spec.BreakGlass != nil {
		errs = append(errs, validateSubjects(spec.BreakGlass.Allowed, fldPath.Child("breakGlass", "allowed"))...)
	}
	if spec.Signing != nil {
		errs = append(errs, validateSigning(spec, fldPath.Child("signing"))...)
	}
	for i := range spec.ChangeWindows {
		errs = append(errs, validateWindow(&spec.ChangeWindows[i], fldPath.Child("changeWindows").Index(i))...)
	}
	errs = append(errs, validateAction(spec.SecretLiterals, fldPath.Child("secretLiterals"))...)
	if r := spec.RBACEscalation; r != nil {
		p := fldPath.Child("rbacEscalation")
		errs = append(errs, validateAction(r.Action, p.Child("action"))...)
		if r.MinApprovers < 0 {
			errs = append(errs, field.Invalid(p.Child("minApprovers"), r.MinApprovers, "must be 0 or more"))
		}
	}
	for i, r := range spec.Ignore {
		p := fldPath.Child("ignore").Index(i)
		for j, k := range r.Kinds {
			if !trackedKindNames[k] {
				errs = append(errs, field.NotSupported(p.Child("kinds").Index(j), k, slices.Sorted(maps.Keys(trackedKindNames))))
			}
		}
		if len(r.Paths) == 0 {
			errs = append(errs, field.Required(p.Child("paths"), "list the JSON pointers to ignore, e.g. /spec/replicas"))
		}
		for j, path := range r.Paths {
			if detail := IgnorePathProblem(path); detail != "" {
				errs = append(errs, field.Invalid(p.Child("paths").Index(j), path, detail))
			}
		}
	}
	return errs
}

// podTemplates are the pointers of subtrees that hold everything a workload runs.
var podTemplates = map[string]bool{
	"/spec/template":                                  true,
	"/spec/template/spec":                             true,
	"/spec/jobTemplate":                               true,
	"/spec/jobTemplate/spec":                          true,
	"/spec/jobTemplate/spec/template":                 true,
	"/spec/jobTemplate/spec/template/spec":            true,
	"/spec/template/spec/containers":                  true,
	"/spec/template/spec/initContainers":              true,
	"/spec/jobTemplate/spec/template/spec/containers": true,
}

// IgnorePathProblem says what is wrong with p as a pointer of spec.ignore[].paths,
// or returns "" when it is usable. Besides RFC 6901 syntax it refuses pointers that
// would take a whole top-level field (/spec, /data, /rules, /metadata, ...) or a
// whole pod template out of the tracked content: with those a policy blanks out what
// runs instead of ignoring a field that changes outside the pipeline.
func IgnorePathProblem(p string) string {
	if p != "" && p[0] != '/' {
		return fmt.Sprintf("a JSON pointer starts with \"/\": write %q", "/"+p)
	}
	tokens, err := digest.ParsePointer(p)
	if err != nil {
		if p == "" {
			return "an empty pointer would ignore the whole object; name a field, e.g. /spec/replicas"
		}
		return `"~" must be written "~0", and a "/" inside a key "~1" (RFC 6901), e.g. /metadata/annotations/example.com~1owner`
	}
	if len(tokens) == 1 {
		return fmt.Sprintf("ignores the whole top-level field %q, so that every change to it would go untraced; "+
			"name the fields that change outside the pipeline instead, e.g. /spec/replicas", tokens[0])
	}
	if podTemplates[strings.TrimRight(p, "/")] {
		return "ignores a whole pod template, so that what runs could change untraced; " +
			"name the fields that change outside the pipeline instead, e.g. /spec/template/metadata/annotations/example.com~1restarted"
	}
	return ""
}

var provenanceFieldNames = []v1alpha1.ProvenanceField{
	v1alpha1.FieldCommit, v1alpha1.FieldRepository, v1alpha1.FieldPullRequest, v1alpha1.FieldPipelineRun,
	v1alpha1.FieldApprover, v1alpha1.FieldActor, v1alpha1.FieldSource, v1alpha1.FieldPath, v1alpha1.FieldSignature,
}

// trackedKindNames and trackedGroups are the kinds and groups of internal/tracked.
var trackedKindNames, trackedGroups = func() (map[string]bool, map[string][]string) {
	kinds, groups := map[string]bool{}, map[string][]string{}
	for _, k := range tracked.Default {
		kinds[k.GVK.Kind] = true
		groups[k.GVK.Group] = append(groups[k.GVK.Group], k.GVK.Kind)
	}
	return kinds, groups
}()

func validateResource(r v1alpha1.ResourceSelector, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	kinds := slices.Sorted(maps.Keys(trackedKindNames))
	if r.Group != "*" {
		gk, ok := trackedGroups[r.Group]
		if !ok {
			groups := make([]string, 0, len(trackedGroups)+1)
			for g := range trackedGroups {
				groups = append(groups, g)
			}
			sort.Strings(groups)
			return field.ErrorList{field.NotSupported(p.Child("group"), r.Group, append(groups, "*"))}
		}
		kinds = append(slices.Sorted(slices.Values(gk)), "*")
	}
	for j, k := range r.Kinds {
		if k != "*" && !slices.Contains(kinds, k) {
			errs = append(errs, field.NotSupported(p.Child("kinds").Index(j), k, kinds))
		}
	}
	return errs
}

func validateSubjects(subjects []v1alpha1.Subject, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, s := range subjects {
		sp := p.Index(i)
		switch s.Kind {
		case v1alpha1.SubjectUser, v1alpha1.SubjectGroup:
			if s.Namespace != "" {
				errs = append(errs, field.Invalid(sp.Child("namespace"), s.Namespace,
					"only a ServiceAccount subject has a namespace; remove it, or set kind: ServiceAccount"))
			}
		case v1alpha1.SubjectServiceAccount:
			if s.Namespace == "" {
				errs = append(errs, field.Required(sp.Child("namespace"), "a ServiceAccount subject names its namespace"))
			} else if msgs := validation.IsDNS1123Label(s.Namespace); len(msgs) > 0 {
				errs = append(errs, field.Invalid(sp.Child("namespace"), s.Namespace, strings.Join(msgs, "; ")))
			}
		default:
			errs = append(errs, field.NotSupported(sp.Child("kind"), s.Kind,
				[]v1alpha1.SubjectKind{v1alpha1.SubjectUser, v1alpha1.SubjectGroup, v1alpha1.SubjectServiceAccount}))
		}
		if strings.TrimSpace(s.Name) == "" {
			errs = append(errs, field.Required(sp.Child("name"), "name the user, group or service account"))
		}
	}
	return errs
}

func validateSigning(spec *v1alpha1.TracePolicySpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	s := spec.Signing
	names := map[string]bool{}
	for i, k := range s.PublicKeys {
		kp := p.Child("publicKeys").Index(i)
		switch {
		case strings.TrimSpace(k.Name) == "":
			errs = append(errs, field.Required(kp.Child("name"), "name the key; denials and the policy's status name keys by it"))
		case names[k.Name]:
			errs = append(errs, field.Duplicate(kp.Child("name"), k.Name))
		}
		names[k.Name] = true
		switch {
		case k.PEM != "" && k.SecretRef != nil:
			errs = append(errs, field.Invalid(kp, k.Name, "set either pem or secretRef, not both"))
		case k.PEM == "" && k.SecretRef == nil:
			errs = append(errs, field.Required(kp.Child("pem"),
				"set pem to the public key `kubectl trail keygen` wrote, or secretRef to the Secret key holding it"))
		case k.PEM != "":
			if _, err := signing.ParsePublicKeys([]byte(k.PEM)); err != nil {
				// Never the value: it may be a private key pasted by mistake.
				errs = append(errs, field.Invalid(kp.Child("pem"), field.OmitValueType{},
					err.Error()))
			}
		default:
			errs = append(errs, validateSecretRef(*k.SecretRef, kp.Child("secretRef"))...)
		}
	}
	if s.MaxValidity != nil && s.MaxValidity.Duration <= 0 {
		errs = append(errs, field.Invalid(p.Child("maxValidity"), s.MaxValidity.Duration.String(),
			"must be more than 0, e.g. 24h; leave it out to allow any lifetime"))
	}
	if s.Required && len(s.PublicKeys) == 0 {
		errs = append(errs, field.Required(p.Child("publicKeys"), "required signatures need at least one trusted key to verify them with"))
	}
	return errs
}

func validateSecretRef(r v1alpha1.SecretKeyReference, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	check := func(name, value string, rule func(string) []string) {
		switch {
		case value == "":
			errs = append(errs, field.Required(p.Child(name), ""))
		default:
			if msgs := rule(value); len(msgs) > 0 {
				errs = append(errs, field.Invalid(p.Child(name), value, strings.Join(msgs, "; ")))
			}
		}
	}
	check("namespace", r.Namespace, validation.IsDNS1123Label)
	check("name", r.Name, validation.IsDNS1123Subdomain)
	check("key", r.Key, validation.IsConfigMapKey)
	return errs
}

func validateWindow(w *v1alpha1.ChangeWindow, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if strings.TrimSpace(w.Name) == "" {
		errs = append(errs, field.Required(p.Child("name"), "name the freeze; denials and findings show it"))
	}
	switch {
	case (w.Start == nil) != (w.End == nil):
		missing := "end"
		if w.Start == nil {
			missing = "start"
		}
		errs = append(errs, field.Required(p.Child(missing), "a one-off freeze needs both start and end"))
	case w.Start != nil && !w.End.After(w.Start.Time):
		errs = append(errs, field.Invalid(p.Child("end"), w.End.UTC().Format(time.RFC3339), "must be after start"))
	case w.Start == nil && w.Weekly == nil:
		errs = append(errs, field.Required(p, "set start and end for a one-off freeze, or weekly for a recurring one"))
	}
	if wk := w.Weekly; wk != nil {
		wp := p.Child("weekly")
		if len(wk.Days) == 0 {
			errs = append(errs, field.Required(wp.Child("days"), "list the days the freeze starts on, e.g. [Friday]"))
		}
		for i, d := range wk.Days {
			if !validDay(d) {
				errs = append(errs, field.NotSupported(wp.Child("days").Index(i), d, weekdays))
			}
		}
		if _, err := time.Parse("15:04", wk.Start); err != nil || len(wk.Start) != 5 {
			errs = append(errs, field.Invalid(wp.Child("start"), wk.Start, "must be HH:MM, e.g. 16:00"))
		}
		if wk.Duration.Duration <= 0 || wk.Duration.Duration > 7*24*time.Hour {
			errs = append(errs, field.Invalid(wp.Child("duration"), wk.Duration.Duration.String(), "must be more than 0 and at most 168h (a week)"))
		}
		if wk.TimeZone != "" {
			if _, err := time.LoadLocation(wk.TimeZone); err != nil {
				errs = append(errs, field.Invalid(wp.Child("timeZone"), wk.TimeZone, "is not an IANA time zone (e.g. Europe/Berlin)"))
			}
		}
	}
	return errs
}

var weekdays = []v1alpha1.Weekday{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}

func validDay(d v1alpha1.Weekday) bool { return slices.Contains(weekdays, d) }

func validateAction(a v1alpha1.Action, p *field.Path) field.ErrorList {
	switch a {
	case "", v1alpha1.ActionDeny, v1alpha1.ActionWarn, v1alpha1.ActionIgnore:
		return nil
	}
	return field.ErrorList{field.NotSupported(p, a, []v1alpha1.Action{v1alpha1.ActionDeny, v1alpha1.ActionWarn, v1alpha1.ActionIgnore})}
}

// validateApprovers refuses allowed approvers that no kubetrail.io/approver value could
// name: empty after normalisation, or holding the comma that separates approvers.
func validateApprovers(names []string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, n := range names {
		switch {
		case provenance.NormalizeApprover(n) == "":
			errs = append(errs, field.Invalid(p.Index(i), n, "an approver's name must not be empty (blanks and format characters do not count)"))
		case strings.Contains(n, ","):
			errs = append(errs, field.Invalid(p.Index(i), n, "one approver per item: kubetrail.io/approver separates approvers with commas"))
		}
	}
	return errs
}
