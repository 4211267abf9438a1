package policy

import (
	"crypto/ed25519"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

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
func Compile(p *v1alpha1.TracePolicy, readSecret SecretReader) *Compiled {
	c := &Compiled{Name: p.Name, Spec: p.Spec, namespaces: labels.Everything()}
	if p.Spec.NamespaceSelector != nil {
		sel, err := metav1.LabelSelectorAsSelector(p.Spec.NamespaceSelector)
		if err != nil {
			c.Problems = append(c.Problems, fmt.Sprintf("spec.namespaceSelector: %v", err))
			// An invalid selector must not widen the policy to every namespace.
			sel = labels.Nothing()
		}
		c.namespaces = sel
	}
	if p.Spec.Signing != nil {
		for i, k := range p.Spec.Signing.PublicKeys {
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
	for _, w := range c.windows {
		if _, err := w.contains(metav1.Now().Time); err != nil {
			c.Problems = append(c.Problems, err.Error())
		}
	}
	return c
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
	if len(c.Spec.Resources) == 0 {
		return true
	}
	for _, r := range c.Spec.Resources {
		if r.Group != "*" && r.Group != group {
			continue
		}
		if len(r.Kinds) == 0 {
			return true
		}
		for _, k := range r.Kinds {
			if k == kind || k == "*" {
				return true
			}
		}
	}
	return false
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
