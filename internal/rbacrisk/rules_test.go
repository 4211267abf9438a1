package rbacrisk

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

func TestRulesRisks(t *testing.T) {
	tests := map[string]struct {
		rules []rbacv1.PolicyRule
		scope string
		want  []string // exact, in output order
		grant string   // substring expected in the first risk's Grant
	}{
		"cluster-admin role is one Critical line naming both wildcards": {
			rules: adminRules, scope: ScopeCluster,
			want:  []string{"cluster-admin@cluster:Critical"},
			grant: "* *.*; * nonResourceURLs *",
		},
		"resource wildcard alone is already cluster-admin equivalent": {
			rules: []rbacv1.PolicyRule{pr("*", "*", "*")}, scope: ScopeCluster,
			want: []string{"cluster-admin@cluster:Critical"},
		},
		"empty scope is read as cluster": {
			rules: adminRules, scope: "",
			want: []string{"cluster-admin@cluster:Critical"},
		},
		"full wildcard inside a namespace is namespace-admin, not cluster-admin": {
			rules: adminRules, scope: "team-a",
			want: []string{"namespace-admin@team-a:High"},
		},
		"nonResourceURLs wildcard alone is not cluster-admin": {
			rules: []rbacv1.PolicyRule{nonResource("*", "*")}, scope: ScopeCluster,
		},
		"wildcard with resourceNames is not cluster-admin but keeps verb-level dangers": {
			rules: []rbacv1.PolicyRule{pr("*", "*", "*", "x")}, scope: ScopeCluster,
			want: []string{"impersonate@cluster:Critical", "escalate-bind@cluster:Critical",
				"nodes-proxy@cluster:Critical", "csr-approval@cluster:Critical", "webhook-config@cluster:High"},
		},
		"rule without apiGroups grants nothing": {
			rules: []rbacv1.PolicyRule{{Verbs: []string{"*"}, Resources: []string{"*"}}}, scope: ScopeCluster,
		},
		"rule without verbs grants nothing": {
			rules: []rbacv1.PolicyRule{pr("-", "*", "*")}, scope: ScopeCluster,
		},
		"all verbs on all core resources implies the core-group dangers": {
			rules: []rbacv1.PolicyRule{pr("*", "", "*")}, scope: ScopeCluster,
			want: []string{"impersonate@cluster:Critical", "nodes-proxy@cluster:Critical",
				"serviceaccount-token@cluster:Critical", "secrets-read@cluster:Critical", "pods-exec@cluster:Critical",
				"create-workloads@cluster:High", "wildcard-verbs@cluster:Medium", "wildcard-resources@cluster:Medium"},
		},
		"read everything in every group includes secrets": {
			rules: []rbacv1.PolicyRule{pr("get,list,watch", "*", "*")}, scope: ScopeCluster,
			// get on */exec is how websocket exec was authorized before 1.30.
			want: []string{"nodes-proxy@cluster:Critical", "secrets-read@cluster:Critical",
				"pods-exec@cluster:Critical", "wildcard-resources@cluster:Medium"},
		},
		"wildcard resources in an operator's own group is only a wildcard": {
			rules: []rbacv1.PolicyRule{pr("get,list", "monitoring.coreos.com", "*")}, scope: ScopeCluster,
			want: []string{"wildcard-resources@cluster:Medium"}, grant: "get,list *.monitoring.coreos.com",
		},
		"secrets get,list cluster-wide": {
			rules: []rbacv1.PolicyRule{pr("get,list", "", "secrets")}, scope: ScopeCluster,
			want: []string{"secrets-read@cluster:Critical"}, grant: "get,list secrets",
		},
		"secrets watch alone leaks contents": {
			rules: []rbacv1.PolicyRule{pr("watch", "", "secrets")}, scope: ScopeCluster,
			want: []string{"secrets-read@cluster:Critical"},
		},
		"secrets get in a namespace is High": {
			rules: []rbacv1.PolicyRule{pr("get", "", "secrets")}, scope: "team-a",
			want: []string{"secrets-read@team-a:High"},
		},
		"secrets get restricted by resourceNames is not secrets-read": {
			rules: []rbacv1.PolicyRule{pr("get", "", "secrets", "tls-cert")}, scope: ScopeCluster,
		},
		"secrets in another API group is not core secrets": {
			rules: []rbacv1.PolicyRule{pr("get,list", "example.com", "secrets")}, scope: ScopeCluster,
		},
		"secrets write only is not read": {
			rules: []rbacv1.PolicyRule{pr("create,update", "", "secrets")}, scope: ScopeCluster,
		},
		"wildcard verbs on secrets is both": {
			rules: []rbacv1.PolicyRule{pr("*", "", "secrets")}, scope: ScopeCluster,
			want: []string{"secrets-read@cluster:Critical", "wildcard-verbs@cluster:Medium"},
		},
		"pods/exec create cluster-wide": {
			rules: []rbacv1.PolicyRule{pr("create", "", "pods/exec")}, scope: ScopeCluster,
			want: []string{"pods-exec@cluster:Critical"}, grant: "create pods/exec",
		},
		"pods/attach in a namespace": {
			rules: []rbacv1.PolicyRule{pr("create", "", "pods/attach")}, scope: "team-a",
			want: []string{"pods-exec@team-a:High"},
		},
		"get pods/exec still execs over websocket on older clusters": {
			rules: []rbacv1.PolicyRule{pr("get", "", "pods/exec")}, scope: "team-a",
			want: []string{"pods-exec@team-a:High"},
		},
		"*/exec subresource wildcard matches pods/exec": {
			rules: []rbacv1.PolicyRule{pr("create", "", "*/exec")}, scope: ScopeCluster,
			want: []string{"pods-exec@cluster:Critical"},
		},
		"pods/* is not a wildcard in RBAC": {
			rules: []rbacv1.PolicyRule{pr("create", "", "pods/*")}, scope: ScopeCluster,
		},
		"pods and pods/log read is harmless": {
			rules: []rbacv1.PolicyRule{pr("get,list", "", "pods,pods/log")}, scope: ScopeCluster,
		},
		"impersonate users cluster-wide": {
			rules: []rbacv1.PolicyRule{pr("impersonate", "", "users,groups")}, scope: ScopeCluster,
			want: []string{"impersonate@cluster:Critical"},
		},
		"impersonate restricted to system:masters still counts": {
			rules: []rbacv1.PolicyRule{pr("impersonate", "", "groups", "system:masters")}, scope: ScopeCluster,
			want: []string{"impersonate@cluster:Critical"}, grant: "impersonate groups [system:masters]",
		},
		"constrained impersonation verb counts": {
			rules: []rbacv1.PolicyRule{pr("impersonate:user-info", "", "users")}, scope: ScopeCluster,
			want: []string{"impersonate@cluster:Critical"},
		},
		"impersonate users via RoleBinding grants nothing: users are cluster-scoped": {
			rules: []rbacv1.PolicyRule{pr("impersonate", "", "users,groups")}, scope: "team-a",
		},
		"impersonate serviceaccounts in a namespace": {
			rules: []rbacv1.PolicyRule{pr("impersonate", "", "serviceaccounts")}, scope: "team-a",
			want: []string{"impersonate@team-a:High"},
		},
		"impersonate in the wrong API group is nothing": {
			rules: []rbacv1.PolicyRule{pr("impersonate", "apps", "users")}, scope: ScopeCluster,
		},
		"bind clusterroles named cluster-admin is the classic escalation": {
			rules: []rbacv1.PolicyRule{pr("bind", "rbac.authorization.k8s.io", "clusterroles", "cluster-admin")}, scope: ScopeCluster,
			want: []string{"escalate-bind@cluster:Critical"},
		},
		"escalate roles in a namespace": {
			rules: []rbacv1.PolicyRule{pr("escalate", "rbac.authorization.k8s.io", "roles")}, scope: "team-a",
			want: []string{"escalate-bind@team-a:High"},
		},
		"bind clusterroles in a namespace lets a RoleBinding reference cluster-admin": {
			rules: []rbacv1.PolicyRule{pr("bind", "rbac.authorization.k8s.io", "clusterroles")}, scope: "team-a",
			want: []string{"escalate-bind@team-a:High"},
		},
		"update roles without escalate is guarded by the API server": {
			rules: []rbacv1.PolicyRule{pr("get,update,patch", "rbac.authorization.k8s.io", "roles,clusterroles")}, scope: ScopeCluster,
		},
		"create clusterrolebindings": {
			rules: []rbacv1.PolicyRule{pr("create", "rbac.authorization.k8s.io", "clusterrolebindings")}, scope: ScopeCluster,
			want: []string{"create-rolebindings@cluster:Medium"},
		},
		"create rolebindings plus bind is an escalation": {
			rules: []rbacv1.PolicyRule{pr("create", "rbac.authorization.k8s.io", "rolebindings"),
				pr("bind", "rbac.authorization.k8s.io", "clusterroles")}, scope: "team-a",
			want: []string{"escalate-bind@team-a:High", "create-rolebindings@team-a:Medium"},
		},
		"create clusterrolebindings via RoleBinding grants nothing": {
			rules: []rbacv1.PolicyRule{pr("create", "rbac.authorization.k8s.io", "clusterrolebindings")}, scope: "team-a",
		},
		"create rolebindings restricted by resourceNames cannot create": {
			rules: []rbacv1.PolicyRule{pr("create", "rbac.authorization.k8s.io", "rolebindings", "x")}, scope: "team-a",
		},
		"nodes/proxy get reaches the kubelet": {
			rules: []rbacv1.PolicyRule{pr("get", "", "nodes/proxy")}, scope: ScopeCluster,
			want: []string{"nodes-proxy@cluster:Critical"},
		},
		"nodes/proxy via RoleBinding grants nothing: nodes are cluster-scoped": {
			rules: []rbacv1.PolicyRule{pr("get,create", "", "nodes/proxy")}, scope: "team-a",
		},
		"nodes read is not nodes/proxy": {
			rules: []rbacv1.PolicyRule{pr("get,list", "", "nodes,nodes/status")}, scope: ScopeCluster,
		},
		"serviceaccounts/token create cluster-wide": {
			rules: []rbacv1.PolicyRule{pr("create", "", "serviceaccounts/token")}, scope: ScopeCluster,
			want: []string{"serviceaccount-token@cluster:Critical"},
		},
		"serviceaccounts/token create in a namespace": {
			rules: []rbacv1.PolicyRule{pr("create", "", "serviceaccounts/token")}, scope: "team-a",
			want: []string{"serviceaccount-token@team-a:High"},
		},
		"serviceaccounts read is not token minting": {
			rules: []rbacv1.PolicyRule{pr("get,list,create", "", "serviceaccounts")}, scope: ScopeCluster,
		},
		"CSR approval needs approval update and signer approve": {
			rules: []rbacv1.PolicyRule{
				pr("update", "certificates.k8s.io", "certificatesigningrequests/approval"),
				pr("approve", "certificates.k8s.io", "signers", "kubernetes.io/kube-apiserver-client"),
			}, scope: ScopeCluster,
			want:  []string{"csr-approval@cluster:Critical"},
			grant: "update certificatesigningrequests/approval.certificates.k8s.io; approve signers.certificates.k8s.io [kubernetes.io/kube-apiserver-client]",
		},
		"CSR approval update without signer approve is not enough": {
			rules: []rbacv1.PolicyRule{pr("update", "certificates.k8s.io", "certificatesigningrequests/approval")}, scope: ScopeCluster,
		},
		"signer approve without approval update is not enough": {
			rules: []rbacv1.PolicyRule{pr("approve", "certificates.k8s.io", "signers")}, scope: ScopeCluster,
		},
		"CSR create and read is not approval": {
			rules: []rbacv1.PolicyRule{pr("create,get,list", "certificates.k8s.io", "certificatesigningrequests")}, scope: ScopeCluster,
		},
		"mutating webhook configuration patch": {
			rules: []rbacv1.PolicyRule{pr("patch", "admissionregistration.k8s.io", "mutatingwebhookconfigurations")}, scope: ScopeCluster,
			want: []string{"webhook-config@cluster:High"},
		},
		"validating webhook configuration delete switches admission off": {
			rules: []rbacv1.PolicyRule{pr("delete", "admissionregistration.k8s.io", "validatingwebhookconfigurations", "kubetrail")}, scope: ScopeCluster,
			want: []string{"webhook-config@cluster:High"},
		},
		"webhook configuration read is harmless": {
			rules: []rbacv1.PolicyRule{pr("get,list,watch", "admissionregistration.k8s.io", "mutatingwebhookconfigurations,validatingwebhookconfigurations")}, scope: ScopeCluster,
		},
		"create deployments in kube-system": {
			rules: []rbacv1.PolicyRule{pr("create", "apps", "deployments")}, scope: "kube-system",
			want: []string{"create-workloads@kube-system:High"},
		},
		"create deployments in an ordinary namespace is routine": {
			rules: []rbacv1.PolicyRule{pr("create", "apps", "deployments")}, scope: "team-a",
		},
		"create pods cluster-wide reaches kube-system": {
			rules: []rbacv1.PolicyRule{pr("create", "", "pods")}, scope: ScopeCluster,
			want: []string{"create-workloads@cluster:High"},
		},
		"nil rules":  {rules: nil, scope: ScopeCluster},
		"empty rule": {rules: []rbacv1.PolicyRule{{}}, scope: ScopeCluster},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := RulesRisks(tc.rules, tc.scope)
			if !slices.Equal(shorts(got), tc.want) {
				t.Fatalf("RulesRisks() = %v, want %v", shorts(got), tc.want)
			}
			if tc.grant != "" && got[0].Grant != tc.grant {
				t.Errorf("Grant = %q, want %q", got[0].Grant, tc.grant)
			}
			for _, r := range got {
				if r.Description == "" || r.Grant == "" {
					t.Errorf("risk %s has empty description or grant: %+v", short(r), r)
				}
			}
		})
	}
}

func TestRulesCatalogue(t *testing.T) {
	kebab := regexp.MustCompile(`^[a-z]+(-[a-z]+)*$`)
	seen := map[string]bool{}
	for _, r := range Rules() {
		if !kebab.MatchString(r.ID) {
			t.Errorf("rule ID %q is not kebab-case", r.ID)
		}
		if seen[r.ID] {
			t.Errorf("duplicate rule ID %q", r.ID)
		}
		seen[r.ID] = true
		if r.Description == "" {
			t.Errorf("rule %q has no description", r.ID)
		}
		if r.ClusterSeverity == "" && r.NamespaceSeverity == "" {
			t.Errorf("rule %q can never fire", r.ID)
		}
	}
	for _, id := range []string{"cluster-admin", "wildcard-verbs", "secrets-read", "pods-exec", "impersonate",
		"escalate-bind", "create-rolebindings", "nodes-proxy", "serviceaccount-token", "csr-approval", "webhook-config"} {
		if !seen[id] {
			t.Errorf("catalogue is missing rule %q", id)
		}
	}
}

func TestSeverityRank(t *testing.T) {
	order := []Severity{Critical, High, Medium, Low, Severity("critical")}
	for i := 1; i < len(order); i++ {
		if order[i-1].Rank() <= order[i].Rank() {
			t.Errorf("%q should outrank %q", order[i-1], order[i])
		}
	}
}

// FuzzRulesRisks feeds arbitrary rule fields: no input may panic, and a rule
// without a non-empty verb can never produce a risk (no request has an empty
// verb). testdata/fuzz holds a regression: verbs [""] on resources ["*"].
func FuzzRulesRisks(f *testing.F) {
	f.Add("*", "*", "*", "", "*", "cluster")
	f.Add("get", "", "secrets", "x", "", "ns")
	f.Add("", "", "/", "", "", "")
	f.Fuzz(func(t *testing.T, verbs, groups, resources, names, urls, scope string) {
		r := rbacv1.PolicyRule{
			Verbs: strings.Split(verbs, ","), APIGroups: strings.Split(groups, ","),
			Resources: strings.Split(resources, ","), NonResourceURLs: strings.Split(urls, ","),
		}
		if names != "" {
			r.ResourceNames = strings.Split(names, ",")
		}
		got := RulesRisks([]rbacv1.PolicyRule{r}, scope)
		if strings.Trim(verbs, ",") == "" && len(got) != 0 {
			t.Fatalf("rule with no verbs produced %v", shorts(got))
		}
	})
}
