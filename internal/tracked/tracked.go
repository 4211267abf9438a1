// Package tracked lists the kinds kubetrail traces by default and answers questions
// about them (scope, whether a controller owns an object), so that the webhook
// configuration, the reconcilers and the CLI agree on what is tracked.
package tracked

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Kind is one tracked kind with its resource name and scope.
type Kind struct {
	GVK        schema.GroupVersionKind
	Resource   string
	Namespaced bool
}

// GVR is the kind's group, version and resource.
func (k Kind) GVR() schema.GroupVersionResource {
	return k.GVK.GroupVersion().WithResource(k.Resource)
}

// Default are the kinds traced out of the box. Secrets are traced by metadata only: their
// values are never read into a digest, a record or a log.
var Default = []Kind{
	{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, "deployments", true},
	{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "StatefulSet"}, "statefulsets", true},
	{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "DaemonSet"}, "daemonsets", true},
	{schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "Job"}, "jobs", true},
	{schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "CronJob"}, "cronjobs", true},
	{schema.GroupVersionKind{Group: "", Version: "v1", Kind: "Pod"}, "pods", true},
	{schema.GroupVersionKind{Group: "", Version: "v1", Kind: "Service"}, "services", true},
	{schema.GroupVersionKind{Group: "", Version: "v1", Kind: "ConfigMap"}, "configmaps", true},
	{schema.GroupVersionKind{Group: "", Version: "v1", Kind: "Secret"}, "secrets", true},
	{schema.GroupVersionKind{Group: "", Version: "v1", Kind: "ServiceAccount"}, "serviceaccounts", true},
	{schema.GroupVersionKind{Group: "networking.k8s.io", Version: "v1", Kind: "Ingress"}, "ingresses", true},
	{schema.GroupVersionKind{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy"}, "networkpolicies", true},
	{schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "Role"}, "roles", true},
	{schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "RoleBinding"}, "rolebindings", true},
	{schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}, "clusterroles", false},
	{schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRoleBinding"}, "clusterrolebindings", false},
}

// Lookup finds a tracked kind by group and kind (any version).
func Lookup(group, kind string) (Kind, bool) {
	for _, k := range Default {
		if k.GVK.Group == group && k.GVK.Kind == kind {
			return k, true
		}
	}
	return Kind{}, false
}

// LookupResource finds a tracked kind by group and resource (as admission requests name it).
func LookupResource(group, resource string) (Kind, bool) {
	for _, k := range Default {
		if k.GVK.Group == group && k.Resource == resource {
			return k, true
		}
	}
	return Kind{}, false
}

// ControllerOwned reports whether obj has an owner reference with controller: true.
// Such objects (a Deployment's ReplicaSets and their Pods, a CronJob's Jobs) are derived:
// they are never blocked and inherit provenance from their owner.
func ControllerOwned(obj map[string]interface{}) bool {
	md, _ := obj["metadata"].(map[string]interface{})
	refs, _ := md["ownerReferences"].([]interface{})
	for _, r := range refs {
		if m, ok := r.(map[string]interface{}); ok {
			if c, _ := m["controller"].(bool); c {
				return true
			}
		}
	}
	return false
}

// ControlPlaneObject reports whether an object is one the control plane creates and
// keeps on its own: the bootstrap RBAC roles and bindings, each namespace's
// kube-root-ca.crt ConfigMap and default ServiceAccount, the default/kubernetes
// Service. No code change produces them, so recording them would bury the objects
// that matter under hundreds of untraced records (a fresh cluster has about 150).
func ControlPlaneObject(kind, namespace, name string, labels map[string]string) bool {
	if labels["kubernetes.io/bootstrapping"] == "rbac-defaults" {
		return true
	}
	// RBAC objects only by that label: a "system:" name alone is something anyone
	// with RBAC rights can choose, and must not be a way out of tracing.
	switch kind {
	case "ConfigMap":
		return name == "kube-root-ca.crt"
	case "ServiceAccount":
		return name == "default"
	case "Service":
		return namespace == "default" && name == "kubernetes"
	}
	return false
}
