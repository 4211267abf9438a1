package webhooks

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// admissionDecisions counts the validating webhook's decisions by kind and result
// (allowed, warned, denied, break-glass, exempt; for TraceRecords allowed-manager,
// allowed-cleanup, denied).
var admissionDecisions = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "kubetrail_admission_decisions_total",
	Help: "Admission decisions of kubetrail's validating webhook, by kind and result.",
}, []string{"kind", "result"})

func init() {
	metrics.Registry.MustRegister(admissionDecisions)
}
