package rbacrisk

import (
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// Severity ranks a risk. The string values are what ends up in audit records and
// admission messages, so they are spelled for humans.
type Severity string

const (
	Critical Severity = "Critical"
	High     Severity = "High"
	Medium   Severity = "Medium"
	Low      Severity = "Low"
)

// Rank orders severities so callers can apply thresholds ("deny at High and
// above") without string comparisons. Unknown severities rank lowest so a typo
// never outranks a real finding.
func (s Severity) Rank() int {
	switch s {
	case Critical:
		return 4
	case High:
		return 3
	case Medium:
		return 2
	case Low:
		return 1
	}
	return 0
}

// ScopeCluster is the Risk.Scope of permissions granted cluster-wide through a
// ClusterRoleBinding. Every other scope is a namespace name.
const ScopeCluster = "cluster"

// Rule IDs. They are stable identifiers for alerts and suppressions.
const (
	RuleClusterAdmin        = "cluster-admin"
	RuleNamespaceAdmin      = "namespace-admin"
	RuleWildcardVerbs       = "wildcard-verbs"
	RuleWildcardResources   = "wildcard-resources"
	RuleSecretsRead         = "secrets-read"
	RulePodsExec            = "pods-exec"
	RuleImpersonate         = "impersonate"
	RuleEscalateBind        = "escalate-bind"
	RuleCreateRoleBindings  = "create-rolebindings"
	RuleNodesProxy          = "nodes-proxy"
	RuleServiceAccountToken = "serviceaccount-token"
	RuleCSRApproval         = "csr-approval"
	RuleWebhookConfig       = "webhook-config"
	RuleCreateWorkloads     = "create-workloads"
)

// RuleInfo describes one entry of the risk catalogue. A zero severity means the
// rule cannot fire at that kind of scope (for example nodes/proxy inside a
// namespace, because nodes are cluster-scoped).
type RuleInfo struct {
	ID                string
	Description       string
	ClusterSeverity   Severity
	NamespaceSeverity Severity
}

// Rules returns the catalogue in its fixed order (roughly most severe first;
// it is also the tie-break when sorting risks), so docs, dashboards and
// suppression lists can be generated from the same source as the checks.
func Rules() []RuleInfo {
	out := make([]RuleInfo, 0, len(catalogue))
	for _, d := range catalogue {
		out = append(out, RuleInfo{ID: d.id, Description: d.desc, ClusterSeverity: d.sevCluster, NamespaceSeverity: d.sevNamespace})
	}
	return out
}

const (
	groupCore         = ""
	groupRBAC         = rbacv1.GroupName
	groupCertificates = "certificates.k8s.io"
	groupAdmission    = "admissionregistration.k8s.io"
	groupAuthn        = "authentication.k8s.io"
	groupApps         = "apps"
	groupBatch        = "batch"
)

// An atom is one elementary dangerous capability a single PolicyRule can carry.
// Catalogue rules are conjunctions of atoms, which lets a rule such as
// csr-approval require two capabilities that may come from different roles or
// bindings, and lets per-role matching be computed once and reused by every
// binding that references the role.
const (
	atomWildcardAll = iota
	atomNonResourceAll
	atomWildcardVerbs
	atomWildcardResources
	atomSecretsRead
	atomPodsExec
	atomImpersonate
	atomEscalateBind
	atomWriteBindings
	atomNodesProxy
	atomSAToken
	atomCSRApprovalUpdate
	atomSignerApprove
	atomWebhookWrite
	atomWorkloadWrite
	numAtoms
)

// matcher reports whether a PolicyRule carries an atom. cluster is false when
// the rule is granted inside a namespace only.
type matcher func(r *rbacv1.PolicyRule, cluster bool) bool

// perm is one (apiGroup, resource, any-of verbs) request an attacker would make.
// clusterOnly marks cluster-scoped resources, which a RoleBinding cannot grant.
type perm struct {
	group, resource string
	verbs           []string
	clusterOnly     bool
}

var (
	readVerbs  = []string{"get", "list", "watch"}
	writeVerbs = []string{"create", "update", "patch"}
	// delete is included for admission configuration because removing a
	// webhook (kubetrail's own included) silently switches a control off.
	adminWriteVerbs = []string{"create", "update", "patch", "delete"}
	// Constrained impersonation (KEP-5284) verbs are matched as well: the
	// companion "impersonate-on:" grants are not checked, so this may over-report
	// for clusters using constrained impersonation, which is the safe direction.
	impersonateVerbs = []string{"impersonate", "impersonate:user-info", "impersonate:serviceaccount", "impersonate:arbitrary-node"}
)

var atomMatchers = [numAtoms]matcher{
	atomWildcardAll:       wildcardAll,
	atomNonResourceAll:    nonResourceAll,
	atomWildcardVerbs:     wildcardVerbs,
	atomWildcardResources: wildcardResources,
	atomSecretsRead:       anyOf(false, perm{groupCore, "secrets", readVerbs, false}),
	// get is included for pods/exec and pods/attach because before the
	// AuthorizePodWebsocketUpgradeCreatePermission gate, a websocket upgrade was
	// authorized as get and older clusters still behave that way.
	atomPodsExec: anyOf(false,
		perm{groupCore, "pods/exec", []string{"create", "get"}, false},
		perm{groupCore, "pods/attach", []string{"create", "get"}, false}),
	atomImpersonate: anyOf(true,
		perm{groupCore, "users", impersonateVerbs, true},
		perm{groupCore, "groups", impersonateVerbs, true},
		perm{groupCore, "nodes", impersonateVerbs, true},
		perm{groupAuthn, "uids", impersonateVerbs, true},
		// ServiceAccount impersonation is authorized in the SA's namespace, so a
		// RoleBinding can grant it.
		perm{groupCore, "serviceaccounts", impersonateVerbs, false}),
	// bind on clusterroles is checked in the RoleBinding's namespace when a
	// RoleBinding references a ClusterRole, so it is not cluster-only.
	atomEscalateBind: anyOf(true,
		perm{groupRBAC, "roles", []string{"escalate", "bind"}, false},
		perm{groupRBAC, "clusterroles", []string{"escalate", "bind"}, false}),
	atomWriteBindings: anyOf(false,
		perm{groupRBAC, "rolebindings", writeVerbs, false},
		perm{groupRBAC, "clusterrolebindings", writeVerbs, true}),
	// get on nodes/proxy is enough: the kubelet authorizes websocket exec as get.
	atomNodesProxy: anyOf(true, perm{groupCore, "nodes/proxy", []string{"get", "create"}, true}),
	atomSAToken:    anyOf(false, perm{groupCore, "serviceaccounts/token", []string{"create"}, false}),
	atomCSRApprovalUpdate: anyOf(true,
		perm{groupCertificates, "certificatesigningrequests/approval", []string{"update", "patch"}, true}),
	atomSignerApprove: anyOf(true, perm{groupCertificates, "signers", []string{"approve"}, true}),
	atomWebhookWrite: anyOf(true,
		perm{groupAdmission, "mutatingwebhookconfigurations", adminWriteVerbs, true},
		perm{groupAdmission, "validatingwebhookconfigurations", adminWriteVerbs, true}),
	atomWorkloadWrite: anyOf(false,
		perm{groupCore, "pods", writeVerbs, false},
		perm{groupCore, "replicationcontrollers", writeVerbs, false},
		perm{groupApps, "deployments", writeVerbs, false},
		perm{groupApps, "daemonsets", writeVerbs, false},
		perm{groupApps, "statefulsets", writeVerbs, false},
		perm{groupApps, "replicasets", writeVerbs, false},
		perm{groupBatch, "jobs", writeVerbs, false},
		perm{groupBatch, "cronjobs", writeVerbs, false}),
}

// ruleDef is a catalogue entry: it fires when every atom in parts is held at the
// scope. extra atoms do not trigger the rule but are shown in its Grant, so a
// cluster-admin finding also names the nonResourceURLs wildcard that completes it.
type ruleDef struct {
	id, desc     string
	sevCluster   Severity // "" when the rule cannot fire cluster-wide
	sevNamespace Severity // "" when the rule cannot fire inside a namespace
	// namespaces restricts namespace-scoped firing to these namespaces; nil
	// means any namespace.
	namespaces map[string]bool
	parts      []int
	extra      []int

	partsMask, allMask uint64
}

// privilegedNamespaces hold the control-plane's own service accounts; a pod
// started there can run as any of them, so workload writes there are as good as
// holding those accounts' permissions.
var privilegedNamespaces = map[string]bool{"kube-system": true}

// catalogue order is the tie-break between equally severe risks in output.
var catalogue = buildCatalogue([]ruleDef{
	{id: RuleClusterAdmin, sevCluster: Critical, parts: []int{atomWildcardAll}, extra: []int{atomNonResourceAll},
		desc: "all verbs on all resources in all API groups cluster-wide: equivalent to cluster-admin"},
	{id: RuleNamespaceAdmin, sevNamespace: High, parts: []int{atomWildcardAll},
		desc: "all verbs on all resources in all API groups within the namespace: full control of it, including its secrets and service accounts"},
	{id: RuleImpersonate, sevCluster: Critical, sevNamespace: High, parts: []int{atomImpersonate},
		desc: "can impersonate users, groups, nodes or service accounts, e.g. the system:masters group, bypassing RBAC entirely"},
	{id: RuleEscalateBind, sevCluster: Critical, sevNamespace: High, parts: []int{atomEscalateBind},
		desc: "escalate or bind on roles lets the subject grant itself permissions it does not hold, up to cluster-admin"},
	{id: RuleNodesProxy, sevCluster: Critical, parts: []int{atomNodesProxy},
		desc: "nodes/proxy reaches the kubelet API directly: exec into any pod on any node without audit of the pod exec"},
	{id: RuleServiceAccountToken, sevCluster: Critical, sevNamespace: High, parts: []int{atomSAToken},
		desc: "can mint tokens for service accounts and act as them, including privileged controller accounts"},
	{id: RuleCSRApproval, sevCluster: Critical, parts: []int{atomCSRApprovalUpdate, atomSignerApprove},
		desc: "can approve certificate signing requests for a signer: mint client certificates for any identity, e.g. in system:masters"},
	{id: RuleSecretsRead, sevCluster: Critical, sevNamespace: High, parts: []int{atomSecretsRead},
		desc: "can read secrets, including service account tokens and credentials of other workloads"},
	{id: RulePodsExec, sevCluster: Critical, sevNamespace: High, parts: []int{atomPodsExec},
		desc: "can exec or attach into pods and act with their mounted service account tokens and credentials"},
	{id: RuleWebhookConfig, sevCluster: High, parts: []int{atomWebhookWrite},
		desc: "can write admission webhook configurations: intercept or mutate every API write, or switch admission controls (kubetrail included) off"},
	{id: RuleCreateWorkloads, sevCluster: High, sevNamespace: High, namespaces: privilegedNamespaces, parts: []int{atomWorkloadWrite},
		desc: "can create or modify workloads where privileged service accounts live and so run code as any of them"},
	{id: RuleWildcardVerbs, sevCluster: Medium, sevNamespace: Low, parts: []int{atomWildcardVerbs},
		desc: "wildcard verbs grant every current and future verb, including escalate, bind and impersonate where they apply"},
	{id: RuleWildcardResources, sevCluster: Medium, sevNamespace: Low, parts: []int{atomWildcardResources},
		desc: "wildcard resources grant every current and future resource and subresource in the API groups, including secrets and pods/exec"},
	{id: RuleCreateRoleBindings, sevCluster: Medium, sevNamespace: Medium, parts: []int{atomWriteBindings},
		desc: "can create or modify role bindings: hand its own permissions to other subjects, and escalate outright when combined with bind"},
})

func buildCatalogue(defs []ruleDef) []ruleDef {
	for i := range defs {
		for _, a := range defs[i].parts {
			defs[i].partsMask |= 1 << a
		}
		defs[i].allMask = defs[i].partsMask
		for _, a := range defs[i].extra {
			defs[i].allMask |= 1 << a
		}
	}
	return defs
}

// ruleOrder gives each rule ID its catalogue position for stable ordering.
var ruleOrder = func() map[string]int {
	m := make(map[string]int, len(catalogue))
	for i, d := range catalogue {
		m[d.id] = i
	}
	return m
}()

// atomsOf computes which atoms one PolicyRule carries at a kind of scope.
func atomsOf(r *rbacv1.PolicyRule, cluster bool) uint64 {
	var m uint64
	for i, f := range atomMatchers {
		if f(r, cluster) {
			m |= 1 << i
		}
	}
	return m
}

func has(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// grantsResources reports whether a rule can match any resource request at all:
// the authorizer needs a verb, an API group and a resource to match, and no
// request has an empty verb.
func grantsResources(r *rbacv1.PolicyRule) bool {
	return slices.ContainsFunc(r.Verbs, func(v string) bool { return v != "" }) &&
		len(r.APIGroups) > 0 && len(r.Resources) > 0
}

func wildcardAll(r *rbacv1.PolicyRule, _ bool) bool {
	return len(r.ResourceNames) == 0 && has(r.Verbs, rbacv1.VerbAll) &&
		has(r.Resources, rbacv1.ResourceAll) && has(r.APIGroups, rbacv1.APIGroupAll)
}

func nonResourceAll(r *rbacv1.PolicyRule, cluster bool) bool {
	// Non-resource URLs are only ever authorized cluster-wide.
	return cluster && has(r.Verbs, rbacv1.VerbAll) && has(r.NonResourceURLs, rbacv1.NonResourceAll)
}

func wildcardVerbs(r *rbacv1.PolicyRule, _ bool) bool {
	return len(r.ResourceNames) == 0 && grantsResources(r) && has(r.Verbs, rbacv1.VerbAll)
}

func wildcardResources(r *rbacv1.PolicyRule, _ bool) bool {
	return len(r.ResourceNames) == 0 && grantsResources(r) && has(r.Resources, rbacv1.ResourceAll)
}

// anyOf builds a matcher that fires when the rule authorizes any of the perms.
// namedOK says whether a resourceNames-restricted rule still counts (see the
// package documentation for which rules and why).
func anyOf(namedOK bool, perms ...perm) matcher {
	return func(r *rbacv1.PolicyRule, cluster bool) bool {
		named := len(r.ResourceNames) > 0
		if named && !namedOK {
			return false
		}
		for _, p := range perms {
			if p.clusterOnly && !cluster {
				continue
			}
			if !apiGroupMatches(r, p.group) || !resourceMatches(r, p.resource) {
				continue
			}
			for _, v := range p.verbs {
				if named && !nameableVerb(v, p.resource) {
					continue
				}
				if verbMatches(r, v) {
					return true
				}
			}
		}
		return false
	}
}

// nameableVerb mirrors the API server: create (of a top-level resource) and
// deletecollection requests carry no object name, so a rule restricted by
// resourceNames can never authorize them.
func nameableVerb(verb, resource string) bool {
	switch verb {
	case "deletecollection":
		return false
	case "create":
		return strings.Contains(resource, "/")
	}
	return true
}

func verbMatches(r *rbacv1.PolicyRule, verb string) bool {
	for _, v := range r.Verbs {
		if v == rbacv1.VerbAll || v == verb {
			return true
		}
	}
	return false
}

func apiGroupMatches(r *rbacv1.PolicyRule, group string) bool {
	for _, g := range r.APIGroups {
		if g == rbacv1.APIGroupAll || g == group {
			return true
		}
	}
	return false
}

// resourceMatches follows ResourceMatches in the RBAC authorizer: exact match,
// "*", or "*/<subresource>" for a subresource request. Nothing else is a
// wildcard, so "pods/*" does not grant pods/exec.
func resourceMatches(r *rbacv1.PolicyRule, requested string) bool {
	sub := ""
	if i := strings.IndexByte(requested, '/'); i >= 0 {
		sub = requested[i+1:]
	}
	for _, res := range r.Resources {
		if res == rbacv1.ResourceAll || res == requested {
			return true
		}
		if sub != "" && res == "*/"+sub {
			return true
		}
	}
	return false
}
