package provenance

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Provenance is what an object says about the change that produced it.
type Provenance struct {
	Commit      string
	Repository  string
	PullRequest string
	PipelineRun string
	Approvers   []string
	Actor       string
	Agent       string
	Source      string
	Path        string
	Signature   string
	BreakGlass  string
}

// FromAnnotations reads the provenance annotations; missing keys stay empty.
func FromAnnotations(ann map[string]string) Provenance {
	return Provenance{
		Commit:      ann[CommitKey],
		Repository:  ann[RepositoryKey],
		PullRequest: ann[PullRequestKey],
		PipelineRun: ann[PipelineRunKey],
		Approvers:   SplitApprovers(ann[ApproverKey]),
		Actor:       ann[ActorKey],
		Agent:       ann[AgentKey],
		Source:      ann[SourceKey],
		Path:        ann[PathKey],
		Signature:   ann[SignatureKey],
		BreakGlass:  ann[BreakGlassKey],
	}
}

// Annotations writes p back as annotations, leaving out empty fields.
func (p Provenance) Annotations() map[string]string {
	out := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			out[k] = v
		}
	}
	set(CommitKey, p.Commit)
	set(RepositoryKey, p.Repository)
	set(PullRequestKey, p.PullRequest)
	set(PipelineRunKey, p.PipelineRun)
	set(ApproverKey, strings.Join(p.Approvers, ","))
	set(ActorKey, p.Actor)
	set(AgentKey, p.Agent)
	set(SourceKey, p.Source)
	set(PathKey, p.Path)
	set(SignatureKey, p.Signature)
	set(BreakGlassKey, p.BreakGlass)
	return out
}

// IsEmpty reports whether the object carries no provenance at all.
func (p Provenance) IsEmpty() bool {
	return p.Commit == "" && p.Repository == "" && p.PullRequest == "" && p.PipelineRun == "" &&
		len(p.Approvers) == 0 && p.Actor == "" && p.Agent == "" && p.Source == "" && p.Path == "" &&
		p.Signature == ""
}

// SignedValues returns the values of the signed keys present in ann, as a signature binds them.
func SignedValues(ann map[string]string) map[string]string {
	out := map[string]string{}
	for _, k := range SignedKeys {
		if v, ok := ann[k]; ok {
			out[k] = v
		}
	}
	return out
}

// MaxValueLength bounds every provenance value: annotations are not a place for payloads,
// and a bound keeps hostile input cheap to reject. A signature envelope is larger.
const (
	MaxValueLength     = 2048
	MaxSignatureLength = 16 * 1024
)

var (
	commitPattern = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)
	// A generated source names its tool: generated:helm, generated:kustomize, generated:cue.
	generatedPattern = regexp.MustCompile(`^generated:[a-z0-9][a-z0-9._-]{0,62}$`)
	pullNumber       = regexp.MustCompile(`^#?[0-9]{1,12}$`)
)

// Validate checks the format of every provenance annotation present in ann. It does not
// ask for any field to be present: which ones are required is a policy's decision.
// fldPath is the path of the annotations map (metadata.annotations).
func Validate(ann map[string]string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, k := range ProvenanceKeys {
		v, ok := ann[k]
		if !ok {
			continue
		}
		p := fldPath.Key(k)
		limit := MaxValueLength
		if k == SignatureKey {
			limit = MaxSignatureLength
		}
		switch {
		case !utf8.ValidString(v):
			errs = append(errs, field.Invalid(p, "<invalid UTF-8>", "must be valid UTF-8 text"))
			continue
		case len(v) > limit:
			errs = append(errs, field.TooLong(p, "", limit))
			continue
		case k != BreakGlassKey && strings.ContainsAny(v, "\r\n\x00"):
			errs = append(errs, field.Invalid(p, v, "must be one line: remove newlines and control characters"))
			continue
		case strings.IndexFunc(v, isControl) >= 0:
			// A reason may span lines, but terminal escapes and NULs would reach records
			// and every terminal that prints them.
			errs = append(errs, field.Invalid(p, strings.Map(visible, v), "must not contain control characters"))
			continue
		case strings.TrimSpace(v) == "":
			errs = append(errs, field.Invalid(p, v, "must not be empty: remove the annotation or give it a value"))
			continue
		}
		switch k {
		case CommitKey:
			if !commitPattern.MatchString(v) {
				errs = append(errs, field.Invalid(p, v, "must be the full commit SHA, 40 or 64 lowercase hex characters (git rev-parse HEAD)"))
			}
		case RepositoryKey:
			if err := validateURL(v); err != nil {
				errs = append(errs, field.Invalid(p, v, "must be the repository URL, e.g. https://github.com/org/repo: "+err.Error()))
			}
		case PullRequestKey:
			if !pullNumber.MatchString(v) && validateURL(v) != nil {
				errs = append(errs, field.Invalid(p, v, "must be a pull request number or URL"))
			}
		case ActorKey:
			if v != ActorHuman && v != ActorPipeline && v != ActorAgent {
				errs = append(errs, field.NotSupported(p, v, []string{ActorHuman, ActorPipeline, ActorAgent}))
			}
		case SourceKey:
			if v != SourceCode && v != SourceCIVariable && !generatedPattern.MatchString(v) {
				errs = append(errs, field.Invalid(p, v, "must be code, ci-variable or generated:<tool> (e.g. generated:helm)"))
			}
		case BreakGlassKey:
			if len(strings.TrimSpace(v)) < 10 {
				errs = append(errs, field.Invalid(p, v, "must give the reason for the override in words (at least 10 characters), e.g. an incident id and why"))
			}
		}
	}
	if ann[ActorKey] == ActorAgent && strings.TrimSpace(ann[AgentKey]) == "" {
		errs = append(errs, field.Required(fldPath.Key(AgentKey), "an agent change must name the agent and its run, e.g. \"deploy-bot run 42\""))
	}
	return errs
}

// scpLikeRepo is git's scp-like remote form (git@github.com:org/repo.git), common in pipelines.
var scpLikeRepo = regexp.MustCompile(`^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s]+$`)

func validateURL(v string) error {
	if scpLikeRepo.MatchString(v) {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil {
		return err
	}
	if u.Scheme == "" || u.Host == "" {
		return fmt.Errorf("no scheme or host")
	}
	return nil
}

// isControl reports control characters other than line breaks and tabs.
func isControl(r rune) bool {
	return unicode.IsControl(r) && r != '\n' && r != '\t'
}

// visible replaces control characters for echoing a rejected value back.
func visible(r rune) rune {
	if isControl(r) {
		return '?'
	}
	return r
}
