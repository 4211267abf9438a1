// Package tracked lists the kinds kubetrail traces by default and answers questions
// about them (scope, whether a controller owns an object), so that the webhook
// configuration, the reconcilers and the CLI agree on what is tracked.
package tracked

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Kind is one tracked kind with its resource name, scope and kubectl's short names.
type Kind struct {
	GVK        schema.GroupVersionKind
	Resource   string
	Namespaced bool
	// ShortNames are kubectl's abbreviations (deploy, rs, cm), which the CLI accepts.
	ShortNames []string
	// Subresources are the subresources through which an update changes what runs
	// (kubectl scale, kubectl debug, in-place resize). The validating webhook judges
	// them by who sent them: a subresource request carries no provenance.
	Subresources []string
}

// with returns k with the subresources that change what it runs.
func (k Kind) with(subresources ...string) Kind {
	k.Subresources = subresources
	return k
}

// Subresource names governed by the validating webhook.
const (
	SubresourceScale               = "scale"
	SubresourceEphemeralContainers = "ephemeralcontainers"
	SubresourceResize              = "resize"
)

func kind(group, version, name, resource string, namespaced bool, short ...string) Kind {
	return Kind{GVK: schema.GroupVersionKind{Group: group, Version: version, Kind: name}, Resource: resource, Namespaced: namespaced, ShortNames: short}
}

// GVR is the kind's group, version and resource.
func (k Kind) GVR() schema.GroupVersionResource {
	return k.GVK.GroupVersion().WithResource(k.Resource)
}

// Set is a list of tracked kinds: Default, or the part of it a manager is configured
// to trace (--tracked-kinds).
type Set []Kind

// Default are the kinds traced out of the box. Secrets are traced by metadata only: their
// values are never read into a digest, a record or a log.
var Default = Set{
	kind("apps", "v1", "Deployment", "deployments", true, "deploy").with(SubresourceScale),
	kind("apps", "v1", "StatefulSet", "statefulsets", true, "sts").with(SubresourceScale),
	kind("apps", "v1", "DaemonSet", "daemonsets", true, "ds"),
	// ReplicaSets and ReplicationControllers run Pods as surely as Deployments do; the
	// built-in edit role creates both, so leaving them out left a way to run anything.
	kind("apps", "v1", "ReplicaSet", "replicasets", true, "rs").with(SubresourceScale),
	kind("", "v1", "ReplicationController", "replicationcontrollers", true, "rc").with(SubresourceScale),
	kind("batch", "v1", "Job", "jobs", true),
	kind("batch", "v1", "CronJob", "cronjobs", true, "cj"),
	kind("", "v1", "Pod", "pods", true, "po").with(SubresourceEphemeralContainers, SubresourceResize),
	kind("", "v1", "Service", "services", true, "svc"),
	kind("", "v1", "ConfigMap", "configmaps", true, "cm"),
	kind("", "v1", "Secret", "secrets", true),
	kind("", "v1", "ServiceAccount", "serviceaccounts", true, "sa"),
	kind("networking.k8s.io", "v1", "Ingress", "ingresses", true, "ing"),
	kind("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", true, "netpol"),
	kind("rbac.authorization.k8s.io", "v1", "Role", "roles", true),
	kind("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true, "rb"),
	kind("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false, "cr"),
	kind("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", false, "crb"),
}

// HasSubresource reports whether updates through sub are governed for k.
func (k Kind) HasSubresource(sub string) bool {
	for _, s := range k.Subresources {
		if s == sub {
			return true
		}
	}
	return false
}

// Lookup finds a kind of the table by group and kind (any version).
func Lookup(group, kind string) (Kind, bool) { return Default.Lookup(group, kind) }

// LookupResource finds a kind of the table by group and resource.
func LookupResource(group, resource string) (Kind, bool) {
	return Default.LookupResource(group, resource)
}

// Lookup finds a kind of s by group and kind (any version).
func (s Set) Lookup(group, kind string) (Kind, bool) {
	for _, k := range s {
		if k.GVK.Group == group && k.GVK.Kind == kind {
			return k, true
		}
	}
	return Kind{}, false
}

// LookupResource finds a kind of s by group and resource (as admission requests name it).
func (s Set) LookupResource(group, resource string) (Kind, bool) {
	for _, k := range s {
		if k.GVK.Group == group && k.Resource == resource {
			return k, true
		}
	}
	return Kind{}, false
}

// Find resolves a kubectl-style name against s: the kind (any case), its resource
// name or a short name, each optionally followed by ".<group>" (deployments.apps,
// "core" for the core group).
func (s Set) Find(name string) (Kind, bool) {
	n, group, hasGroup := strings.Cut(strings.ToLower(strings.TrimSpace(name)), ".")
	for _, k := range s {
		if hasGroup && k.GVK.Group != group && !(group == "core" && k.GVK.Group == "") {
			continue
		}
		if n == strings.ToLower(k.GVK.Kind) || n == k.Resource || slices.Contains(k.ShortNames, n) {
			return k, true
		}
	}
	return Kind{}, false
}

// Select returns the kinds of Default that names name (kubectl-style, see Find), in
// the table's order; all of Default when names is empty. An unknown name is an error
// that names it and lists what can be named: kubetrail traces no kind it has no rules
// for (digest, derivation, webhook rules), so a kind outside the table is refused.
func Select(names []string) (Set, error) {
	if len(names) == 0 {
		return Default, nil
	}
	chosen := map[string]bool{}
	var unknown []string
	for _, n := range names {
		k, ok := Default.Find(n)
		if !ok {
			unknown = append(unknown, fmt.Sprintf("%q", n))
			continue
		}
		chosen[k.GVK.String()] = true
	}
	if len(unknown) > 0 {
		var known []string
		for _, k := range Default {
			known = append(known, k.Resource)
		}
		return nil, fmt.Errorf("--tracked-kinds: unknown kind %s: name kinds as kubectl does, from %s", strings.Join(unknown, ", "), strings.Join(known, ", "))
	}
	var out Set
	for _, k := range Default {
		if chosen[k.GVK.String()] {
			out = append(out, k)
		}
	}
	return out, nil
}

// ControllerOwned reports whether obj has an owner reference with controller: true.
// It is a fact the client sets: it never decides trust (see DerivedBy).
func ControllerOwned(obj map[string]interface{}) bool {
	_, ok := ControllerRef(obj)
	return ok
}

// OwnerRef is the controller owner reference of an object.
type OwnerRef struct {
	APIVersion, Kind, Name, UID string
}

// ControllerRef returns obj's owner reference with controller: true.
func ControllerRef(obj map[string]interface{}) (OwnerRef, bool) {
	md, _ := obj["metadata"].(map[string]interface{})
	refs, _ := md["ownerReferences"].([]interface{})
	for _, r := range refs {
		m, ok := r.(map[string]interface{})
		if !ok {
			continue
		}
		if c, _ := m["controller"].(bool); c {
			ref := OwnerRef{}
			ref.APIVersion, _ = m["apiVersion"].(string)
			ref.Kind, _ = m["kind"].(string)
			ref.Name, _ = m["name"].(string)
			ref.UID, _ = m["uid"].(string)
			return ref, true
		}
	}
	return OwnerRef{}, false
}

// Derivation is one way the control plane derives an object of Kind from an owner:
// the owner's group and kind, and the kube-controller-manager controller (its service
// account in kube-system, as --use-service-account-credentials runs it) that writes it.
type Derivation struct {
	Kind       string
	OwnerGroup string
	OwnerKind  string
	Controller string
}

// Derivations lists every derivation kubetrail accepts. An object counts as derived
// only when it has a controller reference to an owner of the listed kind AND was
// admitted from that controller's identity: an ownerReference alone is a field anyone
// who may write the object can set, and must never be a way past admission (a forged
// reference to a ConfigMap once took any object past both webhooks).
var Derivations = []Derivation{
	{"ReplicaSet", "apps", "Deployment", "deployment-controller"},
	{"Pod", "apps", "ReplicaSet", "replicaset-controller"},
	{"Pod", "", "ReplicationController", "replication-controller"},
	{"Pod", "apps", "StatefulSet", "statefulset-controller"},
	{"Pod", "apps", "DaemonSet", "daemon-set-controller"},
	{"Pod", "batch", "Job", "job-controller"},
	{"Job", "batch", "CronJob", "cronjob-controller"},
}

// ControllerManagerUser is kube-controller-manager's own identity, which every
// controller uses when it does not run with per-controller service accounts.
const ControllerManagerUser = "system:kube-controller-manager"

// ControllerUsername is the username of a kube-controller-manager controller.
func ControllerUsername(controller string) string {
	return "system:serviceaccount:kube-system:" + controller
}

// DerivedBy reports whether an object of kind, owned (as controller) by ref, and
// admitted by username, was derived by the controller that owns that derivation.
func DerivedBy(kind string, ref OwnerRef, username string) bool {
	group, _, _ := SplitAPIVersion(ref.APIVersion)
	for _, d := range Derivations {
		if d.Kind == kind && d.OwnerKind == ref.Kind && d.OwnerGroup == group &&
			(username == ControllerUsername(d.Controller) || username == ControllerManagerUser) {
			return true
		}
	}
	return false
}

// SplitAPIVersion splits an apiVersion into group and version ("v1" has the core group).
func SplitAPIVersion(apiVersion string) (group, version string, ok bool) {
	for i := 0; i < len(apiVersion); i++ {
		if apiVersion[i] == '/' {
			return apiVersion[:i], apiVersion[i+1:], true
		}
	}
	return "", apiVersion, apiVersion != ""
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
