package controllers

import (
	"context"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/digest"
	"github.com/kubetrail/kubetrail/internal/provenance"
)

func TestBenignFirstSight(t *testing.T) {
	digestOf := func(obj map[string]interface{}) string {
		d, err := digest.Of(obj, nil)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	cm := func(name, generateName, value string) map[string]interface{} {
		md := map[string]interface{}{"namespace": "ns"}
		if name != "" {
			md["name"] = name
		}
		if generateName != "" {
			md["generateName"] = generateName
		}
		return map[string]interface{}{"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, "data": map[string]interface{}{"k": value}}
	}
	pod := func(node string) map[string]interface{} {
		spec := map[string]interface{}{"containers": []interface{}{map[string]interface{}{"name": "app", "image": "nginx"}}}
		if node != "" {
			spec["nodeName"] = node
		}
		return map[string]interface{}{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]interface{}{"namespace": "ns", "name": "p"}, "spec": spec}
	}
	for _, tc := range []struct {
		name     string
		kind     string
		live     map[string]interface{}
		admitted map[string]interface{}
		want     bool
	}{
		{"generated name, unchanged", "ConfigMap", cm("job-x7k2p", "job-", "a"), cm("", "job-", "a"), true},
		{"generated name, changed behind the webhook", "ConfigMap", cm("job-x7k2p", "job-", "b"), cm("", "job-", "a"), false},
		{"named object, changed", "ConfigMap", cm("settings", "", "b"), cm("settings", "", "a"), false},
		{"named object, renamed digest (no generateName)", "ConfigMap", cm("settings", "", "a"), cm("", "", "a"), false},
		{"pod bound by the scheduler", "Pod", pod("node-1"), pod(""), true},
		{"pod changed and bound", "Pod", func() map[string]interface{} {
			p := pod("node-1")
			p["spec"].(map[string]interface{})["containers"] = []interface{}{map[string]interface{}{"name": "app", "image": "evil"}}
			return p
		}(), pod(""), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := benignFirstSight(tc.kind, tc.live, digestOf(tc.admitted)); got != tc.want {
				t.Errorf("benignFirstSight = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestProvenanceChanges(t *testing.T) {
	was := v1alpha1.Provenance{Commit: sha("a1"), Approver: "alice", Verified: true}
	now := was
	if keys, _ := provenanceChanges(was, now); len(keys) != 0 {
		t.Fatalf("no change: %v", keys)
	}
	now.Commit, now.Approver = sha("b2"), "mallory"
	keys, changes := provenanceChanges(was, now)
	if len(keys) != 2 || keys[0] != provenance.CommitKey || keys[1] != provenance.ApproverKey {
		t.Fatalf("keys %v", keys)
	}
	if len(changes) != 2 || changes[0] != provenance.CommitKey+` "a1a1a1a" -> "b2b2b2b"` {
		t.Fatalf("changes %v", changes)
	}
}

// forgedAdmission are admission annotations as the webhook would have stamped them for
// admitted, at admittedAt.
func forgedAdmission(admitted client.Object, admittedAt time.Time, ann map[string]string) map[string]string {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(admitted)
	Expect(err).NotTo(HaveOccurred())
	d, err := digest.Of(u, nil)
	Expect(err).NotTo(HaveOccurred())
	out := map[string]string{}
	for k, v := range ann {
		out[k] = v
	}
	out[provenance.AdmittedByKey] = "pipeline@ci"
	out[provenance.AdmittedAtKey] = admittedAt.UTC().Format(time.RFC3339)
	out[provenance.DigestKey] = d
	out[provenance.VerifiedKey] = "false"
	return out
}

var _ = Describe("TraceRecord integrity", Ordered, func() {
	const ns = "integrity"
	BeforeAll(func(ctx SpecContext) {
		SetDefaultEventuallyTimeout(45 * time.Second)
		SetDefaultEventuallyPollingInterval(250 * time.Millisecond)
		createNamespace(ctx, ns, nil)
		createNamespace(ctx, probeNamespace, nil)
	})

	It("flags content changed behind the webhook before the reconciler first saw its traced revision", func(ctx SpecContext) {
		By("a traced object, seen by the reconciler")
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hidden", Annotations: stamped(sha("a1"))}, Data: map[string]string{"mode": "a", "level": "1"}}
		Expect(k8sClient.Create(ctx, cm)).To(Succeed())
		Eventually(func(g Gomega) {
			rec := record(g, ctx, ns, "ConfigMap", "hidden")
			g.Expect(rec.Status.History).To(HaveLen(1))
			g.Expect(condition(rec, v1alpha1.ConditionDrifted).Status).To(Equal(metav1.ConditionFalse))
		}).Should(Succeed())

		By("a revision admitted with mode=b, changed to mode=c before the reconciler saw it")
		restore := takeWebhooksDown(ctx)
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(cm), cm)).To(Succeed())
		admitted := cm.DeepCopy()
		admitted.Data["mode"] = "b"
		cm.Annotations = forgedAdmission(admitted, time.Now(), stamped(sha("b2")))
		cm.Data["mode"] = "c"
		Expect(k8sClient.Update(ctx, cm)).To(Succeed())
		restore()
		Eventually(func(g Gomega) {
			rec := record(g, ctx, ns, "ConfigMap", "hidden")
			g.Expect(rec.Status.History).NotTo(BeEmpty())
			g.Expect(rec.Status.History[0].Traced).To(BeFalse(), "the hidden change is an untraced revision")
			g.Expect(rec.Status.History[1].Commit).To(Equal(sha("b2")))
			g.Expect(rec.Status.LiveDigest).NotTo(Equal(rec.Spec.Admission.Digest))
			g.Expect(condition(rec, v1alpha1.ConditionDrifted).Status).To(Equal(metav1.ConditionTrue))
			d := finding(rec, v1alpha1.FindingDrift)
			g.Expect(d).NotTo(BeNil())
			g.Expect(d.Paths).To(Equal([]string{"/data/mode"}))
			g.Expect(d.Message).To(ContainSubstring("not the admitted content when kubetrail first saw the revision"))
			g.Expect(finding(rec, v1alpha1.FindingUntracedChange)).NotTo(BeNil())
		}).Should(Succeed())
	})

	It("flags a hidden change with unknown paths when there is no earlier revision to compare with", func(ctx SpecContext) {
		restore := takeWebhooksDown(ctx)
		admitted := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hidden-first"}, Data: map[string]string{"mode": "a"}}
		cm := admitted.DeepCopy()
		cm.Annotations = forgedAdmission(admitted, time.Now(), stamped(sha("c3")))
		cm.Data["mode"] = "hotfix"
		Expect(k8sClient.Create(ctx, cm)).To(Succeed())
		restore()
		Eventually(func(g Gomega) {
			rec := record(g, ctx, ns, "ConfigMap", "hidden-first")
			g.Expect(condition(rec, v1alpha1.ConditionDrifted).Status).To(Equal(metav1.ConditionTrue))
			d := finding(rec, v1alpha1.FindingDrift)
			g.Expect(d).NotTo(BeNil())
			g.Expect(d.Paths).To(BeEmpty())
			g.Expect(d.Message).To(ContainSubstring("known only by its digest"))
			g.Expect(finding(rec, v1alpha1.FindingUntracedChange)).NotTo(BeNil())
		}).Should(Succeed())
	})

	It("does not take a generated name or server-allocated fields for a hidden change", func(ctx SpecContext) {
		gen := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: "gen-", Annotations: stamped(sha("d4"))}, Data: map[string]string{"k": "v"}}
		Expect(k8sClient.Create(ctx, gen)).To(Succeed())
		Expect(gen.Annotations[provenance.DigestKey]).NotTo(BeEmpty())
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web", Annotations: stamped(sha("d4"))},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}}}
		Expect(k8sClient.Create(ctx, svc)).To(Succeed())
		check := func(g Gomega) {
			for _, o := range []struct{ kind, name string }{{"ConfigMap", gen.Name}, {"Service", "web"}} {
				rec := record(g, ctx, ns, o.kind, o.name)
				g.Expect(rec.Status.History).To(HaveLen(1), o.kind)
				g.Expect(condition(rec, v1alpha1.ConditionDrifted).Status).To(Equal(metav1.ConditionFalse), o.kind)
				g.Expect(rec.Status.Findings).To(BeEmpty(), o.kind)
			}
		}
		Eventually(check).Should(Succeed())
		Consistently(check, 2*time.Second).Should(Succeed())
	})

	It("admits a NodePort Service and keeps it traced, though the apiserver allocates its node ports between the webhooks", func(ctx SpecContext) {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "public", Annotations: stamped(sha("e7"))},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": "web"},
				Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}}}
		Expect(k8sClient.Create(ctx, svc)).To(Succeed(), "the validating webhook sees the allocated node port the mutating one did not")
		Expect(svc.Spec.Ports[0].NodePort).NotTo(BeZero())
		inSync := func(revisions int) func(g Gomega) {
			return func(g Gomega) {
				rec := record(g, ctx, ns, "Service", "public")
				g.Expect(rec.Status.History).To(HaveLen(revisions))
				g.Expect(condition(rec, v1alpha1.ConditionDrifted).Status).To(Equal(metav1.ConditionFalse))
				g.Expect(condition(rec, v1alpha1.ConditionTraced).Status).To(Equal(metav1.ConditionTrue))
				g.Expect(rec.Status.Findings).To(BeEmpty())
			}
		}
		Eventually(inSync(1)).Should(Succeed())
		Consistently(inSync(1), 2*time.Second).Should(Succeed())

		By("replacing it with a manifest that leaves the node port out (the apiserver restores it)")
		Eventually(func() error {
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(svc), svc)).To(Succeed())
			// The pipeline's next commit: a change with the same commit and run would be
			// an untraced revision (hotfix_test.go).
			svc.Annotations[provenance.CommitKey] = sha("e8")
			svc.Spec.Ports[0].NodePort = 0
			svc.Spec.Ports[0].TargetPort = intstr.FromInt32(8081)
			return k8sClient.Update(ctx, svc)
		}).Should(Succeed())
		Eventually(inSync(2)).Should(Succeed())
	})

	It("keeps the admitted revision's provenance when only the provenance annotations change", func(ctx SpecContext) {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "retagged", Annotations: stamped(sha("e5"))}, Data: map[string]string{"k": "v"}}
		Expect(k8sClient.Create(ctx, cm)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(record(g, ctx, ns, "ConfigMap", "retagged").Status.History).To(HaveLen(1))
		}).Should(Succeed())

		Eventually(func() error {
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(cm), cm)).To(Succeed())
			cm.Annotations[provenance.CommitKey] = sha("f6")
			return k8sClient.Update(ctx, cm, client.FieldOwner("retagger"))
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			rec := record(g, ctx, ns, "ConfigMap", "retagged")
			g.Expect(rec.Status.History).To(HaveLen(1))
			g.Expect(rec.Spec.Commit).To(Equal(sha("e5")), "spec.commit is the admitted revision's")
			g.Expect(rec.Status.History[0].Commit).To(Equal(sha("e5")))
			f := finding(rec, v1alpha1.FindingInvalidProvenance)
			g.Expect(f).NotTo(BeNil())
			g.Expect(f.Message).To(ContainSubstring("Provenance annotations changed without a traced change of content by retagger"))
			g.Expect(f.Managers).To(Equal([]string{"retagger"}))
			g.Expect(eventsFor(ctx, ns, "retagged", "ProvenanceChanged")).NotTo(BeEmpty())
		}).Should(Succeed())

		By("a traced change of content admits the new provenance and closes the finding")
		Eventually(func() error {
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(cm), cm)).To(Succeed())
			cm.Data["k"] = "w"
			return k8sClient.Update(ctx, cm)
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			rec := record(g, ctx, ns, "ConfigMap", "retagged")
			g.Expect(rec.Status.History).To(HaveLen(2))
			g.Expect(rec.Spec.Commit).To(Equal(sha("f6")))
			g.Expect(finding(rec, v1alpha1.FindingInvalidProvenance)).To(BeNil())
		}).Should(Succeed())
	})

	It("repairs and flags a TraceRecord edited behind the webhook without waiting for its target to change", func(ctx SpecContext) {
		editRecordBehindWebhook(ctx, ns, "guarded", sha("a7"), "tamperer", func(rec *v1alpha1.TraceRecord) {
			rec.Spec.Commit = sha("0f")
		})
		Eventually(func(g Gomega) {
			rec := record(g, ctx, ns, "ConfigMap", "guarded")
			g.Expect(rec.Spec.Commit).To(Equal(sha("a7")))
			f := finding(rec, v1alpha1.FindingInvalidProvenance)
			g.Expect(f).NotTo(BeNil())
			g.Expect(f.Message).To(HavePrefix("TraceRecord edited outside kubetrail by tamperer"))
			g.Expect(f.Message).To(HaveSuffix("; repaired"))
			g.Expect(rec.Status.ObservedGeneration).To(Equal(rec.Generation))
			g.Expect(eventsFor(ctx, ns, "guarded", "TraceRecordEdited")).NotTo(BeEmpty())
		}).Should(Succeed())
	})

	It("flags a TraceRecord whose status (its history) was rewritten behind the webhook", func(ctx SpecContext) {
		editRecordBehindWebhook(ctx, ns, "rewritten", sha("b8"), "history-rewriter", func(rec *v1alpha1.TraceRecord) {
			rec.Status.History[0].Commit = sha("0e")
			rec.Status.History[0].Approver = "nobody"
		})
		Eventually(func(g Gomega) {
			rec := record(g, ctx, ns, "ConfigMap", "rewritten")
			var f *v1alpha1.Finding
			for i := range rec.Status.Findings {
				if strings.HasPrefix(rec.Status.Findings[i].ID, "record-edited-") {
					f = &rec.Status.Findings[i]
				}
			}
			g.Expect(f).NotTo(BeNil(), "findings: %+v", rec.Status.Findings)
			g.Expect(f.Type).To(Equal(v1alpha1.FindingInvalidProvenance))
			g.Expect(f.Message).To(HavePrefix("TraceRecord edited outside kubetrail by history-rewriter"))
			g.Expect(f.Paths).To(Equal([]string{"/status"}))
			g.Expect(f.Managers).To(Equal([]string{"history-rewriter"}))
			g.Expect(rec.Status.ObservedGeneration).To(Equal(rec.Generation))
			g.Expect(eventsFor(ctx, ns, "rewritten", "TraceRecordEdited")).NotTo(BeEmpty())
		}).Should(Succeed())
	})
})

// editRecordBehindWebhook creates the stamped ConfigMap ns/name with commit, waits for
// its record, and lets fieldOwner edit the record with kubetrail's webhooks down.
func editRecordBehindWebhook(ctx context.Context, ns, name, commit, fieldOwner string, edit func(*v1alpha1.TraceRecord)) {
	GinkgoHelper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: stamped(commit)}, Data: map[string]string{"k": "v"}}
	Expect(k8sClient.Create(ctx, cm)).To(Succeed())
	Eventually(func(g Gomega) {
		rec := record(g, ctx, ns, "ConfigMap", name)
		g.Expect(rec.Status.History).To(HaveLen(1))
		g.Expect(rec.Status.ObservedGeneration).To(Equal(rec.Generation))
	}).Should(Succeed())

	restore := takeWebhooksDown(ctx)
	defer restore()
	Eventually(func(g Gomega) {
		rec := record(g, ctx, ns, "ConfigMap", name)
		base := rec.DeepCopy()
		edit(rec)
		g.Expect(k8sClient.Patch(ctx, rec, client.MergeFrom(base), client.FieldOwner(fieldOwner))).To(Succeed())
	}).Should(Succeed())
}
