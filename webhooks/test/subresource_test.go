package test

import (
	"context"
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/provenance"
	"github.com/kubetrail/kubetrail/internal/testenv"
)

// operatorUser returns a client for a user with what the built-in edit role grants
// on workloads and their subresources in ns (kubectl scale, kubectl debug), and no
// trusted submitter.
func operatorUser(ctx context.Context, name, ns string) client.Client {
	cfg, err := testenv.UserConfig(testEnv, name)
	Expect(err).NotTo(HaveOccurred())
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	Expect(admin.Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods", "pods/ephemeralcontainers", "pods/resize"}, Verbs: []string{"get", "list", "patch", "update"}},
			{APIGroups: []string{"apps"}, Resources: []string{"deployments", "deployments/scale"}, Verbs: []string{"get", "list", "patch", "update"}},
		},
	})).To(Succeed())
	Expect(admin.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: "rbac.authorization.k8s.io", Name: name}},
	})).To(Succeed())
	return c
}

// scale sends what `kubectl scale --replicas` sends: an update of the scale subresource.
func scale(ctx context.Context, c client.Client, d *appsv1.Deployment, replicas int32) error {
	s := &autoscalingv1.Scale{}
	if err := c.SubResource("scale").Get(ctx, d, s); err != nil {
		return err
	}
	s.Spec.Replicas = replicas
	return c.SubResource("scale").Update(ctx, d, client.WithSubResourceBody(s))
}

// debug adds an ephemeral container as `kubectl debug -it pod --image` does.
func debug(ctx context.Context, c client.Client, pod *corev1.Pod, image string) error {
	var live corev1.Pod
	if err := c.Get(ctx, client.ObjectKeyFromObject(pod), &live); err != nil {
		return err
	}
	live.Spec.EphemeralContainers = append(live.Spec.EphemeralContainers, corev1.EphemeralContainer{
		EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: fmt.Sprintf("debugger-%d", len(live.Spec.EphemeralContainers)), Image: image}})
	return c.SubResource("ephemeralcontainers").Update(ctx, &live)
}

var _ = Describe("Subresources that change what runs are governed (M11)", func() {
	var ns, mallory string
	var malloryClient client.Client

	BeforeEach(func(ctx SpecContext) {
		ns = newNamespace(ctx)
		mallory = "mallory-" + ns
		malloryClient = operatorUser(ctx, mallory, ns)
	})

	It("denies an editor's kubectl scale of a production Deployment to zero, and admits it where the policy leaves replicas to others", func(ctx SpecContext) {
		p := newPolicy(ctx, ns, v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, RequiredFields: requireAll, TrustedSubmitters: trustPipeline})
		d := deployment(ns, "api", "registry.example/api:1.0", pipelineProvenance(commitA))
		d.Spec.Replicas = ptr.To[int32](3)
		Expect(users[pipeline].Create(ctx, d)).To(Succeed())

		err := scale(ctx, malloryClient, d, 0)
		Expect(err).To(HaveOccurred(), "scaling production to zero was admitted")
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), err.Error())
		Expect(err.Error()).To(ContainSubstring(mallory + " scaled Deployment api from 3 to 0 replicas through the scale subresource"))
		Expect(err.Error()).To(ContainSubstring("spec.replicas"))
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(d), d)).To(Succeed())
		Expect(*d.Spec.Replicas).To(Equal(int32(3)))

		By("the same scale once the policy ignores /spec/replicas for Deployments (an HPA owns them)")
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(p), p)).To(Succeed())
		p.Spec.Ignore = []v1alpha1.IgnoreRule{{Kinds: []string{"Deployment"}, Paths: []string{"/spec/replicas"}}}
		Expect(admin.Update(ctx, p)).To(Succeed())
		Eventually(func() error { return scale(ctx, malloryClient, d, 0) }).Should(Succeed())
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(d), d)).To(Succeed())
		Expect(*d.Spec.Replicas).To(Equal(int32(0)))
	})

	It("denies an editor's kubectl debug into a production Pod, and admits it under break-glass by on-call", func(ctx SpecContext) {
		newPolicy(ctx, ns, v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, RequiredFields: requireAll, TrustedSubmitters: trustPipeline,
			BreakGlass: &v1alpha1.BreakGlass{Allowed: []v1alpha1.Subject{{Kind: v1alpha1.SubjectGroup, Name: "sre-oncall"}}}})
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tool", Annotations: pipelineProvenance(commitA)},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "tool", Image: "busybox:1.36"}}},
		}
		Expect(users[pipeline].Create(ctx, pod)).To(Succeed())

		err := debug(ctx, malloryClient, pod, "attacker.example/shell:latest")
		deniedOutsidePipeline(err, mallory)
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(pod), pod)).To(Succeed())
		Expect(pod.Spec.EphemeralContainers).To(BeEmpty())

		By("on-call setting a break-glass reason on the Pod, then debugging it")
		Expect(mergePatch(ctx, users[sre], pod, fmt.Sprintf(`{"metadata":{"annotations":{%q:"INC-4711: checkout is down, need a shell"}}}`,
			provenance.BreakGlassKey))).To(Succeed())
		Expect(debug(ctx, users[sre], pod, "registry.example/debug:1.0")).To(Succeed())
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(pod), pod)).To(Succeed())
		Expect(pod.Spec.EphemeralContainers).To(HaveLen(1))

		By("the break-glass reason on the Pod is no licence for someone not allowed to use it")
		err = debug(ctx, malloryClient, pod, "attacker.example/shell:latest")
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring(mallory + " may not use break-glass"))
	})
})
