package policy

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
)

// NamespaceLabels returns a namespace's labels and whether it exists.
type NamespaceLabels func(name string) (map[string]string, bool)

// CoverageGaps says what a policy leaves open that its author may believe it closes,
// for its status: each gap names the field and what to do about it.
//
//   - A policy with a namespaceSelector never selects cluster-scoped objects, so it
//     does not govern the ClusterRoles and ClusterRoleBindings that can grant rights
//     in the namespaces it selects.
//   - A trusted submitter that is a ServiceAccount of a namespace the policy selects
//     can be borrowed by whoever may create tokens for it or impersonate it there (the
//     built-in edit role may do both in its namespace), and then submits as the
//     pipeline.
func CoverageGaps(c *Compiled, namespace NamespaceLabels, clusterScoped []schema.GroupKind) []string {
	var gaps []string
	if c.Spec.NamespaceSelector != nil {
		var ungoverned []string
		for _, gk := range clusterScoped {
			if c.selectsKind(gk.Group, gk.Kind) {
				ungoverned = append(ungoverned, gk.Kind)
			}
		}
		if len(ungoverned) > 0 {
			gaps = append(gaps, fmt.Sprintf("spec.namespaceSelector: a namespace-selected policy does not govern cluster-scoped %s, "+
				"though a ClusterRoleBinding can grant rights in the namespaces it selects; govern them with a TracePolicy without namespaceSelector", strings.Join(ungoverned, ", ")))
		}
	}
	for i, s := range c.Spec.TrustedSubmitters {
		if s.Kind != v1alpha1.SubjectServiceAccount {
			continue
		}
		nsLabels, ok := namespace(s.Namespace)
		if !ok || !c.namespaces.Matches(labels.Set(nsLabels)) {
			continue
		}
		gaps = append(gaps, fmt.Sprintf("spec.trustedSubmitters[%d]: ServiceAccount %s/%s lives in namespace %s, which this policy selects: "+
			"whoever may create its tokens or impersonate it there (the built-in edit role may) submits as the pipeline; "+
			"run the pipeline's ServiceAccount in a namespace only the pipeline's admins can write", i, s.Namespace, s.Name, s.Namespace))
	}
	return gaps
}

// selectsKind reports whether spec.resources covers group/kind (all kinds when empty).
func (c *Compiled) selectsKind(group, kind string) bool {
	if len(c.Spec.Resources) == 0 {
		return true
	}
	for _, r := range c.Spec.Resources {
		if r.Group != "*" && r.Group != group {
			continue
		}
		if len(r.Kinds) == 0 || contains(r.Kinds, kind) || contains(r.Kinds, "*") {
			return true
		}
	}
	return false
}
