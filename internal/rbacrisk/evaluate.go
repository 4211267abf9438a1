package rbacrisk

import (
	"sort"
	"strconv"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// Subject is an identity RBAC can bind. Namespace is only set for
// ServiceAccounts.
type Subject struct{ Kind, Name, Namespace string }

// Subject kinds as they appear in bindings.
const (
	KindUser           = rbacv1.UserKind
	KindGroup          = rbacv1.GroupKind
	KindServiceAccount = rbacv1.ServiceAccountKind
)

// Well-known groups the authenticator adds; a binding to them reaches every
// member without naming it, which is how a "harmless" group binding turns into a
// cluster-wide grant.
const (
	GroupAllServiceAccounts = "system:serviceaccounts"
	GroupAuthenticated      = "system:authenticated"
	serviceAccountUserPfx   = "system:serviceaccount:"
)

func (s Subject) String() string {
	if s.Kind == KindServiceAccount {
		return s.Kind + " " + s.Namespace + "/" + s.Name
	}
	return s.Kind + " " + s.Name
}

// Risk is one dangerous capability a subject holds at one scope.
type Risk struct {
	Rule        string // catalogue rule ID
	Severity    Severity
	Description string
	// Scope is ScopeCluster or the namespace the permission applies in. A
	// namespace literally named "cluster" is reported with Scope "cluster" but
	// evaluated with namespace semantics (rule "namespace-admin", namespace
	// severities); Evaluate and Escalations keep the distinction internally.
	Scope string
	// Grant is the offending rule(s) in kubectl-describe style: verbs, then
	// resource.group ("*.*" is every resource in every group), resourceNames in
	// brackets, e.g. "get,list secrets" or "* *.*; * nonResourceURLs *".
	Grant string
}

// Grant is a set of new risks a subject obtained through one binding chain.
type Grant struct {
	Subject Subject
	Risks   []Risk
	// Via names the chain(s) in the after snapshot granting the risks, e.g.
	// "ClusterRoleBinding/x -> ClusterRole/cluster-admin" or
	// "RoleBinding/ns/x -> ClusterRole/agg (aggregated from ClusterRole/y)";
	// several chains are separated by "; ".
	Via string
}

// Snapshot is the RBAC state of a cluster: the objects that define effective
// permissions.
type Snapshot struct {
	Roles               []rbacv1.Role
	ClusterRoles        []rbacv1.ClusterRole
	RoleBindings        []rbacv1.RoleBinding
	ClusterRoleBindings []rbacv1.ClusterRoleBinding
}

// finding is a Risk plus what Escalations needs and Risk cannot carry: whether
// the scope is really cluster-wide and which binding chains grant it.
type finding struct {
	risk    Risk
	cluster bool
	chains  []string
}

// scopeKey groups the rules a subject holds at one scope.
type scopeKey struct {
	subject Subject
	cluster bool
	ns      string
}

// atomRule is a PolicyRule that carries at least one atom, with the chain that
// delivers it to the subject. Rules carrying no atom are dropped early: they
// cannot contribute to any finding.
type atomRule struct {
	rule  *rbacv1.PolicyRule
	atoms uint64
	via   string
}

// Evaluate computes, for every subject, its risky permissions. Subjects without
// risks are absent. Bindings whose roleRef does not resolve grant nothing, as
// in the API server. A User named "system:serviceaccount:<ns>:<name>" is the
// ServiceAccount to the authorizer and is reported as such. To keep output
// readable, risks implied by a broader one are left out: cluster-admin implies
// everything, namespace-admin everything in its namespace, and a rule held
// cluster-wide the same rule in every namespace. Risks are sorted by severity,
// cluster scope first, then namespace and catalogue order.
func Evaluate(s Snapshot) map[Subject][]Risk {
	ev := evaluate(s)
	out := make(map[Subject][]Risk, len(ev))
	for subj, fs := range ev {
		rs := make([]Risk, len(fs))
		for i, f := range fs {
			rs[i] = f.risk
		}
		out[subj] = rs
	}
	return out
}

func evaluate(s Snapshot) map[Subject][]finding {
	crRules := effectiveClusterRoles(s.ClusterRoles)
	roles := make(map[[2]string]*rbacv1.Role, len(s.Roles))
	for i := range s.Roles {
		k := [2]string{s.Roles[i].Namespace, s.Roles[i].Name}
		if _, dup := roles[k]; !dup {
			roles[k] = &s.Roles[i]
		}
	}

	// Atom matching is per role and scope kind, computed once however many
	// bindings reference the role.
	type crKey struct {
		name    string
		cluster bool
	}
	crAtoms := map[crKey][]atomRule{}
	clusterRoleAtoms := func(name string, cluster bool) ([]atomRule, bool) {
		k := crKey{name, cluster}
		if ar, ok := crAtoms[k]; ok {
			return ar, true
		}
		srs, ok := crRules[name]
		if !ok {
			return nil, false
		}
		var ar []atomRule
		for _, sr := range srs {
			if a := atomsOf(sr.rule, cluster); a != 0 {
				via := ""
				if sr.origin != "" {
					via = " (aggregated from ClusterRole/" + sr.origin + ")"
				}
				ar = append(ar, atomRule{rule: sr.rule, atoms: a, via: via})
			}
		}
		crAtoms[k] = ar
		return ar, true
	}
	roleAtoms := map[[2]string][]atomRule{}
	namespacedRoleAtoms := func(ns, name string) ([]atomRule, bool) {
		k := [2]string{ns, name}
		if ar, ok := roleAtoms[k]; ok {
			return ar, true
		}
		r, ok := roles[k]
		if !ok {
			return nil, false
		}
		var ar []atomRule
		for j := range r.Rules {
			if a := atomsOf(&r.Rules[j], false); a != 0 {
				ar = append(ar, atomRule{rule: &r.Rules[j], atoms: a})
			}
		}
		roleAtoms[k] = ar
		return ar, true
	}

	held := map[scopeKey][]atomRule{}
	add := func(subjects []rbacv1.Subject, bindingNS string, key scopeKey, prefix string, ar []atomRule) {
		if len(ar) == 0 {
			return
		}
		for _, rs := range subjects {
			subj, ok := subjectFrom(rs, bindingNS)
			if !ok {
				continue
			}
			key.subject = subj
			for _, a := range ar {
				held[key] = append(held[key], atomRule{rule: a.rule, atoms: a.atoms, via: prefix + a.via})
			}
		}
	}

	for i := range s.ClusterRoleBindings {
		b := &s.ClusterRoleBindings[i]
		if b.RoleRef.Kind != "ClusterRole" || !rbacGroup(b.RoleRef.APIGroup) {
			continue
		}
		ar, ok := clusterRoleAtoms(b.RoleRef.Name, true)
		if !ok {
			continue
		}
		prefix := "ClusterRoleBinding/" + b.Name + " -> ClusterRole/" + b.RoleRef.Name
		add(b.Subjects, "", scopeKey{cluster: true}, prefix, ar)
	}
	for i := range s.RoleBindings {
		b := &s.RoleBindings[i]
		ns := b.Namespace
		if ns == "" || !rbacGroup(b.RoleRef.APIGroup) {
			// A RoleBinding always lives in a namespace; without one we cannot
			// tell where it applies, and guessing "cluster" would mislabel it.
			continue
		}
		var (
			ar     []atomRule
			ok     bool
			prefix = "RoleBinding/" + ns + "/" + b.Name + " -> "
		)
		switch b.RoleRef.Kind {
		case "ClusterRole":
			ar, ok = clusterRoleAtoms(b.RoleRef.Name, false)
			prefix += "ClusterRole/" + b.RoleRef.Name
		case "Role":
			ar, ok = namespacedRoleAtoms(ns, b.RoleRef.Name)
			prefix += "Role/" + ns + "/" + b.RoleRef.Name
		}
		if !ok {
			continue
		}
		add(b.Subjects, ns, scopeKey{ns: ns}, prefix, ar)
	}

	out := map[Subject][]finding{}
	for k, ar := range held {
		scope := k.ns
		if k.cluster {
			scope = ScopeCluster
		}
		out[k.subject] = append(out[k.subject], detect(ar, k.cluster, scope)...)
	}
	for subj, fs := range out {
		fs = reduce(fs)
		if len(fs) == 0 {
			delete(out, subj)
			continue
		}
		out[subj] = fs
	}
	return out
}

func rbacGroup(g string) bool { return g == "" || g == groupRBAC }

// subjectFrom normalises a binding subject the way the authorizer matches it.
func subjectFrom(s rbacv1.Subject, bindingNS string) (Subject, bool) {
	if s.Name == "" {
		return Subject{}, false
	}
	switch s.Kind {
	case KindServiceAccount:
		ns := s.Namespace
		if ns == "" {
			ns = bindingNS
		}
		if ns == "" {
			// Rejected by API validation on ClusterRoleBindings; matches no one.
			return Subject{}, false
		}
		return Subject{Kind: KindServiceAccount, Name: s.Name, Namespace: ns}, true
	case KindUser:
		if ns, name, ok := splitServiceAccountUser(s.Name); ok {
			return Subject{Kind: KindServiceAccount, Name: name, Namespace: ns}, true
		}
		return Subject{Kind: KindUser, Name: s.Name}, true
	case KindGroup:
		return Subject{Kind: KindGroup, Name: s.Name}, true
	}
	return Subject{}, false
}

// splitServiceAccountUser parses "system:serviceaccount:<ns>:<name>" like the
// apiserver's serviceaccount.SplitUsername.
func splitServiceAccountUser(u string) (ns, name string, ok bool) {
	rest, found := strings.CutPrefix(u, serviceAccountUserPfx)
	if !found {
		return "", "", false
	}
	parts := strings.Split(rest, ":")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return "", "", false
	}
	return parts[0], parts[1], true
}

// detect applies the catalogue to the rules one subject (or one rule list) holds
// at one scope.
func detect(ar []atomRule, cluster bool, scope string) []finding {
	var have uint64
	for _, a := range ar {
		have |= a.atoms
	}
	if have == 0 {
		return nil
	}
	var out []finding
	for i := range catalogue {
		d := &catalogue[i]
		sev := d.sevNamespace
		if cluster {
			sev = d.sevCluster
		}
		if sev == "" || have&d.partsMask != d.partsMask {
			continue
		}
		if !cluster && d.namespaces != nil && !d.namespaces[scope] {
			continue
		}
		var grants, chains []string
		for _, a := range ar {
			if a.atoms&d.allMask == 0 {
				continue
			}
			grants = appendUnique(grants, formatRule(a.rule))
			if a.via != "" {
				chains = appendUnique(chains, a.via)
			}
		}
		sort.Strings(chains)
		out = append(out, finding{
			risk: Risk{Rule: d.id, Severity: sev, Description: d.desc, Scope: scope,
				Grant: joinCapped(grants, 4)},
			cluster: cluster,
			chains:  chains,
		})
	}
	return out
}

// implies reports whether holding a makes b carry no new information: a
// cluster-admin holds everything, a namespace-admin everything in its
// namespace, and a rule held cluster-wide also holds in every namespace.
func implies(a, b *finding) bool {
	switch {
	case a.risk.Rule == RuleClusterAdmin && a.cluster:
		return true
	case a.risk.Rule == RuleNamespaceAdmin && !a.cluster && !b.cluster && a.risk.Scope == b.risk.Scope:
		return true
	case a.risk.Rule == b.risk.Rule && a.cluster:
		return true
	case a.risk.Rule == b.risk.Rule && !a.cluster && !b.cluster && a.risk.Scope == b.risk.Scope:
		return true
	}
	return false
}

// reduce merges duplicate findings and drops the ones implied by another, so a
// cluster-admin reads as one line instead of the whole catalogue, then sorts.
func reduce(fs []finding) []finding {
	// Merge same rule at the same scope (possible when RulesRisks-style input
	// or several scope groups land on one subject).
	merged := fs[:0:0]
	for _, f := range fs {
		dup := false
		for j := range merged {
			m := &merged[j]
			if m.risk.Rule == f.risk.Rule && m.cluster == f.cluster && m.risk.Scope == f.risk.Scope {
				for _, c := range f.chains {
					m.chains = appendUnique(m.chains, c)
				}
				sort.Strings(m.chains)
				dup = true
				break
			}
		}
		if !dup {
			merged = append(merged, f)
		}
	}
	out := merged[:0:0]
	for i := range merged {
		implied := false
		for j := range merged {
			if i != j && implies(&merged[j], &merged[i]) {
				implied = true
				break
			}
		}
		if !implied {
			out = append(out, merged[i])
		}
	}
	sort.Slice(out, func(i, j int) bool { return findingLess(&out[i], &out[j]) })
	return out
}

func findingLess(a, b *finding) bool {
	if ra, rb := a.risk.Severity.Rank(), b.risk.Severity.Rank(); ra != rb {
		return ra > rb
	}
	if a.cluster != b.cluster {
		return a.cluster
	}
	if a.risk.Scope != b.risk.Scope {
		return a.risk.Scope < b.risk.Scope
	}
	return ruleOrder[a.risk.Rule] < ruleOrder[b.risk.Rule]
}

// RulesRisks evaluates a single rule list at a scope; the admission webhook uses
// it when it sees one Role or ClusterRole at a time. scope is ScopeCluster (or
// empty, treated as cluster: the most conservative reading of an unbound
// ClusterRole) or a namespace name.
func RulesRisks(rules []rbacv1.PolicyRule, scope string) []Risk {
	cluster := scope == "" || scope == ScopeCluster
	if scope == "" {
		scope = ScopeCluster
	}
	var ar []atomRule
	for i := range rules {
		if a := atomsOf(&rules[i], cluster); a != 0 {
			ar = append(ar, atomRule{rule: &rules[i], atoms: a})
		}
	}
	fs := detect(ar, cluster, scope)
	if len(fs) == 0 {
		return nil
	}
	fs = reduce(fs)
	out := make([]Risk, len(fs))
	for i, f := range fs {
		out[i] = f.risk
	}
	return out
}

// ForServiceAccount returns the risks a ServiceAccount holds directly and through
// the groups every ServiceAccount token carries (system:serviceaccounts,
// system:serviceaccounts:<ns>, system:authenticated), plus a User binding on its
// username in case risks did not come from Evaluate. Bindings to those groups are
// the easy-to-miss way a workload ends up over-privileged.
func ForServiceAccount(risks map[Subject][]Risk, namespace, name string) []Risk {
	var all []Risk
	for _, s := range serviceAccountIdentities(namespace, name) {
		all = append(all, risks[s]...)
	}
	type key struct{ rule, scope string }
	best := map[key]int{}
	var out []Risk
	clusterAdmin := false
	for _, r := range all {
		if r.Rule == RuleClusterAdmin {
			clusterAdmin = true
		}
		k := key{r.Rule, r.Scope}
		if i, ok := best[k]; ok {
			if r.Severity.Rank() > out[i].Severity.Rank() {
				out[i] = r
			}
			continue
		}
		best[k] = len(out)
		out = append(out, r)
	}
	if clusterAdmin {
		// Everything else is implied; keep the answer to one readable line.
		kept := out[:0]
		for _, r := range out {
			if r.Rule == RuleClusterAdmin {
				kept = append(kept, r)
			}
		}
		out = kept
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := &out[i], &out[j]
		if ra, rb := a.Severity.Rank(), b.Severity.Rank(); ra != rb {
			return ra > rb
		}
		if (a.Scope == ScopeCluster) != (b.Scope == ScopeCluster) {
			return a.Scope == ScopeCluster
		}
		if a.Scope != b.Scope {
			return a.Scope < b.Scope
		}
		if a.Rule != b.Rule {
			return ruleOrder[a.Rule] < ruleOrder[b.Rule]
		}
		return a.Grant < b.Grant
	})
	return out
}

func serviceAccountIdentities(namespace, name string) []Subject {
	return []Subject{
		{Kind: KindServiceAccount, Name: name, Namespace: namespace},
		{Kind: KindUser, Name: serviceAccountUserPfx + namespace + ":" + name},
		{Kind: KindGroup, Name: GroupAllServiceAccounts},
		{Kind: KindGroup, Name: GroupAllServiceAccounts + ":" + namespace},
		{Kind: KindGroup, Name: GroupAuthenticated},
	}
}

// implicitGroups are the groups the authenticator always adds for a subject, so
// a permission held by one of them before a change was already held by the
// subject. User group membership beyond system:authenticated is unknowable here.
func implicitGroups(s Subject) []Subject {
	switch s.Kind {
	case KindServiceAccount:
		return serviceAccountIdentities(s.Namespace, s.Name)[2:]
	case KindUser:
		if s.Name == "system:anonymous" {
			return []Subject{{Kind: KindGroup, Name: "system:unauthenticated"}}
		}
		return []Subject{{Kind: KindGroup, Name: GroupAuthenticated}}
	}
	return nil
}

// Escalations returns what after grants that before did not: for each subject,
// the risks in after not implied by a risk it (or an implicit group it belongs
// to) held in before. Removing permissions therefore never reports anything.
// Grants are grouped by subject and granting chain and sorted by severity, then
// subject, then Via, so the output is deterministic.
func Escalations(before, after Snapshot) []Grant {
	b := evaluate(before)
	a := evaluate(after)
	var out []Grant
	for subj, fs := range a {
		prior := append([]finding(nil), b[subj]...)
		for _, g := range implicitGroups(subj) {
			prior = append(prior, b[g]...)
		}
		byVia := map[string]int{}
		var grants []Grant
		for i := range fs {
			f := &fs[i]
			covered := false
			for j := range prior {
				if implies(&prior[j], f) {
					covered = true
					break
				}
			}
			if covered {
				continue
			}
			via := strings.Join(f.chains, "; ")
			gi, ok := byVia[via]
			if !ok {
				gi = len(grants)
				byVia[via] = gi
				grants = append(grants, Grant{Subject: subj, Via: via})
			}
			grants[gi].Risks = append(grants[gi].Risks, f.risk)
		}
		out = append(out, grants...)
	}
	sort.Slice(out, func(i, j int) bool {
		si, sj := maxRank(out[i].Risks), maxRank(out[j].Risks)
		if si != sj {
			return si > sj
		}
		if a, b := out[i].Subject.String(), out[j].Subject.String(); a != b {
			return a < b
		}
		return out[i].Via < out[j].Via
	})
	return out
}

func maxRank(rs []Risk) int {
	m := 0
	for _, r := range rs {
		if k := r.Severity.Rank(); k > m {
			m = k
		}
	}
	return m
}

func appendUnique(list []string, s string) []string {
	for _, v := range list {
		if v == s {
			return list
		}
	}
	return append(list, s)
}

func joinCapped(list []string, max int) string {
	if len(list) <= max {
		return strings.Join(list, "; ")
	}
	return strings.Join(list[:max], "; ") + "; (+" + strconv.Itoa(len(list)-max) + " more)"
}
