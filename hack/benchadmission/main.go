// Command benchadmission is the load generator of hack/bench-admission.sh. It measures
// admission overhead through the real apiserver: it creates and then updates
// Deployments (80%), ConfigMaps (10%) and RoleBindings (10%) at a given concurrency and
// records each request's latency as the client sees it.
//
// Every object is stamped with kubetrail's provenance annotations and signed before the
// clock starts, over its server-side dry run (internal/signing), so neither signing nor
// the dry run is part of what is measured.
// The program does not know which admission webhooks are installed: the caller switches
// modes (no webhooks, kubetrail, Kyverno) and names the mode with -mode; `probe` checks
// that the mode is really in effect before the run.
//
//	benchadmission keygen -out DIR
//	benchadmission probe  -kubeconfig K -key DIR/signing.key -mode kubetrail|kyverno|none
//	benchadmission settle -kubeconfig K
//	benchadmission run    -kubeconfig K -key DIR/signing.key -mode M -round R -objects N -concurrency 1,10,50 -out results.jsonl
//	benchadmission report -in results.jsonl [-machine TEXT] [-command TEXT]
package main

import (
	"context"
	"crypto/ed25519"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubetrail/kubetrail/internal/provenance"
	"github.com/kubetrail/kubetrail/internal/signing"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "keygen":
		err = keygenCmd(os.Args[2:])
	case "probe":
		err = probeCmd(os.Args[2:])
	case "settle":
		err = settleCmd(os.Args[2:])
	case "run":
		err = runCmd(os.Args[2:])
	case "report":
		err = reportCmd(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchadmission %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: benchadmission keygen|probe|settle|run|report [flags] (see the package comment)")
	os.Exit(2)
}

// ---------------------------------------------------------------------------------
// keygen

func keygenCmd(args []string) error {
	fs := flag.NewFlagSet("keygen", flag.ExitOnError)
	out := fs.String("out", ".", "directory to write signing.key and signing.pub to")
	_ = fs.Parse(args)
	priv, pub, err := signing.GenerateKey()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, "signing.key"), priv, 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(*out, "signing.pub"), pub, 0o644)
}

// ---------------------------------------------------------------------------------
// Shared: client and objects

func newClient(kubeconfig string) (*kubernetes.Clientset, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	// No client-side throttling: the load generator must not be the bottleneck.
	cfg.QPS, cfg.Burst = 1e6, 1e6
	cfg.Timeout = 60 * time.Second
	cfg.WarningHandler = rest.NoWarnings{}
	cfg.UserAgent = "kubetrail-benchadmission"
	return kubernetes.NewForConfig(cfg)
}

func loadKey(path string) (ed25519.PrivateKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return signing.ParsePrivateKey(raw)
}

// hexOf is a deterministic 40-hex "commit SHA" for a string.
func hexOf(s string) string {
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// provenanceFor is what a pipeline stamps: the same keys on every object, values that
// change with every generation (commit, pipeline run).
func provenanceFor(name string, gen int) map[string]string {
	return map[string]string{
		provenance.CommitKey:      hexOf(fmt.Sprintf("%s/%d", name, gen)),
		provenance.RepositoryKey:  "https://github.com/acme/shop",
		provenance.PullRequestKey: strconv.Itoa(100 + gen),
		provenance.PipelineRunKey: fmt.Sprintf("https://ci.acme.dev/runs/%d", 1000+gen),
		provenance.ApproverKey:    "alice,bob",
		provenance.ActorKey:       provenance.ActorPipeline,
		provenance.SourceKey:      provenance.SourceCode,
	}
}

// sign adds kubetrail.io/signature to obj's annotations, signed over the statement of
// the object as the apiserver will store it: what `kubectl trail stamp --key
// --server-dry-run` does. A statement of the manifest as written would not verify,
// since server-side defaulting (a Deployment's strategy, a container's
// terminationMessagePath) is tracked content. The dry run is a create under a
// generated name, so that it works whether or not the object exists yet; the name is
// put back before signing (the digest does not cover it, the statement names it).
func sign(ctx context.Context, cs *kubernetes.Clientset, obj runtime.Object, gvkAPIVersion, kind string, key ed25519.PrivateKey) error {
	u, err := serverForm(ctx, cs, obj, kind)
	if err != nil {
		return fmt.Errorf("server-side dry run of %s %s: %w", kind, obj.(metav1.Object).GetName(), err)
	}
	u["apiVersion"], u["kind"] = gvkAPIVersion, kind
	st := signing.StatementOf(u)
	st.Expires = time.Now().Add(24 * time.Hour)
	st.Audience = "benchadmission"
	sig, err := signing.Sign(ctx, st, key)
	if err != nil {
		return err
	}
	m := obj.(metav1.Object)
	ann := m.GetAnnotations()
	ann[provenance.SignatureKey] = sig
	m.SetAnnotations(ann)
	return nil
}

// serverForm returns obj as a server-side dry-run create returns it, under obj's name.
func serverForm(ctx context.Context, cs *kubernetes.Clientset, obj runtime.Object, kind string) (map[string]interface{}, error) {
	probe := obj.DeepCopyObject()
	m := probe.(metav1.Object)
	name, ns := m.GetName(), m.GetNamespace()
	m.SetName("")
	m.SetGenerateName("sig-")
	var got metav1.Object
	var err error
	// A namespace created a moment ago may not be in the webhooks' cache yet (see
	// ensureNamespace): retry that one error for a while.
	for start := time.Now(); ; time.Sleep(time.Second) {
		got, err = doCreate(ctx, cs, ns, op{kind: kind, create: probe}, true)
		if err == nil || !strings.Contains(err.Error(), "reading namespace") || time.Since(start) > 30*time.Second {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(got)
	if err != nil {
		return nil, err
	}
	md, _ := u["metadata"].(map[string]interface{})
	md["name"] = name
	delete(md, "generateName")
	return u, nil
}

const roleName = "bench-reader"

func deployment(ns, name string, gen int, replicas int32) *appsv1.Deployment {
	env := []corev1.EnvVar{}
	for _, kv := range [][2]string{{"LOG_LEVEL", "info"}, {"PORT", "8080"}, {"REGION", "eu-west-1"}, {"FEATURE_FLAGS", "checkout-v2,search"},
		{"DB_HOST", "db.shop.svc"}, {"DB_NAME", "shop"}, {"CACHE_TTL", "300"}, {"TRACING", "true"}, {"WORKERS", "4"}, {"TZ", "UTC"}} {
		env = append(env, corev1.EnvVar{Name: kv[0], Value: kv[1]})
	}
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: provenanceFor(name, gen)},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{
					{Name: "app", Image: fmt.Sprintf("ghcr.io/acme/web:1.4.%d", gen), Env: env,
						Args: []string{"--listen=:8080", "--metrics"}, Ports: []corev1.ContainerPort{{ContainerPort: 8080}}},
					{Name: "proxy", Image: "envoyproxy/envoy:v1.31", Args: []string{"-c", "/etc/envoy/envoy.yaml"}},
				}},
			},
		},
	}
}

func configMap(ns, name string, gen int) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: provenanceFor(name, gen)},
		Data: map[string]string{
			"LOG_LEVEL":      "info",
			"RELEASE":        fmt.Sprintf("1.4.%d", gen),
			"app.properties": fmt.Sprintf("listen=:8080\nregion=eu-west-1\ncache.ttl=300\nrelease=1.4.%d\nfeature.checkout-v2=true\n", gen),
		},
	}
}

func roleBinding(ns, name string, gen int) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: provenanceFor(name, gen)},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: roleName},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "web", Namespace: ns}},
	}
}

func role(ns string) *rbacv1.Role {
	return &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: roleName, Namespace: ns, Annotations: provenanceFor(roleName, 0)},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch"}}},
	}
}

// op is one prepared request: a create, or an update sent as a JSON merge patch
// (what `kubectl apply` amounts to: no read-modify-write, so no conflicts with the
// deployment controller, which writes the Deployment's revision annotation).
type op struct {
	kind   string // Deployment, ConfigMap, RoleBinding
	name   string
	create runtime.Object
	patch  []byte
}

func kindOf(i int) string {
	switch i % 10 {
	case 8:
		return "ConfigMap"
	case 9:
		return "RoleBinding"
	default:
		return "Deployment"
	}
}

// prepare builds the signed create objects and update patches of n objects named
// <prefix>-<kind>-<i>.
func prepare(ctx context.Context, cs *kubernetes.Clientset, ns, prefix string, n int, replicas int32, key ed25519.PrivateKey) ([]op, error) {
	ops := make([]op, n)
	for i := range ops {
		kind := kindOf(i)
		name := fmt.Sprintf("%s-%s-%04d", prefix, strings.ToLower(kind), i)
		var created, updated runtime.Object
		var apiVersion string
		switch kind {
		case "Deployment":
			created, updated, apiVersion = deployment(ns, name, 0, replicas), deployment(ns, name, 1, replicas), "apps/v1"
		case "ConfigMap":
			created, updated, apiVersion = configMap(ns, name, 0), configMap(ns, name, 1), "v1"
		case "RoleBinding":
			created, updated, apiVersion = roleBinding(ns, name, 0), roleBinding(ns, name, 1), "rbac.authorization.k8s.io/v1"
		}
		if err := sign(ctx, cs, created, apiVersion, kind, key); err != nil {
			return nil, err
		}
		if err := sign(ctx, cs, updated, apiVersion, kind, key); err != nil {
			return nil, err
		}
		patch := map[string]interface{}{"metadata": map[string]interface{}{"annotations": updated.(metav1.Object).GetAnnotations()}}
		switch u := updated.(type) {
		case *appsv1.Deployment:
			patch["spec"] = map[string]interface{}{"template": map[string]interface{}{"spec": map[string]interface{}{"containers": u.Spec.Template.Spec.Containers}}}
		case *corev1.ConfigMap:
			patch["data"] = u.Data
		}
		raw, err := json.Marshal(patch)
		if err != nil {
			return nil, err
		}
		ops[i] = op{kind: kind, name: name, create: created, patch: raw}
	}
	return ops, nil
}

func doCreate(ctx context.Context, cs *kubernetes.Clientset, ns string, o op, dryRun bool) (metav1.Object, error) {
	opts := metav1.CreateOptions{}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	switch obj := o.create.(type) {
	case *appsv1.Deployment:
		return cs.AppsV1().Deployments(ns).Create(ctx, obj, opts)
	case *corev1.ConfigMap:
		return cs.CoreV1().ConfigMaps(ns).Create(ctx, obj, opts)
	case *rbacv1.RoleBinding:
		return cs.RbacV1().RoleBindings(ns).Create(ctx, obj, opts)
	case *rbacv1.Role:
		return cs.RbacV1().Roles(ns).Create(ctx, obj, opts)
	}
	return nil, fmt.Errorf("unknown object %T", o.create)
}

func doUpdate(ctx context.Context, cs *kubernetes.Clientset, ns string, o op) error {
	var err error
	switch o.kind {
	case "Deployment":
		_, err = cs.AppsV1().Deployments(ns).Patch(ctx, o.name, types.MergePatchType, o.patch, metav1.PatchOptions{})
	case "ConfigMap":
		_, err = cs.CoreV1().ConfigMaps(ns).Patch(ctx, o.name, types.MergePatchType, o.patch, metav1.PatchOptions{})
	case "RoleBinding":
		_, err = cs.RbacV1().RoleBindings(ns).Patch(ctx, o.name, types.MergePatchType, o.patch, metav1.PatchOptions{})
	}
	return err
}

// ensureNamespace creates ns (labelled as a bench namespace) and the signed Role the
// RoleBindings refer to.
func ensureNamespace(ctx context.Context, cs *kubernetes.Clientset, ns string, key ed25519.PrivateKey) error {
	_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
		Labels: map[string]string{"bench.kubetrail.io/admission": "true"}}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", ns, err)
	}
	r := role(ns)
	if err := sign(ctx, cs, r, "rbac.authorization.k8s.io/v1", "Role", key); err != nil {
		return err
	}
	// kubetrail's webhooks read the namespace from the manager's informer cache, which
	// may not have seen a namespace created a moment ago: they then deny the request
	// ("reading namespace ...: not found"). Setup retries; the measured requests come
	// seconds later.
	for start := time.Now(); ; {
		_, err = cs.RbacV1().Roles(ns).Create(ctx, r, metav1.CreateOptions{})
		if err == nil || apierrors.IsAlreadyExists(err) {
			return nil
		}
		if !strings.Contains(err.Error(), "reading namespace") || time.Since(start) > 30*time.Second {
			return fmt.Errorf("creating role %s/%s: %w", ns, roleName, err)
		}
		fmt.Fprintf(os.Stderr, "[benchadmission] retrying: %v\n", err)
		time.Sleep(200 * time.Millisecond)
	}
}

// cleanup deletes what a block created, then waits until the garbage collector has
// removed the Deployments' ReplicaSets, so that its work does not overlap the next block.
func cleanup(ctx context.Context, cs *kubernetes.Clientset, ns string) error {
	all := metav1.ListOptions{}
	del := metav1.DeleteOptions{}
	if err := cs.AppsV1().Deployments(ns).DeleteCollection(ctx, del, all); err != nil {
		return err
	}
	if err := cs.CoreV1().ConfigMaps(ns).DeleteCollection(ctx, del, metav1.ListOptions{FieldSelector: "metadata.name!=kube-root-ca.crt"}); err != nil {
		return err
	}
	if err := cs.RbacV1().RoleBindings(ns).DeleteCollection(ctx, del, all); err != nil {
		return err
	}
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		rs, err := cs.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{Limit: 1})
		if err == nil && len(rs.Items) == 0 {
			return nil
		}
		time.Sleep(500 * time.Millisecond)
	}
	return errors.New("timed out waiting for the garbage collector to remove the ReplicaSets")
}

// ---------------------------------------------------------------------------------
// probe: is the mode really in effect?

func probeCmd(args []string) error {
	fs := flag.NewFlagSet("probe", flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig of the cluster")
	keyPath := fs.String("key", "", "signing key (PEM) the kubetrail TracePolicy trusts")
	mode := fs.String("mode", "", "none, kubetrail or kyverno")
	ns := fs.String("namespace", "bench-probe", "namespace for the dry-run requests")
	timeout := fs.Duration("timeout", 3*time.Minute, "how long to wait for the mode to take effect")
	_ = fs.Parse(args)
	cs, err := newClient(*kubeconfig)
	if err != nil {
		return err
	}
	key, err := loadKey(*keyPath)
	if err != nil {
		return err
	}
	ctx := context.Background()
	deadline := time.Now().Add(*timeout)
	var last error
	for attempt := 0; ; attempt++ {
		// The namespace's signed Role, too, needs the webhooks of the mode to answer.
		last = ensureNamespace(ctx, cs, *ns, key)
		if last == nil {
			last = probeOnce(ctx, cs, *ns, *mode, key, attempt)
		}
		if last == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("mode %s not in effect after %s: %w", *mode, *timeout, last)
		}
		time.Sleep(time.Second)
	}
}

// probeOnce sends two server-side dry runs: a signed, stamped Deployment and an
// unstamped ConfigMap. With no webhooks both are admitted untouched; kubetrail and
// Kyverno each admit the first with their own annotation and deny the second.
func probeOnce(ctx context.Context, cs *kubernetes.Clientset, ns, mode string, key ed25519.PrivateKey, attempt int) error {
	ops, err := prepare(ctx, cs, ns, fmt.Sprintf("probe-%d", attempt), 1, 0, key)
	if err != nil {
		return err
	}
	got, err := doCreate(ctx, cs, ns, ops[0], true)
	if err != nil {
		return fmt.Errorf("the signed Deployment was not admitted: %w", err)
	}
	ann := got.GetAnnotations()
	kt := ann[provenance.AdmittedByKey] != ""
	ky := ann["kyverno.io/last-admitted-by"] != ""
	unstamped := op{kind: "ConfigMap", create: &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "probe-unstamped", Namespace: ns}}}
	_, denyErr := doCreate(ctx, cs, ns, unstamped, true)
	denied := denyErr != nil
	switch toolOf(mode) {
	case "none":
		if kt || ky || denied {
			return fmt.Errorf("a webhook still answers (kubetrail stamp %v, kyverno stamp %v, unstamped denied: %v)", kt, ky, denyErr)
		}
	case "kubetrail":
		if !kt || ky || !denied || !strings.Contains(denyErr.Error(), "kubetrail.io/commit") {
			return fmt.Errorf("kubetrail stamp %v, kyverno stamp %v, unstamped denied: %v", kt, ky, denyErr)
		}
	case "kyverno":
		if kt || !ky || !denied || !strings.Contains(strings.ToLower(denyErr.Error()), "kyverno") {
			return fmt.Errorf("kubetrail stamp %v, kyverno stamp %v, unstamped denied: %v", kt, ky, denyErr)
		}
	default:
		return fmt.Errorf("unknown mode %q", mode)
	}
	return nil
}

// toolOf maps a mode to the admission tool it runs: kubetrail-admission-only is
// kubetrail with its reconcilers off.
func toolOf(mode string) string {
	if strings.HasPrefix(mode, "kubetrail") {
		return "kubetrail"
	}
	return mode
}

// ---------------------------------------------------------------------------------
// settle: wait until the apiserver sees no background writes

func settleCmd(args []string) error {
	fs := flag.NewFlagSet("settle", flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig of the cluster")
	maxRate := fs.Float64("max-writes", 5, "writes per second below which the cluster counts as quiet")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up waiting after this long (not an error)")
	_ = fs.Parse(args)
	cs, err := newClient(*kubeconfig)
	if err != nil {
		return err
	}
	rate, waited, err := settle(context.Background(), cs, *maxRate, *timeout)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "[benchadmission] quiet after %s (%.1f writes/s)\n", waited.Round(100*time.Millisecond), rate)
	return nil
}

// settle polls the apiserver's request counters until two consecutive one-second
// windows see fewer than maxRate writes per second: the controllers' follow-up work
// (ReplicaSets, TraceRecords, Kyverno's reports, garbage collection) of the previous
// block is done.
func settle(ctx context.Context, cs *kubernetes.Clientset, maxRate float64, timeout time.Duration) (float64, time.Duration, error) {
	start := time.Now()
	prev, err := writeCount(ctx, cs)
	if err != nil {
		return 0, 0, err
	}
	prevAt := time.Now()
	quiet := 0
	var rate float64
	for {
		time.Sleep(time.Second)
		n, err := writeCount(ctx, cs)
		if err != nil {
			return 0, 0, err
		}
		now := time.Now()
		rate = (n - prev) / now.Sub(prevAt).Seconds()
		prev, prevAt = n, now
		if rate < maxRate {
			quiet++
		} else {
			quiet = 0
		}
		if quiet >= 2 || time.Since(start) > timeout {
			return rate, time.Since(start), nil
		}
	}
}

func writeCount(ctx context.Context, cs *kubernetes.Clientset) (float64, error) {
	m, err := scrape(ctx, cs)
	if err != nil {
		return 0, err
	}
	return m.writes, nil
}

// apiMetrics is what the bench reads from the apiserver's /metrics.
type apiMetrics struct {
	writes   float64                // apiserver_request_total of POST, PUT, PATCH, DELETE, APPLY
	webhooks map[string]WebhookTime // apiserver_admission_webhook_admission_duration_seconds by webhook
}

// WebhookTime is the time the apiserver spent calling one admission webhook: the call
// as the apiserver sees it (encoding, TLS, the webhook's queueing and handler, decoding).
type WebhookTime struct {
	Calls   float64 `json:"calls"`
	Seconds float64 `json:"seconds"`
}

func scrape(ctx context.Context, cs *kubernetes.Clientset) (apiMetrics, error) {
	m := apiMetrics{webhooks: map[string]WebhookTime{}}
	raw, err := cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return m, fmt.Errorf("reading the apiserver's /metrics: %w", err)
	}
	value := func(line string) float64 {
		v, _ := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		return v
	}
	label := func(line, name string) string {
		i := strings.Index(line, name+`="`)
		if i < 0 {
			return ""
		}
		rest := line[i+len(name)+2:]
		return rest[:strings.IndexByte(rest, '"')]
	}
	for _, line := range strings.Split(string(raw), "\n") {
		switch {
		case strings.HasPrefix(line, "apiserver_request_total{"):
			switch label(line, "verb") {
			case "POST", "PUT", "PATCH", "DELETE", "APPLY":
				m.writes += value(line)
			}
		case strings.HasPrefix(line, "apiserver_admission_webhook_admission_duration_seconds_sum{"):
			w := m.webhooks[label(line, "name")]
			w.Seconds += value(line)
			m.webhooks[label(line, "name")] = w
		case strings.HasPrefix(line, "apiserver_admission_webhook_admission_duration_seconds_count{"):
			w := m.webhooks[label(line, "name")]
			w.Calls += value(line)
			m.webhooks[label(line, "name")] = w
		}
	}
	return m, nil
}

// webhookDelta is after - before, per webhook.
func webhookDelta(before, after apiMetrics) map[string]WebhookTime {
	out := map[string]WebhookTime{}
	for name, a := range after.webhooks {
		b := before.webhooks[name]
		if d := (WebhookTime{Calls: a.Calls - b.Calls, Seconds: a.Seconds - b.Seconds}); d.Calls > 0 {
			out[name] = d
		}
	}
	return out
}

// ---------------------------------------------------------------------------------
// run

// Phase is one measured phase (all creates or all updates) of a block.
type Phase struct {
	Requests  int       `json:"requests"`
	WallMs    float64   `json:"wallMs"`
	Latencies []float64 `json:"latenciesMs"` // per request, in request order, failed ones included
	Kinds     []string  `json:"kinds"`       // kind of each request
	Errors    int       `json:"errors"`      // requests that failed (timeouts, denials)
	// ErrorSamples are the first few errors.
	ErrorSamples []string `json:"errorSamples,omitempty"`
}

// Block is one mode × concurrency × round.
type Block struct {
	Mode          string     `json:"mode"`
	Round         int        `json:"round"`
	Concurrency   int        `json:"concurrency"`
	Objects       int        `json:"objects"`
	Namespace     string     `json:"namespace"`
	Started       time.Time  `json:"started"`
	LoadBefore    [3]float64 `json:"loadavgBefore"`
	LoadAfter     [3]float64 `json:"loadavgAfter"`
	SettleSeconds float64    `json:"settleSeconds"`
	Create        Phase      `json:"create"`
	Update        Phase      `json:"update"`
	// Webhooks is the apiserver's time in each admission webhook during the measured
	// phases (the bench's requests and any background requests the webhooks saw).
	Webhooks map[string]WebhookTime `json:"webhooks"`
	// CPUSeconds is the CPU time (user+system) each process of the control plane used
	// during the measured phases, from /proc/<pid>/stat. Unlike latency it does not grow
	// with the machine's load from other work.
	CPUSeconds map[string]float64 `json:"cpuSeconds"`
	// IdleCPUPerSecond is each process's CPU use per second of wall time in the quiet
	// seconds just before the measured phases.
	IdleCPUPerSecond map[string]float64 `json:"idleCpuPerSecond"`
	// MeasuredSeconds is the wall time from the first create to the last update.
	MeasuredSeconds float64 `json:"measuredSeconds"`
}

// idleSample is how long runBlock watches the processes idle before a block.
const idleSample = 4 * time.Second

func runCmd(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig of the cluster")
	keyPath := fs.String("key", "", "signing key (PEM) the kubetrail TracePolicy trusts")
	mode := fs.String("mode", "", "label of the admission setup in effect (none, kubetrail, kyverno)")
	round := fs.Int("round", 1, "round number, for the record")
	objects := fs.Int("objects", 150, "objects per concurrency level in this block (each is created, then updated)")
	conc := fs.String("concurrency", "1,10,50", "comma-separated concurrency levels, run in this order")
	warmup := fs.Int("warmup", 20, "unmeasured creates+updates before each measured block")
	replicas := fs.Int("replicas", 0, "spec.replicas of the Deployments (0: no Pods, there is no scheduler or kubelet)")
	out := fs.String("out", "", "append one JSON line per block to this file")
	keep := fs.Bool("keep", false, "keep the objects afterwards (default: delete them and wait for the garbage collector)")
	pidDir := fs.String("pids", "", "directory of pid files (one per process, named after it) whose CPU time to record")
	_ = fs.Parse(args)
	if *mode == "" || *out == "" || *keyPath == "" {
		return errors.New("-mode, -key and -out are required")
	}
	var levels []int
	for _, s := range strings.Split(*conc, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || c < 1 {
			return fmt.Errorf("bad concurrency %q", s)
		}
		levels = append(levels, c)
	}
	cs, err := newClient(*kubeconfig)
	if err != nil {
		return err
	}
	key, err := loadKey(*keyPath)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(*out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	ctx := context.Background()
	for _, c := range levels {
		ns := fmt.Sprintf("bench-%s-r%d-c%d", *mode, *round, c)
		b, err := runBlock(ctx, cs, key, ns, *mode, *round, c, *objects, *warmup, int32(*replicas), *pidDir)
		if err != nil {
			return fmt.Errorf("%s: %w", ns, err)
		}
		line, _ := json.Marshal(b)
		if _, err := f.Write(append(line, '\n')); err != nil {
			return err
		}
		s := summarize(b.Create.Latencies, b.Create.WallMs)
		u := summarize(b.Update.Latencies, b.Update.WallMs)
		fmt.Fprintf(os.Stderr, "[benchadmission] %-9s round %d c=%-3d create p50 %6.2f ms p99 %7.2f ms %6.0f/s | update p50 %6.2f ms p99 %7.2f ms %6.0f/s | load %.2f\n",
			*mode, *round, c, s.P50, s.P99, s.Throughput, u.P50, u.P99, u.Throughput, b.LoadAfter[0])
		if !*keep {
			if err := cleanup(ctx, cs, ns); err != nil {
				return fmt.Errorf("cleaning up %s: %w", ns, err)
			}
			if err := cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
				return fmt.Errorf("deleting namespace %s: %w", ns, err)
			}
		}
	}
	return nil
}

func runBlock(ctx context.Context, cs *kubernetes.Clientset, key ed25519.PrivateKey, ns, mode string, round, c, n, warmup int, replicas int32, pidDir string) (*Block, error) {
	if err := ensureNamespace(ctx, cs, ns, key); err != nil {
		return nil, err
	}
	ops, err := prepare(ctx, cs, ns, "obj", n, replicas, key)
	if err != nil {
		return nil, err
	}
	warm, err := prepare(ctx, cs, ns, "warm", warmup, replicas, key)
	if err != nil {
		return nil, err
	}
	// Warm up connections, caches and the webhooks' TLS sessions with the same kind of
	// traffic, unmeasured.
	if _, err := phase(ctx, c, warm, func(o op) error { _, err := doCreate(ctx, cs, ns, o, false); return err }); err != nil {
		return nil, fmt.Errorf("warm-up create: %w", err)
	}
	if _, err := phase(ctx, c, warm, func(o op) error { return doUpdate(ctx, cs, ns, o) }); err != nil {
		return nil, fmt.Errorf("warm-up update: %w", err)
	}
	_, settled, err := settle(ctx, cs, 5, time.Minute)
	if err != nil {
		return nil, err
	}
	// What the processes burn when nothing is asked of them (informers, leases,
	// controllers' resyncs), to tell it from the work the requests cause.
	idle0 := cpuTimes(pidDir)
	time.Sleep(idleSample)
	idle1 := cpuTimes(pidDir)
	before, err := scrape(ctx, cs)
	if err != nil {
		return nil, err
	}
	cpuBefore := cpuTimes(pidDir)
	b := &Block{Mode: mode, Round: round, Concurrency: c, Objects: n, Namespace: ns, Started: time.Now().UTC(),
		LoadBefore: loadavg(), SettleSeconds: settled.Seconds()}
	measuredFrom := time.Now()
	b.Create, err = phase(ctx, c, ops, func(o op) error { _, err := doCreate(ctx, cs, ns, o, false); return err })
	if err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	b.Update, err = phase(ctx, c, ops, func(o op) error { return doUpdate(ctx, cs, ns, o) })
	if err != nil {
		return nil, fmt.Errorf("update: %w", err)
	}
	b.MeasuredSeconds = time.Since(measuredFrom).Seconds()
	b.LoadAfter = loadavg()
	b.CPUSeconds = map[string]float64{}
	b.IdleCPUPerSecond = map[string]float64{}
	for name, t := range cpuTimes(pidDir) {
		if t0, ok := cpuBefore[name]; ok {
			b.CPUSeconds[name] = t - t0
			b.IdleCPUPerSecond[name] = (idle1[name] - idle0[name]) / idleSample.Seconds()
		}
	}
	after, err := scrape(ctx, cs)
	if err != nil {
		return nil, err
	}
	b.Webhooks = webhookDelta(before, after)
	return b, nil
}

// phase sends every op with c workers and records each request's latency.
func phase(ctx context.Context, c int, ops []op, send func(op) error) (Phase, error) {
	p := Phase{Requests: len(ops), Latencies: make([]float64, len(ops)), Kinds: make([]string, len(ops))}
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	start := time.Now()
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t := time.Now()
				err := send(ops[i])
				p.Latencies[i] = float64(time.Since(t).Microseconds()) / 1000
				p.Kinds[i] = ops[i].kind
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("%s %s: %w", ops[i].kind, ops[i].name, err))
					mu.Unlock()
				}
			}
		}()
	}
	for i := range ops {
		next <- i
	}
	close(next)
	wg.Wait()
	p.WallMs = float64(time.Since(start).Microseconds()) / 1000
	p.Errors = len(errs)
	for i := 0; i < len(errs) && i < 5; i++ {
		p.ErrorSamples = append(p.ErrorSamples, errs[i].Error())
	}
	// A few failures under load (a webhook timing out) are a result; many mean the
	// setup is broken.
	if len(errs) > 0 {
		fmt.Fprintf(os.Stderr, "[benchadmission] %d of %d requests failed, first: %v\n", len(errs), len(ops), errs[0])
	}
	if len(errs)*10 > len(ops) {
		return p, fmt.Errorf("%d of %d requests failed, first: %w", len(errs), len(ops), errs[0])
	}
	return p, nil
}

// cpuTimes reads the CPU time (user+system, seconds) of this process ("benchadmission")
// and of every process named by a pid file in dir.
func cpuTimes(dir string) map[string]float64 {
	out := map[string]float64{}
	if t, ok := cpuTime("self"); ok {
		out["benchadmission"] = t
	}
	if dir == "" {
		return out
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		if t, ok := cpuTime(strings.TrimSpace(string(raw))); ok {
			out[e.Name()] = t
		}
	}
	return out
}

// cpuTime is utime+stime of /proc/<pid>/stat in seconds (USER_HZ is 100 on Linux).
func cpuTime(pid string) (float64, bool) {
	raw, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, false
	}
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseFloat(f[11], 64)
	k, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return (u + k) / 100, true
}

func loadavg() [3]float64 {
	var l [3]float64
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return l
	}
	f := strings.Fields(string(raw))
	for i := 0; i < 3 && i < len(f); i++ {
		l[i], _ = strconv.ParseFloat(f[i], 64)
	}
	return l
}
