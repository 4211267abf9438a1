package controllers

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/digest"
	"github.com/kubetrail/kubetrail/internal/provenance"
	"github.com/kubetrail/kubetrail/internal/tracked"
)

// The reconciler reads tracked objects from a typed cache and converts them to
// unstructured content for the digest; the mutating webhook digests the JSON the
// apiserver sends. These must agree on every tracked kind, or every traced object would
// look drifted.
var _ = Describe("Typed cache", func() {
	const ns = "kinds"

	It("digests every tracked kind as the webhook stamped it", func(ctx SpecContext) {
		createNamespace(ctx, ns, nil)
		podSpec := corev1.PodSpec{
			ServiceAccountName: "runner",
			Containers: []corev1.Container{{
				Name: "app", Image: "registry.example.com/app:1.2.3", Args: []string{"--port", "8080"},
				Env:       []corev1.EnvVar{{Name: "LOG_LEVEL", Value: "debug"}, {Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}}},
				Ports:     []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
				Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("128Mi")}},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromString("http")}},
					PeriodSeconds: 5},
				VolumeMounts: []corev1.VolumeMount{{Name: "cfg", MountPath: "/etc/app"}},
			}},
			Volumes:     []corev1.Volume{{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}}}},
			Tolerations: []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "app", Effect: corev1.TaintEffectNoSchedule}},
		}
		jobPodSpec := *podSpec.DeepCopy()
		jobPodSpec.RestartPolicy = corev1.RestartPolicyOnFailure
		labels := map[string]string{"app": "kinds"}
		template := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: podSpec}
		selector := &metav1.LabelSelector{MatchLabels: labels}
		meta := func(name string) metav1.ObjectMeta {
			return metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: stamped(sha("7c"))}
		}
		clusterMeta := func(name string) metav1.ObjectMeta {
			return metav1.ObjectMeta{Name: name, Annotations: stamped(sha("7c"))}
		}
		pathType := networkingv1.PathTypePrefix
		port := intstr.FromInt32(8080)
		objects := []client.Object{
			&appsv1.Deployment{ObjectMeta: meta("web"), Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2), Selector: selector, Template: template,
				Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: ptr.To(intstr.FromString("25%"))}}}},
			&appsv1.ReplicaSet{ObjectMeta: meta("web-rs"), Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](1), Selector: selector, Template: template}},
			&corev1.ReplicationController{ObjectMeta: meta("web-rc"), Spec: corev1.ReplicationControllerSpec{Replicas: ptr.To[int32](1), Selector: labels, Template: &template}},
			&appsv1.StatefulSet{ObjectMeta: meta("db"), Spec: appsv1.StatefulSetSpec{ServiceName: "db", Selector: selector, Template: template}},
			&appsv1.DaemonSet{ObjectMeta: meta("agent"), Spec: appsv1.DaemonSetSpec{Selector: selector, Template: template}},
			&batchv1.Job{ObjectMeta: meta("migrate"), Spec: batchv1.JobSpec{BackoffLimit: ptr.To[int32](2), Template: corev1.PodTemplateSpec{Spec: jobPodSpec}}},
			&batchv1.CronJob{ObjectMeta: meta("nightly"), Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *", TimeZone: ptr.To("Europe/Paris"),
				JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: jobPodSpec}}}}},
			&corev1.Pod{ObjectMeta: meta("debug"), Spec: podSpec},
			&corev1.Service{ObjectMeta: meta("web"), Spec: corev1.ServiceSpec{Selector: labels,
				Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}}}},
			&networkingv1.Ingress{ObjectMeta: meta("web"), Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{Host: "shop.example.com",
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &pathType,
					Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}}}}}}}}}}},
			&networkingv1.NetworkPolicy{ObjectMeta: meta("deny"), Spec: networkingv1.NetworkPolicySpec{PodSelector: *selector,
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8", Except: []string{"10.1.0.0/16"}}}},
					Ports: []networkingv1.NetworkPolicyPort{{Port: &port}}}}}},
			&corev1.ConfigMap{ObjectMeta: meta("settings"), Data: map[string]string{"app.yaml": "level: debug\n"}, BinaryData: map[string][]byte{"blob": {0, 1, 2, 255}}},
			&corev1.ServiceAccount{ObjectMeta: meta("runner"), AutomountServiceAccountToken: ptr.To(false)},
			&rbacv1.Role{ObjectMeta: meta("reader"), Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list"}}}},
			&rbacv1.RoleBinding{ObjectMeta: meta("reader"), RoleRef: rbacv1.RoleRef{APIGroup: rbacGroup, Kind: "Role", Name: "reader"},
				Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "runner", Namespace: ns}}},
			&rbacv1.ClusterRole{ObjectMeta: clusterMeta("kinds-viewer"), Rules: []rbacv1.PolicyRule{{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get"}}}},
			&rbacv1.ClusterRoleBinding{ObjectMeta: clusterMeta("kinds-viewer"), RoleRef: rbacv1.RoleRef{APIGroup: rbacGroup, Kind: "ClusterRole", Name: "kinds-viewer"},
				Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "runner", Namespace: ns}}},
		}
		kinds := map[string]bool{}
		for _, obj := range objects {
			Expect(k8sClient.Create(ctx, obj)).To(Succeed())
			gvk, err := k8sClient.GroupVersionKindFor(obj)
			Expect(err).NotTo(HaveOccurred())
			kinds[gvk.Kind] = true

			typed := newObject(k8sClient.Scheme(), gvk)
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), typed)).To(Succeed())
			content, err := contentOf(typed, gvk)
			Expect(err).NotTo(HaveOccurred())
			d, err := digest.Of(content, nil)
			Expect(err).NotTo(HaveOccurred())
			stampedDigest := typed.GetAnnotations()[provenance.DigestKey]
			if d != stampedDigest {
				canonical, _ := digest.Canonical(content, nil)
				Fail(gvk.Kind + ": the typed object digests to " + d + ", the webhook stamped " + stampedDigest + "; canonical: " + string(canonical))
			}

			recNS := obj.GetNamespace()
			if recNS == "" {
				recNS = DefaultRecordNamespace
			}
			Eventually(func(g Gomega) {
				rec := record(g, ctx, recNS, gvk.Kind, obj.GetName())
				g.Expect(rec.Status.History).To(HaveLen(1), gvk.Kind)
				g.Expect(rec.Status.LiveDigest).To(Equal(stampedDigest), gvk.Kind)
				g.Expect(condition(rec, v1alpha1.ConditionDrifted).Status).To(Equal(metav1.ConditionFalse), gvk.Kind)
			}).Should(Succeed())
		}
		for _, k := range tracked.Default {
			if k.GVK.Kind != "Secret" {
				Expect(kinds).To(HaveKey(k.GVK.Kind), "every tracked kind but Secrets (metadata only) is covered")
			}
		}
	})
})
