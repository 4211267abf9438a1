package webhooks

import (
	"context"
	"net/http"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kubetrail/kubetrail/internal/clusterpolicy"
	"github.com/kubetrail/kubetrail/internal/policy"
	"github.com/kubetrail/kubetrail/internal/tracked"
)

// NamespaceGuard is the validating webhook on Namespace updates: a namespace's labels
// decide which policies select it, so relabelling one out of an enforcing policy is a
// way around it (review finding M8). internal/policy.EvaluateRelabel decides.
type NamespaceGuard struct {
	Policies *clusterpolicy.Source
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

var _ admission.Handler = &NamespaceGuard{}

var namespaceKind = tracked.Kind{GVK: schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, Resource: "namespaces"}

// Handle implements admission.Handler.
func (g *NamespaceGuard) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Update || req.SubResource != "" {
		return admission.Allowed("")
	}
	r := &trackedRequest{Request: req, Kind: namespaceKind, Now: now(g.Now),
		Identity: policy.Identity{Username: req.UserInfo.Username, Groups: req.UserInfo.Groups}}
	if policy.IsSystem(r.Identity) {
		return admission.Allowed("")
	}
	var err error
	if r.Object, err = decodeObject(req.Object.Raw); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	if r.Old, err = decodeObject(req.OldObject.Raw); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	oldLabels, newLabels := labelsOf(r.Old), labelsOf(r.Object)
	if sameLabels(oldLabels, newLabels) {
		return admission.Allowed("")
	}
	all, err := g.Policies.All(ctx)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	d := policy.EvaluateRelabel(all, policy.RelabelInput{Name: req.Name, Identity: r.Identity,
		OldLabels: oldLabels, Labels: newLabels, Annotations: policy.AnnotationsOf(r.Object)})
	if d.Allowed() && (len(d.Warned) > 0 || len(d.Overridden) > 0) {
		logf.FromContext(ctx).Info("Namespace relabelled out of a TracePolicy", "namespace", req.Name, "user", r.Identity.Username,
			"breakGlass", d.BreakGlass, "warned", len(d.Warned))
	}
	return respond(ctx, r, d, nil)
}

func labelsOf(obj map[string]interface{}) map[string]string {
	md, _ := obj["metadata"].(map[string]interface{})
	raw, _ := md["labels"].(map[string]interface{})
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

func sameLabels(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
