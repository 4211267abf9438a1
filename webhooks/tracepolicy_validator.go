package webhooks

import (
	"context"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/policy"
)

// TracePolicyValidator is the validating webhook on TracePolicies: a policy that
// internal/policy.Validate finds errors in is denied, each error naming its field and
// how to fix it, so that a typo never reaches admission of the objects it selects.
//
// Policies stored before (or while the webhook was not installed) are compiled
// without their bad parts and reported Ready=False; this webhook lets their metadata
// change (labels, finalizers) as long as the spec stays the same, and asks for a
// valid spec with the next change of it.
type TracePolicyValidator struct{}

var _ admission.Validator[*v1alpha1.TracePolicy] = TracePolicyValidator{}

// tracePolicyScheme decodes TracePolicies for the typed validator.
var tracePolicyScheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}()

// newTracePolicyWebhook is the admission webhook serving v.
func newTracePolicyWebhook(v TracePolicyValidator) *admission.Webhook {
	return admission.WithValidator[*v1alpha1.TracePolicy](tracePolicyScheme, v)
}

// ValidateCreate implements admission.Validator.
func (TracePolicyValidator) ValidateCreate(_ context.Context, p *v1alpha1.TracePolicy) (admission.Warnings, error) {
	return nil, invalidPolicy(p, policy.Validate(&p.Spec, field.NewPath("spec")))
}

// ValidateUpdate implements admission.Validator.
func (TracePolicyValidator) ValidateUpdate(_ context.Context, old, p *v1alpha1.TracePolicy) (admission.Warnings, error) {
	errs := policy.Validate(&p.Spec, field.NewPath("spec"))
	if len(errs) > 0 && equality.Semantic.DeepEqual(old.Spec, p.Spec) {
		// Stored before validation: metadata may change; the spec's errors are told.
		warnings := make(admission.Warnings, 0, len(errs))
		for _, e := range errs {
			warnings = append(warnings, "kubetrail: TracePolicy "+p.Name+" is invalid, its bad parts are not applied: "+e.Error())
		}
		return warnings, nil
	}
	return nil, invalidPolicy(p, errs)
}

// ValidateDelete implements admission.Validator; deletes are not sent to the webhook.
func (TracePolicyValidator) ValidateDelete(context.Context, *v1alpha1.TracePolicy) (admission.Warnings, error) {
	return nil, nil
}

func invalidPolicy(p *v1alpha1.TracePolicy, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	admissionDecisions.WithLabelValues("TracePolicy", "denied").Inc()
	return apierrors.NewInvalid(v1alpha1.GroupVersion.WithKind("TracePolicy").GroupKind(), p.Name, errs)
}
