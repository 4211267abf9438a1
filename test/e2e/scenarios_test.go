package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The mission's cases, as make demo plays them, asserted through what kubectl and
// kubectl trail print.
var _ = Describe("The mission's scenarios", Ordered, func() {
	const repo = "https://github.com/acme/shop"
	var pipeline, agent, key string
	c := func(s string) string { return fakeCommit("scenario-" + s) }

	BeforeAll(func() {
		pipeline = serviceAccountKubeconfig("sc-ci", "deployer")
		agent = serviceAccountKubeconfig("sc-agents", "rollout-copilot")
		for _, args := range [][]string{
			{"create", "clusterrolebinding", "sc-ci-deployer", "--clusterrole", "cluster-admin", "--serviceaccount", "sc-ci:deployer"},
			{"create", "clusterrolebinding", "sc-agent", "--clusterrole", "admin", "--serviceaccount", "sc-agents:rollout-copilot"},
			{"create", "namespace", "sc-shop"}, {"create", "namespace", "sc-pay"}, {"create", "namespace", "sc-legacy"}, {"create", "namespace", "sc-checkout"},
			{"create", "serviceaccount", "builder", "-n", "sc-shop"},
		} {
			out, err := kubectl(args...)
			Expect(err).NotTo(HaveOccurred(), out)
		}
		key = filepath.Join(stateDir, "sc-ci")
		out, err := trail("", "keygen", "--out", key)
		Expect(err).NotTo(HaveOccurred(), out)
		pub, err := os.ReadFile(key + ".pub")
		Expect(err).NotTo(HaveOccurred())
		indented := "        " + strings.ReplaceAll(strings.TrimSpace(string(pub)), "\n", "\n        ")
		policies := writeFile("sc-policies.yaml", fmt.Sprintf(`apiVersion: kubetrail.io/v1alpha1
kind: TracePolicy
metadata: {name: sc-production}
spec:
  mode: Enforce
  namespaceSelector: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: [sc-shop, sc-pay]}]}
  requiredFields: [commit, repository, pipelineRun, approver, actor]
  trustedSubmitters:
  - {kind: ServiceAccount, namespace: sc-ci, name: deployer}
  - {kind: ServiceAccount, namespace: sc-agents, name: rollout-copilot}
  signing:
    audience: e2e
    publicKeys:
    - name: ci
      pem: |
%s
  secretLiterals: Warn
---
apiVersion: kubetrail.io/v1alpha1
kind: TracePolicy
metadata: {name: sc-freeze}
spec:
  mode: Enforce
  namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: sc-checkout}}
  breakGlass: {allowed: [{kind: User, name: kubernetes-admin}]}
  changeWindows:
  - {name: black-friday, start: "%s", end: "%s"}
`, indented, time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), time.Now().Add(24*time.Hour).UTC().Format(time.RFC3339)))
		out, err = kubectl("apply", "-f", policies)
		Expect(err).NotTo(HaveOccurred(), out)
		Eventually(func() string {
			out, _ := kubectl("get", "tp", "sc-production", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
			return out
		}, 30*time.Second, time.Second).Should(Equal("True"))
	})
	AfterAll(func() {
		_, _ = kubectl("delete", "tracepolicy", "sc-production", "sc-freeze")
	})

	deploy := func(who, manifest string, flags ...string) (string, error) {
		if slices.Contains(flags, "--key") {
			// Sign what the apiserver will admit (a server-side dry run as the
			// submitter, defaults included), for this cluster.
			flags = append(flags, "--audience", "e2e", "--server-dry-run", "--kubeconfig", who)
		}
		stamped, err := trail(manifest, append([]string{"stamp", "--no-env", "-f", "-"}, flags...)...)
		Expect(err).NotTo(HaveOccurred(), stamped)
		return kubectlAs(who, stamped, "apply", "-f", "-")
	}
	eventuallyTrail := func(args ...string) AsyncAssertion {
		return Eventually(func() string {
			out, _ := trail("", args...)
			return out
		}, 60*time.Second, time.Second)
	}

	It("1. admits the pipeline's stamped, signed app and rejects a human's unstamped one", func() {
		out, err := deploy(pipeline, `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: sc-shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      serviceAccountName: builder
      containers: [{name: app, image: "ghcr.io/acme/web:1.4.0"}]
`, "--key", key+".key", "--commit", c("1"), "--repository", repo, "--pull-request", "101",
			"--pipeline-run", "https://ci.acme.dev/runs/1", "--approver", "alice,bob", "--actor", "pipeline")
		Expect(err).NotTo(HaveOccurred(), out)
		out, err = kubectl("create", "deployment", "hotfix", "-n", "sc-shop", "--image", "ghcr.io/acme/web:1.4.1")
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring("metadata.annotations[kubetrail.io/commit]: Required value"))

		eventuallyTrail("why", "deployment/web", "-n", "sc-shop").Should(SatisfyAll(
			ContainSubstring("WHAT CHANGED"), ContainSubstring("WHO APPROVED"), ContainSubstring("WHAT DEPLOYED"), ContainSubstring("WHAT DEPENDS ON IT"),
			ContainSubstring("commit "+c("1")[:7]), ContainSubstring("alice, bob"),
			ContainSubstring("signed, verified against a trusted key"),
			ContainSubstring("ghcr.io/acme/web:1.4.0"),
			ContainSubstring("the live object matches"),
		))
	})

	It("2. traces a service account's cluster-admin grant to its change, and records a manual one as untraced", func() {
		out, err := deploy(pipeline, `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: sc-builder-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: builder, namespace: sc-shop}]
`, "--commit", c("2"), "--repository", repo, "--pull-request", "102", "--pipeline-run", "https://ci.acme.dev/runs/2",
			"--approver", "alice,carol", "--actor", "pipeline")
		Expect(err).NotTo(HaveOccurred(), out)
		eventuallyTrail("why", "clusterrolebinding/sc-builder-admin").Should(SatisfyAll(
			ContainSubstring("RBACEscalation"), ContainSubstring("ServiceAccount sc-shop/builder gains cluster-admin"),
			ContainSubstring("Deployment sc-shop/web"), ContainSubstring("commit "+c("2")[:7]), ContainSubstring("PR #102"),
			ContainSubstring("alice, carol"),
		))

		for _, args := range [][]string{
			{"create", "serviceaccount", "legacy-bot", "-n", "sc-legacy"},
			{"create", "deployment", "legacy-cron", "-n", "sc-legacy", "--image", "busybox:1.36"},
			{"set", "serviceaccount", "deployment/legacy-cron", "legacy-bot", "-n", "sc-legacy"},
			{"create", "rolebinding", "legacy-bot-admin", "-n", "sc-legacy", "--clusterrole", "cluster-admin", "--serviceaccount", "sc-legacy:legacy-bot"},
		} {
			out, err := kubectl(args...)
			Expect(err).NotTo(HaveOccurred(), out)
		}
		eventuallyTrail("findings", "-n", "sc-legacy", "--type", "RBACEscalation").Should(SatisfyAll(
			ContainSubstring("RoleBinding/legacy-bot-admin"), ContainSubstring("admitted by kubernetes-admin"),
			ContainSubstring("Deployment sc-legacy/legacy-cron"),
		))
	})

	It("3. traces a rotated secret in a pod spec to its commit and CI variable, never showing the value", func() {
		token := "ghp_" + "Rt5Yh8Nm2Kp4Wq7Zs1Xd3Cv6Bf9Gj0Lm2Pq4Ws"
		out, err := deploy(pipeline, fmt.Sprintf(`# Source: payments/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata: {name: payments, namespace: sc-pay}
spec:
  selector: {matchLabels: {app: payments}}
  template:
    metadata: {labels: {app: payments}}
    spec:
      containers: [{name: api, image: "ghcr.io/acme/payments:2.0.1", env: [{name: GITHUB_TOKEN, value: "%s"}]}]
`, token), "--key", key+".key", "--commit", c("3"), "--repository", repo, "--pull-request", "103",
			"--pipeline-run", "https://ci.acme.dev/runs/3", "--approver", "dave,erin", "--actor", "pipeline", "--source", "ci-variable")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("looks like a credential"), "Warn mode tells the pipeline")
		eventuallyTrail("findings", "-n", "sc-pay", "--type", "SecretExposure").Should(SatisfyAll(
			ContainSubstring("Deployment/payments"), ContainSubstring(c("3")[:7]), ContainSubstring("ci-variable"),
			ContainSubstring("env[GITHUB_TOKEN]"),
		))
		record, err := kubectl("get", "tr", "deployment.payments", "-n", "sc-pay", "-o", "json")
		Expect(err).NotTo(HaveOccurred())
		why, _ := trail("", "why", "deployment/payments", "-n", "sc-pay", "-o", "json")
		for _, shown := range []string{record, why} {
			Expect(shown).NotTo(ContainSubstring(token))
			Expect(shown).NotTo(ContainSubstring(token[4:14]))
		}
	})

	It("4. separates an AI agent's Ingress change from the humans' and pipelines', with its approval", func() {
		ingress := `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop, namespace: sc-shop}
spec:
  rules:
  - host: shop.acme.dev
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: BACKEND, port: {number: 80}}}}]}
`
		out, err := deploy(pipeline, strings.ReplaceAll(ingress, "BACKEND", "web"), "--key", key+".key", "--commit", c("4a"),
			"--repository", repo, "--pipeline-run", "https://ci.acme.dev/runs/4", "--approver", "alice,bob", "--actor", "pipeline")
		Expect(err).NotTo(HaveOccurred(), out)
		out, err = deploy(agent, strings.ReplaceAll(ingress, "BACKEND", "web-canary"), "--commit", c("4b"), "--repository", repo,
			"--pull-request", "104", "--pipeline-run", "rollout-copilot/run-88", "--approver", "alice", "--actor", "agent",
			"--agent", "rollout-copilot run 88")
		Expect(err).NotTo(HaveOccurred(), out)
		eventuallyTrail("why", "ingress/shop", "-n", "sc-shop").Should(SatisfyAll(
			ContainSubstring("agent rollout-copilot run 88"),
			ContainSubstring("approved by alice"),
			MatchRegexp(`commit `+c("4a")[:7]+`.*by pipeline`),
			ContainSubstring("/spec/rules/0/http/paths/0/backend/service"),
		))
		out, err = kubectl("get", "tr", "ingress.shop", "-n", "sc-shop", "-o", "jsonpath={.spec.actor} {.spec.agent} {.spec.approver}")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal("agent rollout-copilot run 88 alice"))
	})

	It("5. rejects a change inside a freeze, admits it with break-glass, and exports both as evidence", func() {
		cm := `apiVersion: v1
kind: ConfigMap
metadata: {name: flags, namespace: sc-checkout}
data: {retry: "3"}
`
		out, err := deploy(pipeline, cm, "--commit", c("5"), "--repository", repo, "--pipeline-run", "https://ci.acme.dev/runs/5", "--approver", "frank", "--actor", "pipeline")
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring(`change window "black-friday" is frozen`))
		withReason := strings.Replace(cm, "metadata: {", `metadata: {annotations: {kubetrail.io/break-glass: "INC-2203 checkout failing, retries exhausted"}, `, 1)
		out, err = deploy(kubeconfig, withReason, "--commit", c("5"), "--repository", repo, "--pipeline-run", "https://ci.acme.dev/runs/5", "--approver", "frank", "--actor", "human")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("admitted by break-glass"))

		evidence := filepath.Join(stateDir, "sc-evidence.json")
		Eventually(func() string {
			_, _ = trail("", "export", "--since", "1h", "-o", evidence)
			b, _ := os.ReadFile(evidence)
			return string(b)
		}, 60*time.Second, 2*time.Second).Should(SatisfyAll(ContainSubstring("ChangeWindowViolation"), ContainSubstring("ManualOverride"), ContainSubstring("INC-2203")))
		out, err = trail("", "export", "--verify", evidence)
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(HavePrefix("OK"))

		By("an auditor detects an edited bundle")
		b, err := os.ReadFile(evidence)
		Expect(err).NotTo(HaveOccurred())
		var bundle map[string]interface{}
		Expect(json.Unmarshal(b, &bundle)).To(Succeed())
		edited := strings.Replace(string(b), "INC-2203", "INC-9999", 1)
		Expect(os.WriteFile(evidence, []byte(edited), 0o600)).To(Succeed())
		out, err = trail("", "export", "--verify", evidence)
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring("EDITED"))
	})

	It("answers which objects a commit deployed, by full or short SHA", func() {
		eventuallyTrail("commit", c("1")[:8]).Should(MatchRegexp(`sc-shop\s+Deployment\s+web\s+current`))
		out, err := kubectl("get", "tr", "-A", "--field-selector", "spec.commit="+c("2"))
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(MatchRegexp(`ClusterRoleBinding\s+sc-builder-admin\s+` + c("2")))
	})
})
