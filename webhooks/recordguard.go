package webhooks

import (
	"context"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// RecordGuard is the validating webhook on TraceRecords: a record is evidence, so only
// kubetrail's own manager may create, change or delete one. Cluster-admins included,
// everyone else is denied; the namespace controller and the garbage collector may
// delete records when their namespace goes away.
type RecordGuard struct {
	// ManagerUsernames are the identities kubetrail's manager runs as.
	ManagerUsernames []string
}

var _ admission.Handler = &RecordGuard{}

// cleanupUsers may delete records: a namespace being deleted takes its records along.
var cleanupUsers = map[string]bool{
	"system:serviceaccount:kube-system:namespace-controller":      true,
	"system:serviceaccount:kube-system:generic-garbage-collector": true,
	"system:kube-controller-manager":                              true,
}

// Handle implements admission.Handler.
func (g *RecordGuard) Handle(_ context.Context, req admission.Request) admission.Response {
	user := req.UserInfo.Username
	for _, m := range g.ManagerUsernames {
		if user == m {
			// Counted apart: with the not-the-manager matchCondition in place the manager's
			// writes never get here, so a rising count says the condition does not match
			// the manager's identity (installed under another name) and every record write
			// pays a webhook round trip.
			admissionDecisions.WithLabelValues("TraceRecord", "allowed-manager").Inc()
			return admission.Allowed("")
		}
	}
	if req.Operation == admissionv1.Delete && cleanupUsers[user] {
		admissionDecisions.WithLabelValues("TraceRecord", "allowed-cleanup").Inc()
		return admission.Allowed("")
	}
	what := map[admissionv1.Operation]string{admissionv1.Create: "create", admissionv1.Update: "change", admissionv1.Delete: "delete"}[req.Operation]
	if what == "" {
		what = "change"
	}
	admissionDecisions.WithLabelValues("TraceRecord", "denied").Inc()
	return admission.Denied(fmt.Sprintf("TraceRecords are evidence kept by kubetrail's manager: %s may not %s TraceRecord %s/%s. "+
		"Records are written only by the manager; to correct one, change the traced object through the pipeline", user, what, req.Namespace, req.Name))
}
