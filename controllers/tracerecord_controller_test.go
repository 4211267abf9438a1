package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/provenance"
)

const probeNamespace = "probes"

var probes int

// sha returns a full commit SHA made of one repeated hex digit pattern.
func sha(seed string) string {
	return strings.Repeat(seed, 40)[:40]
}

// stamped are provenance annotations as `kubectl trail stamp` writes them.
func stamped(commit string, extra ...string) map[string]string {
	ann := map[string]string{
		provenance.CommitKey:      commit,
		provenance.RepositoryKey:  "https://github.com/acme/shop",
		provenance.PullRequestKey: "42",
		provenance.PipelineRunKey: "https://ci.example.com/runs/1001",
		provenance.ApproverKey:    "alice,bob",
		provenance.ActorKey:       "pipeline",
		provenance.SourceKey:      "code",
		provenance.PathKey:        "deploy/app.yaml",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		ann[extra[i]] = extra[i+1]
	}
	return ann
}

func deployment(ns, name, image, sa string, ann map[string]string, env ...corev1.EnvVar) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: ann},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					ServiceAccountName: sa,
					Containers:         []corev1.Container{{Name: "app", Image: image, Env: env}},
				},
			},
		},
	}
}

func createNamespace(ctx context.Context, name string, labels map[string]string) {
	// Tolerant of an existing one: the suite's containers run in random order and share
	// some namespaces (probes).
	Expect(client.IgnoreAlreadyExists(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}))).To(Succeed())
}

func record(g Gomega, ctx context.Context, ns, kind, name string) *v1alpha1.TraceRecord {
	rec := &v1alpha1.TraceRecord{}
	g.ExpectWithOffset(1, k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: RecordName(kind, name)}, rec)).To(Succeed())
	return rec
}

func finding(rec *v1alpha1.TraceRecord, t v1alpha1.FindingType) *v1alpha1.Finding {
	for i := range rec.Status.Findings {
		if rec.Status.Findings[i].Type == t {
			return &rec.Status.Findings[i]
		}
	}
	return nil
}

func condition(rec *v1alpha1.TraceRecord, t string) metav1.Condition {
	if c := meta.FindStatusCondition(rec.Status.Conditions, t); c != nil {
		return *c
	}
	return metav1.Condition{}
}

// webhookStamps reports whether kubetrail's mutating webhook stamps a new object now.
// While webhook configurations come and go the apiserver may see one without the
// other: the enforcing webhook then denies the unstamped probe, which is an error here.
func webhookStamps(ctx context.Context) (bool, error) {
	// Named explicitly: with generateName the mutating webhook sees no name yet, and the
	// digest it stamps never matches the one the enforcing webhook computes.
	probes++
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: probeNamespace, Name: fmt.Sprintf("probe-%d", probes)}, Data: map[string]string{"k": "v"}}
	if err := k8sClient.Create(ctx, cm); err != nil {
		return false, err
	}
	return cm.Annotations[provenance.DigestKey] != "", nil
}

// kubetrailWebhooks returns kubetrail's webhook configurations, found by their
// webhooks' names (envtest installs config/webhook as is, without kustomize's prefix).
func kubetrailWebhooks(ctx context.Context) (*admissionregistrationv1.MutatingWebhookConfiguration, *admissionregistrationv1.ValidatingWebhookConfiguration) {
	var muts admissionregistrationv1.MutatingWebhookConfigurationList
	var vals admissionregistrationv1.ValidatingWebhookConfigurationList
	Expect(k8sClient.List(ctx, &muts)).To(Succeed())
	Expect(k8sClient.List(ctx, &vals)).To(Succeed())
	var mut *admissionregistrationv1.MutatingWebhookConfiguration
	var val *admissionregistrationv1.ValidatingWebhookConfiguration
	for i := range muts.Items {
		for _, w := range muts.Items[i].Webhooks {
			if w.Name == "stamp.kubetrail.io" {
				mut = &muts.Items[i]
			}
		}
	}
	for i := range vals.Items {
		for _, w := range vals.Items[i].Webhooks {
			if w.Name == EnforceWebhookName {
				val = &vals.Items[i]
			}
		}
	}
	Expect(mut).NotTo(BeNil())
	Expect(val).NotTo(BeNil())
	return mut, val
}

// takeWebhooksDown removes kubetrail's webhook configurations, as when its webhook is
// down and fails open, and returns a func that brings them back.
func takeWebhooksDown(ctx context.Context) (restore func()) {
	mut, val := kubetrailWebhooks(ctx)
	// Validating first, so the enforcing webhook never judges an unstamped object.
	Expect(k8sClient.Delete(ctx, val)).To(Succeed())
	Expect(k8sClient.Delete(ctx, mut)).To(Succeed())
	Eventually(func() error {
		stamps, err := webhookStamps(ctx)
		if err == nil && stamps {
			return fmt.Errorf("still stamped")
		}
		return err
	}).Should(Succeed())
	return func() {
		for _, o := range []client.Object{mut, val} {
			o.SetResourceVersion("")
			o.SetUID("")
			o.SetCreationTimestamp(metav1.Time{})
			o.SetManagedFields(nil)
			Expect(k8sClient.Create(ctx, o)).To(Succeed())
		}
		Eventually(func() error {
			stamps, err := webhookStamps(ctx)
			if err == nil && !stamps {
				return fmt.Errorf("not stamped yet")
			}
			return err
		}).Should(Succeed())
	}
}

// fakeToken builds a GitHub token-shaped string at run time, so the repository holds no
// literal credential.
func fakeToken() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	r := rand.New(rand.NewPCG(7, 42))
	b := make([]byte, 36)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return "ghp_" + string(b)
}

func eventsFor(ctx context.Context, ns, name, reason string) []eventsv1.Event {
	var list eventsv1.EventList
	Expect(k8sClient.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Name == name && e.Reason == reason {
			out = append(out, e)
		}
	}
	return out
}

func gauge(name string, labels map[string]string) (float64, bool) {
	families, err := metrics.Registry.Gather()
	Expect(err).NotTo(HaveOccurred())
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metric:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
					continue metric
				}
			}
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

var _ = Describe("TraceRecords", Ordered, func() {
	BeforeAll(func(ctx SpecContext) {
		SetDefaultEventuallyTimeout(45 * time.Second)
		SetDefaultEventuallyPollingInterval(250 * time.Millisecond)
		for _, ns := range []string{"shop", "ci", "payments", "web", probeNamespace} {
			createNamespace(ctx, ns, nil)
		}
		createNamespace(ctx, "drift", map[string]string{"kubetrail.test/story": "drift"})
	})

	It("records a traced Deployment with its provenance, admission facts and history", func(ctx SpecContext) {
		c1 := sha("1a")
		dep := deployment("shop", "web", "nginx:1.27", "", stamped(c1))
		Expect(k8sClient.Create(ctx, dep)).To(Succeed())
		Expect(dep.Annotations).To(HaveKey(provenance.DigestKey), "the mutating webhook stamps admitted objects")

		Eventually(func(g Gomega) {
			rec := record(g, ctx, "shop", "Deployment", "web")
			// What `kubectl get tr` shows: KIND, TARGET, COMMIT, APPROVER, DRIFTED, FINDINGS.
			g.Expect(rec.Spec.Target).To(Equal(v1alpha1.TraceTarget{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "web", UID: dep.UID}))
			g.Expect(rec.Spec.Commit).To(Equal(c1))
			g.Expect(rec.Spec.Approver).To(Equal("alice,bob"))
			g.Expect(rec.Spec.Actor).To(Equal(v1alpha1.ActorPipeline))
			g.Expect(rec.Spec.PullRequest).To(Equal("42"))
			g.Expect(rec.Spec.Admission.AdmittedBy).To(Equal("admin"))
			g.Expect(rec.Spec.Admission.Digest).To(Equal(dep.Annotations[provenance.DigestKey]))
			g.Expect(rec.Spec.Admission.AdmittedAt).NotTo(BeNil())
			g.Expect(rec.Spec.Images).To(Equal([]string{"nginx:1.27"}))
			g.Expect(condition(rec, v1alpha1.ConditionDrifted).Status).To(Equal(metav1.ConditionFalse))
			g.Expect(condition(rec, v1alpha1.ConditionTraced).Reason).To(Equal(v1alpha1.ReasonAdmitted))
			g.Expect(rec.Status.FindingCount).To(BeZero())
			g.Expect(rec.Status.Findings).To(BeEmpty())
			g.Expect(rec.Status.History).To(HaveLen(1))
			h := rec.Status.History[0]
			g.Expect(h.Traced).To(BeTrue())
			g.Expect(h.Commit).To(Equal(c1))
			g.Expect(h.Admission.AdmittedBy).To(Equal("admin"))
			g.Expect(h.Images).To(Equal([]string{"nginx:1.27"}))
			g.Expect(rec.OwnerReferences).To(BeEmpty(), "records outlive their target")
			g.Expect(rec.Status.Baseline).NotTo(BeEmpty())
		}).Should(Succeed())

		By("recording the next admitted revision once, with the paths it changed")
		c2 := sha("2b")
		Eventually(func() error {
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(dep), dep)).To(Succeed())
			dep.Annotations[provenance.CommitKey] = c2
			dep.Spec.Template.Spec.Containers[0].Image = "nginx:1.28"
			return k8sClient.Update(ctx, dep)
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			rec := record(g, ctx, "shop", "Deployment", "web")
			g.Expect(rec.Spec.Commit).To(Equal(c2))
			g.Expect(rec.Status.History).To(HaveLen(2))
			g.Expect(rec.Status.History[0].Commit).To(Equal(c2))
			g.Expect(rec.Status.History[0].ChangedPaths).To(ConsistOf("/spec/template/spec/containers/app/image"))
			g.Expect(rec.Status.History[1].Commit).To(Equal(c1))
		}).Should(Succeed())

		By("refusing anyone but the manager to write the record")
		rec := &v1alpha1.TraceRecord{}
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: "shop", Name: "deployment.web"}, rec)).To(Succeed())
		rec.Spec.Commit = sha("ff")
		err := k8sClient.Update(ctx, rec)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("evidence"))
	})

	It("names drift made around admission, its fields and managers, unless a TracePolicy ignores them", func(ctx SpecContext) {
		dep := deployment("drift", "api", "nginx:1.27", "", stamped(sha("3c")))
		Expect(k8sClient.Create(ctx, dep)).To(Succeed())
		Eventually(func(g Gomega) {
			rec := record(g, ctx, "drift", "Deployment", "api")
			g.Expect(rec.Status.History).To(HaveLen(1))
			g.Expect(condition(rec, v1alpha1.ConditionDrifted).Reason).To(Equal(v1alpha1.ReasonInSync))
		}).Should(Succeed())

		By("scaling through the /scale subresource, which admission webhooks never see")
		scale := &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Namespace: "drift", Name: "api"}, Spec: autoscalingv1.ScaleSpec{Replicas: 3}}
		Expect(k8sClient.SubResource("scale").Update(ctx, dep, client.WithSubResourceBody(scale), client.FieldOwner("kubectl-scale"))).To(Succeed())
		Eventually(func(g Gomega) {
			rec := record(g, ctx, "drift", "Deployment", "api")
			d := finding(rec, v1alpha1.FindingDrift)
			g.Expect(d).NotTo(BeNil())
			g.Expect(d.Paths).To(Equal([]string{"/spec/replicas"}))
			g.Expect(d.Managers).To(ContainElement("kubectl-scale"))
			g.Expect(d.Message).To(ContainSubstring("admitted by admin"))
			g.Expect(finding(rec, v1alpha1.FindingUntracedChange)).NotTo(BeNil())
			c := condition(rec, v1alpha1.ConditionDrifted)
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(c.Reason).To(Equal(v1alpha1.ReasonFieldsChanged))
			g.Expect(c.Message).To(ContainSubstring("/spec/replicas"))
			g.Expect(condition(rec, v1alpha1.ConditionTraced).Reason).To(Equal(v1alpha1.ReasonUntracedChange))
			g.Expect(rec.Status.History[0].Traced).To(BeFalse())
			g.Expect(rec.Status.History[0].ChangedPaths).To(Equal([]string{"/spec/replicas"}))
		}).Should(Succeed())
		Eventually(func() []eventsv1.Event { return eventsFor(ctx, "drift", "api", "Drifted") }).ShouldNot(BeEmpty())
		Eventually(func() float64 { v, _ := gauge("kubetrail_objects", map[string]string{"state": "drifted"}); return v }).Should(BeNumerically(">=", 1))

		By("ignoring /spec/replicas with a TracePolicy, as under an autoscaler")
		tp := &v1alpha1.TracePolicy{
			ObjectMeta: metav1.ObjectMeta{Name: "ignore-replicas"},
			Spec: v1alpha1.TracePolicySpec{
				Mode:              v1alpha1.ModeAudit,
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubetrail.test/story": "drift"}},
				Resources:         []v1alpha1.ResourceSelector{{Group: "apps", Kinds: []string{"Deployment"}}},
				Ignore:            []v1alpha1.IgnoreRule{{Kinds: []string{"Deployment"}, Paths: []string{"/spec/replicas"}}},
			},
		}
		Expect(k8sClient.Create(ctx, tp)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, tp))).To(Succeed()) })
		Eventually(func(g Gomega) {
			rec := record(g, ctx, "drift", "Deployment", "api")
			g.Expect(finding(rec, v1alpha1.FindingDrift)).To(BeNil())
			g.Expect(condition(rec, v1alpha1.ConditionDrifted).Reason).To(Equal(v1alpha1.ReasonInSync))
			g.Expect(condition(rec, v1alpha1.ConditionTraced).Reason).To(Equal(v1alpha1.ReasonAdmitted))
		}).Should(Succeed())

		By("editing the image while kubetrail's webhook is down")
		restore := takeWebhooksDown(ctx)
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(dep), dep)).To(Succeed())
		admittedAt := dep.Annotations[provenance.AdmittedAtKey]
		patch := client.MergeFrom(dep.DeepCopy())
		dep.Spec.Template.Spec.Containers[0].Image = "nginx:1.29-hotfix"
		Expect(k8sClient.Patch(ctx, dep, patch, client.FieldOwner("kubectl-edit"))).To(Succeed())
		Expect(dep.Annotations[provenance.AdmittedAtKey]).To(Equal(admittedAt), "nothing stamped the edit")
		restore()

		Eventually(func(g Gomega) {
			rec := record(g, ctx, "drift", "Deployment", "api")
			d := finding(rec, v1alpha1.FindingDrift)
			g.Expect(d).NotTo(BeNil())
			g.Expect(d.Paths).To(Equal([]string{"/spec/template/spec/containers/app/image"}), "replicas stay ignored")
			g.Expect(d.Managers).To(Equal([]string{"kubectl-edit"}))
			g.Expect(d.IntroducedBy.Traced).To(BeFalse())
			g.Expect(d.IntroducedBy.Summary).To(ContainSubstring("kubectl-edit"))
			u := finding(rec, v1alpha1.FindingUntracedChange)
			g.Expect(u).NotTo(BeNil())
			g.Expect(u.Managers).To(Equal([]string{"kubectl-edit"}))
			g.Expect(condition(rec, v1alpha1.ConditionDrifted).Status).To(Equal(metav1.ConditionTrue))
			g.Expect(rec.Status.History[0].Traced).To(BeFalse())
			g.Expect(rec.Status.History[0].Images).To(Equal([]string{"nginx:1.29-hotfix"}))
			g.Expect(rec.Status.FindingCount).To(BeEquivalentTo(len(rec.Status.Findings)))
		}).Should(Succeed())

		By("ending the drift when the pipeline deploys a traced revision again")
		c := sha("3d")
		Eventually(func() error {
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(dep), dep)).To(Succeed())
			dep.Annotations[provenance.CommitKey] = c
			dep.Spec.Template.Spec.Containers[0].Image = "nginx:1.29"
			return k8sClient.Update(ctx, dep)
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			rec := record(g, ctx, "drift", "Deployment", "api")
			g.Expect(finding(rec, v1alpha1.FindingDrift)).To(BeNil())
			g.Expect(finding(rec, v1alpha1.FindingUntracedChange)).To(BeNil())
			g.Expect(condition(rec, v1alpha1.ConditionDrifted).Reason).To(Equal(v1alpha1.ReasonInSync))
			g.Expect(condition(rec, v1alpha1.ConditionTraced).Reason).To(Equal(v1alpha1.ReasonAdmitted))
			g.Expect(rec.Status.History[0].Traced).To(BeTrue())
			g.Expect(rec.Status.History[0].Commit).To(Equal(c))
			g.Expect(rec.Status.History[0].ChangedPaths).To(ContainElement("/spec/template/spec/containers/app/image"))
			g.Expect(rec.Status.FindingCount).To(BeZero())
		}).Should(Succeed())
	})

	It("records a break-glass override, a change inside a freeze and malformed provenance", func(ctx SpecContext) {
		createNamespace(ctx, "frozen", map[string]string{"kubetrail.test/story": "freeze"})
		now := time.Now()
		tp := &v1alpha1.TracePolicy{
			ObjectMeta: metav1.ObjectMeta{Name: "release-freeze"},
			Spec: v1alpha1.TracePolicySpec{
				Mode:              v1alpha1.ModeAudit,
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubetrail.test/story": "freeze"}},
				ChangeWindows: []v1alpha1.ChangeWindow{{
					Name:  "black-friday",
					Start: &metav1.Time{Time: now.Add(-time.Hour)},
					End:   &metav1.Time{Time: now.Add(time.Hour)},
				}},
			},
		}
		Expect(k8sClient.Create(ctx, tp)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, tp))).To(Succeed()) })

		reason := "INC-4711 checkout is down, rolling back by hand"
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: "frozen", Name: "checkout", Annotations: stamped("not-a-sha",
				provenance.BreakGlassKey, reason, provenance.ActorKey, "robot")},
			Data: map[string]string{"mode": "rollback"},
		}
		Eventually(func() error { return k8sClient.Create(ctx, cm) }).Should(Succeed())
		Eventually(func(g Gomega) {
			rec := record(g, ctx, "frozen", "ConfigMap", "checkout")
			g.Expect(rec.Spec.Actor).To(BeEmpty(), "an actor outside the enum is not copied into the record")
			g.Expect(rec.Spec.BreakGlass).To(Equal(reason))

			mo := finding(rec, v1alpha1.FindingManualOverride)
			g.Expect(mo).NotTo(BeNil())
			g.Expect(mo.Message).To(ContainSubstring("admin"))
			g.Expect(mo.Message).To(ContainSubstring("INC-4711"))
			g.Expect(mo.Severity).To(Equal(v1alpha1.SeverityHigh))

			cw := finding(rec, v1alpha1.FindingChangeWindowViolation)
			g.Expect(cw).NotTo(BeNil())
			g.Expect(cw.Message).To(ContainSubstring("black-friday"))
			g.Expect(cw.Message).To(ContainSubstring("release-freeze"))

			ip := finding(rec, v1alpha1.FindingInvalidProvenance)
			g.Expect(ip).NotTo(BeNil())
			g.Expect(ip.Paths).To(ConsistOf("/metadata/annotations/kubetrail.io~1commit", "/metadata/annotations/kubetrail.io~1actor"))
			g.Expect(rec.Status.FindingCount).To(BeEquivalentTo(3))
		}).Should(Succeed())
	})

	It("finds a service account bound to cluster-admin and the workloads running as it", func(ctx SpecContext) {
		c3 := sha("4d")
		Expect(k8sClient.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "ci", Name: "builder"}})).To(Succeed())
		Expect(k8sClient.Create(ctx, deployment("ci", "builder", "ghcr.io/acme/builder:1", "builder", stamped(sha("5e"))))).To(Succeed())
		crb := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "builder-cluster-admin", Annotations: stamped(c3, provenance.ApproverKey, "carol")},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: "ci", Name: "builder"}},
		}
		Expect(k8sClient.Create(ctx, crb)).To(Succeed())

		Eventually(func(g Gomega) {
			rec := record(g, ctx, DefaultRecordNamespace, "ClusterRoleBinding", "builder-cluster-admin")
			g.Expect(rec.Spec.Target.Namespace).To(BeEmpty())
			f := finding(rec, v1alpha1.FindingRBACEscalation)
			g.Expect(f).NotTo(BeNil())
			g.Expect(f.Subject).To(Equal("ServiceAccount ci/builder"))
			g.Expect(f.Severity).To(Equal(v1alpha1.SeverityCritical))
			g.Expect(f.Permissions).NotTo(BeEmpty())
			g.Expect(f.Dependents).To(ContainElement(v1alpha1.ObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "ci", Name: "builder"}))
			g.Expect(f.IntroducedBy.Commit).To(Equal(c3))
			g.Expect(f.IntroducedBy.Approver).To(Equal("carol"))
			g.Expect(f.IntroducedBy.Summary).To(ContainSubstring("commit " + c3[:7]))
		}).Should(Succeed())
		Eventually(func() []eventsv1.Event { return eventsFor(ctx, "default", "builder-cluster-admin", "RBACEscalation") }).ShouldNot(BeEmpty())
	})

	It("catches an aggregated ClusterRole gaining a wildcard rule through a new labelled ClusterRole", func(ctx SpecContext) {
		const label = "rbac.kubetrail.test/aggregate-to-agg-reader"
		Expect(k8sClient.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "ci", Name: "viewer"}})).To(Succeed())
		Expect(k8sClient.Create(ctx, deployment("ci", "dashboard", "ghcr.io/acme/dashboard:2", "viewer", stamped(sha("6f"))))).To(Succeed())
		Expect(k8sClient.Create(ctx, &rbacv1.ClusterRole{
			ObjectMeta:      metav1.ObjectMeta{Name: "agg-reader", Annotations: stamped(sha("70"))},
			AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{label: "true"}}}},
		})).To(Succeed())
		Expect(k8sClient.Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "viewer-agg-reader", Annotations: stamped(sha("71"))},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "agg-reader"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: "ci", Name: "viewer"}},
		})).To(Succeed())
		Eventually(func(g Gomega) {
			rec := record(g, ctx, DefaultRecordNamespace, "ClusterRoleBinding", "viewer-agg-reader")
			g.Expect(rec.Status.History).NotTo(BeEmpty())
			g.Expect(finding(rec, v1alpha1.FindingRBACEscalation)).To(BeNil(), "an empty aggregate grants nothing")
		}).Should(Succeed())

		c4 := sha("72")
		Expect(k8sClient.Create(ctx, &rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: "agg-reader-extra", Labels: map[string]string{label: "true"}, Annotations: stamped(c4)},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}}},
		})).To(Succeed())

		Eventually(func(g Gomega) {
			rec := record(g, ctx, DefaultRecordNamespace, "ClusterRole", "agg-reader-extra")
			f := finding(rec, v1alpha1.FindingRBACEscalation)
			g.Expect(f).NotTo(BeNil())
			g.Expect(f.Subject).To(Equal("ServiceAccount ci/viewer"))
			g.Expect(f.Severity).To(Equal(v1alpha1.SeverityCritical))
			g.Expect(f.Message).To(ContainSubstring("ClusterRole/agg-reader"))
			g.Expect(f.Dependents).To(ContainElement(HaveField("Name", "dashboard")))
			g.Expect(f.IntroducedBy.Commit).To(Equal(c4))
		}).Should(Succeed())
		By("re-reconciling the binding of the aggregate when a role feeding it changes")
		Eventually(func(g Gomega) {
			rec := record(g, ctx, DefaultRecordNamespace, "ClusterRoleBinding", "viewer-agg-reader")
			f := finding(rec, v1alpha1.FindingRBACEscalation)
			g.Expect(f).NotTo(BeNil())
			g.Expect(f.Subject).To(Equal("ServiceAccount ci/viewer"))
		}).Should(Succeed())
	})

	It("reports a credential written in an env var, with the change it came from, and never stores it", func(ctx SpecContext) {
		token := fakeToken()
		c5 := sha("8a")
		dep := deployment("payments", "leaky", "ghcr.io/acme/payments:3", "",
			stamped(c5, provenance.SourceKey, "ci-variable", provenance.PipelineRunKey, "https://ci.example.com/runs/55"),
			corev1.EnvVar{Name: "GITHUB_TOKEN", Value: token})
		Expect(k8sClient.Create(ctx, dep)).To(Succeed())

		var rec *v1alpha1.TraceRecord
		Eventually(func(g Gomega) {
			rec = record(g, ctx, "payments", "Deployment", "leaky")
			f := finding(rec, v1alpha1.FindingSecretExposure)
			g.Expect(f).NotTo(BeNil())
			g.Expect(f.Rule).To(Equal("github-pat"))
			g.Expect(f.Severity).To(Equal(v1alpha1.SeverityHigh))
			g.Expect(f.Paths).To(Equal([]string{"/spec/template/spec/containers/app/env/GITHUB_TOKEN/value"}))
			g.Expect(f.Fingerprint).To(HavePrefix("sha256:"))
			g.Expect(f.IntroducedBy.Commit).To(Equal(c5))
			g.Expect(f.IntroducedBy.Source).To(Equal("ci-variable"))
			g.Expect(f.Message).To(ContainSubstring("ci-variable"))
			g.Expect(f.Message).To(ContainSubstring("runs/55"))
			g.Expect(rec.Status.FindingCount).To(BeEquivalentTo(1))
		}).Should(Succeed())
		raw, err := json.Marshal(rec)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(raw)).NotTo(ContainSubstring(token))
		Expect(string(raw)).NotTo(ContainSubstring(token[4:]))

		By("keeping when and by whom it was introduced across later revisions")
		first := *finding(rec, v1alpha1.FindingSecretExposure)
		Eventually(func() error {
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(dep), dep)).To(Succeed())
			dep.Annotations[provenance.CommitKey] = sha("8b")
			dep.Spec.Template.Spec.Containers[0].Image = "ghcr.io/acme/payments:4"
			return k8sClient.Update(ctx, dep)
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			rec := record(g, ctx, "payments", "Deployment", "leaky")
			g.Expect(rec.Status.History).To(HaveLen(2))
			f := finding(rec, v1alpha1.FindingSecretExposure)
			g.Expect(f).NotTo(BeNil())
			g.Expect(f.IntroducedBy).To(Equal(first.IntroducedBy))
			g.Expect(f.FirstSeen).To(Equal(first.FirstSeen))
		}).Should(Succeed())
	})

	It("shows an agent's change with its approver, in spec and history", func(ctx SpecContext) {
		ing := &networkingv1.Ingress{
			ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "shop", Annotations: stamped(sha("9a"))},
			Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{
				Host: "shop.example.com",
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
					Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix),
					Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "shop", Port: networkingv1.ServiceBackendPort{Number: 80}}},
				}}}},
			}}},
		}
		Expect(k8sClient.Create(ctx, ing)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(record(g, ctx, "web", "Ingress", "shop").Status.History).To(HaveLen(1))
		}).Should(Succeed())

		c6 := sha("9b")
		Eventually(func() error {
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(ing), ing)).To(Succeed())
			for k, v := range stamped(c6, provenance.ActorKey, "agent", provenance.AgentKey, "deploy-bot run 7", provenance.ApproverKey, "dave") {
				ing.Annotations[k] = v
			}
			ing.Spec.Rules[0].Host = "shop.acme.example"
			return k8sClient.Update(ctx, ing)
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			rec := record(g, ctx, "web", "Ingress", "shop")
			g.Expect(rec.Spec.Actor).To(Equal(v1alpha1.ActorAgent))
			g.Expect(rec.Spec.Agent).To(Equal("deploy-bot run 7"))
			g.Expect(rec.Spec.Approver).To(Equal("dave"))
			g.Expect(rec.Spec.Commit).To(Equal(c6))
			g.Expect(rec.Status.History).To(HaveLen(2))
			h := rec.Status.History[0]
			g.Expect(h.Actor).To(Equal(v1alpha1.ActorAgent))
			g.Expect(h.Agent).To(Equal("deploy-bot run 7"))
			g.Expect(h.Approver).To(Equal("dave"))
			g.Expect(h.ChangedPaths).To(Equal([]string{"/spec/rules/0/host"}))
			g.Expect(rec.Status.History[1].Actor).To(Equal(v1alpha1.ActorPipeline))
		}).Should(Succeed())
	})

	It("does not take a field the control plane writes after admission for drift", func(ctx SpecContext) {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "debug", Annotations: stamped(sha("ab"))},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "shell", Image: "busybox:1.37"}}},
		}
		Expect(k8sClient.Create(ctx, pod)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(record(g, ctx, "web", "Pod", "debug").Status.History).To(HaveLen(1))
		}).Should(Succeed())

		By("binding it to a node, as the scheduler does through the binding subresource")
		Expect(k8sClient.SubResource("binding").Create(ctx, pod, &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "debug"},
			Target:     corev1.ObjectReference{Kind: "Node", Name: "node-1"},
		})).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(pod), pod)).To(Succeed())
			g.Expect(pod.Spec.NodeName).To(Equal("node-1"))
			rec := record(g, ctx, "web", "Pod", "debug")
			g.Expect(rec.Status.LiveDigest).NotTo(Equal(rec.Spec.Admission.Digest), "the live object moved on")
			g.Expect(condition(rec, v1alpha1.ConditionDrifted).Reason).To(Equal(v1alpha1.ReasonInSync))
			g.Expect(rec.Status.Findings).To(BeEmpty())
			g.Expect(rec.Status.History).To(HaveLen(1))
		}).Should(Succeed())
	})

	It("records a Secret by metadata only", func(ctx SpecContext) {
		value := "s3cr3t-" + fmt.Sprint(time.Now().UnixNano())
		sec := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db", Annotations: stamped(sha("a1"))},
			StringData: map[string]string{"password": value},
		}
		Expect(k8sClient.Create(ctx, sec)).To(Succeed())
		Eventually(func(g Gomega) {
			rec := record(g, ctx, "shop", "Secret", "db")
			g.Expect(rec.Spec.Commit).To(Equal(sha("a1")))
			g.Expect(rec.Spec.Admission.AdmittedBy).To(Equal("admin"))
			g.Expect(rec.Status.History).To(HaveLen(1))
			g.Expect(condition(rec, v1alpha1.ConditionDrifted).Reason).To(Equal(v1alpha1.ReasonNotYetObserved))
			g.Expect(condition(rec, v1alpha1.ConditionTraced).Status).To(Equal(metav1.ConditionTrue))
			raw, err := json.Marshal(rec)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(string(raw)).NotTo(ContainSubstring(value))
		}).Should(Succeed())
	})

	It("records an object that never passed admission as untraced, once per content", func(ctx SpecContext) {
		var cm *corev1.ConfigMap
		restore := takeWebhooksDown(ctx)
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "legacy"}, Data: map[string]string{"mode": "a"}}
		Expect(k8sClient.Create(ctx, cm)).To(Succeed())
		restore()
		Eventually(func(g Gomega) {
			rec := record(g, ctx, "shop", "ConfigMap", "legacy")
			g.Expect(finding(rec, v1alpha1.FindingUntracedChange)).NotTo(BeNil())
			g.Expect(condition(rec, v1alpha1.ConditionTraced).Reason).To(Equal(v1alpha1.ReasonUntracedChange))
			g.Expect(rec.Status.History).To(HaveLen(1))
			g.Expect(rec.Status.History[0].Traced).To(BeFalse())
		}).Should(Succeed())

		By("tracing it once it is re-applied through the webhook")
		Eventually(func() error {
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(cm), cm)).To(Succeed())
			cm.Annotations = stamped(sha("b2"))
			cm.Data["mode"] = "b"
			return k8sClient.Update(ctx, cm)
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			rec := record(g, ctx, "shop", "ConfigMap", "legacy")
			g.Expect(finding(rec, v1alpha1.FindingUntracedChange)).To(BeNil())
			g.Expect(condition(rec, v1alpha1.ConditionTraced).Reason).To(Equal(v1alpha1.ReasonAdmitted))
			g.Expect(rec.Status.History).To(HaveLen(2))
			g.Expect(rec.Status.History[0].Traced).To(BeTrue())
			g.Expect(rec.Status.History[0].ChangedPaths).To(Equal([]string{"/data/mode"}))
		}).Should(Succeed())
	})

	It("keeps a tombstone when the target is deleted", func(ctx SpecContext) {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "settings", Annotations: stamped(sha("c3"))}, Data: map[string]string{"a": "b"}}
		Expect(k8sClient.Create(ctx, cm)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(record(g, ctx, "shop", "ConfigMap", "settings").Status.History).To(HaveLen(1))
		}).Should(Succeed())
		Expect(k8sClient.Delete(ctx, cm)).To(Succeed())
		Eventually(func(g Gomega) {
			rec := record(g, ctx, "shop", "ConfigMap", "settings")
			g.Expect(rec.Status.DeletedAt).NotTo(BeNil())
			g.Expect(condition(rec, v1alpha1.ConditionDrifted).Reason).To(Equal(v1alpha1.ReasonTargetDeleted))
			g.Expect(rec.Status.History).To(HaveLen(1))
			g.Expect(rec.Spec.Commit).To(Equal(sha("c3")))
		}).Should(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(record(g, ctx, "shop", "ConfigMap", "settings").Status.DeletedAt).NotTo(BeNil())
		}, 3*time.Second).Should(Succeed())
	})

	It("loses and duplicates no history when the manager restarts, and notices what was deleted meanwhile", func(ctx SpecContext) {
		flags := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "flags", Annotations: stamped(sha("e5"))}, Data: map[string]string{"beta": "on"}}
		Expect(k8sClient.Create(ctx, flags)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(record(g, ctx, "shop", "ConfigMap", "flags").Status.History).To(HaveLen(1))
		}).Should(Succeed())

		// Let the cluster settle, then take what every record holds.
		snapshot := func(g Gomega) map[string]v1alpha1.TraceRecordStatus {
			var list v1alpha1.TraceRecordList
			g.Expect(k8sClient.List(ctx, &list)).To(Succeed())
			out := map[string]v1alpha1.TraceRecordStatus{}
			for _, r := range list.Items {
				out[r.Namespace+"/"+r.Name] = r.Status
			}
			return out
		}
		var before map[string]v1alpha1.TraceRecordStatus
		Eventually(func(g Gomega) {
			a := snapshot(g)
			time.Sleep(2 * time.Second)
			b := snapshot(g)
			g.Expect(b).To(Equal(a))
			before = b
		}).Should(Succeed())

		By("deleting a target while the manager is down")
		stopManager()
		Eventually(managerDone, 30*time.Second).Should(BeClosed())
		Expect(k8sClient.Delete(ctx, flags)).To(Succeed())
		startManager()
		Eventually(func(g Gomega) {
			rec := record(g, ctx, "shop", "ConfigMap", "flags")
			g.Expect(rec.Status.DeletedAt).NotTo(BeNil())
		}).Should(Succeed())

		c8 := sha("d4")
		dep := &appsv1.Deployment{}
		Eventually(func() error {
			Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: "shop", Name: "web"}, dep)).To(Succeed())
			dep.Annotations[provenance.CommitKey] = c8
			dep.Spec.Template.Spec.Containers[0].Image = "nginx:1.30"
			return k8sClient.Update(ctx, dep)
		}).Should(Succeed())
		web := "shop/" + RecordName("Deployment", "web")
		Eventually(func(g Gomega) {
			st := snapshot(g)[web]
			g.Expect(st.History).To(HaveLen(len(before[web].History) + 1))
			g.Expect(st.History[0].Commit).To(Equal(c8))
			g.Expect(st.History[1:]).To(Equal(before[web].History))
		}).Should(Succeed())
		Consistently(func(g Gomega) {
			after := snapshot(g)
			for key, st := range before {
				if key == web {
					continue
				}
				g.Expect(after).To(HaveKey(key))
				g.Expect(after[key].History).To(Equal(st.History), "history of %s", key)
				g.Expect(after[key].HistoryDropped).To(Equal(st.HistoryDropped), "historyDropped of %s", key)
				if key != "shop/"+RecordName("ConfigMap", "flags") {
					g.Expect(after[key].Findings).To(Equal(st.Findings), "findings of %s", key)
				}
			}
		}, 5*time.Second, 500*time.Millisecond).Should(Succeed())

		coverage, ok := gauge("kubetrail_trace_coverage_ratio", nil)
		Expect(ok).To(BeTrue())
		Expect(coverage).To(And(BeNumerically(">", 0), BeNumerically("<", 1)))
	})
})
