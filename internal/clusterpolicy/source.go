// Package clusterpolicy reads the TracePolicies in force from the cluster and compiles
// them for internal/policy, for the webhooks and the reconciler alike. Unlike the pure
// packages it talks to the apiserver (through the manager's cache).
package clusterpolicy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/policy"
)

// Source finds the compiled TracePolicies that select an object. Policies come
// from the manager's cache; compiled ones are kept per resourceVersion so keys are
// parsed (and Secrets read) once per policy change, not per request.
type Source struct {
	// Cache reads TracePolicies, Namespaces, Roles and ClusterRoles.
	Cache client.Reader
	// Secrets reads key Secrets uncached: caching every Secret of the cluster would be
	// a needless copy of all its credentials in the manager's memory. It also answers
	// for namespaces the cache has not seen yet.
	Secrets client.Reader

	mu       sync.Mutex
	compiled map[string]*compiledEntry
	// all is what All returned last, sorted by name; valid while the listed policies
	// are still the compiled ones.
	all      []*policy.Compiled
	allValid bool
}

type compiledEntry struct {
	resourceVersion string
	policy          *policy.Compiled
}

// All returns every TracePolicy, compiled, sorted by name. The slice is shared:
// callers must not modify it.
//
// Both admission webhooks call it on every request. Listing from the cache is cheap
// (no copies); what is kept across requests is the compiled form (selectors, keys,
// change windows), per policy resourceVersion, and while no policy changed the very
// slice returned before, so a request costs no compiling and no allocation here.
func (s *Source) All(ctx context.Context) ([]*policy.Compiled, error) {
	var list v1alpha1.TracePolicyList
	// Read-only use: no need for the cache to deep-copy every policy per request.
	if err := s.Cache.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing TracePolicies: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.allValid && s.unchanged(list.Items) {
		return s.all, nil
	}
	if s.compiled == nil {
		s.compiled = map[string]*compiledEntry{}
	}
	seen := map[string]bool{}
	out := make([]*policy.Compiled, 0, len(list.Items))
	for i := range list.Items {
		p := &list.Items[i]
		seen[p.Name] = true
		e := s.compiled[p.Name]
		if e == nil || e.resourceVersion != p.ResourceVersion {
			e = &compiledEntry{resourceVersion: p.ResourceVersion, policy: policy.Compile(p, s.readSecret(ctx))}
			s.compiled[p.Name] = e
		}
		out = append(out, e.policy)
	}
	for name := range s.compiled {
		if !seen[name] {
			delete(s.compiled, name)
		}
	}
	// The cache lists in no particular order; a denial names its policies in this one.
	slices.SortFunc(out, func(a, b *policy.Compiled) int { return strings.Compare(a.Name, b.Name) })
	s.all, s.allValid = out, true
	return out, nil
}

// unchanged reports whether items are exactly the compiled policies, at the same
// resourceVersions. Names are unique, so equal counts and every item found make the
// two sets equal.
func (s *Source) unchanged(items []v1alpha1.TracePolicy) bool {
	if len(items) != len(s.compiled) {
		return false
	}
	for i := range items {
		e := s.compiled[items[i].Name]
		if e == nil || e.resourceVersion != items[i].ResourceVersion {
			return false
		}
	}
	return true
}

// Selecting returns the policies that select an object of group/kind in namespace
// (empty for cluster-scoped objects).
func (s *Source) Selecting(ctx context.Context, group, kind, namespace string) ([]*policy.Compiled, error) {
	all, err := s.All(ctx)
	if err != nil || len(all) == 0 {
		return nil, err
	}
	var nsLabels map[string]string
	if namespace != "" {
		var ns metav1.PartialObjectMetadata
		ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
		err := s.Cache.Get(ctx, types.NamespacedName{Name: namespace}, &ns)
		if apierrors.IsNotFound(err) && s.Secrets != nil {
			// A namespace created a moment ago (`kubectl create ns x && kubectl apply -n x`)
			// may not be in the cache yet: ask the apiserver before giving up.
			err = s.Secrets.Get(ctx, types.NamespacedName{Name: namespace}, &ns)
		}
		if err != nil {
			return nil, fmt.Errorf("reading namespace %s: %w", namespace, err)
		}
		nsLabels = ns.Labels
	}
	var out []*policy.Compiled
	for _, p := range all {
		if p.Selects(group, kind, namespace != "", nsLabels) {
			out = append(out, p)
		}
	}
	return out, nil
}

// InvalidateSecrets drops compiled policies so keys in Secrets are read again.
func (s *Source) InvalidateSecrets() {
	s.mu.Lock()
	s.compiled, s.all, s.allValid = nil, nil, false
	s.mu.Unlock()
}

// InvalidateSecret drops the compiled policies that read a key from Secret
// namespace/name, so that the next All reads it again: a key rotated or revoked in
// its Secret is trusted, or no longer, from the next request on, without a change of
// the policy. It reports whether any compiled policy reads that Secret. Called for
// every event of the Secrets' watch (WatchSecrets), it takes the lock All holds while
// compiling, so a compile that read the Secret before the event is dropped after it.
func (s *Source) InvalidateSecret(namespace, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	hit := false
	for n, e := range s.compiled {
		if ReadsSecret(&e.policy.Spec, namespace, name) {
			delete(s.compiled, n)
			hit = true
		}
	}
	if hit {
		s.all, s.allValid = nil, false
	}
	return hit
}

// ReadsSecret reports whether spec takes a trusted key from Secret namespace/name.
func ReadsSecret(spec *v1alpha1.TracePolicySpec, namespace, name string) bool {
	if spec.Signing == nil {
		return false
	}
	for _, k := range spec.Signing.PublicKeys {
		if r := k.SecretRef; r != nil && r.Namespace == namespace && r.Name == name {
			return true
		}
	}
	return false
}

// PoliciesReadingSecret returns the names of the TracePolicies (from the cache) that
// take a trusted key from Secret namespace/name.
func (s *Source) PoliciesReadingSecret(ctx context.Context, namespace, name string) ([]string, error) {
	var list v1alpha1.TracePolicyList
	if err := s.Cache.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing TracePolicies: %w", err)
	}
	var out []string
	for i := range list.Items {
		if ReadsSecret(&list.Items[i].Spec, namespace, name) {
			out = append(out, list.Items[i].Name)
		}
	}
	return out, nil
}

// EventSource is what WatchSecrets needs of an informer (controller-runtime's
// cache.Informer has it).
type EventSource interface {
	AddEventHandler(toolscache.ResourceEventHandler) (toolscache.ResourceEventHandlerRegistration, error)
}

// WatchSecrets invalidates, on every event of a Secret, the compiled policies that
// read a key from it (InvalidateSecret). informer is the manager's informer of Secret
// metadata (a metav1.PartialObjectMetadata informer: no Secret value is cached).
// Every replica that serves admission needs it, leader or not.
func (s *Source) WatchSecrets(informer EventSource) error {
	invalidate := func(obj interface{}) {
		if t, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
			obj = t.Obj
		}
		if m, ok := obj.(metav1.Object); ok {
			s.InvalidateSecret(m.GetNamespace(), m.GetName())
		}
	}
	_, err := informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    invalidate,
		UpdateFunc: func(_, obj interface{}) { invalidate(obj) },
		DeleteFunc: invalidate,
	})
	return err
}

func (s *Source) readSecret(ctx context.Context) policy.SecretReader {
	return func(ref v1alpha1.SecretKeyReference) ([]byte, error) {
		var sec corev1.Secret
		if err := s.Secrets.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, &sec); err != nil {
			return nil, err
		}
		b, ok := sec.Data[ref.Key]
		if !ok {
			return nil, fmt.Errorf("the Secret has no key %q", ref.Key)
		}
		return b, nil
	}
}

// RoleRules resolves the rules of a roleRef from the cache.
func (s *Source) RoleRules(ctx context.Context) policy.RoleRules {
	return func(kind, namespace, name string) ([]rbacv1.PolicyRule, bool) {
		switch kind {
		case "ClusterRole":
			var cr rbacv1.ClusterRole
			if err := s.Cache.Get(ctx, types.NamespacedName{Name: name}, &cr); err != nil {
				return nil, false
			}
			return cr.Rules, true
		case "Role":
			var r rbacv1.Role
			if err := s.Cache.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &r); err != nil {
				return nil, false
			}
			return r.Rules, true
		}
		return nil, false
	}
}
