// Package controllers holds kubetrail's reconcilers.
//
// TraceReconciler keeps one TraceRecord per tracked object, one instance per tracked
// kind (generic over unstructured objects; Secrets metadata-only). A record holds the
// object's current traced provenance and admission facts (spec), and its bounded
// revision history, drift, findings and conditions (status). Records have no owner
// references: they outlive their target as tombstones for a retention period.
// TracePolicyReconciler reports whether each TracePolicy is usable and keeps the
// validating webhook's failurePolicy in line with the policies in force.
//
// The pure parts (record names, history, conditions) are plain functions with table
// tests; the findings' pure helpers live in internal/findings.
package controllers
