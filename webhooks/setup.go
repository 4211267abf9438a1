package webhooks

import (
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// Paths the webhook configurations in config/webhook call.
const (
	MutateTrackedPath       = "/mutate-tracked"
	ValidateTrackedPath     = "/validate-tracked"
	ValidateTraceRecordPath = "/validate-tracerecord"
	ValidateTracePolicyPath = "/validate-tracepolicy"
	ValidateNamespacePath   = "/validate-namespace"
)

// Handlers are kubetrail's admission handlers.
type Handlers struct {
	Stamper     *Stamper
	Enforcer    *Enforcer
	RecordGuard *RecordGuard
	// NamespaceGuard judges namespace relabelling; nil serves none.
	NamespaceGuard *NamespaceGuard
}

// Register serves the handlers on srv, and the TracePolicy validator (which needs no
// configuration).
func (h Handlers) Register(srv webhook.Server) {
	srv.Register(ValidateTracePolicyPath, newTracePolicyWebhook(TracePolicyValidator{}))
	srv.Register(MutateTrackedPath, &admission.Webhook{Handler: h.Stamper})
	srv.Register(ValidateTrackedPath, &admission.Webhook{Handler: h.Enforcer})
	srv.Register(ValidateTraceRecordPath, &admission.Webhook{Handler: h.RecordGuard})
	if h.NamespaceGuard != nil {
		srv.Register(ValidateNamespacePath, &admission.Webhook{Handler: h.NamespaceGuard})
	}
}
