package webhooks

import (
	"context"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
)

// The TracePolicy webhook is called for creates and updates of TracePolicies (not
// their status), at the path the handler is served on, and fails closed.
func TestManifestsValidateTracePolicies(t *testing.T) {
	_, validating := manifestWebhooks(t)
	for _, w := range validating {
		if w.Name != "tracepolicies.kubetrail.io" {
			continue
		}
		if w.ClientConfig.Service == nil || w.ClientConfig.Service.Path == nil || *w.ClientConfig.Service.Path != ValidateTracePolicyPath {
			t.Errorf("%s calls %v, the handler is served on %s", w.Name, w.ClientConfig.Service, ValidateTracePolicyPath)
		}
		if w.FailurePolicy == nil || *w.FailurePolicy != admissionregistrationv1.Fail {
			t.Errorf("%s must fail closed", w.Name)
		}
		if len(w.Rules) != 1 || strings.Join(w.Rules[0].Resources, ",") != "tracepolicies" || strings.Join(w.Rules[0].APIGroups, ",") != "kubetrail.io" ||
			len(w.Rules[0].Operations) != 2 {
			t.Errorf("%s rules %+v, want CREATE and UPDATE of kubetrail.io tracepolicies", w.Name, w.Rules)
		}
		return
	}
	t.Fatal("config/webhook/manifests.yaml has no tracepolicies.kubetrail.io webhook")
}

func TestTracePolicyValidatorUpdates(t *testing.T) {
	ctx := context.Background()
	v := TracePolicyValidator{}
	stored := &v1alpha1.TracePolicy{ObjectMeta: metav1.ObjectMeta{Name: "typo"}, Spec: v1alpha1.TracePolicySpec{
		Mode: v1alpha1.ModeAudit, Ignore: []v1alpha1.IgnoreRule{{Paths: []string{"spec/replicas"}}}}}

	labelled := stored.DeepCopy()
	labelled.Labels = map[string]string{"owner": "platform"}
	warnings, err := v.ValidateUpdate(ctx, stored, labelled)
	if err != nil {
		t.Fatalf("a label change of a policy stored before validation was denied: %v", err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], `spec.ignore[0].paths[0]: Invalid value: "spec/replicas"`) {
		t.Errorf("warnings = %q, want the stored problem", warnings)
	}

	changed := labelled.DeepCopy()
	changed.Spec.Mode = v1alpha1.ModeEnforce
	if _, err := v.ValidateUpdate(ctx, stored, changed); !apierrors.IsInvalid(err) {
		t.Errorf("a spec change keeping the bad pointer: err = %v, want Invalid", err)
	}
	changed.Spec.Ignore[0].Paths = []string{"/spec/replicas"}
	if _, err := v.ValidateUpdate(ctx, stored, changed); err != nil {
		t.Errorf("the fixed policy was denied: %v", err)
	}
	if _, err := v.ValidateCreate(ctx, stored); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), `write "/spec/replicas"`) {
		t.Errorf("create: err = %v, want Invalid naming the fix", err)
	}
}
