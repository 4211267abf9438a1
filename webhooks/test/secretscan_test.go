package test

import (
	"context"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/testenv"
)

// webhookTimeout is the validating webhook's timeoutSeconds (config/webhook/manifests.yaml).
const webhookTimeout = 5 * time.Second

// configMapWriter returns a client for a user who may only create and update
// ConfigMaps in ns: no trusted submitter, no admin.
func configMapWriter(ctx context.Context, name, ns string) client.Client {
	cfg, err := testenv.UserConfig(testEnv, name)
	Expect(err).NotTo(HaveOccurred())
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	Expect(admin.Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "configmap-writer"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "create", "update", "patch"}}},
	})).To(Succeed())
	Expect(admin.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-configmaps"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "configmap-writer"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: "rbac.authorization.k8s.io", Name: name}},
	})).To(Succeed())
	return c
}

// bigConfigMap is finding M6's ConfigMap: 4,000 keys of 250 characters (random
// alphanumerics after prefix) with one-character values, 1.0 MB.
func bigConfigMap(ns, name, prefix string) *corev1.ConfigMap {
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	seed := uint64(7)
	data := map[string]string{}
	for i := range 4000 {
		var b strings.Builder
		fmt.Fprintf(&b, "%skey-%04d-", prefix, i)
		for b.Len() < 250 {
			seed = seed*6364136223846793005 + 1442695040888963407
			b.WriteByte(alnum[(seed>>33)%uint64(len(alnum))])
		}
		data[b.String()] = "x"
	}
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: data}
}

var _ = Describe("Credentials written anywhere in a pod template or ConfigMap are found, and large objects get a defined result in time (M5, M6)", func() {
	token := "ghp_" + "Zx9Qw2Er4Ty6Ui8Op0As1Df3Gh5Jk7Lz9Xc2Vb"
	var ns string

	deniedForCredentialAt := func(err error, locations ...string) {
		GinkgoHelper()
		Expect(err).To(HaveOccurred(), "a literal credential was admitted")
		for _, l := range locations {
			Expect(err.Error()).To(ContainSubstring(l))
		}
		Expect(err.Error()).To(SatisfyAll(ContainSubstring("github-pat"), Not(ContainSubstring(token)), Not(ContainSubstring(token[4:16]))))
	}

	Context("under an Enforce policy with secretLiterals: Deny", func() {
		BeforeEach(func(ctx SpecContext) {
			ns = newNamespace(ctx)
			newPolicy(ctx, ns, v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, SecretLiterals: v1alpha1.ActionDeny})
		})

		It("denies a token after 64 KiB of padding in a ConfigMap", func(ctx SpecContext) {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "padded"},
				Data: map[string]string{"config.env": strings.Repeat("#", 64<<10) + "\nGITHUB_TOKEN=" + token + "\n"}}
			deniedForCredentialAt(users[pipeline].Create(ctx, cm), "data[config.env]")
		})

		It("denies a token in binaryData", func(ctx SpecContext) {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "binary"},
				BinaryData: map[string][]byte{"config.env": []byte("GITHUB_TOKEN=" + token + "\n")}}
			deniedForCredentialAt(users[pipeline].Create(ctx, cm), "binaryData[config.env]")
		})

		It("denies a token in a liveness probe's command, a readiness probe's HTTP header and a postStart hook", func(ctx SpecContext) {
			d := deployment(ns, "web", "nginx:1.27", pipelineProvenance(commitA))
			c := &d.Spec.Template.Spec.Containers[0]
			c.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{
				Command: []string{"sh", "-c", "curl -fsS -H 'Authorization: token " + token + "' https://api.github.com/user"}}}}
			c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: "/ready", Port: intstr.FromInt32(8080), HTTPHeaders: []corev1.HTTPHeader{{Name: "Authorization", Value: "token " + token}}}}}
			c.Lifecycle = &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{
				Command: []string{"git", "clone", "https://x-access-token:" + token + "@github.com/acme/shop"}}}}
			deniedForCredentialAt(users[pipeline].Create(ctx, d),
				"containers[app].livenessProbe.exec.command[2]",
				"containers[app].readinessProbe.httpGet.httpHeaders[Authorization].value",
				"containers[app].lifecycle.postStart.exec.command[2]")
		})

		It("answers mallory's 1 MB ConfigMap dry run within the webhook timeout, with a defined result", func(ctx SpecContext) {
			mallory := configMapWriter(ctx, "mallory", ns)
			start := time.Now()
			err := mallory.Create(ctx, bigConfigMap(ns, "big", ""), client.DryRunAll)
			elapsed := time.Since(start)
			Expect(elapsed).To(BeNumerically("<", webhookTimeout), "the webhook must answer before the apiserver gives up on it")
			// Design (docs/admission.md, "Credentials in specs"): scanned in full when it
			// fits the time budget, and then admitted (it holds no credential); denied as
			// too large to scan when it does not. Never a webhook timeout.
			if err != nil {
				Expect(err.Error()).To(SatisfyAll(ContainSubstring("too large to scan for credentials"), ContainSubstring("move large data into a Secret")))
				Expect(err.Error()).NotTo(ContainSubstring("failed calling webhook"))
			}
		})

		It("denies, within the webhook timeout, a 1 MB ConfigMap made to trip gitleaks' slowest rules, saying it is too large to scan and how to fix it", func(ctx SpecContext) {
			mallory := configMapWriter(ctx, "mallory", ns)
			start := time.Now()
			err := mallory.Create(ctx, bigConfigMap(ns, "slow", "linkedin-bittrex-hubspot-"), client.DryRunAll)
			Expect(time.Since(start)).To(BeNumerically("<", webhookTimeout))
			Expect(err).To(HaveOccurred(), "an object that could not be scanned was admitted as clean")
			Expect(err.Error()).To(SatisfyAll(
				ContainSubstring("too large to scan for credentials"),
				ContainSubstring("time budget"),
				ContainSubstring("move large data into a Secret"),
				Not(ContainSubstring("failed calling webhook")),
			))
		})
	})

	It("under Warn, admits the slow 1 MB ConfigMap with a warning that it was not fully scanned", func(ctx SpecContext) {
		ns = newNamespace(ctx)
		newPolicy(ctx, ns, v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, SecretLiterals: v1alpha1.ActionWarn})
		users[pipeline].Warnings()
		start := time.Now()
		Expect(users[pipeline].Create(ctx, bigConfigMap(ns, "slow", "linkedin-bittrex-hubspot-"), client.DryRunAll)).To(Succeed())
		Expect(time.Since(start)).To(BeNumerically("<", webhookTimeout))
		Expect(joined(users[pipeline].Warnings())).To(ContainSubstring("too large to scan for credentials"))
	})

	It("on update, judges only the values that changed", func(ctx SpecContext) {
		ns = newNamespace(ctx)
		newPolicy(ctx, ns, v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, SecretLiterals: v1alpha1.ActionDeny})
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"}, Data: map[string]string{"log-level": "debug"}}
		Expect(users[pipeline].Create(ctx, cm)).To(Succeed())
		cm.Data["config.env"] = "GITHUB_TOKEN=" + token
		deniedForCredentialAt(users[pipeline].Update(ctx, cm), "data[config.env]")
	})
})
