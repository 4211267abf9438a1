package policy

import (
	"strings"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
)

// Identity is who sent an admission request.
type Identity struct {
	Username string
	Groups   []string
}

const serviceAccountPrefix = "system:serviceaccount:"

// systemUsers are identities of the control plane itself. They are never asked for
// provenance: blocking them would break the cluster, and what they write is derived.
var systemUsers = map[string]bool{
	"system:apiserver":               true,
	"system:kube-controller-manager": true,
	"system:kube-scheduler":          true,
	"system:kube-proxy":              true,
}

// ControllerManagerControllers are the service accounts in kube-system that
// kube-controller-manager's controllers run as (--use-service-account-credentials), from
// Kubernetes' bootstrap controller policy (plugin/pkg/auth/authorizer/rbac/bootstrappolicy,
// v1.37). Only these exact names are exempt: cloud distributions install third-party
// controllers, autoscalers and agents in kube-system too, and a namespace is no identity.
// config/webhook/manifests.yaml lists the same names (a test keeps them equal).
var ControllerManagerControllers = []string{
	"attachdetach-controller", "certificate-controller", "clusterrole-aggregation-controller",
	"cronjob-controller", "daemon-set-controller", "deployment-controller",
	"device-taint-eviction-controller", "disruption-controller", "endpoint-controller",
	"endpointslice-controller", "endpointslicemirroring-controller", "ephemeral-volume-controller",
	"expand-controller", "generic-garbage-collector", "horizontal-pod-autoscaler", "job-controller",
	"kube-apiserver-serving-clustertrustbundle-publisher", "legacy-service-account-token-cleaner",
	"namespace-controller", "node-controller", "persistent-volume-binder", "pod-garbage-collector",
	"podcertificaterequestcleaner", "podgroup-protection-controller", "pv-protection-controller",
	"pvc-protection-controller", "replicaset-controller", "replication-controller",
	"resource-claim-controller", "resourcepoolstatusrequest-controller", "resourcequota-controller",
	"root-ca-cert-publisher", "route-controller", "selinux-warning-controller",
	"service-account-controller", "service-cidrs-controller", "service-controller",
	"statefulset-controller", "storage-version-garbage-collector", "storage-version-migrator-controller",
	"ttl-after-finished-controller", "ttl-controller", "validatingadmissionpolicy-status-controller",
	"volumeattributesclass-protection-controller",
}

// SystemUsernames are the exact usernames IsSystem exempts (kubelets aside).
func SystemUsernames() []string {
	out := make([]string, 0, len(systemUsers)+len(ControllerManagerControllers))
	for _, c := range ControllerManagerControllers {
		out = append(out, serviceAccountPrefix+"kube-system:"+c)
	}
	for u := range systemUsers {
		out = append(out, u)
	}
	return out
}

var controllerUsers = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range ControllerManagerControllers {
		m[serviceAccountPrefix+"kube-system:"+c] = true
	}
	return m
}()

// IsSystem reports whether id is part of the control plane: the apiserver, scheduler,
// kube-proxy, kube-controller-manager and its controllers' exact service accounts, and
// kubelets (a system:node:<name> user in group system:nodes). No group alone and no
// namespace makes an identity system: either is something an impersonator or a tenant
// of kube-system can claim.
func IsSystem(id Identity) bool {
	if systemUsers[id.Username] || controllerUsers[id.Username] {
		return true
	}
	if strings.HasPrefix(id.Username, "system:node:") {
		for _, g := range id.Groups {
			if g == "system:nodes" {
				return true
			}
		}
	}
	return false
}

// Matches reports whether subject s names identity id.
func Matches(s v1alpha1.Subject, id Identity) bool {
	switch s.Kind {
	case v1alpha1.SubjectUser:
		return s.Name == id.Username
	case v1alpha1.SubjectGroup:
		for _, g := range id.Groups {
			if g == s.Name {
				return true
			}
		}
	case v1alpha1.SubjectServiceAccount:
		rest, isSA := strings.CutPrefix(id.Username, serviceAccountPrefix)
		ns, name, ok := strings.Cut(rest, ":")
		// Like the apiserver's serviceaccount.SplitUsername: exactly "namespace:name",
		// neither empty. Anything else is no service account, not even for "*".
		if !isSA || !ok || ns == "" || name == "" || strings.Contains(name, ":") || ns != s.Namespace {
			return false
		}
		return s.Name == "*" || s.Name == name
	}
	return false
}

// MatchesAny reports whether any of subjects names id.
func MatchesAny(subjects []v1alpha1.Subject, id Identity) bool {
	for _, s := range subjects {
		if Matches(s, id) {
			return true
		}
	}
	return false
}
