package policy

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/digest"
)

// ScaleInput is an update through a workload's scale subresource (kubectl scale, an
// autoscaler). The request carries an autoscaling/v1 Scale, not the workload: no
// annotations, so no provenance and no break-glass can come with it.
type ScaleInput struct {
	// Kind is the scaled workload's kind (Deployment, StatefulSet ...).
	Kind string
	// Name is the workload's name, for the message.
	Name string
	// Identity sent the request.
	Identity Identity
	// OldReplicas and Replicas are spec.replicas before and after.
	OldReplicas, Replicas int64
}

// EvaluateScale decides a scale-subresource update under the policies that select the
// workload. spec.replicas is tracked content unless a policy ignores /spec/replicas for
// the kind (the way to say an autoscaler or on-call owns replicas): then scaling is no
// change for that policy. Otherwise a scale is a change of tracked content without
// provenance, judged as Evaluate judges one through the object: an UntracedChange for
// anyone who is not a trusted submitter, and for a trusted submitter too when the
// policy requires provenance, which a Scale cannot carry. The way to scale under such a
// policy is the pipeline, or a patch of the workload with spec.replicas and a
// kubetrail.io/break-glass reason together.
func EvaluateScale(policies []*Compiled, in ScaleInput) (Decision, error) {
	var d Decision
	if in.OldReplicas == in.Replicas {
		return d, nil
	}
	path := field.NewPath("spec", "replicas")
	for _, p := range policies {
		changed, err := replicasTracked(p, in)
		if err != nil {
			return d, err
		}
		if !changed {
			continue
		}
		trusted := len(p.Spec.TrustedSubmitters) == 0 || MatchesAny(p.Spec.TrustedSubmitters, in.Identity)
		var why string
		switch {
		case !trusted:
			why = fmt.Sprintf("%s is not a trusted submitter", in.Identity.Username)
		case len(p.Spec.RequiredFields) > 0 || (p.Spec.Signing != nil && p.Spec.Signing.Required):
			why = "the policy requires provenance, which the scale subresource cannot carry"
		default:
			continue
		}
		v := Violation{Type: v1alpha1.FindingUntracedChange, Mode: p.Spec.Mode, Policies: []string{p.Name},
			Err: field.Forbidden(path, fmt.Sprintf("%s scaled %s %s from %d to %d replicas through the scale subresource and %s: "+
				"change spec.replicas in the manifest and let the pipeline apply it; if an autoscaler or on-call owns replicas, "+
				"add /spec/replicas to the policy's spec.ignore for %s; in an emergency, patch the %s with spec.replicas and a kubetrail.io/break-glass reason",
				in.Identity.Username, in.Kind, in.Name, in.OldReplicas, in.Replicas, why, in.Kind, in.Kind))}
		d.add(v, false)
	}
	return d, nil
}

// replicasTracked reports whether spec.replicas is tracked content under p for the
// kind: the same digest and ignore rules as a change through the object itself.
func replicasTracked(p *Compiled, in ScaleInput) (bool, error) {
	ignore := IgnorePaths([]*Compiled{p}, in.Kind)
	before, err := digest.Of(map[string]interface{}{"spec": map[string]interface{}{"replicas": in.OldReplicas}}, ignore)
	if err != nil {
		return false, err
	}
	after, err := digest.Of(map[string]interface{}{"spec": map[string]interface{}{"replicas": in.Replicas}}, ignore)
	if err != nil {
		return false, err
	}
	return before != after, nil
}
