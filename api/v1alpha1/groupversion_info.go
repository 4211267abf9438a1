// Package v1alpha1 holds kubetrail's API: TraceRecord, the per-object memory of where
// a cluster object came from, and TracePolicy, what admission requires of a change.
// It imports only apimachinery and k8s.io/api so other tools can use the types cheaply.
//
// +kubebuilder:object:generate=true
// +groupName=kubetrail.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of kubetrail's API.
	GroupVersion = schema.GroupVersion{Group: "kubetrail.io", Version: "v1alpha1"}

	// SchemeBuilder registers the types with a scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the types in this group-version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
