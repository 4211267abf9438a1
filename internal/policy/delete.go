package policy

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/provenance"
)

// DeleteInput is a delete of a tracked object.
type DeleteInput struct {
	// Kind and Name name the object, for the messages.
	Kind, Name string
	// Identity sent the delete.
	Identity Identity
	// Object is the object as stored (the request's oldObject): a delete carries no
	// annotations of its own, so a break-glass reason must be set on the object first.
	Object map[string]interface{}
}

// EvaluateDelete decides a delete under the policies that select the object. trusted
// is true when every policy trusts the deleter's provenance (as Evaluate judges a
// change: an empty trustedSubmitters trusts everyone); with no policy, a delete is
// trusted. A policy with deletes: Trusted raises an UntracedChange for anyone else,
// which its mode decides and an allowed break-glass reason on the object overrides.
func EvaluateDelete(policies []*Compiled, in DeleteInput) (d Decision, trusted bool) {
	trusted = true
	reason := strings.TrimSpace(AnnotationsOf(in.Object)[provenance.BreakGlassKey])
	allowed := breakGlassAllowed(policies, in.Identity, reason)
	for _, p := range policies {
		if len(p.Spec.TrustedSubmitters) > 0 && !MatchesAny(p.Spec.TrustedSubmitters, in.Identity) {
			trusted = false
		} else {
			continue
		}
		if p.Spec.Deletes != v1alpha1.DeletesTrusted {
			continue
		}
		d.add(Violation{Type: v1alpha1.FindingUntracedChange, Mode: p.Spec.Mode, Policies: []string{p.Name},
			Err: field.Forbidden(field.NewPath("metadata", "name"), fmt.Sprintf(
				"%s may not delete %s %s: under this policy deletes come from the pipeline (spec.trustedSubmitters: remove the manifest and let it prune), "+
					"or from an identity in spec.breakGlass.allowed after setting a kubetrail.io/break-glass reason on the object",
				in.Identity.Username, in.Kind, in.Name))}, allowed)
	}
	d.noteBreakGlass(reason)
	return d, trusted
}
