package digest

import (
	"maps"
	"slices"
	"strings"

	"github.com/kubetrail/kubetrail/internal/provenance"
)

// Labels and annotations are tracked content, except the keys below. Keeping them
// short matters: every key left out is one anybody may change without a trace.
//
// Left out of the annotations:
//   - kubetrail's own keys, the admission facts (provenance.AdmissionKeys) and the
//     provenance a pipeline writes (provenance.ProvenanceKeys, the signature and the
//     break-glass reason included). The admission facts carry the digest itself; the
//     provenance is recorded (and checked) on its own, and stamping or signing a
//     manifest must not change the content digest that a signature may bind.
//   - controllerAnnotations: what the control plane writes on objects by itself.
//
// Left out of the labels: controllerLabels, what the control plane writes.
//
// Any other kubetrail.io/ key is content like any other.

// controllerAnnotations are annotations controllers and the apiserver write on an
// object (not on its pod template: a template's annotations, such as
// kubectl.kubernetes.io/restartedAt, are part of spec and always tracked).
var controllerAnnotations = map[string]bool{
	// A copy of the applied manifest kubectl keeps for its three-way merge: not
	// content of its own (the content it copies is tracked), and the manager's cache
	// drops it.
	"kubectl.kubernetes.io/last-applied-configuration": true,
	// The deployment controller (on Deployments and their ReplicaSets).
	"deployment.kubernetes.io/revision":         true,
	"deployment.kubernetes.io/revision-history": true,
	"deployment.kubernetes.io/desired-replicas": true,
	"deployment.kubernetes.io/max-replicas":     true,
	// The apiserver itself, on every DaemonSet create and template change, after the
	// mutating webhooks ran.
	"deprecated.daemonset.template.generation": true,
	// The endpoints controller.
	"endpoints.kubernetes.io/last-change-trigger-time": true,
	// The service account token controller, on service account token Secrets (the
	// service account's name, kubernetes.io/service-account.name, is written by
	// whoever creates the Secret and stays tracked).
	"kubernetes.io/service-account.uid": true,
}

// controllerLabels are labels controllers and the apiserver write on an object.
var controllerLabels = map[string]bool{
	// The deployment, daemonset and statefulset controllers (ReplicaSets, Pods,
	// ControllerRevisions).
	"pod-template-hash":        true,
	"controller-revision-hash": true,
	"pod-template-generation":  true,
	// The job controller and the apiserver (Jobs and their Pods).
	"batch.kubernetes.io/controller-uid": true,
	"batch.kubernetes.io/job-name":       true,
	"controller-uid":                     true,
	"job-name":                           true,
	// The apiserver's legacy service account token tracking and cleaner.
	"kubernetes.io/legacy-token-last-used":     true,
	"kubernetes.io/legacy-token-invalid-since": true,
}

// ControllerOwnedAnnotations and ControllerOwnedLabels list the metadata keys the
// control plane writes, which are not tracked content (for documentation and tests).
func ControllerOwnedAnnotations() []string { return slices.Sorted(maps.Keys(controllerAnnotations)) }

// ControllerOwnedLabels: see ControllerOwnedAnnotations.
func ControllerOwnedLabels() []string { return slices.Sorted(maps.Keys(controllerLabels)) }

// untracked reports whether key, in metadata's field ("labels" or "annotations"),
// is left out of the tracked content.
func untracked(field, key string) bool {
	if field == "labels" {
		return controllerLabels[key]
	}
	if strings.HasPrefix(key, provenance.Prefix) {
		if provenance.IsAdmissionKey(key) {
			return true
		}
		for _, k := range provenance.ProvenanceKeys {
			if k == key {
				return true
			}
		}
		return false
	}
	return controllerAnnotations[key]
}

// trackedMetadataFields are the fields of metadata that are tracked content, sorted.
var trackedMetadataFields = [...]string{"annotations", "labels", "name", "namespace"}

// trackedStrings returns the tracked part of metadata's labels or annotations (field)
// held in v: v itself when none of its keys is left out, a copy without them
// otherwise, and nil when nothing is left (an absent, null or empty map, or one of
// left-out keys only, is no content: stamping admission facts on an object without
// annotations must not change its digest). ok is false when v is neither a map nor
// nil (malformed input, which the apiserver never returns): the caller then tracks v
// as it is.
func trackedStrings(field string, v interface{}) (out map[string]interface{}, ok bool) {
	switch m := v.(type) {
	case nil:
		return nil, true
	case map[string]interface{}:
		n := 0
		for k := range m {
			if !untracked(field, k) {
				n++
			}
		}
		if n == 0 {
			return nil, true
		}
		if n == len(m) {
			return m, true
		}
		out = make(map[string]interface{}, n)
		for k, e := range m {
			if !untracked(field, k) {
				out[k] = e
			}
		}
		return out, true
	case map[string]string:
		// Built by hand (tests, callers converting typed objects).
		out = make(map[string]interface{}, len(m))
		for k, e := range m {
			if !untracked(field, k) {
				out[k] = e
			}
		}
		if len(out) == 0 {
			return nil, true
		}
		return out, true
	default:
		return nil, false
	}
}
