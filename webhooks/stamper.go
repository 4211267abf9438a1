package webhooks

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	jsonpatch "gomodules.xyz/jsonpatch/v2"

	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kubetrail/kubetrail/internal/admissionfacts"
	"github.com/kubetrail/kubetrail/internal/clusterpolicy"
	"github.com/kubetrail/kubetrail/internal/policy"
	"github.com/kubetrail/kubetrail/internal/provenance"
	"github.com/kubetrail/kubetrail/internal/signing"
	"github.com/kubetrail/kubetrail/internal/tracked"
)

// Stamper is the mutating webhook: it writes the admission facts (who, when, digest,
// verified) on every admitted change of tracked content, and undoes any attempt by a
// client to write them itself.
type Stamper struct {
	Policies *clusterpolicy.Source
	// Kinds are the kinds stamped (--tracked-kinds); all of internal/tracked when nil.
	// Requests for others pass untouched.
	Kinds tracked.Set
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

var _ admission.Handler = &Stamper{}

// Handle implements admission.Handler.
//
// The stamper denies only a request it cannot read at all (not JSON, larger than
// maxObjectBytes). What it cannot decide because of an error of its own (the
// policies cannot be read, the digest cannot be computed with their ignore paths)
// it admits with a warning, stamped without the policies or unstamped, and logs
// (never the object). The validating webhook judges the request, and the reconciler
// records an unstamped change as untraced. Denying here would make one bad policy,
// or a passing cache error, block every update of every tracked object, the control
// plane's included (H5).
func (s *Stamper) Handle(ctx context.Context, req admission.Request) admission.Response {
	r, ok, err := decodeTracked(req, s.Kinds, now(s.Now))
	if err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	if !ok {
		return admission.Allowed("")
	}
	var warnings []string
	policies, err := s.Policies.Selecting(ctx, r.Kind.GVK.Group, r.Kind.GVK.Kind, req.Namespace)
	if err != nil {
		// Stamp as with no policy: no ignore paths (more changes count as content),
		// no trusted keys (nothing verified). Both err on the side of recording.
		logf.FromContext(ctx).Error(err, "Stamping without the TracePolicies, which could not be read", "kind", r.Kind.GVK.Kind,
			"namespace", req.Namespace, "name", req.Name, "user", r.Identity.Username)
		warnings = append(warnings, fmt.Sprintf("kubetrail: stamped without the TracePolicies, which could not be read: %v", err))
		policies = nil
	}
	verified := false
	if sig := annotation(r.Object, provenance.SignatureKey); sig != "" {
		_, verr := signing.Verify(ctx, sig, signing.StatementOf(r.Object), policy.Keys(policies), r.Now)
		verified = verr == nil
	}
	facts := admissionfacts.Request{
		Object: r.Object, OldObject: r.Old, Username: r.Identity.Username, Now: r.Now,
		Ignore: policy.IgnorePaths(policies, r.Kind.GVK.Kind), Verified: verified,
	}
	plan, err := admissionfacts.Decide(facts)
	if err != nil && len(facts.Ignore) > 0 {
		// Compile leaves out the pointers digest.Of refuses; should one get through,
		// the policies' ignore paths are what is dropped, not the request.
		logf.FromContext(ctx).Error(err, "Stamping without the TracePolicies' ignore paths", "kind", r.Kind.GVK.Kind,
			"namespace", req.Namespace, "name", req.Name, "user", r.Identity.Username)
		warnings = append(warnings, fmt.Sprintf("kubetrail: stamped without the TracePolicies' ignore paths: %v", err))
		facts.Ignore = nil
		plan, err = admissionfacts.Decide(facts)
	}
	if err != nil {
		return admitUnstamped(ctx, r, err)
	}
	resp := admission.Patched("", annotationPatches(r.Object, plan.Annotations)...)
	resp.Warnings = warnings
	for _, k := range plan.Replaced {
		resp.Warnings = append(resp.Warnings, fmt.Sprintf("kubetrail: %s is written only by kubetrail's admission webhook; the value sent was replaced", k))
	}
	if len(plan.Replaced) > 0 {
		logf.FromContext(ctx).Info("Replaced client-sent admission annotations", "kind", r.Kind.GVK.Kind,
			"namespace", req.Namespace, "name", req.Name, "user", r.Identity.Username, "keys", plan.Replaced)
	}
	return resp
}

// admitUnstamped admits an object whose admission facts cannot be computed, without
// any: whatever facts it carries are removed, since none of them is kubetrail's for
// this content. The error names what failed (a pointer, a count), never a value.
func admitUnstamped(ctx context.Context, r *trackedRequest, err error) admission.Response {
	logf.FromContext(ctx).Error(err, "Admitted without admission facts", "kind", r.Kind.GVK.Kind,
		"namespace", r.Namespace, "name", r.Name, "user", r.Identity.Username)
	resp := admission.Patched("", annotationPatches(r.Object, map[string]string{})...)
	resp.Warnings = []string{fmt.Sprintf("kubetrail: admitted without admission facts, which could not be computed (%v); the change is recorded as untraced", err)}
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
