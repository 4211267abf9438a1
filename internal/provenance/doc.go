// Package provenance defines kubetrail's annotation keys (the public contract pipelines
// write against) and reads, validates and compares the provenance an object carries.
// The admission webhook, the reconciler and the CLI all go through it so that a key is
// spelled, and a value is judged, the same way everywhere.
package provenance
