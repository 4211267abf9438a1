package controllers

import "github.com/kubetrail/kubetrail/internal/tracked"

// RecordName is the name of the TraceRecord of the object kind/name; see
// tracked.RecordName, which the CLI uses too.
func RecordName(kind, name string) string { return tracked.RecordName(kind, name) }
