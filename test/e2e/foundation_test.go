package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("The local control plane", func() {
	It("serves the TraceRecord CRD with the contract's printer columns and selectable fields", func() {
		out, err := kubectl("get", "crd", "tracerecords.kubetrail.io", "-o", "yaml")
		Expect(err).NotTo(HaveOccurred(), out)
		for _, col := range []string{"name: Kind", "name: Target", "name: Commit", "name: Approver", "name: Drifted", "name: Findings", "name: Age"} {
			Expect(out).To(ContainSubstring(col))
		}
		Expect(out).To(SatisfyAll(
			ContainSubstring("jsonPath: .spec.commit"),
			ContainSubstring("jsonPath: .spec.target.kind"),
			ContainSubstring("jsonPath: .spec.target.name"),
			ContainSubstring("selectableFields:"),
			ContainSubstring("- tr"),
		))
		version, err := kubectl("version", "-o", "yaml")
		Expect(err).NotTo(HaveOccurred(), version)
		Expect(version).To(ContainSubstring("gitVersion: v1.37"))
	})

	It("accepts the in-cluster install (kubectl apply -k config/default --dry-run=server)", func() {
		out, err := kubectl("apply", "-k", filepath.Join(root, "config", "default"), "--dry-run=server")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(SatisfyAll(
			ContainSubstring("deployment.apps/kubetrail-controller-manager"),
			ContainSubstring("validatingwebhookconfiguration.admissionregistration.k8s.io/kubetrail-validating-webhook-configuration"),
			ContainSubstring("customresourcedefinition.apiextensions.k8s.io/tracerecords.kubetrail.io"),
		))
	})
})

var _ = Describe("Admission on a real cluster with kube-controller-manager", Ordered, func() {
	const ns = "e2e-shop"
	var pipeline string
	commit := fakeCommit("e2e-release-1")

	BeforeAll(func() {
		pipeline = serviceAccountKubeconfig("e2e-ci", "deployer")
		out, err := kubectl("create", "clusterrolebinding", "e2e-ci-deployer", "--clusterrole", "cluster-admin", "--serviceaccount", "e2e-ci:deployer")
		Expect(err).NotTo(HaveOccurred(), out)
		_, _ = kubectl("create", "namespace", ns)
		policy := writeFile("e2e-policy.yaml", fmt.Sprintf(`apiVersion: kubetrail.io/v1alpha1
kind: TracePolicy
metadata: {name: e2e-enforce}
spec:
  mode: Enforce
  namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: %s}}
  requiredFields: [commit, repository, pipelineRun, approver]
  trustedSubmitters: [{kind: ServiceAccount, namespace: e2e-ci, name: deployer}]
`, ns))
		out, err = kubectl("apply", "-f", policy)
		Expect(err).NotTo(HaveOccurred(), out)
		// The manager switches the validating webhook to fail closed for an Enforce policy.
		Eventually(func() string {
			out, _ := kubectl("get", "validatingwebhookconfiguration", "kubetrail-validating-webhook-configuration",
				"-o", `jsonpath={.webhooks[?(@.name=="enforce.kubetrail.io")].failurePolicy}`)
			return out
		}, 30*time.Second, time.Second).Should(Equal("Fail"))
	})
	AfterAll(func() {
		_, _ = kubectl("delete", "tracepolicy", "e2e-enforce")
	})

	It("admits a pipeline's stamped Deployment, and the controller's ReplicaSets and Pods with it", func() {
		manifest := fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: %s}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: app, image: "ghcr.io/acme/web:1.0.0"}]
`, ns)
		stamped, err := trail(manifest, "stamp", "--no-env", "--commit", commit, "--repository", "https://github.com/acme/shop",
			"--pipeline-run", "https://ci.acme.dev/runs/1", "--approver", "alice,bob", "--actor", "pipeline", "-f", "-")
		Expect(err).NotTo(HaveOccurred(), stamped)
		out, err := kubectlAs(pipeline, stamped, "apply", "-f", "-")
		Expect(err).NotTo(HaveOccurred(), out)

		By("kube-controller-manager creating the ReplicaSet and its Pods under the Enforce policy")
		Eventually(func() int {
			out, _ := kubectl("get", "pods", "-n", ns, "-l", "app=web", "-o", "name")
			return len(strings.Fields(out))
		}, 60*time.Second, time.Second).Should(Equal(2))
		out, err = kubectl("get", "rs", "-n", ns, "-l", "app=web", "-o", "name")
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.Fields(out)).To(HaveLen(1))

		admittedBy, err := kubectl("get", "deploy", "web", "-n", ns, "-o", `jsonpath={.metadata.annotations.kubetrail\.io/admitted-by}`)
		Expect(err).NotTo(HaveOccurred())
		Expect(admittedBy).To(Equal("system:serviceaccount:e2e-ci:deployer"))
	})

	It("denies a human's unstamped Deployment with a message that says what to do", func() {
		out, err := kubectl("create", "deployment", "hotfix", "-n", ns, "--image", "ghcr.io/acme/web:1.0.1")
		Expect(err).To(HaveOccurred())
		Expect(out).To(SatisfyAll(
			ContainSubstring(`denied the request`),
			ContainSubstring("kubetrail.io/commit"),
			ContainSubstring("kubectl trail stamp"),
		))
	})

	It("records the Deployment so that kubectl finds it by commit", func() {
		Eventually(func() string {
			out, _ := kubectl("get", "tr", "-A", "--field-selector", "spec.commit="+commit)
			return out
		}, 60*time.Second, time.Second).Should(SatisfyAll(
			ContainSubstring("KIND"), ContainSubstring("TARGET"), ContainSubstring("COMMIT"), ContainSubstring("APPROVER"),
			ContainSubstring("DRIFTED"), ContainSubstring("FINDINGS"), ContainSubstring("AGE"),
			MatchRegexp(`Deployment\s+web\s+`+commit+`\s+alice,bob`),
		))
	})
})
