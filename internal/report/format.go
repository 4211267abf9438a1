package report

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/kubetrail/kubetrail/api/v1alpha1"
)

// ShortCommit is the first 7 characters of a commit SHA, as git abbreviates it.
func ShortCommit(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

var trailingNumber = regexp.MustCompile(`(?:^#?|/)([0-9]+)/?$`)

// ShortPR writes a pull request as "#42", taking the number from a URL when it ends in
// one (GitHub .../pull/42, GitLab .../merge_requests/42); other values are kept.
func ShortPR(pr string) string {
	if pr == "" {
		return ""
	}
	if m := trailingNumber.FindStringSubmatch(pr); m != nil {
		return "#" + m[1]
	}
	return pr
}

// ShortRun writes a pipeline run compactly: the last path segment of a URL
// (".../actions/runs/99" is "99"), otherwise the value.
func ShortRun(run string) string {
	if u, err := url.Parse(run); err == nil && u.Scheme != "" && u.Host != "" {
		segs := strings.Split(strings.Trim(u.Path, "/"), "/")
		if last := segs[len(segs)-1]; last != "" {
			return last
		}
		return u.Host
	}
	return run
}

// SeverityRank orders severities: Critical 5 down to Info 1; unknown values 0.
func SeverityRank(s v1alpha1.Severity) int {
	switch s {
	case v1alpha1.SeverityCritical:
		return 5
	case v1alpha1.SeverityHigh:
		return 4
	case v1alpha1.SeverityMedium:
		return 3
	case v1alpha1.SeverityLow:
		return 2
	case v1alpha1.SeverityInfo:
		return 1
	}
	return 0
}

// Severities are the valid severities, most severe first.
var Severities = []v1alpha1.Severity{v1alpha1.SeverityCritical, v1alpha1.SeverityHigh,
	v1alpha1.SeverityMedium, v1alpha1.SeverityLow, v1alpha1.SeverityInfo}

// FindingTypes are the valid finding types.
var FindingTypes = []v1alpha1.FindingType{v1alpha1.FindingRBACEscalation, v1alpha1.FindingSecretExposure,
	v1alpha1.FindingDrift, v1alpha1.FindingUntracedChange, v1alpha1.FindingManualOverride,
	v1alpha1.FindingChangeWindowViolation, v1alpha1.FindingInvalidProvenance}

// ParseSeverity reads a severity case-insensitively.
func ParseSeverity(s string) (v1alpha1.Severity, error) {
	for _, v := range Severities {
		if strings.EqualFold(string(v), s) {
			return v, nil
		}
	}
	names := make([]string, len(Severities))
	for i, v := range Severities {
		names[i] = string(v)
	}
	return "", fmt.Errorf("unknown severity %q: use one of %s", s, strings.Join(names, ", "))
}

// ParseFindingType reads a finding type case-insensitively.
func ParseFindingType(s string) (v1alpha1.FindingType, error) {
	for _, v := range FindingTypes {
		if strings.EqualFold(string(v), s) {
			return v, nil
		}
	}
	names := make([]string, len(FindingTypes))
	for i, v := range FindingTypes {
		names[i] = string(v)
	}
	return "", fmt.Errorf("unknown finding type %q: use one of %s", s, strings.Join(names, ", "))
}

// TargetString writes a target as kubectl names it: "Deployment shop/web",
// "ClusterRoleBinding ci-admin".
func TargetString(t v1alpha1.TraceTarget) string {
	if t.Namespace == "" {
		return t.Kind + " " + t.Name
	}
	return t.Kind + " " + t.Namespace + "/" + t.Name
}

func refString(r v1alpha1.ObjectReference) string {
	if r.Namespace == "" {
		return r.Kind + " " + r.Name
	}
	return r.Kind + " " + r.Namespace + "/" + r.Name
}

// timePtr converts a metav1 time, nil or zero giving nil.
func timePtr(t *metav1.Time) *time.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func timeOf(t metav1.Time) *time.Time { return timePtr(&t) }

// When writes a time with its age relative to now: "2026-05-10 11:00:00 UTC (1h ago)".
func When(t *time.Time, now time.Time) string {
	if t == nil {
		return "unknown time"
	}
	s := t.UTC().Format("2006-01-02 15:04:05 UTC")
	if now.IsZero() {
		return s
	}
	return s + " (" + Age(*t, now) + " ago)"
}

// Age is a kubectl-style age: 45s, 12m, 3h, 2d, 3d4h.
func Age(t, now time.Time) string {
	d := now.Sub(t)
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	case d < 10*24*time.Hour:
		days := int(d.Hours()) / 24
		if h := int(d.Hours()) % 24; h != 0 {
			return fmt.Sprintf("%dd%dh", days, h)
		}
		return fmt.Sprintf("%dd", days)
	}
	return fmt.Sprintf("%dd", int(d.Hours())/24)
}

// RFC3339 writes a time for a table column, "-" when unknown.
func RFC3339(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// actorString writes who made a change: "human", "pipeline", "agent deploy-bot run 7".
func actorString(actor v1alpha1.Actor, agent string) string {
	switch {
	case actor == v1alpha1.ActorAgent && agent != "":
		return "agent " + agent
	case actor == "" && agent != "":
		return "agent " + agent
	case actor == "":
		return ""
	}
	return string(actor)
}

func conditionOf(conds []metav1.Condition, t string) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

// Drifted reports whether a record's Drifted condition is True.
func Drifted(r *v1alpha1.TraceRecord) bool {
	c := conditionOf(r.Status.Conditions, v1alpha1.ConditionDrifted)
	return c != nil && c.Status == metav1.ConditionTrue
}
