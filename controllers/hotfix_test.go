package controllers

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/provenance"
)

const imagePath = "/spec/template/spec/containers/app/image"

// policyFor makes a TracePolicy of mode selecting the namespaces labelled story=value.
func policyFor(name string, mode v1alpha1.PolicyMode, value string, required ...v1alpha1.ProvenanceField) *v1alpha1.TracePolicy {
	return &v1alpha1.TracePolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.TracePolicySpec{
			Mode:              mode,
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubetrail.test/story": value}},
			Resources:         []v1alpha1.ResourceSelector{{Group: "apps", Kinds: []string{"Deployment"}}},
			RequiredFields:    required,
		},
	}
}

func untracedFindings(rec *v1alpha1.TraceRecord) []v1alpha1.Finding {
	var out []v1alpha1.Finding
	for _, f := range rec.Status.Findings {
		if f.Type == v1alpha1.FindingUntracedChange {
			out = append(out, f)
		}
	}
	return out
}

var _ = Describe("A manual hotfix that keeps the pipeline's provenance", func() {
	BeforeEach(func() {
		SetDefaultEventuallyTimeout(45 * time.Second)
		SetDefaultEventuallyPollingInterval(250 * time.Millisecond)
	})

	DescribeTable("is an untraced revision attributed to its submitter and field manager, until the pipeline deploys again",
		func(ctx SpecContext, ns string, mode v1alpha1.PolicyMode) {
			createNamespace(ctx, ns, map[string]string{"kubetrail.test/story": ns})
			if mode != "" {
				tp := policyFor(ns, mode, ns)
				Expect(k8sClient.Create(ctx, tp)).To(Succeed())
				DeferCleanup(func(ctx context.Context) { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, tp))).To(Succeed()) })
			}
			commit := sha("a1")
			dep := deployment(ns, "web", "nginx:1.27", "", stamped(commit))
			Expect(k8sClient.Create(ctx, dep)).To(Succeed())
			Eventually(func(g Gomega) {
				rec := record(g, ctx, ns, "Deployment", "web")
				g.Expect(rec.Status.History).To(HaveLen(1))
				g.Expect(rec.Status.History[0].Traced).To(BeTrue())
			}).Should(Succeed())

			By("sre1 changing the image with kubectl set image, the pipeline's annotations left as they were")
			sre1 := clientAs("sre1")
			Eventually(func() error {
				var d appsv1.Deployment
				Expect(sre1.Get(ctx, client.ObjectKeyFromObject(dep), &d)).To(Succeed())
				d.Spec.Template.Spec.Containers[0].Image = "nginx:1.27-hotfix"
				return sre1.Update(ctx, &d, client.FieldOwner("kubectl-set"))
			}).Should(Succeed())
			var live appsv1.Deployment
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(dep), &live)).To(Succeed())
			Expect(live.Annotations).To(HaveKeyWithValue(provenance.AdmittedByKey, "sre1"))
			Expect(live.Annotations).To(HaveKeyWithValue(provenance.CommitKey, commit))

			Eventually(func(g Gomega) {
				rec := record(g, ctx, ns, "Deployment", "web")
				g.Expect(rec.Status.History).To(HaveLen(2))
				h := rec.Status.History[0]
				g.Expect(h.Traced).To(BeFalse(), "a change without new provenance is credited to none")
				g.Expect(h.UntracedReason).To(Equal(v1alpha1.UntracedProvenanceNotRenewed))
				g.Expect(h.Admission.AdmittedBy).To(Equal("sre1"))
				g.Expect(h.Managers).To(ContainElement("kubectl-set"))
				g.Expect(h.ChangedPaths).To(ContainElement(imagePath))
				g.Expect(h.Commit).To(BeEmpty(), "never credited to the old commit")
				g.Expect(h.Approver).To(BeEmpty(), "never credited to the old approvers")
				g.Expect(h.OnTopOf).To(Equal(commit))
				g.Expect(h.Images).To(ConsistOf("nginx:1.27-hotfix"))
				for _, old := range rec.Status.History {
					if old.Traced {
						g.Expect(old.Admission.AdmittedBy).NotTo(Equal("sre1"), "no traced revision of the old commit by sre1")
					}
				}

				var u *v1alpha1.Finding
				for _, f := range untracedFindings(rec) {
					if f.IntroducedBy.Admission.AdmittedBy == "sre1" {
						u = &f
					}
				}
				g.Expect(u).NotTo(BeNil(), "an UntracedChange finding, %v", rec.Status.Findings)
				g.Expect(u.Message).To(ContainSubstring("sre1 (field managers kubectl-set) changed "+imagePath), "what a user reads names who and what")
				g.Expect(u.Managers).To(ContainElement("kubectl-set"))
				g.Expect(u.Paths).To(ContainElement(imagePath))
				g.Expect(u.IntroducedBy.Traced).To(BeFalse())
				g.Expect(u.IntroducedBy.Summary).To(ContainSubstring("sre1 via kubectl-set"))

				// The record's current state does not claim the hotfix for the old commit.
				g.Expect(rec.Spec.Commit).To(BeEmpty(), "the current content is credited to no commit")
				g.Expect(rec.Spec.Approver).To(BeEmpty(), "nor to the old approvers")
				g.Expect(rec.Spec.PipelineRun).To(BeEmpty())
				g.Expect(rec.Spec.Admission.AdmittedBy).To(Equal("sre1"), "the spec follows the change to its submitter")
				tr := condition(rec, v1alpha1.ConditionTraced)
				g.Expect(tr.Status).To(Equal(metav1.ConditionFalse))
				g.Expect(tr.Reason).To(Equal(v1alpha1.ReasonUntracedChange))
				g.Expect(tr.Message).To(ContainSubstring("sre1"))
				g.Expect(condition(rec, v1alpha1.ConditionDrifted).Status).To(Equal(metav1.ConditionTrue))
				g.Expect(finding(rec, v1alpha1.FindingDrift)).NotTo(BeNil())
			}).Should(Succeed())

			By("the pipeline deploying a new commit on top")
			next := sha("b2")
			Eventually(func() error {
				var d appsv1.Deployment
				Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(dep), &d)).To(Succeed())
				d.Annotations[provenance.CommitKey] = next
				d.Annotations[provenance.PipelineRunKey] = "https://ci.example.com/runs/1002"
				d.Spec.Template.Spec.Containers[0].Image = "nginx:1.28"
				return k8sClient.Update(ctx, &d)
			}).Should(Succeed())
			Eventually(func(g Gomega) {
				rec := record(g, ctx, ns, "Deployment", "web")
				g.Expect(rec.Status.History).To(HaveLen(3))
				g.Expect(rec.Status.History[0].Traced).To(BeTrue())
				g.Expect(rec.Status.History[0].Commit).To(Equal(next))
				g.Expect(rec.Status.History[1].Traced).To(BeFalse(), "the hotfix stays on record")
				g.Expect(rec.Spec.Commit).To(Equal(next))
				g.Expect(untracedFindings(rec)).To(BeEmpty())
				g.Expect(finding(rec, v1alpha1.FindingDrift)).To(BeNil())
				g.Expect(condition(rec, v1alpha1.ConditionTraced).Reason).To(Equal(v1alpha1.ReasonAdmitted))
				g.Expect(condition(rec, v1alpha1.ConditionDrifted).Status).To(Equal(metav1.ConditionFalse))
			}).Should(Succeed())
		},
		Entry("with no TracePolicy (record only)", "hotfix-none", v1alpha1.PolicyMode("")),
		Entry("under an Audit policy", "hotfix-audit", v1alpha1.ModeAudit),
		Entry("under a Warn policy", "hotfix-warn", v1alpha1.ModeWarn),
		Entry("under an Enforce policy that lets it through (no required fields)", "hotfix-enforce", v1alpha1.ModeEnforce),
	)

	It("records a finding for every field an Audit policy requires and mallory left out (M3)", func(ctx SpecContext) {
		ns := "audit-m3"
		createNamespace(ctx, ns, map[string]string{"kubetrail.test/story": ns})
		tp := policyFor("audit-all-m3", v1alpha1.ModeAudit, ns,
			v1alpha1.FieldCommit, v1alpha1.FieldRepository, v1alpha1.FieldPipelineRun, v1alpha1.FieldApprover)
		Expect(k8sClient.Create(ctx, tp)).To(Succeed())
		DeferCleanup(func(ctx context.Context) { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, tp))).To(Succeed()) })

		mallory := clientAs("mallory")
		made := sha("44")
		Expect(mallory.Create(ctx, deployment(ns, "sidecar-job", "busybox:1", "",
			map[string]string{provenance.ActorKey: "human", provenance.CommitKey: made}))).To(Succeed())
		want := []string{
			"/metadata/annotations/kubetrail.io~1repository",
			"/metadata/annotations/kubetrail.io~1pipeline-run",
			"/metadata/annotations/kubetrail.io~1approver",
		}
		Eventually(func(g Gomega) {
			rec := record(g, ctx, ns, "Deployment", "sidecar-job")
			var paths []string
			for _, f := range rec.Status.Findings {
				if f.Type == v1alpha1.FindingInvalidProvenance && f.Rule == "policy:audit-all-m3" {
					g.Expect(f.Message).To(ContainSubstring("mallory"))
					g.Expect(f.Message).To(ContainSubstring("audit-all-m3"))
					g.Expect(f.Message).To(ContainSubstring("Required value"))
					paths = append(paths, f.Paths...)
				}
			}
			g.Expect(paths).To(ConsistOf(want))
			g.Expect(rec.Status.FindingCount).To(BeEquivalentTo(len(rec.Status.Findings)))
		}).Should(Succeed())

		By("mallory changing the image, reusing her made-up commit")
		Eventually(func() error {
			var d appsv1.Deployment
			Expect(mallory.Get(ctx, client.ObjectKey{Namespace: ns, Name: "sidecar-job"}, &d)).To(Succeed())
			d.Spec.Template.Spec.Containers[0].Image = "attacker.example/miner:1"
			return mallory.Update(ctx, &d, client.FieldOwner("kubectl-set"))
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			rec := record(g, ctx, ns, "Deployment", "sidecar-job")
			var reuse, revision *v1alpha1.Finding
			for i, f := range rec.Status.Findings {
				switch {
				case f.Type == v1alpha1.FindingUntracedChange && f.Rule == "policy:audit-all-m3":
					reuse = &rec.Status.Findings[i]
				case f.Type == v1alpha1.FindingUntracedChange:
					revision = &rec.Status.Findings[i]
				}
			}
			g.Expect(reuse).NotTo(BeNil(), "the reused provenance Enforce would deny: %v", rec.Status.Findings)
			g.Expect(reuse.Message).To(ContainSubstring("the same as the previous revision's"))
			g.Expect(revision).NotTo(BeNil(), "the untraced revision")
			g.Expect(revision.Message).To(ContainSubstring("mallory"))
			g.Expect(rec.Status.History[0].Traced).To(BeFalse())
			g.Expect(condition(rec, v1alpha1.ConditionTraced).Status).To(Equal(metav1.ConditionFalse))
		}).Should(Succeed())
	})
})
