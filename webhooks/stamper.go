package webhooks

import (
	"strings"

	"context"
	"fmt"
	"github.com/kubetrail/kubetrail/internal/clusterpolicy"
	jsonpatch "gomodules.xyz/jsonpatch/v2"
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
	resp := admission.Patched("", annotationPatches(r.Object, plan.Annotations)...)
	for _, k := range plan.Replaced {
		resp.Warnings = append(resp.Warnings, fmt.Sprintf("kubetrail: %s is written only by kubetrail's admission webhook; the value sent was replaced", k))
	}
	if len(plan.Replaced) > 0 {
		logf.FromContext(ctx).Info("Replaced client-sent admission annotations", "kind", r.Kind.GVK.Kind,
			"namespace", req.Namespace, "name", req.Name, "user", r.Identity.Username, "keys", plan.Replaced)
	}
	return resp
}

// annotationPatches are the JSON patch operations that make obj carry exactly the
// admission annotations in want. Written out rather than diffed from a re-encoded
// object (admission.PatchResponseFromRaw): the diff parsed the whole object twice
// again and was a sixth of the webhook's time per request.
func annotationPatches(obj map[string]interface{}, want map[string]string) []jsonpatch.JsonPatchOperation {
	md, hasMD := obj["metadata"].(map[string]interface{})
	ann, hasAnn := md["annotations"].(map[string]interface{})
	if !hasAnn || ann == nil {
		if len(want) == 0 {
			return nil
		}
		value := make(map[string]interface{}, len(want))
		for k, v := range want {
			value[k] = v
		}
		if !hasMD || md == nil {
			// No metadata object to add the annotations to (missing, null, not an
			// object): a patch into it would not apply.
			return []jsonpatch.JsonPatchOperation{{Operation: "add", Path: "/metadata", Value: map[string]interface{}{"annotations": value}}}
		}
		return []jsonpatch.JsonPatchOperation{{Operation: "add", Path: "/metadata/annotations", Value: value}}
	}
	var ops []jsonpatch.JsonPatchOperation
	for _, k := range provenance.AdmissionKeys {
		path := "/metadata/annotations/" + strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
		have, present := ann[k]
		v, set := want[k]
		switch {
		case set && (!present || have != v):
			ops = append(ops, jsonpatch.JsonPatchOperation{Operation: "add", Path: path, Value: v})
		case !set && present:
			ops = append(ops, jsonpatch.JsonPatchOperation{Operation: "remove", Path: path})
		}
	}
	return ops
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
