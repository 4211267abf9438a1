package policy

import (
	"crypto/ed25519"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/signing"
)

// Compiled is a TracePolicy ready to evaluate: selectors parsed and keys read.
type Compiled struct {
	Name string
	Spec v1alpha1.TracePolicySpec
	// Keys are the trusted public keys that could be read.
	Keys []ed25519.PublicKey
	// Problems say what of the policy cannot be used (a key that does not parse, a
	// selector that is invalid). A policy with problems still applies what it can.
	Problems []string

	namespaces labels.Selector
	// windows are Spec.ChangeWindows, compiled.
	windows []window
}

// SecretReader returns the bytes of one key of a Secret.
type SecretReader func(ref v1alpha1.SecretKeyReference) ([]byte, error)

// Compile prepares p for evaluation. readSecret may be nil when no key is a secretRef.
//
// The problems of a policy are Validate's errors (the rules the TracePolicy webhook
// admits policies by) and the keys of secretRefs that cannot be read or parsed. A
// policy stored before those rules, or while the webhook was not there, is compiled
// without its bad parts: an ignore pointer that is invalid or covers a whole field is
// dropped (its changes stay tracked content), a key that does not parse is not
// trusted, an invalid namespaceSelector selects no namespace. So one typo in one
// policy never fails admission of the objects it selects.
func Compile(p *v1alpha1.TracePolicy, readSecret SecretReader) *Compiled {
	c := &Compiled{Name: p.Name, Spec: p.Spec, namespaces: labels.Everything()}
	errs := Validate(&p.Spec, field.NewPath("spec"))
	for _, e := range errs {
		c.Problems = append(c.Problems, e.Error())
	}
	c.Spec.Ignore = usableIgnoreRules(p.Spec.Ignore)
	if p.Spec.NamespaceSelector != nil {
		sel, err := metav1.LabelSelectorAsSelector(p.Spec.NamespaceSelector)
		if err != nil && !hasErrorUnder(errs, "spec.namespaceSelector") {
			c.Problems = append(c.Problems, fmt.Sprintf("spec.namespaceSelector: %v", err))
		}
		if err != nil || hasErrorUnder(errs, "spec.namespaceSelector") {
			// An invalid selector must not widen the policy to every namespace.
			sel = labels.Nothing()
		}
		c.namespaces = sel
	}
	if p.Spec.Signing != nil {
		for i, k := range p.Spec.Signing.PublicKeys {
			if hasErrorUnder(errs, fmt.Sprintf("spec.signing.publicKeys[%d]", i)) {
				continue // reported above, not trusted
			}
			path := fmt.Sprintf("spec.signing.publicKeys[%d] (%s)", i, k.Name)
			pemBytes := []byte(k.PEM)
			if k.SecretRef != nil {
				if readSecret == nil {
					c.Problems = append(c.Problems, path+": secretRef cannot be read here")
					continue
				}
				b, err := readSecret(*k.SecretRef)
				if err != nil {
					c.Problems = append(c.Problems, fmt.Sprintf("%s: reading Secret %s/%s key %q: %v", path, k.SecretRef.Namespace, k.SecretRef.Name, k.SecretRef.Key, err))
					continue
				}
				pemBytes = b
			}
			keys, err := signing.ParsePublicKeys(pemBytes)
			if err != nil {
				c.Problems = append(c.Problems, fmt.Sprintf("%s: %v", path, err))
				continue
			}
			c.Keys = append(c.Keys, keys...)
		}
	}
	c.windows = compileWindows(c.Spec.ChangeWindows)
	return c
}

// usableIgnoreRules returns rules without the pointers IgnorePathProblem refuses (a
// new slice: rules belong to the cached policy), and without rules left with none.
func usableIgnoreRules(rules []v1alpha1.IgnoreRule) []v1alpha1.IgnoreRule {
	bad := false
	for _, r := range rules {
		for _, path := range r.Paths {
			bad = bad || IgnorePathProblem(path) != ""
		}
	}
	if !bad {
		return rules
	}
	out := make([]v1alpha1.IgnoreRule, 0, len(rules))
	for _, r := range rules {
		var paths []string
		for _, path := range r.Paths {
			if IgnorePathProblem(path) == "" {
				paths = append(paths, path)
			}
		}
		if len(paths) > 0 {
			out = append(out, v1alpha1.IgnoreRule{Kinds: r.Kinds, Paths: paths})
		}
	}
	return out
}

// hasErrorUnder reports whether an error is about the field at path or one inside it.
func hasErrorUnder(errs field.ErrorList, path string) bool {
	for _, e := range errs {
		if e.Field == path || strings.HasPrefix(e.Field, path+".") || strings.HasPrefix(e.Field, path+"[") {
			return true
		}
	}
	return false
}

// Selects reports whether the policy applies to an object of group/kind, in a namespace
// with nsLabels (nil for cluster-scoped objects).
func (c *Compiled) Selects(group, kind string, namespaced bool, nsLabels map[string]string) bool {
	if namespaced && !c.namespaces.Matches(labels.Set(nsLabels)) {
		return false
	}
	// A policy scoped to some namespaces is about what runs there, not about
	// cluster-wide objects; those are governed by policies without a selector.
	if !namespaced && c.Spec.NamespaceSelector != nil {
		return false
	}
	return c.selectsKind(group, kind)
}

// IgnorePaths returns the JSON pointers the policies ignore for kind.
func IgnorePaths(policies []*Compiled, kind string) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range policies {
		for _, r := range p.Spec.Ignore {
			if len(r.Kinds) > 0 && !contains(r.Kinds, kind) {
				continue
			}
			for _, path := range r.Paths {
				if !seen[path] {
					seen[path] = true
					out = append(out, path)
				}
			}
		}
	}
	return out
}

// Keys returns every trusted key of the policies.
func Keys(policies []*Compiled) []ed25519.PublicKey {
	var out []ed25519.PublicKey
	for _, p := range policies {
		out = append(out, p.Keys...)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
