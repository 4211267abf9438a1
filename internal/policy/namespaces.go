package policy

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/provenance"
)

// RelabelInput is an update of a Namespace's labels.
type RelabelInput struct {
	// Name is the namespace's name.
	Name string
	// Identity sent the update.
	Identity Identity
	// OldLabels and Labels are the namespace's labels before and after; Annotations
	// its annotations after (where a break-glass reason is set).
	OldLabels, Labels, Annotations map[string]string
}

// EvaluateRelabel decides a namespace label change under every policy. Labels decide
// what a namespaceSelector selects, so removing one is a way out of a policy (M8):
// taking a namespace out of a Warn or Enforce policy is an UntracedChange unless the
// submitter is one of that policy's trusted submitters, judged by its mode; a
// kubetrail.io/break-glass reason on the namespace, by an identity every enforcing
// policy allows to break glass, overrides it. Bringing a namespace under a policy
// never needs anything.
func EvaluateRelabel(policies []*Compiled, in RelabelInput) Decision {
	var d Decision
	var leaving []*Compiled
	for _, p := range policies {
		if p.Spec.NamespaceSelector == nil || p.Spec.Mode == v1alpha1.ModeAudit {
			continue
		}
		if !p.namespaces.Matches(labels.Set(in.OldLabels)) || p.namespaces.Matches(labels.Set(in.Labels)) {
			continue
		}
		if len(p.Spec.TrustedSubmitters) > 0 && MatchesAny(p.Spec.TrustedSubmitters, in.Identity) {
			continue
		}
		leaving = append(leaving, p)
	}
	reason := strings.TrimSpace(in.Annotations[provenance.BreakGlassKey])
	allowed := breakGlassAllowed(leaving, in.Identity, reason)
	for _, p := range leaving {
		d.add(Violation{Type: v1alpha1.FindingUntracedChange, Mode: p.Spec.Mode, Policies: []string{p.Name},
			Err: field.Forbidden(field.NewPath("metadata", "labels"), fmt.Sprintf(
				"%s may not take namespace %s out of TracePolicy %s (mode %s): its namespaceSelector would no longer select it; "+
					"relabel through the pipeline (spec.trustedSubmitters), or with a kubetrail.io/break-glass reason on the namespace by an identity in spec.breakGlass.allowed",
				in.Identity.Username, in.Name, p.Name, p.Spec.Mode))}, allowed)
	}
	d.noteBreakGlass(reason)
	return d
}
