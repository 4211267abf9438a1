package controllers

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/testenv"
)

// clientAs is a client authenticated as name (in system:masters, so that RBAC is no
// factor: what is tested is what kubetrail makes of the identity).
func clientAs(name string) client.Client {
	cfg, err := testenv.UserConfig(testEnv, name, "system:masters")
	Expect(err).NotTo(HaveOccurred())
	c, err := client.New(cfg, client.Options{Scheme: k8sClient.Scheme()})
	Expect(err).NotTo(HaveOccurred())
	return c
}

func controllerOf(apiVersion, kind, name string, uid types.UID) []metav1.OwnerReference {
	return []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: name, UID: uid, Controller: ptr.To(true)}}
}

func recordOf(ctx context.Context, g Gomega, ns, name string) *v1alpha1.TraceRecord {
	var rec v1alpha1.TraceRecord
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &rec)).To(Succeed())
	return &rec
}

var _ = Describe("Objects a controller owns", func() {
	BeforeEach(func() {
		SetDefaultEventuallyTimeout(45 * time.Second)
		SetDefaultEventuallyPollingInterval(250 * time.Millisecond)
	})

	It("records a change that claims a controller owner like any other, attributed to its submitter (C1)", func(ctx SpecContext) {
		ns := "derived-forged"
		createNamespace(ctx, ns, nil)
		Expect(k8sClient.Create(ctx, deployment(ns, "web", "nginx:1.27", "", stamped(sha("1"))))).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(recordOf(ctx, g, ns, "deployment.web").Status.History).To(HaveLen(1))
		}).Should(Succeed())

		// mallory claims the namespace's root CA ConfigMap as the Deployment's controller
		// and changes its image in the same request.
		mallory := clientAs("mallory")
		var cm corev1.ConfigMap
		Expect(k8sClient.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "anchor"}})).To(Succeed())
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "anchor"}, &cm)).To(Succeed())
		var d appsv1.Deployment
		Expect(mallory.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &d)).To(Succeed())
		d.OwnerReferences = controllerOf("v1", "ConfigMap", "anchor", cm.UID)
		d.Spec.Template.Spec.Containers[0].Image = "attacker.example/evil:1"
		Expect(mallory.Update(ctx, &d)).To(Succeed())
		Expect(d.Annotations).To(HaveKeyWithValue("kubetrail.io/admitted-by", "mallory"), "the stamper judges what claims an owner")

		Eventually(func(g Gomega) {
			rec := recordOf(ctx, g, ns, "deployment.web")
			g.Expect(rec.Spec.DerivedFrom).To(BeNil(), "an ownerReference alone derives nothing")
			// The record follows the change rather than freezing: its newest revision is
			// mallory's (untraced: she kept the pipeline's commit), with her image.
			newest := rec.Status.History[0] // newest first
			g.Expect(newest.Admission.AdmittedBy).To(Equal("mallory"), "the record must follow the change, not freeze")
			g.Expect(newest.Images).To(ConsistOf("attacker.example/evil:1"))
		}).Should(Succeed())
	})

	It("resolves what controllers derive through the owner chain to the change that produced it, and records an editor's look-alike as untraced", func(ctx SpecContext) {
		ns := "derived-chain"
		createNamespace(ctx, ns, nil)
		commit := sha("7")
		dep := deployment(ns, "web", "nginx:1.27", "", stamped(commit))
		Expect(k8sClient.Create(ctx, dep)).To(Succeed())

		// What kube-controller-manager would do (envtest runs none): the deployment
		// controller makes a ReplicaSet, the replicaset controller its Pod.
		rs := &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web-5d8f", Labels: map[string]string{"app": "web"},
				OwnerReferences: controllerOf("apps/v1", "Deployment", "web", dep.UID)},
			Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](1), Selector: dep.Spec.Selector, Template: dep.Spec.Template},
		}
		Expect(clientAs("system:serviceaccount:kube-system:deployment-controller").Create(ctx, rs)).To(Succeed())
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web-5d8f-abc12", Labels: map[string]string{"app": "web"},
				OwnerReferences: controllerOf("apps/v1", "ReplicaSet", rs.Name, rs.UID)},
			Spec: dep.Spec.Template.Spec,
		}
		Expect(clientAs("system:serviceaccount:kube-system:replicaset-controller").Create(ctx, pod)).To(Succeed())
		// An editor's Pod claiming the same ReplicaSet as its controller.
		fake := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web-5d8f-zzzzz", Labels: map[string]string{"app": "web"},
				OwnerReferences: controllerOf("apps/v1", "ReplicaSet", rs.Name, rs.UID)},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "attacker.example/xmrig:latest"}}},
		}
		Expect(clientAs("mallory").Create(ctx, fake)).To(Succeed())

		want := &v1alpha1.TraceTarget{APIVersion: "apps/v1", Kind: "Deployment", Namespace: ns, Name: "web", UID: dep.UID}
		Eventually(func(g Gomega) {
			for _, name := range []string{"pod.web-5d8f-abc12", "replicaset.web-5d8f"} {
				rec := recordOf(ctx, g, ns, name)
				g.Expect(rec.Spec.DerivedFrom).To(Equal(want), name)
				g.Expect(rec.Spec.Commit).To(Equal(commit), name)
			}
			rec := recordOf(ctx, g, ns, "pod.web-5d8f-zzzzz")
			g.Expect(rec.Spec.DerivedFrom).To(BeNil())
			g.Expect(rec.Spec.Commit).To(BeEmpty())
			g.Expect(rec.Spec.Admission.AdmittedBy).To(Equal("mallory"))
			g.Expect(rec.Spec.Images).To(ConsistOf("attacker.example/xmrig:latest"))
		}).Should(Succeed())

		// A derived Pod's record goes with it; the Deployment's record keeps the history.
		Expect(k8sClient.Delete(ctx, pod, client.GracePeriodSeconds(0))).To(Succeed())
		Eventually(func() bool {
			err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "pod.web-5d8f-abc12"}, &v1alpha1.TraceRecord{})
			return apierrors.IsNotFound(err)
		}).Should(BeTrue())
	})

	It("records ReplicaSets and ReplicationControllers an editor creates directly (C2)", func(ctx SpecContext) {
		ns := "derived-direct"
		createNamespace(ctx, ns, nil)
		labels := map[string]string{"app": "miner"}
		tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "miner", Image: "attacker.example/xmrig:latest"}}}}
		mallory := clientAs("mallory")
		Expect(mallory.Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "miner"},
			Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl}})).To(Succeed())
		Expect(mallory.Create(ctx, &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "miner-rc"},
			Spec: corev1.ReplicationControllerSpec{Selector: labels, Template: &tmpl}})).To(Succeed())
		Eventually(func(g Gomega) {
			for _, name := range []string{"replicaset.miner", "replicationcontroller.miner-rc"} {
				rec := recordOf(ctx, g, ns, name)
				g.Expect(rec.Spec.Admission.AdmittedBy).To(Equal("mallory"), name)
				g.Expect(rec.Spec.Images).To(ConsistOf("attacker.example/xmrig:latest"), name)
				g.Expect(rec.Spec.Commit).To(BeEmpty(), name)
			}
		}).Should(Succeed())
	})
})
