package controllers

import (
	"encoding/json"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
)

// The reconciler scans what the webhook scans (M5): probes, hooks, HTTP headers and
// binaryData are not blind spots of the record either.
var _ = Describe("Credentials outside env, command and args", func() {
	It("records a token in a readiness probe's HTTP header and in ConfigMap binaryData, never the token", func(ctx SpecContext) {
		createNamespace(ctx, "leaks", nil)
		token := fakeToken()
		dep := deployment("leaks", "probe", "ghcr.io/acme/web:1", "", stamped(sha("5c")))
		dep.Spec.Template.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Path: "/ready", Port: intstr.FromInt32(8080), HTTPHeaders: []corev1.HTTPHeader{{Name: "Authorization", Value: "token " + token}}}}}
		Expect(k8sClient.Create(ctx, dep)).To(Succeed())
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "leaks", Name: "env", Annotations: stamped(sha("5d"))},
			BinaryData: map[string][]byte{"config.env": []byte("GITHUB_TOKEN=" + token + "\n")}}
		Expect(k8sClient.Create(ctx, cm)).To(Succeed())

		for _, c := range []struct{ kind, name, path string }{
			{"Deployment", "probe", "/spec/template/spec/containers/app/readinessProbe/httpGet/httpHeaders/Authorization/value"},
			{"ConfigMap", "env", "/binaryData/config.env"},
		} {
			Eventually(func(g Gomega) {
				rec := record(g, ctx, "leaks", c.kind, c.name)
				f := finding(rec, v1alpha1.FindingSecretExposure)
				g.Expect(f).NotTo(BeNil(), "no SecretExposure finding on %s/%s", c.kind, c.name)
				g.Expect(f.Rule).To(Equal("github-pat"))
				g.Expect(f.Paths).To(Equal([]string{c.path}))
				raw, err := json.Marshal(rec)
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(string(raw)).NotTo(ContainSubstring(token[4:]))
			}).Should(Succeed())
		}
	})
})
