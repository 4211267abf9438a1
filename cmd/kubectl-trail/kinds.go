package main

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"

	"github.com/kubetrail/kubetrail/internal/tracked"
)

// targetKind is a resolved KIND argument.
type targetKind struct {
	GVR        schema.GroupVersionResource
	Kind       string
	Namespaced bool
	// Tracked is true for the kinds kubetrail traces by default.
	Tracked bool
}

// lookupTrackedKind resolves a kubectl-style resource name against the tracked kinds:
// the kind (any case), its singular or plural resource name, a short name, each
// optionally followed by ".<group>" (deployments.apps).
func lookupTrackedKind(arg string) (targetKind, bool) {
	k, ok := tracked.Default.Find(arg)
	if !ok {
		return targetKind{}, false
	}
	return targetKind{GVR: k.GVR(), Kind: k.GVK.Kind, Namespaced: k.Namespaced, Tracked: true}, true
}

// resolveKind resolves KIND: the tracked kinds first, then whatever the API server's
// discovery knows (kubetrail can be configured to trace more kinds).
func (c *cluster) resolveKind(arg string) (targetKind, error) {
	if k, ok := lookupTrackedKind(arg); ok {
		return k, nil
	}
	mapper := restmapper.NewShortcutExpander(
		restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(c.disc)), c.disc, nil)
	gvr, err := mapper.ResourceFor(schema.ParseGroupResource(strings.ToLower(arg)).WithVersion(""))
	if err != nil {
		return targetKind{}, fmt.Errorf("unknown kind %q: give a resource type as kubectl knows it (deployment, deploy, sa, cm, clusterrolebinding, ...)", arg)
	}
	gvk, err := mapper.KindFor(gvr)
	if err != nil {
		return targetKind{}, fmt.Errorf("unknown kind %q: %v", arg, err)
	}
	m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return targetKind{}, fmt.Errorf("unknown kind %q: %v", arg, err)
	}
	return targetKind{GVR: gvr, Kind: gvk.Kind, Namespaced: m.Scope.Name() == meta.RESTScopeNameNamespace}, nil
}

// parseTarget splits the arguments of why: "KIND/NAME" or "KIND NAME".
func parseTarget(args []string) (kind, name string, err error) {
	switch len(args) {
	case 1:
		kind, name, ok := strings.Cut(args[0], "/")
		if !ok || kind == "" || name == "" || strings.Contains(name, "/") {
			return "", "", fmt.Errorf("give the object as KIND/NAME, e.g. deployment/web (got %q)", args[0])
		}
		return kind, name, nil
	case 2:
		if strings.Contains(args[0], "/") || strings.Contains(args[1], "/") {
			return "", "", fmt.Errorf("give the object as KIND/NAME or KIND NAME, e.g. deployment/web (got %q)", strings.Join(args, " "))
		}
		return args[0], args[1], nil
	}
	return "", "", fmt.Errorf("give one object as KIND/NAME, e.g. kubectl trail why deployment/web -n shop")
}
