// Package rbacrisk tells kubetrail when an RBAC change hands someone a dangerous
// permission they did not hold before, and which one.
//
// The infrastructure-as-code review that kubetrail traces usually looks at one
// object at a time: a RoleBinding that mentions "edit", a ClusterRole that gains a
// label. Whether that change is an escalation depends on the rest of the cluster:
// what the referenced role actually grants, which aggregated ClusterRoles pick up
// a newly labelled role, and which groups a ServiceAccount implicitly belongs to.
// This package evaluates a whole RBAC Snapshot the way the API server authorizer
// would, maps the effective permissions onto a catalogue of known-dangerous
// grants, and diffs two snapshots so the admission webhook and the controller can
// say "ServiceAccount ci/deployer gained cluster-admin via
// ClusterRoleBinding/x -> ClusterRole/y".
//
// The catalogue follows the rule sets of KubiScan, rbac-police and krane:
// cluster-admin equivalence and wildcards, reading secrets, pods/exec and
// pods/attach, impersonation, escalate/bind on roles, writing role bindings,
// nodes/proxy, minting ServiceAccount tokens, approving CSRs, writing admission
// webhook configurations and writing workloads in kube-system. Rules lists the
// catalogue with IDs, severities and descriptions.
//
// Matching mirrors the Kubernetes RBAC authorizer (k8s.io/kubernetes
// pkg/apis/rbac/v1/evaluation_helpers.go) rather than a looser pattern match:
// "*" is the only wildcard for verbs and API groups; a resource matches exactly,
// through "*", or through "*/<subresource>" ("pods/*" does NOT match pods/exec,
// exactly as in the API server); rules with resources but no API groups or no
// verbs grant nothing. Aggregated ClusterRoles are recomputed from their label
// selectors as the clusterrole-aggregation controller would, and unioned with
// their stored rules, because the stored rules lag behind a freshly labelled role
// and that lag is exactly the window an IaC review must not miss.
//
// resourceNames policy: a rule restricted by resourceNames never counts towards
// cluster-admin or wildcard equivalence, and does not match the rules whose
// danger is breadth (secrets-read, pods-exec, serviceaccount-token,
// create-rolebindings, create-workloads): a named grant is a reviewed, narrow
// exception. It still matches the rules whose danger is the verb itself
// (impersonate, escalate-bind, nodes-proxy, csr-approval, webhook-config):
// "bind" restricted to resourceNames [cluster-admin] is the classic escalation,
// not a mitigation. The Grant text keeps the names so a reviewer sees them. As in
// the API server, a named rule never grants create (except on subresources) or
// deletecollection.
//
// Scopes: a ClusterRoleBinding grants at Scope "cluster"; a RoleBinding grants
// only in its namespace, whether it references a Role or a ClusterRole, and
// checks on cluster-scoped resources (nodes, CSRs, webhook configurations,
// impersonating users and groups) do not fire there because the authorizer
// never consults RoleBindings for them.
//
// The package is pure: it imports no client, never mutates its input, and does
// not panic on malformed objects (unresolvable role refs, empty names, invalid
// label selectors are skipped the way the API server or controller would).
package rbacrisk
