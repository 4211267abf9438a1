package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/kubetrail/kubetrail/internal/tracked"
	"net/url"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	v1alpha1 "github.com/kubetrail/kubetrail/api/v1alpha1"
)

// installNamespace holds the records of cluster-scoped targets.
const installNamespace = "kubetrail-system"

var (
	recordsGVR  = v1alpha1.GroupVersion.WithResource("tracerecords")
	policiesGVR = v1alpha1.GroupVersion.WithResource("tracepolicies")
)

// errNotInstalled is what every cluster verb says when the kubetrail CRDs are missing.
var errNotInstalled = errors.New("the TraceRecord API (kubetrail.io/v1alpha1) is not installed: install kubetrail with kubectl apply -k config/default")

// cluster is a connection to the API server, made by connect.
type cluster struct {
	host string
	cfg  *rest.Config
	dyn  dynamic.Interface
	disc discovery.DiscoveryInterface
	// namespace is the one -n or the kubeconfig context selects ("default" otherwise);
	// explicitNS is true when -n was given.
	namespace  string
	explicitNS bool
}

// connect builds the clients from the kubectl flags and checks that the API server
// answers, so that a wrong kubeconfig is reported once and clearly.
func (o *rootOptions) connect(ctx context.Context) (*cluster, error) {
	loader := o.configFlags.ToRawKubeConfigLoader()
	cfg, err := o.configFlags.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("no usable cluster configuration: %v; check --kubeconfig/--context", err)
	}
	ns, explicit, err := loader.Namespace()
	if err != nil {
		return nil, fmt.Errorf("cannot read the namespace from the kubeconfig: %v; check --kubeconfig/--context or give -n", err)
	}
	cfg = rest.CopyConfig(cfg)
	// why lists a dozen kinds: do not let client-side throttling slow it down.
	cfg.QPS, cfg.Burst = 50, 100
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	c := &cluster{host: cfg.Host, cfg: cfg, namespace: ns, explicitNS: explicit}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the cluster at %s: %v; check --kubeconfig/--context", c.host, err)
	}
	c.disc = disc
	if c.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		return nil, fmt.Errorf("cannot reach the cluster at %s: %v; check --kubeconfig/--context", c.host, err)
	}
	if _, err := disc.ServerVersion(); err != nil {
		switch {
		case apierrors.IsUnauthorized(err):
			return nil, fmt.Errorf("the cluster at %s does not accept the credentials: %v; check --kubeconfig/--context", c.host, err)
		case apierrors.IsForbidden(err):
			// /version is readable by everyone by default; a cluster that forbids it is
			// still reachable.
		default:
			return nil, fmt.Errorf("cannot reach the cluster at %s: %v; check --kubeconfig/--context", c.host, unwrapURL(err))
		}
	}
	return c, nil
}

// unwrapURL drops the "Get https://...:" prefix of a transport error: the URL is
// already in the message.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// apiError turns an error of a request about what (e.g. "list TraceRecords") into one
// that says what to do.
func (c *cluster) apiError(err error, what string) error {
	var se apierrors.APIStatus
	switch {
	case apierrors.IsForbidden(err):
		return fmt.Errorf("not allowed to %s: %w; ask for read access (kubectl auth can-i %s)", what, err, canI(what))
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("the cluster at %s does not accept the credentials: %v; check --kubeconfig/--context", c.host, err)
	case errors.As(err, &se):
		return fmt.Errorf("cannot %s: %w", what, err)
	}
	return fmt.Errorf("cannot %s on the cluster at %s: %v; check --kubeconfig/--context", what, c.host, unwrapURL(err))
}

func canI(what string) string {
	f := strings.Fields(what)
	if len(f) < 2 {
		return what
	}
	return strings.ToLower(f[0]) + " " + strings.ToLower(f[1])
}

// missingResource reports whether err says the resource type itself does not exist
// (a list answered 404: the CRD is not installed).
func missingResource(err error) bool {
	if !apierrors.IsNotFound(err) {
		return false
	}
	var se apierrors.APIStatus
	if errors.As(err, &se) {
		if d := se.Status().Details; d != nil && d.Name != "" {
			return false // a named object is missing, not the type
		}
	}
	return true
}

// listAll lists a resource through every page.
func (c *cluster) listAll(ctx context.Context, gvr schema.GroupVersionResource, ns string, opts metav1.ListOptions) ([]unstructured.Unstructured, error) {
	var out []unstructured.Unstructured
	opts.Limit = 500
	for {
		list, err := c.dyn.Resource(gvr).Namespace(ns).List(ctx, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, list.Items...)
		if list.GetContinue() == "" {
			return out, nil
		}
		opts.Continue = list.GetContinue()
	}
}

// listRecords lists TraceRecords in ns ("" for all namespaces), optionally by field
// selector.
func (c *cluster) listRecords(ctx context.Context, ns, fieldSelector string) ([]v1alpha1.TraceRecord, error) {
	items, err := c.listAll(ctx, recordsGVR, ns, metav1.ListOptions{FieldSelector: fieldSelector})
	if err != nil {
		if missingResource(err) {
			return nil, errNotInstalled
		}
		return nil, c.apiError(err, "list TraceRecords")
	}
	out := make([]v1alpha1.TraceRecord, 0, len(items))
	for i := range items {
		var r v1alpha1.TraceRecord
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(items[i].Object, &r); err != nil {
			return nil, fmt.Errorf("cannot read TraceRecord %s/%s: %v", items[i].GetNamespace(), items[i].GetName(), err)
		}
		out = append(out, r)
	}
	return out, nil
}

// getRecord reads one TraceRecord; nil when there is none.
func (c *cluster) getRecord(ctx context.Context, ns, name string) (*v1alpha1.TraceRecord, error) {
	u, err := c.dyn.Resource(recordsGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if missingResource(err) {
			return nil, errNotInstalled
		}
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, c.apiError(err, "get TraceRecords")
	}
	var r v1alpha1.TraceRecord
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &r); err != nil {
		return nil, fmt.Errorf("cannot read TraceRecord %s/%s: %v", ns, name, err)
	}
	return &r, nil
}

// listPolicies lists the TracePolicies.
func (c *cluster) listPolicies(ctx context.Context) ([]v1alpha1.TracePolicy, error) {
	items, err := c.listAll(ctx, policiesGVR, "", metav1.ListOptions{})
	if err != nil {
		if missingResource(err) {
			return nil, errNotInstalled
		}
		return nil, c.apiError(err, "list TracePolicies")
	}
	out := make([]v1alpha1.TracePolicy, 0, len(items))
	for i := range items {
		var p v1alpha1.TracePolicy
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(items[i].Object, &p); err != nil {
			return nil, fmt.Errorf("cannot read TracePolicy %s: %v", items[i].GetName(), err)
		}
		out = append(out, p)
	}
	return out, nil
}

// recordName is the name of the TraceRecord of kind/name, as the manager names it.
func recordName(kind, name string) string { return tracked.RecordName(kind, name) }
