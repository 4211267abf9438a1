package e2e

import (
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The security review's attacks, played on the local control plane (with the real
// kube-controller-manager) by an identity with ordinary rights: mallory holds the
// built-in `edit` role in a namespace an Enforce policy selects.
var _ = Describe("An attacker with edit rights", Ordered, func() {
	const ns = "adv-prod"
	const record = "adv-record"
	var pipeline string
	commit := fakeCommit("adversarial-release-1")
	as := func(user string, args ...string) (string, error) {
		return kubectlAs(kubeconfig, "", append([]string{"--as", user}, args...)...)
	}
	stampAndApply := func(manifest string, c string) {
		stamped, err := trail(manifest, "stamp", "--no-env", "--commit", c, "--repository", "https://github.com/acme/shop",
			"--pipeline-run", "https://ci.acme.dev/runs/"+c[:6], "--approver", "alice,bob", "--actor", "pipeline", "-f", "-")
		Expect(err).NotTo(HaveOccurred(), stamped)
		out, err := kubectlAs(pipeline, stamped, "apply", "-f", "-")
		Expect(err).NotTo(HaveOccurred(), out)
	}
	web := func(namespace, image string) string {
		return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: %s}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: app, image: "%s"}]
`, namespace, image)
	}

	BeforeAll(func() {
		pipeline = serviceAccountKubeconfig("adv-ci", "deployer")
		for _, args := range [][]string{
			{"create", "clusterrolebinding", "adv-ci-deployer", "--clusterrole", "cluster-admin", "--serviceaccount", "adv-ci:deployer"},
			{"create", "namespace", ns}, {"create", "namespace", record},
			{"create", "rolebinding", "mallory-edit", "-n", ns, "--clusterrole", "edit", "--user", "mallory"},
			{"create", "rolebinding", "mallory-edit", "-n", record, "--clusterrole", "edit", "--user", "mallory"},
			{"create", "rolebinding", "sre1-edit", "-n", record, "--clusterrole", "edit", "--user", "sre1"},
		} {
			out, err := kubectl(args...)
			Expect(err).NotTo(HaveOccurred(), out)
		}
		policy := writeFile("adv-policy.yaml", fmt.Sprintf(`apiVersion: kubetrail.io/v1alpha1
kind: TracePolicy
metadata: {name: adv-enforce}
spec:
  mode: Enforce
  namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: %s}}
  requiredFields: [commit, repository, pipelineRun, approver]
  trustedSubmitters: [{kind: ServiceAccount, namespace: adv-ci, name: deployer}]
  deletes: Trusted
`, ns))
		out, err := kubectl("apply", "-f", policy)
		Expect(err).NotTo(HaveOccurred(), out)
		Eventually(func() string {
			out, _ := kubectl("get", "validatingwebhookconfiguration", "kubetrail-validating-webhook-configuration",
				"-o", `jsonpath={.webhooks[?(@.name=="enforce.kubetrail.io")].failurePolicy}`)
			return out
		}, 30*time.Second, time.Second).Should(Equal("Fail"))
		stampAndApply(web(ns, "ghcr.io/acme/web:1.0.0"), commit)
		stampAndApply(web(record, "ghcr.io/acme/web:1.0.0"), commit)
	})
	AfterAll(func() {
		_, _ = kubectl("delete", "tracepolicy", "adv-enforce")
	})

	It("cannot take a Deployment past Enforce by claiming a controller owner (C1)", func() {
		var uid string
		Eventually(func() string {
			uid, _ = kubectl("get", "cm", "kube-root-ca.crt", "-n", ns, "-o", "jsonpath={.metadata.uid}")
			return uid
		}, 30*time.Second, time.Second).ShouldNot(BeEmpty())
		patch := fmt.Sprintf(`{"metadata":{"ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"kube-root-ca.crt","uid":"%s","controller":true}]},`+
			`"spec":{"template":{"spec":{"containers":[{"name":"app","image":"attacker.example/evil:1"}]}}}}`, uid)
		out, err := as("mallory", "-n", ns, "patch", "deploy", "web", "--type=merge", "-p", patch)
		Expect(err).To(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("mallory changed tracked content outside the pipeline"))
		image, _ := kubectl("get", "deploy", "web", "-n", ns, "-o", "jsonpath={.spec.template.spec.containers[0].image}")
		Expect(image).To(Equal("ghcr.io/acme/web:1.0.0"))
	})

	It("cannot run a ReplicaSet or ReplicationController untraced under Enforce, and is recorded creating one elsewhere (C2)", func() {
		rs := func(namespace, kind, apiVersion string) string {
			selector := "{matchLabels: {app: miner}}"
			if kind == "ReplicationController" {
				selector = "{app: miner}"
			}
			return fmt.Sprintf(`apiVersion: %s
kind: %s
metadata: {name: miner, namespace: %s}
spec:
  replicas: 1
  selector: %s
  template:
    metadata: {labels: {app: miner}}
    spec:
      containers: [{name: app, image: "attacker.example/xmrig:latest"}]
`, apiVersion, kind, namespace, selector)
		}
		for _, k := range [][2]string{{"ReplicaSet", "apps/v1"}, {"ReplicationController", "v1"}} {
			out, err := kubectlAs(kubeconfig, rs(ns, k[0], k[1]), "--as", "mallory", "apply", "-f", "-")
			Expect(err).To(HaveOccurred(), out)
			Expect(out).To(ContainSubstring("kubetrail.io/commit"), k[0])
			_, err = kubectl("get", strings.ToLower(k[0]), "miner", "-n", ns)
			Expect(err).To(HaveOccurred(), "no %s was created under Enforce", k[0])
			out, err = kubectlAs(kubeconfig, rs(record, k[0], k[1]), "--as", "mallory", "apply", "-f", "-")
			Expect(err).NotTo(HaveOccurred(), out)
		}
		for _, name := range []string{"replicaset.miner", "replicationcontroller.miner"} {
			Eventually(func() string {
				out, _ := kubectl("get", "tr", name, "-n", record, "-o", "jsonpath={.spec.admission.admittedBy} {.spec.images}")
				return out
			}, 60*time.Second, time.Second).Should(SatisfyAll(HavePrefix("mallory "), ContainSubstring("attacker.example/xmrig:latest")), name)
		}
	})

	It("answers why for a Pod of the Deployment with the Deployment's change", func() {
		var pod string
		Eventually(func() string {
			out, _ := kubectl("get", "pods", "-n", ns, "-l", "app=web", "-o", "jsonpath={.items[0].metadata.name}")
			pod = strings.TrimSpace(out)
			return pod
		}, 60*time.Second, time.Second).ShouldNot(BeEmpty())
		Eventually(func() string {
			out, _ := trail("", "why", "pod/"+pod, "-n", ns)
			return out
		}, 60*time.Second, time.Second).Should(SatisfyAll(
			ContainSubstring("Derived by"), ContainSubstring("Deployment "+ns+"/web"), ContainSubstring(commit[:7])))
	})

	It("records a human's hotfix that keeps the pipeline's commit as untraced, naming the human (record-only namespace)", func() {
		out, err := as("sre1", "-n", record, "set", "image", "deploy/web", "app=ghcr.io/acme/web:1.0.0-hotfix")
		Expect(err).NotTo(HaveOccurred(), out)
		Eventually(func() string {
			out, _ := trail("", "why", "deploy/web", "-n", record)
			return out
		}, 60*time.Second, time.Second).Should(SatisfyAll(ContainSubstring("UNTRACED"), ContainSubstring("sre1")))
		Eventually(func() string {
			out, _ := kubectl("get", "tr", "deployment.web", "-n", record, "-o", `jsonpath={.status.findings[?(@.type=="UntracedChange")].message}`)
			return out
		}, 60*time.Second, time.Second).Should(SatisfyAll(ContainSubstring("sre1"), ContainSubstring("image")))
	})

	It("cannot scale production to zero or debug into its Pods through subresources (M11), and a scale elsewhere is recorded", func() {
		out, err := as("mallory", "-n", ns, "scale", "deploy", "web", "--replicas=0")
		Expect(err).To(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("mallory scaled Deployment web from 1 to 0 replicas through the scale subresource"))
		replicas, _ := kubectl("get", "deploy", "web", "-n", ns, "-o", "jsonpath={.spec.replicas}")
		Expect(replicas).To(Equal("1"))

		var pod string
		Eventually(func() string {
			pod, _ = kubectl("get", "pods", "-n", ns, "-l", "app=web", "-o", "jsonpath={.items[0].metadata.name}")
			return pod
		}, 60*time.Second, time.Second).ShouldNot(BeEmpty())
		// As the cluster's admin (not a trusted submitter), the review's reproduction:
		// kubectl debug adds an ephemeral container to the Deployment's Pod.
		out, err = kubectl("debug", "-n", ns, "pod/"+pod, "--image=attacker.example/shell:1", "--container=shell")
		Expect(err).To(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("changed tracked content outside the pipeline"))
		containers, _ := kubectl("get", "pod", pod, "-n", ns, "-o", "jsonpath={.spec.ephemeralContainers}")
		Expect(containers).To(BeEmpty())

		By("a scale in the record-only namespace: admitted, and recorded as an untraced change of spec.replicas")
		out, err = as("mallory", "-n", record, "scale", "deploy", "web", "--replicas=3")
		Expect(err).NotTo(HaveOccurred(), out)
		Eventually(func() string {
			out, _ := kubectl("get", "tr", "deployment.web", "-n", record, "-o", `jsonpath={.status.findings[?(@.type=="UntracedChange")].paths}`)
			return out
		}, 60*time.Second, time.Second).Should(ContainSubstring("/spec/replicas"))
	})

	It("cannot act as kubetrail's manager as an admin of kubetrail-system (H7)", func() {
		out, err := kubectl("-n", "kubetrail-system", "create", "rolebinding", "adv-pdev-admin", "--clusterrole=admin", "--user=platform-dev")
		Expect(err).NotTo(HaveOccurred(), out)
		DeferCleanup(func() { _, _ = kubectl("-n", "kubetrail-system", "delete", "rolebinding", "adv-pdev-admin") })
		pod := func(name, serviceAccount string) string {
			sa := ""
			if serviceAccount != "" {
				sa = fmt.Sprintf(`"serviceAccountName":%q,`, serviceAccount)
			}
			return fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":%q,"namespace":"kubetrail-system"},"spec":{%s`+
				`"securityContext":{"runAsNonRoot":true,"runAsUser":1000,"seccompProfile":{"type":"RuntimeDefault"}},`+
				`"containers":[{"name":"c","image":"busybox","securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}]}}`, name, sa)
		}
		const manager = "kubetrail-controller-manager"

		By("minting the manager's token: the review's reproduction")
		out, err = as("platform-dev", "-n", "kubetrail-system", "create", "token", manager, "--duration", "10m")
		Expect(err).To(HaveOccurred(), "platform-dev minted the manager's token")
		Expect(out).To(ContainSubstring("tokens of kubetrail's manager ServiceAccount are minted only by the kubelet"))
		By("a legacy token Secret, a Pod or a Deployment running as the manager, exec into its Pod")
		out, err = kubectlAs(kubeconfig, `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"adv-steal","namespace":"kubetrail-system",`+
			`"annotations":{"kubernetes.io/service-account.name":"`+manager+`"}},"type":"kubernetes.io/service-account-token"}`, "--as", "platform-dev", "apply", "-f", "-")
		Expect(err).To(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("no token Secret for kubetrail's manager ServiceAccount"))
		out, err = kubectlAs(kubeconfig, pod("adv-thief", manager), "--as", "platform-dev", "apply", "-f", "-")
		Expect(err).To(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("only the manager's ReplicaSet may run Pods as kubetrail's manager ServiceAccount"))
		deploy := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"adv-thief","namespace":"kubetrail-system"},"spec":{"selector":{"matchLabels":{"app":"t"}},` +
			`"template":{"metadata":{"labels":{"app":"t"}},"spec":{"serviceAccountName":"` + manager + `","containers":[{"name":"c","image":"busybox"}]}}}}`
		out, err = kubectlAs(kubeconfig, deploy, "--as", "platform-dev", "apply", "-f", "-")
		Expect(err).To(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("installed by cluster-admins (system:masters) only"))
		out, err = kubectlAs(kubeconfig, pod(manager+"-adv-1", ""), "apply", "-f", "-")
		Expect(err).NotTo(HaveOccurred(), out)
		DeferCleanup(func() { _, _ = kubectl("-n", "kubetrail-system", "delete", "pod", manager+"-adv-1", "--wait=false") })
		out, err = as("platform-dev", "-n", "kubetrail-system", "exec", manager+"-adv-1", "--", "true")
		Expect(err).To(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("no exec, attach or port-forward into kubetrail's manager"))

		By("the namespace's admin keeps the ordinary rights: a Pod of its own")
		out, err = kubectlAs(kubeconfig, pod("adv-own", ""), "--as", "platform-dev", "apply", "-f", "-")
		Expect(err).NotTo(HaveOccurred(), out)
		DeferCleanup(func() { _, _ = kubectl("-n", "kubetrail-system", "delete", "pod", "adv-own", "--wait=false") })
	})

	It("cannot delete what the pipeline deployed under deletes: Trusted, and is named on the tombstone elsewhere (M2)", func() {
		out, err := as("mallory", "-n", ns, "delete", "deploy", "web")
		Expect(err).To(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("mallory may not delete Deployment web"))
		_, err = kubectl("get", "deploy", "web", "-n", ns)
		Expect(err).NotTo(HaveOccurred(), "the Deployment is gone")

		out, err = as("mallory", "-n", record, "create", "configmap", "adv-doomed", "--from-literal=k=v")
		Expect(err).NotTo(HaveOccurred(), out)
		Eventually(func() error {
			_, err := kubectl("get", "tr", "configmap.adv-doomed", "-n", record)
			return err
		}, 60*time.Second, time.Second).Should(Succeed())
		out, err = as("mallory", "-n", record, "delete", "configmap", "adv-doomed")
		Expect(err).NotTo(HaveOccurred(), out)
		Eventually(func() string {
			out, _ := trail("", "why", "configmap/adv-doomed", "-n", record)
			return out
		}, 60*time.Second, time.Second).Should(SatisfyAll(ContainSubstring("DELETED"), ContainSubstring("Deleted by mallory")))
	})
})
