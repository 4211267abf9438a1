// Package workload finds the pod template inside the workload kinds kubetrail tracks
// (Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs), so that
// digesting, signing, secret scanning and RBAC dependents all read the same fields.
// It works on unstructured content and imports no client.
package workload
