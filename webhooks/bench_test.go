package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/clusterpolicy"
	"github.com/kubetrail/kubetrail/internal/provenance"
	"github.com/kubetrail/kubetrail/internal/secretscan"
	"github.com/kubetrail/kubetrail/internal/signing"
)

// BenchmarkAdmission measures both handlers on a typical stamped, signed Deployment
// (two containers, ten env vars) under an Enforce policy with signatures and secret
// scanning: the cost kubetrail adds to one deploy. Target: < 250 µs for both together.
func BenchmarkAdmission(b *testing.B) {
	ctx := context.Background()
	privPEM, pubPEM, err := signing.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	key, _ := signing.ParsePrivateKey(privPEM)
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1alpha1.AddToScheme(scheme)
	pol := &v1alpha1.TracePolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "prod", ResourceVersion: "1"},
		Spec: v1alpha1.TracePolicySpec{
			Mode:           v1alpha1.ModeEnforce,
			RequiredFields: []v1alpha1.ProvenanceField{v1alpha1.FieldCommit, v1alpha1.FieldRepository, v1alpha1.FieldApprover, v1alpha1.FieldSignature},
			Signing:        &v1alpha1.Signing{Required: true, PublicKeys: []v1alpha1.PublicKey{{Name: "ci", PEM: string(pubPEM)}}},
			SecretLiterals: v1alpha1.ActionDeny,
		},
	}
	ns := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"kubernetes.io/metadata.name": "shop"}}}
	ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	// Policies and namespaces are read as the manager reads them: from informer caches.
	// Key Secrets (none here) go to the apiserver, a fake client.
	informers := newInformerCache(scheme)
	informers.add(b, pol)
	informers.add(b, ns)
	policies := &clusterpolicy.Source{Cache: informers, Secrets: fake.NewClientBuilder().WithScheme(scheme).Build()}
	stamper := &Stamper{Policies: policies}
	enforcer := &Enforcer{Policies: policies}
	if err := secretscan.Load(); err != nil {
		b.Fatal(err)
	}

	// Every deploy carries a signature of its own, so the benchmark cycles through more
	// distinct signed requests than the verification cache holds: the mutating webhook
	// pays for one ed25519 check per request, the validating one finds it cached.
	const variants = 5000
	reqs := make([]admission.Request, variants)
	vreqs := make([]admission.Request, variants)
	for i := range reqs {
		obj := benchDeployment()
		ann := obj["metadata"].(map[string]interface{})["annotations"].(map[string]interface{})
		ann[provenance.PipelineRunKey] = fmt.Sprintf("https://ci.acme.dev/runs/%d", i)
		st := signing.StatementOf(obj)
		st.Expires = time.Now().Add(time.Hour)
		st.Audience = "bench"
		sig, err := signing.Sign(ctx, st, key)
		if err != nil {
			b.Fatal(err)
		}
		ann[provenance.SignatureKey] = sig
		raw, _ := json.Marshal(obj)
		reqs[i] = admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
			UID: "1", Operation: admissionv1.Create, Namespace: "shop", Name: "web",
			Kind:     metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"},
			Resource: metav1.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"},
			UserInfo: authenticationv1.UserInfo{Username: "system:serviceaccount:ci:deployer"},
			Object:   runtime.RawExtension{Raw: raw},
		}}
		// The validating webhook sees the object as the mutating one left it.
		mutated := stamper.Handle(ctx, reqs[i])
		if !mutated.Allowed {
			b.Fatalf("stamper denied: %v", mutated.Result)
		}
		applyPatches(b, obj, mutated)
		stampedRaw, _ := json.Marshal(obj)
		vreqs[i] = reqs[i]
		vreqs[i].Object = runtime.RawExtension{Raw: stampedRaw}
		if resp := enforcer.Handle(ctx, vreqs[i]); !resp.Allowed {
			b.Fatalf("enforcer denied: %v", resp.Result.Message)
		}
	}

	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if resp := stamper.Handle(ctx, reqs[i%variants]); !resp.Allowed {
			b.Fatal("denied")
		}
		if resp := enforcer.Handle(ctx, vreqs[i%variants]); !resp.Allowed {
			b.Fatal("denied")
		}
	}
}

// informerCache reads the way the manager's cache does (controller-runtime's
// CacheReader over client-go indexers, which the package keeps internal): Get returns
// a deep copy of the stored object, List with client.UnsafeDisableDeepCopy the stored
// objects themselves. A fake client would instead round-trip every object through
// JSON on each read, a cost the webhook does not have in a cluster.
type informerCache struct {
	scheme *runtime.Scheme
	stores map[schema.GroupVersionKind]toolscache.Indexer
}

var _ client.Reader = &informerCache{}

func newInformerCache(scheme *runtime.Scheme) *informerCache {
	return &informerCache{scheme: scheme, stores: map[schema.GroupVersionKind]toolscache.Indexer{}}
}

func (c *informerCache) gvk(obj runtime.Object) (schema.GroupVersionKind, error) {
	switch obj.(type) {
	case *metav1.PartialObjectMetadata, *metav1.PartialObjectMetadataList:
		return obj.GetObjectKind().GroupVersionKind(), nil
	}
	return apiutil.GVKForObject(obj, c.scheme)
}

func (c *informerCache) add(b *testing.B, obj client.Object) {
	gvk, err := c.gvk(obj)
	if err != nil {
		b.Fatal(err)
	}
	store := c.stores[gvk]
	if store == nil {
		store = toolscache.NewIndexer(toolscache.MetaNamespaceKeyFunc, toolscache.Indexers{toolscache.NamespaceIndex: toolscache.MetaNamespaceIndexFunc})
		c.stores[gvk] = store
	}
	if err := store.Add(obj); err != nil {
		b.Fatal(err)
	}
}

func (c *informerCache) Get(_ context.Context, key client.ObjectKey, out client.Object, _ ...client.GetOption) error {
	gvk, err := c.gvk(out)
	if err != nil {
		return err
	}
	storeKey := key.Name
	if key.Namespace != "" {
		storeKey = key.Namespace + "/" + key.Name
	}
	var item interface{}
	exists := false
	if store := c.stores[gvk]; store != nil {
		if item, exists, err = store.GetByKey(storeKey); err != nil {
			return err
		}
	}
	if !exists {
		return apierrors.NewNotFound(schema.GroupResource{Group: gvk.Group, Resource: gvk.Kind}, key.Name)
	}
	obj := item.(runtime.Object).DeepCopyObject()
	outVal, objVal := reflect.ValueOf(out), reflect.ValueOf(obj)
	if !objVal.Type().AssignableTo(outVal.Type()) {
		return fmt.Errorf("cache had type %s, but %s was asked for", objVal.Type(), outVal.Type())
	}
	reflect.Indirect(outVal).Set(reflect.Indirect(objVal))
	out.GetObjectKind().SetGroupVersionKind(gvk)
	return nil
}

func (c *informerCache) List(_ context.Context, list client.ObjectList, opts ...client.ListOption) error {
	var o client.ListOptions
	o.ApplyOptions(opts)
	gvk, err := c.gvk(list)
	if err != nil {
		return err
	}
	gvk.Kind = strings.TrimSuffix(gvk.Kind, "List")
	var items []interface{}
	if store := c.stores[gvk]; store != nil {
		items = store.List()
	}
	objs := make([]runtime.Object, 0, len(items))
	for _, item := range items {
		obj := item.(runtime.Object)
		if o.UnsafeDisableDeepCopy == nil || !*o.UnsafeDisableDeepCopy {
			obj = obj.DeepCopyObject()
			obj.GetObjectKind().SetGroupVersionKind(gvk)
		}
		objs = append(objs, obj)
	}
	return apimeta.SetList(list, objs)
}

func applyPatches(b *testing.B, obj map[string]interface{}, resp admission.Response) {
	for _, p := range resp.Patches {
		if p.Path == "/metadata/annotations" {
			obj["metadata"].(map[string]interface{})["annotations"] = p.Value
			continue
		}
		const prefix = "/metadata/annotations/"
		if k, ok := strings.CutPrefix(p.Path, prefix); ok {
			k = strings.ReplaceAll(strings.ReplaceAll(k, "~1", "/"), "~0", "~")
			obj["metadata"].(map[string]interface{})["annotations"].(map[string]interface{})[k] = p.Value
			continue
		}
		b.Fatalf("unexpected patch %s %s", p.Operation, p.Path)
	}
}

func benchDeployment() map[string]interface{} {
	env := []interface{}{}
	for _, kv := range [][2]string{{"LOG_LEVEL", "info"}, {"PORT", "8080"}, {"REGION", "eu-west-1"}, {"FEATURE_FLAGS", "checkout-v2,search"},
		{"DB_HOST", "db.shop.svc"}, {"DB_NAME", "shop"}, {"CACHE_TTL", "300"}, {"TRACING", "true"}, {"WORKERS", "4"}, {"TZ", "UTC"}} {
		env = append(env, map[string]interface{}{"name": kv[0], "value": kv[1]})
	}
	return map[string]interface{}{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]interface{}{"name": "web", "namespace": "shop", "annotations": map[string]interface{}{
			provenance.CommitKey: "0f3c2a9d5e7b41c8a6f0e2d4b9c1a3e5f7d9b2c4", provenance.RepositoryKey: "https://github.com/acme/shop",
			provenance.PullRequestKey: "42", provenance.PipelineRunKey: "https://ci.acme.dev/runs/7", provenance.ApproverKey: "alice,bob",
			provenance.ActorKey: "pipeline", provenance.SourceKey: "code",
		}},
		"spec": map[string]interface{}{
			"replicas": int64(3),
			"selector": map[string]interface{}{"matchLabels": map[string]interface{}{"app": "web"}},
			"template": map[string]interface{}{
				"metadata": map[string]interface{}{"labels": map[string]interface{}{"app": "web"}},
				"spec": map[string]interface{}{"containers": []interface{}{
					map[string]interface{}{"name": "app", "image": "ghcr.io/acme/web:1.4.0", "env": env,
						"args": []interface{}{"--listen=:8080", "--metrics"}, "ports": []interface{}{map[string]interface{}{"containerPort": int64(8080)}}},
					map[string]interface{}{"name": "proxy", "image": "envoyproxy/envoy:v1.31", "args": []interface{}{"-c", "/etc/envoy/envoy.yaml"}},
				}},
			},
		},
	}
}
