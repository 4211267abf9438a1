package controllers

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
)

func TestSetConditions(t *testing.T) {
	at := metav1.NewTime(time.Date(2026, 5, 9, 10, 0, 0, 0, time.UTC))
	facts := v1alpha1.AdmissionFacts{AdmittedBy: "ci-bot", AdmittedAt: &at, Digest: "sha256:00"}
	cases := map[string]struct {
		state                      traceState
		driftStatus, driftReason   string
		tracedStatus, tracedReason string
		messageHas                 string
	}{
		"admitted with provenance, in sync": {
			state:       traceState{admitted: true, hasProvenance: true, contentKnown: true, tracedBefore: true, facts: facts, commit: "abc"},
			driftStatus: "False", driftReason: v1alpha1.ReasonInSync,
			tracedStatus: "True", tracedReason: v1alpha1.ReasonAdmitted, messageHas: "ci-bot",
		},
		"admitted without provenance": {
			state:       traceState{admitted: true, contentKnown: true, tracedBefore: true, facts: facts},
			driftStatus: "False", driftReason: v1alpha1.ReasonInSync,
			tracedStatus: "False", tracedReason: v1alpha1.ReasonNoProvenance,
		},
		"drifted": {
			state:       traceState{admitted: true, hasProvenance: true, contentKnown: true, tracedBefore: true, drifted: []string{"/spec/replicas"}, facts: facts},
			driftStatus: "True", driftReason: v1alpha1.ReasonFieldsChanged,
			tracedStatus: "False", tracedReason: v1alpha1.ReasonUntracedChange, messageHas: "/spec/replicas",
		},
		"never admitted": {
			state:       traceState{contentKnown: true},
			driftStatus: "Unknown", driftReason: v1alpha1.ReasonNoProvenance,
			tracedStatus: "False", tracedReason: v1alpha1.ReasonUntracedChange,
		},
		"admission record removed, content as traced": {
			state:       traceState{contentKnown: true, tracedBefore: true},
			driftStatus: "False", driftReason: v1alpha1.ReasonInSync,
			tracedStatus: "False", tracedReason: v1alpha1.ReasonUntracedChange,
		},
		"metadata only": {
			state:       traceState{admitted: true, hasProvenance: true, facts: facts},
			driftStatus: "Unknown", driftReason: v1alpha1.ReasonNotYetObserved,
			tracedStatus: "True", tracedReason: v1alpha1.ReasonAdmitted,
		},
		"admitted without new provenance (a hotfix that kept the pipeline's commit)": {
			state: traceState{admitted: true, contentKnown: true, tracedBefore: true, drifted: []string{"/spec/template/spec/containers/app/image"}, facts: facts,
				untraced: &v1alpha1.Revision{UntracedReason: v1alpha1.UntracedProvenanceNotRenewed, OnTopOf: "abc",
					Admission: v1alpha1.AdmissionFacts{AdmittedBy: "sre1"}, Managers: []string{"kubectl-set"}}},
			driftStatus: "True", driftReason: v1alpha1.ReasonFieldsChanged,
			tracedStatus: "False", tracedReason: v1alpha1.ReasonUntracedChange, messageHas: "sre1 via kubectl-set, on top of commit abc",
		},
		"deleted": {
			state:       traceState{deleted: true},
			driftStatus: "Unknown", driftReason: v1alpha1.ReasonTargetDeleted,
			tracedStatus: "Unknown", tracedReason: v1alpha1.ReasonTargetDeleted,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var conds []metav1.Condition
			setDriftedCondition(&conds, 3, tc.state)
			setTracedCondition(&conds, 3, tc.state)
			d := meta.FindStatusCondition(conds, v1alpha1.ConditionDrifted)
			tr := meta.FindStatusCondition(conds, v1alpha1.ConditionTraced)
			if d == nil || string(d.Status) != tc.driftStatus || d.Reason != tc.driftReason {
				t.Fatalf("Drifted = %+v, want %s/%s", d, tc.driftStatus, tc.driftReason)
			}
			if tr == nil || string(tr.Status) != tc.tracedStatus || tr.Reason != tc.tracedReason {
				t.Fatalf("Traced = %+v, want %s/%s", tr, tc.tracedStatus, tc.tracedReason)
			}
			if d.ObservedGeneration != 3 || tr.ObservedGeneration != 3 {
				t.Fatalf("observedGeneration not set: %d, %d", d.ObservedGeneration, tr.ObservedGeneration)
			}
			if tc.messageHas != "" && !strings.Contains(d.Message+tr.Message, tc.messageHas) {
				t.Fatalf("messages %q / %q do not mention %q", d.Message, tr.Message, tc.messageHas)
			}
			// Setting the same state again changes nothing, transition times included.
			before := append([]metav1.Condition(nil), conds...)
			setDriftedCondition(&conds, 3, tc.state)
			setTracedCondition(&conds, 3, tc.state)
			for i := range conds {
				if conds[i] != before[i] {
					t.Fatalf("condition %s changed on an identical update: %+v -> %+v", conds[i].Type, before[i], conds[i])
				}
			}
		})
	}

	// A deleted target keeps its last Traced condition.
	conds := []metav1.Condition{}
	setTracedCondition(&conds, 1, traceState{admitted: true, hasProvenance: true, contentKnown: true, facts: facts})
	setTracedCondition(&conds, 1, traceState{deleted: true})
	if c := meta.FindStatusCondition(conds, v1alpha1.ConditionTraced); c.Reason != v1alpha1.ReasonAdmitted {
		t.Fatalf("deletion rewrote Traced: %+v", c)
	}
}

func TestTruncate(t *testing.T) {
	if got := truncate("short", 10); got != "short" {
		t.Fatalf("truncate short = %q", got)
	}
	got := truncate(strings.Repeat("é", 20), 11)
	if len(got) > 11 || !strings.HasSuffix(got, "...") || !strings.HasPrefix(got, "éééé") {
		t.Fatalf("truncate cut a rune or overran: %q", got)
	}
}

func TestCacheTransform(t *testing.T) {
	typed := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
			Annotations: map[string]string{lastAppliedAnnotation: `{"big":"copy"}`, "kubetrail.io/commit": "abc"}},
		Spec:   appsv1.DeploymentSpec{Replicas: ptr.To[int32](2)},
		Status: appsv1.DeploymentStatus{Replicas: 2, Conditions: []appsv1.DeploymentCondition{{Type: "Available", Message: "long"}}},
	}
	u := &unstructured.Unstructured{Object: map[string]interface{}{"apiVersion": "apps/v1", "kind": "Deployment",
		"spec": map[string]interface{}{"replicas": int64(2)}, "status": map[string]interface{}{"replicas": int64(2)}}}
	u.SetName("web")
	u.SetAnnotations(map[string]string{lastAppliedAnnotation: `{"big":"copy"}`, "kubetrail.io/commit": "abc"})
	u.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: "kubectl"}})
	for _, in := range []client.Object{typed, u} {
		out, err := CacheTransform()(in)
		if err != nil {
			t.Fatal(err)
		}
		o := out.(client.Object)
		if len(o.GetManagedFields()) != 0 {
			t.Errorf("%T: managedFields kept", in)
		}
		if _, ok := o.GetAnnotations()[lastAppliedAnnotation]; ok || o.GetAnnotations()["kubetrail.io/commit"] != "abc" {
			t.Errorf("%T: annotations = %v", in, o.GetAnnotations())
		}
		content, err := contentOf(o, appsv1.SchemeGroupVersion.WithKind("Deployment"))
		if err != nil {
			t.Fatal(err)
		}
		if st, ok := content["status"]; ok && len(st.(map[string]interface{})) > 0 {
			t.Errorf("%T: status kept: %v", in, st)
		}
		if r, _, _ := unstructured.NestedInt64(content, "spec", "replicas"); r != 2 {
			t.Errorf("%T: spec lost: %v", in, content["spec"])
		}
	}

	// A record keeps its identity and generations, nothing of its history.
	rec := &v1alpha1.TraceRecord{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "deployment.web", Generation: 3, ResourceVersion: "9"},
		Spec:       v1alpha1.TraceRecordSpec{Target: v1alpha1.TraceTarget{Kind: "Deployment", Name: "web"}, Provenance: v1alpha1.Provenance{Commit: sha("1a")}},
		Status: v1alpha1.TraceRecordStatus{ObservedGeneration: 3, Baseline: "v1", History: []v1alpha1.Revision{{Traced: true}},
			Findings: []v1alpha1.Finding{{ID: "drift"}}},
	}
	out, err := CacheTransform()(rec)
	if err != nil {
		t.Fatal(err)
	}
	trimmed := out.(*v1alpha1.TraceRecord)
	if trimmed.Spec.Target.Name != "web" || trimmed.Generation != 3 || trimmed.Status.ObservedGeneration != 3 || trimmed.ResourceVersion != "9" {
		t.Errorf("trimmed record lost its identity: %+v", trimmed)
	}
	if trimmed.Spec.Commit != "" || trimmed.Status.Baseline != "" || len(trimmed.Status.History)+len(trimmed.Status.Findings) != 0 {
		t.Errorf("trimmed record keeps content: %+v", trimmed)
	}
	if len(rec.Status.History) != 1 {
		t.Error("the transform changed the record it was given")
	}

	// Objects that are not objects (a tombstone of the informer) pass untouched.
	if v, err := CacheTransform()("not an object"); err != nil || v != "not an object" {
		t.Fatalf("non-object = %v, %v", v, err)
	}
}

func TestTracedObjectsPredicate(t *testing.T) {
	depGVK := appsv1.SchemeGroupVersion.WithKind("Deployment")
	p := tracedObjects(depGVK, false)
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", Generation: 4, ResourceVersion: "10"},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2)}}

	statusOnly := dep.DeepCopy()
	statusOnly.ResourceVersion = "11"
	statusOnly.Status.ReadyReplicas = 2
	if p.Update(event.UpdateEvent{ObjectOld: dep, ObjectNew: statusOnly}) {
		t.Error("a status update of a Deployment was let through")
	}
	scaled := dep.DeepCopy()
	scaled.ResourceVersion, scaled.Generation = "12", 5
	scaled.Spec.Replicas = ptr.To[int32](3)
	if !p.Update(event.UpdateEvent{ObjectOld: dep, ObjectNew: scaled}) {
		t.Error("a spec change of a Deployment was filtered out")
	}
	relabeled := dep.DeepCopy()
	relabeled.ResourceVersion = "13"
	relabeled.Labels = map[string]string{"tier": "web"}
	if !p.Update(event.UpdateEvent{ObjectOld: dep, ObjectNew: relabeled}) {
		t.Error("a label change was filtered out")
	}

	// ConfigMaps have no generation: their content is compared.
	cmGVK := corev1.SchemeGroupVersion.WithKind("ConfigMap")
	pc := tracedObjects(cmGVK, false)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "settings", ResourceVersion: "1"}, Data: map[string]string{"k": "v"}}
	edited := cm.DeepCopy()
	edited.ResourceVersion = "2"
	edited.Data["k"] = "w"
	if !pc.Update(event.UpdateEvent{ObjectOld: cm, ObjectNew: edited}) {
		t.Error("a ConfigMap's data change was filtered out")
	}
	touched := cm.DeepCopy()
	touched.ResourceVersion = "3"
	if pc.Update(event.UpdateEvent{ObjectOld: cm, ObjectNew: touched}) {
		t.Error("a ConfigMap update without a change was let through")
	}
}
