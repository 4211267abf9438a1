// Package controllers holds kubetrail's reconciler: one TraceRecord per tracked object,
// kept by one reconciler instance per tracked kind (generic over unstructured objects;
// Secrets metadata-only). A record holds the object's current traced provenance and
// admission facts (spec), and its bounded revision history, drift, findings and
// conditions (status). Records have no owner references: they outlive their target as
// tombstones for a retention period.
//
// The pure parts (names, history, conditions) are plain functions with table tests; the
// findings' pure helpers live in internal/findings.
package controllers
