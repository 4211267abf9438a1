package test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/digest"
	"github.com/kubetrail/kubetrail/internal/provenance"
)

var requireAll = []v1alpha1.ProvenanceField{v1alpha1.FieldCommit, v1alpha1.FieldRepository, v1alpha1.FieldPipelineRun, v1alpha1.FieldApprover}

var trustPipeline = []v1alpha1.Subject{{Kind: v1alpha1.SubjectServiceAccount, Namespace: "ci", Name: "deployer"}}

var _ = Describe("Stamping admitted objects", func() {
	It("stamps who submitted, when, and the digest the reconciler will recompute", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		d := deployment(ns, "web", "nginx:1.27", pipelineProvenance(commitA))
		Expect(users[pipeline].Create(ctx, d)).To(Succeed())

		var live appsv1.Deployment
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(d), &live)).To(Succeed())
		ann := live.Annotations
		Expect(ann).To(HaveKeyWithValue(provenance.AdmittedByKey, pipeline))
		Expect(ann).To(HaveKeyWithValue(provenance.VerifiedKey, "false"))
		at, err := time.Parse(time.RFC3339, ann[provenance.AdmittedAtKey])
		Expect(err).NotTo(HaveOccurred())
		Expect(at).To(BeTemporally("~", time.Now(), time.Minute))

		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&live)
		Expect(err).NotTo(HaveOccurred())
		u["apiVersion"], u["kind"] = "apps/v1", "Deployment"
		Expect(digest.Of(u, nil)).To(Equal(ann[provenance.DigestKey]), "the live object's digest must equal the stamped one")
	})

	It("overwrites admission annotations a client tries to forge, with a warning", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		ann := pipelineProvenance(commitA)
		ann[provenance.AdmittedByKey] = "system:serviceaccount:ci:deployer"
		ann[provenance.VerifiedKey] = "true"
		users[human].Warnings()
		Expect(users[human].Create(ctx, deployment(ns, "forged", "nginx:1.27", ann))).To(Succeed())
		Expect(joined(users[human].Warnings())).To(ContainSubstring("kubetrail.io/admitted-by is written only by kubetrail's admission webhook"))

		var live appsv1.Deployment
		Expect(admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "forged"}, &live)).To(Succeed())
		Expect(live.Annotations).To(HaveKeyWithValue(provenance.AdmittedByKey, human))
		Expect(live.Annotations).To(HaveKeyWithValue(provenance.VerifiedKey, "false"))
	})

	It("admits Services, Jobs and generated names, whose fields the apiserver fills after stamping", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web", Annotations: pipelineProvenance(commitA)},
			Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80}}},
		}
		Expect(users[pipeline].Create(ctx, svc)).To(Succeed())
		Expect(svc.Spec.ClusterIP).NotTo(BeEmpty())
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(svc)
		Expect(err).NotTo(HaveOccurred())
		u["apiVersion"], u["kind"] = "v1", "Service"
		Expect(digest.Of(u, nil)).To(Equal(svc.Annotations[provenance.DigestKey]), "the allocated cluster IP is not tracked content")

		job := &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "migrate", Annotations: pipelineProvenance(commitA)},
			Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "m", Image: "migrate:1"}},
			}}},
		}
		Expect(users[pipeline].Create(ctx, job)).To(Succeed())
		u, err = runtime.DefaultUnstructuredConverter.ToUnstructured(job)
		Expect(err).NotTo(HaveOccurred())
		u["apiVersion"], u["kind"] = "batch/v1", "Job"
		Expect(digest.Of(u, nil)).To(Equal(job.Annotations[provenance.DigestKey]), "the generated selector is not tracked content")

		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: "flags-", Annotations: pipelineProvenance(commitA)}}
		Expect(users[pipeline].Create(ctx, cm)).To(Succeed())
		Expect(cm.Annotations).To(HaveKeyWithValue(provenance.AdmittedByKey, pipeline))
	})

	It("stamps new admission facts when only labels change: labels are tracked content", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		d := deployment(ns, "web", "nginx:1.27", pipelineProvenance(commitA))
		Expect(users[pipeline].Create(ctx, d)).To(Succeed())
		var before appsv1.Deployment
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(d), &before)).To(Succeed())

		patch := client.MergeFrom(before.DeepCopy())
		after := before.DeepCopy()
		after.Labels = map[string]string{"team": "shop"}
		Expect(users[human].Patch(ctx, after, patch)).To(Succeed())
		Expect(after.Annotations[provenance.AdmittedByKey]).To(Equal(human))
		Expect(after.Annotations[provenance.DigestKey]).NotTo(Equal(before.Annotations[provenance.DigestKey]))
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(after)
		Expect(err).NotTo(HaveOccurred())
		u["apiVersion"], u["kind"] = "apps/v1", "Deployment"
		Expect(digest.Of(u, nil)).To(Equal(after.Annotations[provenance.DigestKey]))
	})
})

var _ = Describe("Enforcing TracePolicy", func() {
	It("admits a pipeline's stamped, signed Deployment under Enforce and marks it verified", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		key, pub := newKey()
		newPolicy(ctx, ns, v1alpha1.TracePolicySpec{
			Mode: v1alpha1.ModeEnforce, RequiredFields: append(requireAll, v1alpha1.FieldSignature),
			TrustedSubmitters: trustPipeline,
			Signing:           &v1alpha1.Signing{Required: true, PublicKeys: []v1alpha1.PublicKey{{Name: "ci", PEM: pub}}},
		})
		d := deployment(ns, "web", "nginx:1.27", pipelineProvenance(commitA))
		sign(d, key, time.Hour)
		Expect(users[pipeline].Create(ctx, d)).To(Succeed())
		Expect(d.Annotations).To(HaveKeyWithValue(provenance.VerifiedKey, "true"))
		Expect(d.Annotations).To(HaveKeyWithValue(provenance.AdmittedByKey, pipeline))
	})

	It("denies an unstamped Deployment by a human under Enforce, saying what to add and how", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		newPolicy(ctx, ns, v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, RequiredFields: requireAll})
		err := users[human].Create(ctx, deployment(ns, "web", "nginx:1.27", nil))
		Expect(err).To(HaveOccurred())
		Expect(apierrors.IsInvalid(err) || apierrors.IsForbidden(err)).To(BeTrue(), err.Error())
		Expect(err.Error()).To(SatisfyAll(
			ContainSubstring(`Deployment.apps "web"`),
			ContainSubstring("metadata.annotations[kubetrail.io/commit]"),
			ContainSubstring("40-hex commit"),
			ContainSubstring("kubectl trail stamp"),
			ContainSubstring("TracePolicy policy-"+ns),
		))
	})

	It("admits the same Deployment under Warn with warnings kubectl shows", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		newPolicy(ctx, ns, v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeWarn, RequiredFields: requireAll})
		users[human].Warnings()
		Expect(users[human].Create(ctx, deployment(ns, "web", "nginx:1.27", nil))).To(Succeed())
		Expect(joined(users[human].Warnings())).To(ContainSubstring("metadata.annotations[kubetrail.io/commit]: Required value"))
	})

	It("admits it silently under Audit", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		newPolicy(ctx, ns, v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeAudit, RequiredFields: requireAll})
		users[human].Warnings()
		Expect(users[human].Create(ctx, deployment(ns, "web", "nginx:1.27", nil))).To(Succeed())
		Expect(users[human].Warnings()).To(BeEmpty())
	})

	It("denies a human's edit of a traced Deployment that carries no new provenance", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		newPolicy(ctx, ns, v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, RequiredFields: requireAll, TrustedSubmitters: trustPipeline})
		d := deployment(ns, "web", "nginx:1.27", pipelineProvenance(commitA))
		Expect(users[pipeline].Create(ctx, d)).To(Succeed())

		edit := d.DeepCopy()
		edit.Spec.Template.Spec.Containers[0].Image = "nginx:1.28"
		err := users[human].Update(ctx, edit)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("alice changed tracked content outside the pipeline"))

		// The pipeline, with the new commit, may.
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(d), d)).To(Succeed())
		d.Spec.Template.Spec.Containers[0].Image = "nginx:1.28"
		d.Annotations[provenance.CommitKey] = commitB
		Expect(users[pipeline].Update(ctx, d)).To(Succeed())
		// The pipeline re-applying different content under the old commit is untraced too.
		d.Spec.Template.Spec.Containers[0].Image = "nginx:1.29"
		err = users[pipeline].Update(ctx, d)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("provenance is the same as the previous revision's"))
	})

	It("denies provenance set by an identity that is not a trusted submitter", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		newPolicy(ctx, ns, v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, RequiredFields: requireAll, TrustedSubmitters: trustPipeline})
		err := users[human].Create(ctx, deployment(ns, "web", "nginx:1.27", pipelineProvenance(commitA)))
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("alice is not a trusted submitter of provenance"))
	})

	It("rejects badly formatted provenance, naming the field", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		newPolicy(ctx, ns, v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce})
		ann := pipelineProvenance("abc123")
		ann[provenance.ActorKey] = provenance.ActorAgent
		err := users[pipeline].Create(ctx, deployment(ns, "web", "nginx:1.27", ann))
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(SatisfyAll(
			ContainSubstring("metadata.annotations[kubetrail.io/commit]"),
			ContainSubstring("40 or 64 lowercase hex"),
			ContainSubstring("metadata.annotations[kubetrail.io/agent]: Required value"),
		))
	})

	Context("with signatures", func() {
		It("denies a signature replayed onto another object, an expired one, and one by an untrusted key", func(ctx SpecContext) {
			ns := newNamespace(ctx)
			key, pub := newKey()
			otherKey, _ := newKey()
			newPolicy(ctx, ns, v1alpha1.TracePolicySpec{
				Mode:    v1alpha1.ModeEnforce,
				Signing: &v1alpha1.Signing{Required: true, PublicKeys: []v1alpha1.PublicKey{{Name: "ci", PEM: pub}}},
			})
			original := deployment(ns, "web", "nginx:1.27", pipelineProvenance(commitA))
			sign(original, key, time.Hour)

			replayed := deployment(ns, "api", "nginx:1.27", original.Annotations)
			err := users[pipeline].Create(ctx, replayed)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(SatisfyAll(ContainSubstring("kubetrail.io/signature"), ContainSubstring("does not cover this object's name")))

			expired := deployment(ns, "old", "nginx:1.27", pipelineProvenance(commitA))
			sign(expired, key, -time.Minute)
			err = users[pipeline].Create(ctx, expired)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring("expired"))

			untrusted := deployment(ns, "rogue", "nginx:1.27", pipelineProvenance(commitA))
			sign(untrusted, otherKey, time.Hour)
			err = users[pipeline].Create(ctx, untrusted)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring("spec.signing.publicKeys"))

			tampered := deployment(ns, "tampered", "nginx:1.27", pipelineProvenance(commitA))
			sign(tampered, key, time.Hour)
			tampered.Spec.Template.Spec.Containers[0].Image = "evil:latest"
			err = users[pipeline].Create(ctx, tampered)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring("signed content digest is"))
		})

		It("reads trusted keys from a Secret the policy references", func(ctx SpecContext) {
			ns := newNamespace(ctx)
			key, pub := newKey()
			Expect(admin.Create(ctx, &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "signing"},
				Data:       map[string][]byte{"ed25519.pub": []byte(pub)},
			})).To(Succeed())
			newPolicy(ctx, ns, v1alpha1.TracePolicySpec{
				Mode: v1alpha1.ModeEnforce,
				Signing: &v1alpha1.Signing{Required: true, PublicKeys: []v1alpha1.PublicKey{{
					Name: "ci", SecretRef: &v1alpha1.SecretKeyReference{Namespace: ns, Name: "signing", Key: "ed25519.pub"},
				}}},
			})
			d := deployment(ns, "web", "nginx:1.27", pipelineProvenance(commitA))
			sign(d, key, time.Hour)
			Expect(users[pipeline].Create(ctx, d)).To(Succeed())
			Expect(d.Annotations).To(HaveKeyWithValue(provenance.VerifiedKey, "true"))
		})
	})

	Context("with change windows and break-glass", func() {
		It("denies a change inside a freeze, and admits it with break-glass from an allowed identity", func(ctx SpecContext) {
			ns := newNamespace(ctx)
			now := metav1.Now()
			newPolicy(ctx, ns, v1alpha1.TracePolicySpec{
				Mode: v1alpha1.ModeEnforce,
				ChangeWindows: []v1alpha1.ChangeWindow{{
					Name: "release-freeze", Start: &metav1.Time{Time: now.Add(-time.Hour)}, End: &metav1.Time{Time: now.Add(time.Hour)},
				}},
				BreakGlass: &v1alpha1.BreakGlass{Allowed: []v1alpha1.Subject{{Kind: v1alpha1.SubjectGroup, Name: "sre-oncall"}}},
			})
			err := users[pipeline].Create(ctx, deployment(ns, "web", "nginx:1.27", pipelineProvenance(commitA)))
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(SatisfyAll(ContainSubstring(`change window "release-freeze" is frozen`), ContainSubstring("kubetrail.io/break-glass")))

			ann := pipelineProvenance(commitA)
			ann[provenance.BreakGlassKey] = "INC-4711: checkout is down, hotfix cannot wait"
			err = users[human].Create(ctx, deployment(ns, "web", "nginx:1.27", ann))
			Expect(err).To(HaveOccurred(), "alice is not allowed to break glass")
			Expect(err.Error()).To(ContainSubstring("alice may not use break-glass"))

			users[sre].Warnings()
			d := deployment(ns, "web", "nginx:1.27", ann)
			Expect(users[sre].Create(ctx, d)).To(Succeed())
			Expect(joined(users[sre].Warnings())).To(ContainSubstring("admitted by break-glass"))
			Expect(d.Annotations).To(HaveKeyWithValue(provenance.BreakGlassKey, ann[provenance.BreakGlassKey]))
			Expect(d.Annotations).To(HaveKeyWithValue(provenance.AdmittedByKey, sre))
		})
	})

	It("denies a credential written into a pod template, naming where and the rule but never the value", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		newPolicy(ctx, ns, v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, SecretLiterals: v1alpha1.ActionDeny})
		token := "ghp_" + "Zx9Qw2Er4Ty6Ui8Op0As1Df3Gh5Jk7Lz9Xc2Vb"
		d := deployment(ns, "web", "nginx:1.27", pipelineProvenance(commitA))
		d.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "LOG_LEVEL", Value: "debug"}, {Name: "GITHUB_TOKEN", Value: token}}
		err := users[pipeline].Create(ctx, d)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(SatisfyAll(
			ContainSubstring("containers[app].env[GITHUB_TOKEN]"),
			ContainSubstring("github-pat"),
			ContainSubstring("secretKeyRef"),
			Not(ContainSubstring(token)),
			Not(ContainSubstring(token[4:16])),
		))
	})

	It("denies binding a service account to cluster-admin without two approvers", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		newPolicy(ctx, ns, v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, RBACEscalation: &v1alpha1.RBACEscalationRule{Action: v1alpha1.ActionDeny, MinApprovers: 2}})
		binding := func(approvers string) *rbacv1.RoleBinding {
			ann := pipelineProvenance(commitA)
			ann[provenance.ApproverKey] = approvers
			return &rbacv1.RoleBinding{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "builder-admin", Annotations: ann},
				RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
				Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "builder", Namespace: ns}},
			}
		}
		err := users[pipeline].Create(ctx, binding("alice"))
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(SatisfyAll(ContainSubstring("grants risky permissions"), ContainSubstring("2 distinct approvers"), ContainSubstring("it has 1")))
		Expect(users[pipeline].Create(ctx, binding("alice,bob"))).To(Succeed())
	})

	It("lets exempt identities through and combines policies most-restrictive-first", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		newPolicy(ctx, ns, v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, RequiredFields: requireAll,
			Exempt: []v1alpha1.Subject{{Kind: v1alpha1.SubjectUser, Name: sre}}})
		audit := &v1alpha1.TracePolicy{ObjectMeta: metav1.ObjectMeta{Name: "audit-" + ns}, Spec: v1alpha1.TracePolicySpec{
			Mode: v1alpha1.ModeAudit, RequiredFields: requireAll,
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubetrail.io/story": ns}},
		}}
		Expect(admin.Create(ctx, audit)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(admin.Delete(ctx, audit)).To(Succeed()) })
		time.Sleep(500 * time.Millisecond)

		err := users[human].Create(ctx, deployment(ns, "web", "nginx:1.27", nil))
		Expect(err).To(HaveOccurred(), "an Audit policy never softens an Enforce one")
		Expect(users[sre].Create(ctx, deployment(ns, "web", "nginx:1.27", nil))).To(Succeed())
	})
})

var _ = Describe("Protecting TraceRecords", func() {
	It("lets only the manager write records; cluster-admins are denied", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		rec := &v1alpha1.TraceRecord{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "deployment.web"},
			Spec: v1alpha1.TraceRecordSpec{
				Target:     v1alpha1.TraceTarget{APIVersion: "apps/v1", Kind: "Deployment", Namespace: ns, Name: "web"},
				Provenance: v1alpha1.Provenance{Commit: commitA},
			},
		}
		forged := rec.DeepCopy()
		err := users[human].Create(ctx, forged)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("alice may not create TraceRecord"))

		Expect(admin.Create(ctx, rec)).To(Succeed(), "the manager's identity may")
		edit := rec.DeepCopy()
		edit.Spec.Commit = commitB
		err = users[human].Update(ctx, edit)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("may not change TraceRecord"))
		err = users[human].Delete(ctx, rec)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("may not delete TraceRecord"))
	})
})
