package main

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/kubetrail/kubetrail/api/v1alpha1"
)

// A Pod the replicaset controller derived from Deployment shop/web answers with the
// Deployment's change.
func TestWhyDerivedPod(t *testing.T) {
	startCluster(t)
	ctx := context.Background()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-5d8f-abc12"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "registry.example.com/web:1.3.0"}}}}
	rec := &v1alpha1.TraceRecord{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: recordName("Pod", pod.Name)},
		Spec: v1alpha1.TraceRecordSpec{
			Target:      v1alpha1.TraceTarget{APIVersion: "v1", Kind: "Pod", Namespace: "shop", Name: pod.Name},
			DerivedFrom: &v1alpha1.TraceTarget{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "web"},
			Provenance:  v1alpha1.Provenance{Commit: shaA, Approver: "alice", Actor: v1alpha1.ActorAgent, Agent: "deploy-bot run 7"},
			Admission:   v1alpha1.AdmissionFacts{AdmittedBy: "system:serviceaccount:kube-system:replicaset-controller", AdmittedAt: ago(time.Minute)},
			Images:      []string{"registry.example.com/web:1.3.0"},
		},
	}
	for _, o := range []client.Object{pod, rec} {
		if err := envClient.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = envClient.Delete(context.Background(), o) })
	}
	out, errOut, code := trail(t, "why", "pod/web-5d8f-abc12", "-n", "shop")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	mustContain(t, out,
		"Pod shop/web-5d8f-abc12  (v1)   record shop/pod.web-5d8f-abc12",
		"Derived by replicaset-controller from Deployment shop/web; the change that produced it: commit 1a2b3c4  PR #42  run 99  by agent deploy-bot run 7, approved by alice, admitted by system:serviceaccount:ci:deployer",
		"kubectl trail why deployment/web -n shop has its history")
}
