package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/kubetrail/kubetrail/internal/clusterpolicy"
	"net/http"
	"time"

	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kubetrail/kubetrail/internal/admissionfacts"
	"github.com/kubetrail/kubetrail/internal/policy"
	"github.com/kubetrail/kubetrail/internal/provenance"
	"github.com/kubetrail/kubetrail/internal/signing"
)

// Stamper is the mutating webhook: it writes the admission facts (who, when, digest,
// verified) on every admitted change of tracked content, and undoes any attempt by a
// client to write them itself.
type Stamper struct {
	Policies *clusterpolicy.Source
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

var _ admission.Handler = &Stamper{}

// Handle implements admission.Handler.
func (s *Stamper) Handle(ctx context.Context, req admission.Request) admission.Response {
	r, ok, err := decodeTracked(req, now(s.Now))
	if err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	if !ok {
		return admission.Allowed("")
	}
	policies, err := s.Policies.Selecting(ctx, r.Kind.GVK.Group, r.Kind.GVK.Kind, req.Namespace)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	verified := false
	if sig := annotation(r.Object, provenance.SignatureKey); sig != "" {
		_, verr := signing.Verify(ctx, sig, signing.StatementOf(r.Object), policy.Keys(policies), r.Now)
		verified = verr == nil
	}
	plan, err := admissionfacts.Decide(admissionfacts.Request{
		Object: r.Object, OldObject: r.Old, Username: r.Identity.Username, Now: r.Now,
		Ignore: policy.IgnorePaths(policies, r.Kind.GVK.Kind), Verified: verified,
	})
	if err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	admissionfacts.Apply(r.Object, plan)
	patched, err := json.Marshal(r.Object)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	resp := admission.PatchResponseFromRaw(req.Object.Raw, patched)
	for _, k := range plan.Replaced {
		resp.Warnings = append(resp.Warnings, fmt.Sprintf("kubetrail: %s is written only by kubetrail's admission webhook; the value sent was replaced", k))
	}
	if len(plan.Replaced) > 0 {
		logf.FromContext(ctx).Info("Replaced client-sent admission annotations", "kind", r.Kind.GVK.Kind,
			"namespace", req.Namespace, "name", req.Name, "user", r.Identity.Username, "keys", plan.Replaced)
	}
	return resp
}

func annotation(obj map[string]interface{}, key string) string {
	md, _ := obj["metadata"].(map[string]interface{})
	ann, _ := md["annotations"].(map[string]interface{})
	v, _ := ann[key].(string)
	return v
}

func now(clock func() time.Time) time.Time {
	if clock == nil {
		return time.Now()
	}
	return clock()
}
