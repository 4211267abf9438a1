package rbacrisk

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// evalShorts flattens Evaluate output to subject -> ["rule@scope:Severity"].
func evalShorts(m map[Subject][]Risk) map[string][]string {
	out := map[string][]string{}
	for s, rs := range m {
		out[s.String()] = shorts(rs)
	}
	return out
}

func TestEvaluate(t *testing.T) {
	secretsReader := cr("secrets-reader", pr("get,list", "", "secrets"))
	tests := map[string]struct {
		snap Snapshot
		want map[string][]string
	}{
		"service account bound to cluster-admin by ClusterRoleBinding": {
			snap: Snapshot{
				ClusterRoles:        []rbacv1.ClusterRole{cr("cluster-admin", adminRules...)},
				ClusterRoleBindings: []rbacv1.ClusterRoleBinding{crb("deployer-admin", "cluster-admin", sa("ci", "deployer"))},
			},
			want: map[string][]string{"ServiceAccount ci/deployer": {"cluster-admin@cluster:Critical"}},
		},
		"cluster-admin through a RoleBinding stays in the namespace": {
			snap: Snapshot{
				ClusterRoles: []rbacv1.ClusterRole{cr("cluster-admin", adminRules...)},
				RoleBindings: []rbacv1.RoleBinding{rb("team-a", "admin", "ClusterRole", "cluster-admin", sa("team-a", "app"))},
			},
			want: map[string][]string{"ServiceAccount team-a/app": {"namespace-admin@team-a:High"}},
		},
		"service account without namespace defaults to the RoleBinding's": {
			snap: Snapshot{
				Roles:        []rbacv1.Role{role("team-a", "exec", pr("create", "", "pods/exec"))},
				RoleBindings: []rbacv1.RoleBinding{rb("team-a", "exec", "Role", "exec", sa("", "debugger"))},
			},
			want: map[string][]string{"ServiceAccount team-a/debugger": {"pods-exec@team-a:High"}},
		},
		"service account username bound as a User is the service account": {
			snap: Snapshot{
				ClusterRoles:        []rbacv1.ClusterRole{secretsReader},
				ClusterRoleBindings: []rbacv1.ClusterRoleBinding{crb("sneaky", "secrets-reader", user("system:serviceaccount:ci:deployer"))},
			},
			want: map[string][]string{"ServiceAccount ci/deployer": {"secrets-read@cluster:Critical"}},
		},
		"users and groups are reported as themselves": {
			snap: Snapshot{
				ClusterRoles:        []rbacv1.ClusterRole{secretsReader},
				ClusterRoleBindings: []rbacv1.ClusterRoleBinding{crb("r", "secrets-reader", user("alice"), group("devs"))},
			},
			want: map[string][]string{
				"User alice": {"secrets-read@cluster:Critical"},
				"Group devs": {"secrets-read@cluster:Critical"},
			},
		},
		"unresolved roleRefs grant nothing": {
			snap: Snapshot{
				Roles: []rbacv1.Role{role("team-b", "exec", pr("create", "", "pods/exec"))},
				RoleBindings: []rbacv1.RoleBinding{
					// Role lives in team-b; a RoleBinding in team-a cannot reach it.
					rb("team-a", "cross-ns", "Role", "exec", sa("team-a", "app")),
					rb("team-a", "missing", "ClusterRole", "does-not-exist", sa("team-a", "app")),
				},
				ClusterRoleBindings: []rbacv1.ClusterRoleBinding{
					crb("missing", "cluster-admin", sa("ci", "deployer")),
					{ObjectMeta: metav1.ObjectMeta{Name: "wrong-kind"},
						RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "exec"},
						Subjects: []rbacv1.Subject{sa("team-b", "app")}},
				},
			},
			want: map[string][]string{},
		},
		"harmless roles produce no entry": {
			snap: Snapshot{
				ClusterRoles:        []rbacv1.ClusterRole{cr("view-pods", pr("get,list,watch", "", "pods"))},
				ClusterRoleBindings: []rbacv1.ClusterRoleBinding{crb("v", "view-pods", group("system:authenticated"))},
			},
			want: map[string][]string{},
		},
		"a cluster-wide grant hides the same grant in a namespace": {
			snap: Snapshot{
				ClusterRoles:        []rbacv1.ClusterRole{secretsReader},
				ClusterRoleBindings: []rbacv1.ClusterRoleBinding{crb("r", "secrets-reader", sa("ci", "bot"))},
				RoleBindings:        []rbacv1.RoleBinding{rb("team-a", "r", "ClusterRole", "secrets-reader", sa("ci", "bot"))},
			},
			want: map[string][]string{"ServiceAccount ci/bot": {"secrets-read@cluster:Critical"}},
		},
		"cluster-admin hides every implied rule but namespace grants elsewhere stay": {
			snap: Snapshot{
				ClusterRoles: []rbacv1.ClusterRole{cr("cluster-admin", adminRules...), secretsReader,
					cr("exec", pr("create", "", "pods/exec"))},
				ClusterRoleBindings: []rbacv1.ClusterRoleBinding{
					crb("a", "cluster-admin", user("root")),
					crb("b", "secrets-reader", user("root")),
				},
				RoleBindings: []rbacv1.RoleBinding{
					rb("team-a", "admin", "ClusterRole", "cluster-admin", user("alice")),
					rb("team-a", "exec", "ClusterRole", "exec", user("alice")),
					rb("team-b", "exec", "ClusterRole", "exec", user("alice")),
					rb("team-a", "exec", "ClusterRole", "exec", user("root")),
				},
			},
			want: map[string][]string{
				"User root":  {"cluster-admin@cluster:Critical"},
				"User alice": {"namespace-admin@team-a:High", "pods-exec@team-b:High"},
			},
		},
		"CSR approval assembled from two bindings": {
			snap: Snapshot{
				ClusterRoles: []rbacv1.ClusterRole{
					cr("approver", pr("update", "certificates.k8s.io", "certificatesigningrequests/approval")),
					cr("signer", pr("approve", "certificates.k8s.io", "signers")),
				},
				ClusterRoleBindings: []rbacv1.ClusterRoleBinding{
					crb("a", "approver", sa("ops", "csr")),
					crb("b", "signer", sa("ops", "csr")),
					crb("c", "signer", sa("ops", "half")),
				},
			},
			want: map[string][]string{"ServiceAccount ops/csr": {"csr-approval@cluster:Critical"}},
		},
		"aggregated ClusterRole gets the rules of labelled roles even when its stored rules are stale": {
			snap: Snapshot{
				ClusterRoles: []rbacv1.ClusterRole{
					aggregate(cr("agg", pr("get", "", "pods")), match("agg", "true")),
					labelled(cr("sneaky", pr("*", "*", "*")), "agg", "true"),
				},
				ClusterRoleBindings: []rbacv1.ClusterRoleBinding{crb("b", "agg", sa("ci", "bot"))},
			},
			want: map[string][]string{"ServiceAccount ci/bot": {"cluster-admin@cluster:Critical"}},
		},
		"stored rules of an aggregated role still count": {
			snap: Snapshot{
				ClusterRoles:        []rbacv1.ClusterRole{aggregate(secretsReader, match("agg", "true"))},
				ClusterRoleBindings: []rbacv1.ClusterRoleBinding{crb("b", "secrets-reader", sa("ci", "bot"))},
			},
			want: map[string][]string{"ServiceAccount ci/bot": {"secrets-read@cluster:Critical"}},
		},
		"aggregation is transitive": {
			snap: Snapshot{
				ClusterRoles: []rbacv1.ClusterRole{
					aggregate(cr("top"), match("tier", "mid")),
					labelled(aggregate(cr("mid"), match("tier", "leaf")), "tier", "mid"),
					labelled(cr("leaf", pr("create", "", "serviceaccounts/token")), "tier", "leaf"),
				},
				ClusterRoleBindings: []rbacv1.ClusterRoleBinding{crb("b", "top", user("alice"))},
			},
			want: map[string][]string{"User alice": {"serviceaccount-token@cluster:Critical"}},
		},
		"aggregation cycles terminate": {
			snap: Snapshot{
				ClusterRoles: []rbacv1.ClusterRole{
					labelled(aggregate(cr("a", pr("get", "", "secrets")), match("ring", "b")), "ring", "a"),
					labelled(aggregate(cr("b", pr("create", "", "pods/exec")), match("ring", "a")), "ring", "b"),
				},
				ClusterRoleBindings: []rbacv1.ClusterRoleBinding{crb("x", "a", user("alice"))},
			},
			want: map[string][]string{"User alice": {"secrets-read@cluster:Critical", "pods-exec@cluster:Critical"}},
		},
		"empty aggregation selector matches every ClusterRole, cluster-admin included": {
			snap: Snapshot{
				ClusterRoles: []rbacv1.ClusterRole{
					aggregate(cr("innocent"), metav1.LabelSelector{}),
					cr("cluster-admin", adminRules...),
				},
				ClusterRoleBindings: []rbacv1.ClusterRoleBinding{crb("b", "innocent", user("alice"))},
			},
			want: map[string][]string{"User alice": {"cluster-admin@cluster:Critical"}},
		},
		"invalid aggregation selector aggregates nothing": {
			snap: Snapshot{
				ClusterRoles: []rbacv1.ClusterRole{
					aggregate(cr("agg"), metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "x", Operator: "Bogus"}}}),
					labelled(cr("cluster-admin", adminRules...), "x", "y"),
				},
				ClusterRoleBindings: []rbacv1.ClusterRoleBinding{crb("b", "agg", user("alice"))},
			},
			want: map[string][]string{},
		},
		"a namespace named cluster is still a namespace": {
			snap: Snapshot{
				ClusterRoles: []rbacv1.ClusterRole{cr("cluster-admin", adminRules...)},
				RoleBindings: []rbacv1.RoleBinding{rb("cluster", "admin", "ClusterRole", "cluster-admin", user("alice"))},
			},
			want: map[string][]string{"User alice": {"namespace-admin@cluster:High"}},
		},
		"malformed subjects and bindings are skipped": {
			snap: Snapshot{
				ClusterRoles: []rbacv1.ClusterRole{secretsReader, cr(""), {}},
				ClusterRoleBindings: []rbacv1.ClusterRoleBinding{
					crb("b", "secrets-reader", sa("", "no-ns"), user(""), rbacv1.Subject{Kind: "Robot", Name: "r2"},
						user("system:serviceaccount:bad"), user("system:serviceaccount::x")),
					{},
				},
				RoleBindings: []rbacv1.RoleBinding{rb("", "no-ns", "ClusterRole", "secrets-reader", user("bob")), {}},
			},
			want: map[string][]string{
				// Not valid SA usernames, so they stay plain users.
				"User system:serviceaccount:bad": {"secrets-read@cluster:Critical"},
				"User system:serviceaccount::x":  {"secrets-read@cluster:Critical"},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := evalShorts(Evaluate(tc.snap))
			if !maps.EqualFunc(got, tc.want, slices.Equal[[]string]) {
				t.Fatalf("Evaluate() =\n%v\nwant\n%v", got, tc.want)
			}
		})
	}
}

func TestEvaluateDoesNotMutateInput(t *testing.T) {
	agg := aggregate(cr("agg", pr("get", "", "pods")), match("agg", "true"))
	snap := Snapshot{
		ClusterRoles:        []rbacv1.ClusterRole{agg, labelled(cr("extra", adminRules...), "agg", "true")},
		ClusterRoleBindings: []rbacv1.ClusterRoleBinding{crb("b", "agg", sa("", "x"))},
	}
	Evaluate(snap)
	if n := len(snap.ClusterRoles[0].Rules); n != 1 {
		t.Errorf("aggregated role's stored rules changed: %d rules", n)
	}
	if snap.ClusterRoleBindings[0].Subjects[0].Namespace != "" {
		t.Error("subject namespace was defaulted in the caller's object")
	}
}

// grantShorts renders Escalations as "Subject|rule@scope:Severity,...|Via".
func grantShorts(gs []Grant) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.Subject.String()+"|"+strings.Join(shorts(g.Risks), ",")+"|"+g.Via)
	}
	return out
}

func TestEscalations(t *testing.T) {
	admin := cr("cluster-admin", adminRules...)
	agg := aggregate(cr("ops-agg", pr("get,list", "", "pods")), match("ops", "true"))
	viewPods := labelled(cr("view-pods", pr("get,list", "", "pods")), "ops", "true")
	sneaky := labelled(cr("sneaky", pr("*", "*", "*")), "ops", "true")
	aggBinding := crb("ops", "ops-agg", sa("ops", "bot"))
	// What the aggregation controller writes back once it has caught up.
	aggCaughtUp := agg
	aggCaughtUp.Rules = []rbacv1.PolicyRule{pr("*", "*", "*"), pr("get,list", "", "pods")}

	base := Snapshot{
		ClusterRoles:        []rbacv1.ClusterRole{admin, agg, viewPods, cr("secrets-reader", pr("get,list", "", "secrets"))},
		ClusterRoleBindings: []rbacv1.ClusterRoleBinding{aggBinding},
	}
	with := func(s Snapshot, f func(*Snapshot)) Snapshot {
		s.Roles = slices.Clone(s.Roles)
		s.ClusterRoles = slices.Clone(s.ClusterRoles)
		s.RoleBindings = slices.Clone(s.RoleBindings)
		s.ClusterRoleBindings = slices.Clone(s.ClusterRoleBindings)
		f(&s)
		return s
	}
	adminCRB := crb("deployer-admin", "cluster-admin", sa("ci", "deployer"))
	withAdminCRB := with(base, func(s *Snapshot) { s.ClusterRoleBindings = append(s.ClusterRoleBindings, adminCRB) })

	tests := map[string]struct {
		before, after Snapshot
		want          []string
	}{
		"service account newly bound to cluster-admin": {
			before: base, after: withAdminCRB,
			want: []string{"ServiceAccount ci/deployer|cluster-admin@cluster:Critical|ClusterRoleBinding/deployer-admin -> ClusterRole/cluster-admin"},
		},
		"cluster-admin through a new RoleBinding is namespace-scoped": {
			before: base,
			after: with(base, func(s *Snapshot) {
				s.RoleBindings = append(s.RoleBindings, rb("team-a", "admin", "ClusterRole", "cluster-admin", sa("team-a", "app")))
			}),
			want: []string{"ServiceAccount team-a/app|namespace-admin@team-a:High|RoleBinding/team-a/admin -> ClusterRole/cluster-admin"},
		},
		"new labelled ClusterRole escalates everyone bound to the aggregate": {
			before: base,
			after:  with(base, func(s *Snapshot) { s.ClusterRoles = append(s.ClusterRoles, sneaky) }),
			want: []string{"ServiceAccount ops/bot|cluster-admin@cluster:Critical|" +
				"ClusterRoleBinding/ops -> ClusterRole/ops-agg (aggregated from ClusterRole/sneaky)"},
		},
		"relabelling an existing role into the aggregate escalates": {
			before: with(base, func(s *Snapshot) { s.ClusterRoles = append(s.ClusterRoles, cr("sneaky", pr("*", "*", "*"))) }),
			after:  with(base, func(s *Snapshot) { s.ClusterRoles = append(s.ClusterRoles, sneaky) }),
			want: []string{"ServiceAccount ops/bot|cluster-admin@cluster:Critical|" +
				"ClusterRoleBinding/ops -> ClusterRole/ops-agg (aggregated from ClusterRole/sneaky)"},
		},
		"aggregation controller catching up is not a new escalation": {
			before: with(base, func(s *Snapshot) { s.ClusterRoles = append(s.ClusterRoles, sneaky) }),
			after: with(base, func(s *Snapshot) {
				s.ClusterRoles[1] = aggCaughtUp
				s.ClusterRoles = append(s.ClusterRoles, sneaky)
			}),
		},
		"unchanged snapshot": {before: withAdminCRB, after: withAdminCRB},
		"removing a binding": {before: withAdminCRB, after: base},
		"new binding with unresolved roleRef": {
			before: base,
			after: with(base, func(s *Snapshot) {
				s.ClusterRoleBindings = append(s.ClusterRoleBindings, crb("typo", "clusteradmin", sa("ci", "deployer")))
			}),
		},
		"binding a group every service account belongs to": {
			before: base,
			after: with(base, func(s *Snapshot) {
				s.ClusterRoleBindings = append(s.ClusterRoleBindings, crb("all-sa", "secrets-reader", group("system:serviceaccounts")))
			}),
			want: []string{"Group system:serviceaccounts|secrets-read@cluster:Critical|ClusterRoleBinding/all-sa -> ClusterRole/secrets-reader"},
		},
		"a service account already covered by its group gains nothing": {
			before: with(base, func(s *Snapshot) {
				s.ClusterRoleBindings = append(s.ClusterRoleBindings, crb("all-sa", "secrets-reader", group("system:serviceaccounts:ci")))
			}),
			after: with(base, func(s *Snapshot) {
				s.ClusterRoleBindings = append(s.ClusterRoleBindings,
					crb("all-sa", "secrets-reader", group("system:serviceaccounts:ci")),
					crb("direct", "secrets-reader", sa("ci", "deployer")))
			}),
		},
		"a cluster-admin adding a namespace grant gains nothing": {
			before: withAdminCRB,
			after: with(withAdminCRB, func(s *Snapshot) {
				s.RoleBindings = append(s.RoleBindings, rb("team-a", "admin", "ClusterRole", "cluster-admin", sa("ci", "deployer")))
			}),
		},
		"losing cluster-admin while gaining a namespace grant is not an escalation": {
			before: withAdminCRB,
			after: with(base, func(s *Snapshot) {
				s.RoleBindings = append(s.RoleBindings, rb("team-a", "admin", "ClusterRole", "cluster-admin", sa("ci", "deployer")))
			}),
		},
		"namespace-admin in a second namespace is new": {
			before: with(base, func(s *Snapshot) {
				s.RoleBindings = append(s.RoleBindings, rb("team-a", "admin", "ClusterRole", "cluster-admin", user("alice")))
			}),
			after: with(base, func(s *Snapshot) {
				s.RoleBindings = append(s.RoleBindings,
					rb("team-a", "admin", "ClusterRole", "cluster-admin", user("alice")),
					rb("team-b", "admin", "ClusterRole", "cluster-admin", user("alice")))
			}),
			want: []string{"User alice|namespace-admin@team-b:High|RoleBinding/team-b/admin -> ClusterRole/cluster-admin"},
		},
		"namespace secrets read widened to cluster-wide": {
			before: with(base, func(s *Snapshot) {
				s.RoleBindings = append(s.RoleBindings, rb("team-a", "r", "ClusterRole", "secrets-reader", user("alice")))
			}),
			after: with(base, func(s *Snapshot) {
				s.ClusterRoleBindings = append(s.ClusterRoleBindings, crb("r", "secrets-reader", user("alice")))
			}),
			want: []string{"User alice|secrets-read@cluster:Critical|ClusterRoleBinding/r -> ClusterRole/secrets-reader"},
		},
		"CSR approval completed by a second binding names both chains": {
			before: Snapshot{
				ClusterRoles: []rbacv1.ClusterRole{
					cr("approver", pr("update", "certificates.k8s.io", "certificatesigningrequests/approval")),
					cr("signer", pr("approve", "certificates.k8s.io", "signers")),
				},
				ClusterRoleBindings: []rbacv1.ClusterRoleBinding{crb("a", "approver", sa("ops", "csr"))},
			},
			after: Snapshot{
				ClusterRoles: []rbacv1.ClusterRole{
					cr("approver", pr("update", "certificates.k8s.io", "certificatesigningrequests/approval")),
					cr("signer", pr("approve", "certificates.k8s.io", "signers")),
				},
				ClusterRoleBindings: []rbacv1.ClusterRoleBinding{crb("a", "approver", sa("ops", "csr")), crb("b", "signer", sa("ops", "csr"))},
			},
			want: []string{"ServiceAccount ops/csr|csr-approval@cluster:Critical|" +
				"ClusterRoleBinding/a -> ClusterRole/approver; ClusterRoleBinding/b -> ClusterRole/signer"},
		},
		"ordered by severity before subject": {
			before: base,
			after: with(base, func(s *Snapshot) {
				s.ClusterRoles = append(s.ClusterRoles,
					cr("binder", pr("create", "rbac.authorization.k8s.io", "clusterrolebindings")),
					cr("hooks", pr("patch", "admissionregistration.k8s.io", "mutatingwebhookconfigurations")))
				s.ClusterRoleBindings = append(s.ClusterRoleBindings,
					crb("1", "binder", user("aaron")),
					crb("2", "hooks", user("zoe")),
					crb("3", "cluster-admin", user("zed")),
					crb("4", "hooks", user("aaron")))
			}),
			want: []string{
				"User zed|cluster-admin@cluster:Critical|ClusterRoleBinding/3 -> ClusterRole/cluster-admin",
				"User aaron|webhook-config@cluster:High|ClusterRoleBinding/4 -> ClusterRole/hooks",
				"User zoe|webhook-config@cluster:High|ClusterRoleBinding/2 -> ClusterRole/hooks",
				"User aaron|create-rolebindings@cluster:Medium|ClusterRoleBinding/1 -> ClusterRole/binder",
			},
		},
		"empty snapshots": {},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := grantShorts(Escalations(tc.before, tc.after))
			if !slices.Equal(got, tc.want) {
				t.Fatalf("Escalations() =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

func TestEscalationsDeterministic(t *testing.T) {
	before := Snapshot{ClusterRoles: []rbacv1.ClusterRole{cr("cluster-admin", adminRules...)}}
	after := before
	for i := range 30 {
		after.ClusterRoleBindings = append(after.ClusterRoleBindings,
			crb(fmt.Sprintf("b%02d", i), "cluster-admin", sa("ns", fmt.Sprintf("sa%02d", i))))
	}
	first := grantShorts(Escalations(before, after))
	if len(first) != 30 || !sort.StringsAreSorted(first) {
		t.Fatalf("want 30 grants sorted by subject, got %v", first)
	}
	for range 5 {
		if got := grantShorts(Escalations(before, after)); !slices.Equal(got, first) {
			t.Fatalf("output changed between runs:\n%v\n%v", first, got)
		}
	}
}

func TestForServiceAccount(t *testing.T) {
	snap := Snapshot{
		ClusterRoles: []rbacv1.ClusterRole{
			cr("cluster-admin", adminRules...),
			cr("secrets-reader", pr("get,list", "", "secrets")),
			cr("exec", pr("create", "", "pods/exec")),
			cr("token", pr("create", "", "serviceaccounts/token")),
		},
		ClusterRoleBindings: []rbacv1.ClusterRoleBinding{
			crb("all-sa", "secrets-reader", group("system:serviceaccounts")),
			crb("root", "cluster-admin", sa("kube-system", "root")),
		},
		RoleBindings: []rbacv1.RoleBinding{
			rb("team-a", "ns-sa", "ClusterRole", "exec", group("system:serviceaccounts:team-a")),
			rb("team-a", "direct", "ClusterRole", "token", sa("team-a", "app")),
			rb("team-b", "authn", "ClusterRole", "exec", group("system:authenticated")),
		},
	}
	risks := Evaluate(snap)
	tests := map[string]struct {
		ns, name string
		want     []string
	}{
		"any service account inherits the system:serviceaccounts binding": {
			ns: "anywhere", name: "whatever",
			want: []string{"secrets-read@cluster:Critical", "pods-exec@team-b:High"},
		},
		"namespace group binding reaches only that namespace's accounts": {
			ns: "team-a", name: "other",
			want: []string{"secrets-read@cluster:Critical", "pods-exec@team-a:High", "pods-exec@team-b:High"},
		},
		"direct and group grants combine": {
			ns: "team-a", name: "app",
			want: []string{"secrets-read@cluster:Critical", "serviceaccount-token@team-a:High", "pods-exec@team-a:High", "pods-exec@team-b:High"},
		},
		"cluster-admin collapses to one line": {
			ns: "kube-system", name: "root",
			want: []string{"cluster-admin@cluster:Critical"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := shorts(ForServiceAccount(risks, tc.ns, tc.name))
			if !slices.Equal(got, tc.want) {
				t.Fatalf("ForServiceAccount(%s/%s) = %v, want %v", tc.ns, tc.name, got, tc.want)
			}
		})
	}
	if got := ForServiceAccount(nil, "", ""); len(got) != 0 {
		t.Errorf("ForServiceAccount(nil) = %v, want none", got)
	}
}

func TestSubjectString(t *testing.T) {
	tests := map[string]struct {
		s    Subject
		want string
	}{
		"service account": {Subject{Kind: KindServiceAccount, Namespace: "ns", Name: "name"}, "ServiceAccount ns/name"},
		"user":            {Subject{Kind: KindUser, Name: "alice"}, "User alice"},
		"group":           {Subject{Kind: KindGroup, Name: "devs"}, "Group devs"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.s.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}

// BenchmarkEvaluate models a mid-sized cluster: 200 roles (half ClusterRoles,
// some aggregated) and 500 bindings.
func BenchmarkEvaluate(b *testing.B) {
	snap := benchSnapshot()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		Evaluate(snap)
	}
}

func BenchmarkEscalations(b *testing.B) {
	before := benchSnapshot()
	after := before
	after.ClusterRoleBindings = append(slices.Clone(before.ClusterRoleBindings), crb("new", "cr-0", sa("ns-1", "sa-1")))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		Escalations(before, after)
	}
}

func benchSnapshot() Snapshot {
	var s Snapshot
	ruleSets := [][]rbacv1.PolicyRule{
		{pr("get,list,watch", "", "pods,services,configmaps"), pr("get", "apps", "deployments")},
		{pr("get,list", "", "secrets"), pr("create", "", "pods/exec")},
		{pr("create,update,patch", "apps", "deployments,statefulsets"), pr("get", "", "events")},
		{pr("*", "monitoring.coreos.com", "*"), pr("get", "", "nodes,nodes/metrics")},
		{pr("bind", "rbac.authorization.k8s.io", "clusterroles", "view")},
	}
	s.ClusterRoles = append(s.ClusterRoles, cr("cluster-admin", adminRules...))
	for i := range 99 {
		c := cr(fmt.Sprintf("cr-%d", i), ruleSets[i%len(ruleSets)]...)
		c.Labels = map[string]string{"tier": fmt.Sprint(i % 10)}
		if i%20 == 0 {
			c = aggregate(c, match("tier", fmt.Sprint((i/20)%10)))
		}
		s.ClusterRoles = append(s.ClusterRoles, c)
	}
	for i := range 100 {
		s.Roles = append(s.Roles, role(fmt.Sprintf("ns-%d", i%20), fmt.Sprintf("role-%d", i), ruleSets[i%len(ruleSets)]...))
	}
	for i := range 100 {
		s.ClusterRoleBindings = append(s.ClusterRoleBindings,
			crb(fmt.Sprintf("crb-%d", i), fmt.Sprintf("cr-%d", i%99), sa(fmt.Sprintf("ns-%d", i%20), fmt.Sprintf("sa-%d", i)), group(fmt.Sprintf("g-%d", i%7))))
	}
	for i := range 400 {
		ns := fmt.Sprintf("ns-%d", i%20)
		if i%2 == 0 {
			s.RoleBindings = append(s.RoleBindings, rb(ns, fmt.Sprintf("rb-%d", i), "Role", fmt.Sprintf("role-%d", i%100), sa(ns, fmt.Sprintf("sa-%d", i%50))))
		} else {
			s.RoleBindings = append(s.RoleBindings, rb(ns, fmt.Sprintf("rb-%d", i), "ClusterRole", fmt.Sprintf("cr-%d", i%99), user(fmt.Sprintf("u-%d", i%30))))
		}
	}
	return s
}
