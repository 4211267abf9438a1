package webhooks

import (
	"os"
	"slices"
	"regexp"
	"sort"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"sigs.k8s.io/yaml"

	"github.com/kubetrail/kubetrail/internal/policy"
	"github.com/kubetrail/kubetrail/internal/tracked"
)

// The webhook configuration is written by hand; these tests keep it equal to the Go
// tables it must agree with, so a kind added to internal/tracked (or an exemption to
// internal/policy) that the apiserver never sends to kubetrail fails here, not in a
// cluster.

func manifestWebhooks(t *testing.T) (mutating []admissionregistrationv1.MutatingWebhook, validating []admissionregistrationv1.ValidatingWebhook) {
	t.Helper()
	raw, err := os.ReadFile("../config/webhook/manifests.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("config/webhook/manifests.yaml: %v", err)
		}
		switch meta.Kind {
		case "MutatingWebhookConfiguration":
			var c admissionregistrationv1.MutatingWebhookConfiguration
			if err := yaml.UnmarshalStrict([]byte(doc), &c); err != nil {
				t.Fatal(err)
			}
			mutating = append(mutating, c.Webhooks...)
		case "ValidatingWebhookConfiguration":
			var c admissionregistrationv1.ValidatingWebhookConfiguration
			if err := yaml.UnmarshalStrict([]byte(doc), &c); err != nil {
				t.Fatal(err)
			}
			validating = append(validating, c.Webhooks...)
		}
	}
	return mutating, validating
}

// ruleResources lists the group/resource pairs the rules send, resources and
// subresources apart. Resources must be sent on CREATE and UPDATE; subresources (whose
// requests are all updates) on UPDATE.
func ruleResources(t *testing.T, name string, rules []admissionregistrationv1.RuleWithOperations) (resources, subresources []string) {
	t.Helper()
	for _, r := range rules {
		ops := map[admissionregistrationv1.OperationType]bool{}
		for _, op := range r.Operations {
			ops[op] = true
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				if strings.Contains(res, "/") {
					if !ops[admissionregistrationv1.Update] {
						t.Errorf("%s: rule %v must cover UPDATE", name, r.Resources)
					}
					subresources = append(subresources, g+"/"+res)
					continue
				}
				if !ops[admissionregistrationv1.Create] || !ops[admissionregistrationv1.Update] {
					t.Errorf("%s: rule %v must cover CREATE and UPDATE", name, r.Resources)
				}
				resources = append(resources, g+"/"+res)
			}
		}
	}
	sort.Strings(resources)
	sort.Strings(subresources)
	return resources, subresources
}

func trackedResources() (resources, subresources []string) {
	for _, k := range tracked.Default {
		resources = append(resources, k.GVK.Group+"/"+k.Resource)
		for _, sub := range k.Subresources {
			subresources = append(subresources, k.GVK.Group+"/"+k.Resource+"/"+sub)
		}
	}
	sort.Strings(resources)
	sort.Strings(subresources)
	return resources, subresources
}

func TestManifestsCoverEveryTrackedKind(t *testing.T) {
	mutating, validating := manifestWebhooks(t)
	resources, subresources := trackedResources()
	want, wantSub := strings.Join(resources, " "), strings.Join(subresources, " ")
	found := 0
	for _, w := range mutating {
		if w.Name == "stamp.kubetrail.io" {
			found++
			got, gotSub := ruleResources(t, w.Name, w.Rules)
			if strings.Join(got, " ") != want {
				t.Errorf("%s sends %s, internal/tracked lists %s", w.Name, got, want)
			}
			// The apiserver keeps only a subresource's own fields: a stamp would be lost.
			if len(gotSub) > 0 {
				t.Errorf("%s sends subresources %v, which it cannot stamp", w.Name, gotSub)
			}
			if w.ReinvocationPolicy == nil || *w.ReinvocationPolicy != admissionregistrationv1.IfNeededReinvocationPolicy {
				t.Errorf("%s must be reinvoked after later mutating webhooks (reinvocationPolicy: IfNeeded)", w.Name)
			}
		}
		for _, c := range w.MatchConditions {
			if strings.Contains(c.Expression, "ownerReferences") {
				t.Errorf("%s: matchCondition %s decides by ownerReferences, a field the client sets", w.Name, c.Name)
			}
		}
	}
	for _, w := range validating {
		if w.Name != "enforce.kubetrail.io" {
			continue
		}
		found++
		// Deletes are judged and attributed (spec.deletes, status.lastDeleteRequest).
		for _, r := range w.Rules {
			if !strings.Contains(strings.Join(r.Resources, ","), "/") && !slices.Contains(r.Operations, admissionregistrationv1.Delete) {
				t.Errorf("%s: rule %v must cover DELETE", w.Name, r.Resources)
			}
		}
		if w.SideEffects == nil || *w.SideEffects != admissionregistrationv1.SideEffectClassNoneOnDryRun {
			t.Errorf("%s records admitted deletes: sideEffects must be NoneOnDryRun", w.Name)
		}
		got, gotSub := ruleResources(t, w.Name, w.Rules)
		if strings.Join(got, " ") != want {
			t.Errorf("%s sends %s, internal/tracked lists %s", w.Name, got, want)
		}
		if strings.Join(gotSub, " ") != wantSub {
			t.Errorf("%s sends subresources %s, internal/tracked governs %s", w.Name, gotSub, wantSub)
		}
		for _, c := range w.MatchConditions {
			if strings.Contains(c.Expression, "ownerReferences") {
				t.Errorf("%s: matchCondition %s decides by ownerReferences, a field the client sets", w.Name, c.Name)
			}
		}
	}
	if found != 2 {
		t.Fatalf("found %d of the stamp and enforce webhooks", found)
	}
}

func TestManifestsExemptExactlyTheControlPlane(t *testing.T) {
	_, validating := manifestWebhooks(t)
	quoted := regexp.MustCompile(`'([^']*)'`)
	for _, w := range validating {
		if w.Name != "enforce.kubetrail.io" {
			continue
		}
		for _, c := range w.MatchConditions {
			if c.Name != "not-control-plane" {
				continue
			}
			if strings.Contains(c.Expression, "startsWith") {
				t.Errorf("not-control-plane exempts by prefix: %s", c.Expression)
			}
			var got []string
			for _, m := range quoted.FindAllStringSubmatch(c.Expression, -1) {
				got = append(got, m[1])
			}
			want := policy.SystemUsernames()
			sort.Strings(got)
			sort.Strings(want)
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("not-control-plane exempts\n%v\ninternal/policy.IsSystem exempts\n%v", got, want)
			}
			return
		}
	}
	t.Fatal("enforce.kubetrail.io has no not-control-plane matchCondition")
}
