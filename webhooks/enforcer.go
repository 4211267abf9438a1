package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/admissionfacts"
	"github.com/kubetrail/kubetrail/internal/clusterpolicy"
	"github.com/kubetrail/kubetrail/internal/policy"
	"github.com/kubetrail/kubetrail/internal/provenance"
	"github.com/kubetrail/kubetrail/internal/signing"
	"github.com/kubetrail/kubetrail/internal/tracked"
)

// Enforcer is the validating webhook: it applies the TracePolicies that select the
// object and denies, warns or admits.
type Enforcer struct {
	Policies *clusterpolicy.Source
	// Kinds are the kinds judged (--tracked-kinds); all of internal/tracked when nil.
	// Requests for others are admitted untouched.
	Kinds tracked.Set
	// Deletes records admitted deletes on the objects' TraceRecords; nil records none.
	Deletes DeleteRecorder
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

var _ admission.Handler = &Enforcer{}

// Handle implements admission.Handler.
func (e *Enforcer) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.SubResource != "" {
		return e.handleSubresource(ctx, req)
	}
	if req.Operation == admissionv1.Delete {
		return e.handleDelete(ctx, req)
	}
	r, ok, err := decodeTracked(req, e.Kinds, now(e.Now))
	if err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	if !ok {
		return admission.Allowed("")
	}
	policies, applicable, exempt, err := e.policiesFor(ctx, r)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	if exempt {
		return admission.Allowed("")
	}

	// The same ignore rules as the Stamper (every selecting policy's), so that the plan
	// is the one it wrote and Forged below compares like with like.
	plan, err := admissionfacts.Decide(admissionfacts.Request{
		Object: r.Object, OldObject: r.Old, Username: r.Identity.Username, Now: r.Now,
		Ignore: policy.IgnorePaths(policies, r.Kind.GVK.Kind),
	})
	if err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	in := policy.Input{
		Create:         r.Old == nil,
		Identity:       r.Identity,
		Object:         r.Object,
		OldObject:      r.Old,
		ContentChanged: plan.ContentChanged,
		Now:            r.Now,
		DryRun:         req.DryRun != nil && *req.DryRun,
	}
	if plan.ContentChanged {
		in.RBACRisks = policy.GrantedRisks(r.Kind.GVK.Kind, r.Object, r.Old, e.Policies.RoleRules(ctx))
	}
	d := policy.Evaluate(ctx, applicable, in)
	// The Stamper wrote kubetrail.io/verified against the keys of every selecting
	// policy; when an exemption left fewer policies applicable, check against those too.
	verified := d.Verified
	if len(applicable) < len(policies) {
		verified = false
		if sig := annotation(r.Object, provenance.SignatureKey); sig != "" {
			_, verr := signing.Verify(ctx, sig, signing.StatementOf(r.Object), policy.Keys(policies), r.Now)
			verified = verr == nil
		}
	}
	// The mutating webhook ran first and wrote the facts; if they are not what it would
	// have written, it was bypassed and the client forged them.
	if k := admissionfacts.Forged(admissionfacts.Of(r.Object), plan, verified); k != "" {
		admissionDecisions.WithLabelValues(r.Kind.GVK.Kind, "denied").Inc()
		return deny(r, field.ErrorList{field.Forbidden(field.NewPath("metadata", "annotations").Key(k),
			"is written only by kubetrail's admission webhook; remove it from the manifest (was the mutating webhook bypassed?)")}, nil)
	}

	return respond(ctx, r, d, applicable)
}

// policiesFor returns the policies selecting r's object and those of them that apply
// to its submitter; exempt is true (and counted) when none is to be applied to it.
func (e *Enforcer) policiesFor(ctx context.Context, r *trackedRequest) (policies, applicable []*policy.Compiled, exempt bool, err error) {
	// The control plane is never blocked, and what its controllers derive from traced
	// objects passes with it: the reconciler resolves their provenance through the
	// owner. An ownerReference alone exempts nothing: anyone who may write an object can
	// set one (internal/tracked.DerivedBy).
	if policy.IsSystem(r.Identity) {
		admissionDecisions.WithLabelValues(r.Kind.GVK.Kind, "exempt").Inc()
		return nil, nil, true, nil
	}
	policies, err = e.Policies.Selecting(ctx, r.Kind.GVK.Group, r.Kind.GVK.Kind, r.Namespace)
	if err != nil {
		return nil, nil, false, err
	}
	for _, p := range policies {
		if !policy.MatchesAny(p.Spec.Exempt, r.Identity) {
			applicable = append(applicable, p)
		}
	}
	if len(policies) > 0 && len(applicable) == 0 {
		admissionDecisions.WithLabelValues(r.Kind.GVK.Kind, "exempt").Inc()
		return policies, nil, true, nil
	}
	return policies, applicable, false, nil
}

// handleSubresource judges an update through a subresource that changes what runs
// (internal/tracked lists them per kind). The stamper never sees these requests: the
// apiserver keeps only the subresource's fields, so no fact or provenance can come
// with them and there is nothing to check for forgery. They are judged by who sent
// them, and the reconciler records the result as an untraced revision naming the
// submitter and its field manager.
func (e *Enforcer) handleSubresource(ctx context.Context, req admission.Request) admission.Response {
	kind, ok := kindsOrDefault(e.Kinds).LookupResource(req.Resource.Group, req.Resource.Resource)
	if !ok || !kind.HasSubresource(req.SubResource) || req.Operation != admissionv1.Update {
		return admission.Allowed("")
	}
	r := &trackedRequest{Request: req, Kind: kind, Now: now(e.Now),
		Identity: policy.Identity{Username: req.UserInfo.Username, Groups: req.UserInfo.Groups}}
	var err error
	if r.Object, err = decodeObject(req.Object.Raw); err != nil {
		return admission.Errored(http.StatusBadRequest, fmt.Errorf("decoding object: %w", err))
	}
	if r.Old, err = decodeObject(req.OldObject.Raw); err != nil {
		return admission.Errored(http.StatusBadRequest, fmt.Errorf("decoding oldObject: %w", err))
	}
	policies, applicable, exempt, err := e.policiesFor(ctx, r)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	if exempt {
		return admission.Allowed("")
	}
	// The record will name the field manager (kubectl-scale), not the user: the
	// apiserver keeps no annotation a subresource request carries, so who sent it is
	// known here only, and logged.
	logf.FromContext(ctx).Info("Change through a subresource", "kind", kind.GVK.Kind, "subresource", req.SubResource,
		"namespace", req.Namespace, "name", req.Name, "user", r.Identity.Username, "policies", len(applicable))
	if len(policies) == 0 {
		return admission.Allowed("")
	}
	var d policy.Decision
	if req.SubResource == tracked.SubresourceScale {
		// The objects are autoscaling/v1 Scales, not the workload.
		d, err = policy.EvaluateScale(applicable, policy.ScaleInput{Kind: kind.GVK.Kind, Name: req.Name, Identity: r.Identity,
			OldReplicas: replicasOf(r.Old), Replicas: replicasOf(r.Object)})
	} else {
		// A Pod subresource (ephemeralcontainers, resize): the objects are the Pod as
		// stored before and after, so the change is judged as one through the Pod with
		// the provenance it already had, which this change did not renew.
		var plan admissionfacts.Plan
		plan, err = admissionfacts.Decide(admissionfacts.Request{Object: r.Object, OldObject: r.Old, Username: r.Identity.Username,
			Now: r.Now, Ignore: policy.IgnorePaths(policies, kind.GVK.Kind)})
		d = policy.Evaluate(ctx, applicable, policy.Input{Identity: r.Identity, Object: r.Object, OldObject: r.Old,
			ContentChanged: plan.ContentChanged, Now: r.Now})
	}
	if err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	return respond(ctx, r, d, applicable)
}

// DeleteRecorder writes an admitted delete onto the deleted object's TraceRecord.
type DeleteRecorder interface {
	RecordDelete(ctx context.Context, kind tracked.Kind, namespace, name string, req v1alpha1.DeleteRequest) error
}

// handleDelete judges a delete (spec.deletes) and records who made it on the object's
// record, so that its tombstone names the deleter: the reconciler only sees the object
// go. The write is the webhook's one side effect (sideEffects: NoneOnDryRun, skipped
// for dry runs); a failure to write is logged, never a reason to deny. The control
// plane's deletes (garbage collector, namespace controller) are not sent here.
func (e *Enforcer) handleDelete(ctx context.Context, req admission.Request) admission.Response {
	kind, ok := kindsOrDefault(e.Kinds).LookupResource(req.Resource.Group, req.Resource.Resource)
	if !ok {
		return admission.Allowed("")
	}
	r := &trackedRequest{Request: req, Kind: kind, Now: now(e.Now),
		Identity: policy.Identity{Username: req.UserInfo.Username, Groups: req.UserInfo.Groups}}
	var err error
	if r.Old, err = decodeObject(req.OldObject.Raw); err != nil {
		// The apiserver sends the stored object; one kubetrail cannot read is no reason
		// to block a delete (it has no content to judge), and is not recorded.
		logf.FromContext(ctx).Error(err, "Admitting a delete whose object cannot be decoded", "kind", kind.GVK.Kind,
			"namespace", req.Namespace, "name", req.Name, "user", r.Identity.Username)
		return admission.Allowed("")
	}
	_, applicable, exempt, err := e.policiesFor(ctx, r)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	var d policy.Decision
	trusted := false
	resp := admission.Allowed("") // an exempt identity's delete is recorded, not judged
	if !exempt {
		d, trusted = policy.EvaluateDelete(applicable, policy.DeleteInput{Kind: kind.GVK.Kind, Name: req.Name, Identity: r.Identity, Object: r.Old})
		resp = respond(ctx, r, d, applicable)
	}
	if !resp.Allowed || e.Deletes == nil || (req.DryRun != nil && *req.DryRun) {
		return resp
	}
	dr := v1alpha1.DeleteRequest{RequestedBy: r.Identity.Username, RequestedAt: metav1.NewTime(r.Now), Trusted: trusted, BreakGlass: d.BreakGlass}
	for _, v := range append(append(append([]policy.Violation{}, d.Overridden...), d.Warned...), d.Audited...) {
		dr.Violations = append(dr.Violations, v.String())
	}
	if err := e.Deletes.RecordDelete(ctx, kind, req.Namespace, req.Name, dr); err != nil {
		logf.FromContext(ctx).Error(err, "Recording who deleted an object on its TraceRecord", "kind", kind.GVK.Kind,
			"namespace", req.Namespace, "name", req.Name, "user", r.Identity.Username)
	}
	return resp
}

// replicasOf reads spec.replicas of a decoded Scale (0 when absent, as the apiserver
// defaults it).
func replicasOf(obj map[string]interface{}) int64 {
	spec, _ := obj["spec"].(map[string]interface{})
	switch n := spec["replicas"].(type) {
	case int64:
		return n
	case float64:
		return int64(n)
	case json.Number:
		i, _ := n.Int64()
		return i
	}
	return 0
}

// respond turns a decision into the admission response: denied with every violation's
// field, or admitted with warnings, and counted.
func respond(ctx context.Context, r *trackedRequest, d policy.Decision, applicable []*policy.Compiled) admission.Response {
	var warnings []string
	for _, v := range d.Warned {
		warnings = append(warnings, "kubetrail: "+v.String())
	}
	for _, v := range d.Overridden {
		warnings = append(warnings, "kubetrail: overridden by break-glass: "+v.String())
	}
	warnings = append(warnings, d.Warnings...)
	for _, p := range applicable {
		for _, prob := range p.Problems {
			warnings = append(warnings, fmt.Sprintf("kubetrail: TracePolicy %s: %s", p.Name, prob))
		}
	}
	if !d.Allowed() {
		errs := make(field.ErrorList, 0, len(d.Denied))
		var names []string
		for _, v := range d.Denied {
			errs = append(errs, v.Err)
			names = append(names, v.Policies...)
		}
		admissionDecisions.WithLabelValues(r.Kind.GVK.Kind, "denied").Inc()
		logf.FromContext(ctx).Info("Denied untraceable change", "kind", r.Kind.GVK.Kind, "subresource", r.SubResource,
			"namespace", r.Namespace, "name", r.Name, "user", r.Identity.Username, "violations", len(errs))
		return deny(r, errs, uniq(names)).WithWarnings(warnings...)
	}
	result := "allowed"
	if len(d.Warned) > 0 {
		result = "warned"
	}
	if d.BreakGlass != "" {
		result = "break-glass"
	}
	admissionDecisions.WithLabelValues(r.Kind.GVK.Kind, result).Inc()
	resp := admission.Allowed("").WithWarnings(warnings...)
	if d.BreakGlass != "" {
		// Into the apiserver's audit log too (as enforce.kubetrail.io/break-glass), where
		// no one who can edit the object or its record can remove it (M10).
		resp.AuditAnnotations = map[string]string{"break-glass": d.BreakGlass, "break-glass-by": r.Identity.Username}
	}
	return resp
}

func deny(r *trackedRequest, errs field.ErrorList, policies []string) admission.Response {
	gk := schema.GroupKind{Group: r.Kind.GVK.Group, Kind: r.Kind.GVK.Kind}
	status := apierrors.NewInvalid(gk, r.Name, errs)
	if len(policies) > 0 {
		status.ErrStatus.Message = fmt.Sprintf("%s (kubetrail TracePolicy %s, mode %s)", status.ErrStatus.Message,
			strings.Join(policies, ","), v1alpha1.ModeEnforce)
	}
	resp := admission.Denied(status.ErrStatus.Message)
	resp.Result = &status.ErrStatus
	return resp
}

func uniq(list []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
