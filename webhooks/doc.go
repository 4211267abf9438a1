// Package webhooks holds kubetrail's admission handlers, kept thin: they decode the
// request, resolve what needs the cluster (policies, their keys, namespace labels,
// referenced roles) and hand the decision to the pure packages under internal/.
//
//   - Stamper (mutating, /mutate-tracked) writes the admission facts.
//   - Enforcer (validating, /validate-tracked) applies the TracePolicies.
//   - RecordGuard (validating, /validate-tracerecord) lets only kubetrail's manager
//     write TraceRecords.
package webhooks
