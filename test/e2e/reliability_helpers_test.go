package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/digest"
	"github.com/kubetrail/kubetrail/internal/provenance"
)

// Ports of the suite's plane (KUBETRAIL_PORT_BASE=24500, see env): hack/lib.sh adds 4..9.
const (
	relWebhookPort  = 24504
	relMetricsPort  = 24505
	relProbePort    = 24506
	relWebhook2Port = 24507
	relMetrics2Port = 24508
	relProbe2Port   = 24509

	relLeaseName      = "kubetrail.io"
	relLeaseNamespace = "kubetrail-system"
	relMutatingName   = "kubetrail-mutating-webhook-configuration"
	relValidatingName = "kubetrail-validating-webhook-configuration"
	// relHistoryLimit is the manager's default --history-limit, which local-up.sh keeps.
	relHistoryLimit = 20
)

var (
	relScheme    = runtime.NewScheme()
	cmGVK        = schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	deployGVK    = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	relOnce      sync.Once
	relRestCfg   *rest.Config
	relClientVal client.Client
)

func init() {
	_ = clientgoscheme.AddToScheme(relScheme)
	_ = v1alpha1.AddToScheme(relScheme)
}

// relClient is a client-go based client as kubernetes-admin, with a rate limit high
// enough for 50 concurrent writers (client-go's default is 5 requests per second).
func relClient() (client.Client, *rest.Config) {
	relOnce.Do(func() {
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		Expect(err).NotTo(HaveOccurred())
		cfg.QPS, cfg.Burst, cfg.Timeout = 300, 600, 20*time.Second
		cfg.UserAgent = "kubetrail-e2e-reliability"
		c, err := client.New(cfg, client.Options{Scheme: relScheme})
		Expect(err).NotTo(HaveOccurred())
		relRestCfg, relClientVal = cfg, c
	})
	return relClientVal, relRestCfg
}

// recordCache is an informer on the TraceRecords of one namespace, so that 50 writers
// waiting for their revisions read memory instead of polling the apiserver.
func recordCache(ctx context.Context, ns string) client.Reader {
	_, cfg := relClient()
	c, err := cache.New(cfg, cache.Options{Scheme: relScheme, DefaultNamespaces: map[string]cache.Config{ns: {}}})
	Expect(err).NotTo(HaveOccurred())
	_, err = c.GetInformer(ctx, &v1alpha1.TraceRecord{})
	Expect(err).NotTo(HaveOccurred())
	go func() { _ = c.Start(ctx) }()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	Expect(c.WaitForCacheSync(sctx)).To(BeTrue(), "TraceRecord informer did not sync")
	return c
}

// createNamespace makes a fresh namespace for one spec, deleted after it.
func createNamespace(ns string) {
	cl, _ := relClient()
	ctx := context.Background()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(schema.GroupVersionKind{Version: "v1", Kind: "Namespace"})
	u.SetName(ns)
	// A leftover of an interrupted run (KUBETRAIL_E2E_KEEP) is removed first.
	if err := cl.Get(ctx, client.ObjectKey{Name: ns}, u.DeepCopy()); err == nil {
		_ = cl.Delete(ctx, u.DeepCopy())
		Eventually(func() bool {
			return apierrors.IsNotFound(cl.Get(ctx, client.ObjectKey{Name: ns}, u.DeepCopy()))
		}, 60*time.Second, 500*time.Millisecond).Should(BeTrue(), "leftover namespace %s not deleted", ns)
	}
	Expect(cl.Create(ctx, u)).To(Succeed())
	DeferCleanup(func() { _ = cl.Delete(context.Background(), u) })
}

// rev identifies one revision as a record's history does: a traced one by its
// admission (digest and admission time), an untraced one by the digest of the content.
type rev struct {
	Digest, AdmittedAt string
	Traced             bool
	Commit             string
}

func (r rev) String() string {
	if r.Traced {
		return fmt.Sprintf("traced %s@%s", short(r.Digest), r.AdmittedAt)
	}
	return "untraced " + short(r.Digest)
}

func (r rev) same(o rev) bool {
	return r.Traced == o.Traced && r.Digest == o.Digest && (!r.Traced || r.AdmittedAt == o.AdmittedAt)
}

func short(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 12 {
		return d[:12]
	}
	return d
}

func entryRev(h v1alpha1.Revision) rev {
	r := rev{Digest: h.Admission.Digest, Traced: h.Traced, Commit: h.Commit}
	if h.Traced && h.Admission.AdmittedAt != nil {
		r.AdmittedAt = h.Admission.AdmittedAt.UTC().Format(time.RFC3339)
	}
	return r
}

// revOf is the revision u (as the apiserver returned it after a write) is: traced when
// the webhook stamped admission facts for this very content (its digest annotation is
// the digest of the content; every change here writes content of its own), untraced
// when the write did not pass the webhook and the object kept the facts of an older
// revision, or none.
func revOf(u *unstructured.Unstructured) rev {
	ann := u.GetAnnotations()
	d, err := digest.Of(u.Object, nil)
	Expect(err).NotTo(HaveOccurred())
	if ann[provenance.DigestKey] == d && ann[provenance.AdmittedAtKey] != "" {
		return rev{Digest: d, AdmittedAt: ann[provenance.AdmittedAtKey], Traced: true, Commit: ann[provenance.CommitKey]}
	}
	return rev{Digest: d, Commit: ann[provenance.CommitKey]}
}

// recordHas reports whether rec shows r: in its history, and for an untraced revision
// also as the live content it last observed.
func recordHas(rec *v1alpha1.TraceRecord, r rev) bool {
	if !r.Traced && rec.Status.LiveDigest != r.Digest {
		return false
	}
	for _, h := range rec.Status.History {
		if entryRev(h).same(r) {
			return true
		}
	}
	return false
}

// waitRecorded waits until the record key shows r, polling reader (a cache) every 50ms.
func waitRecorded(ctx context.Context, reader client.Reader, key client.ObjectKey, r rev, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var rec v1alpha1.TraceRecord
	for {
		if err := reader.Get(ctx, key, &rec); err == nil && recordHas(&rec, r) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("record %s does not show %s after %s", key, r, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// tracedObject is one object a writer changes: a ConfigMap (data/v) or a Deployment
// (its container image), each change with a new commit.
type tracedObject struct {
	GVK  schema.GroupVersionKind
	NS   string
	Name string
}

func (o tracedObject) recordKey() client.ObjectKey {
	return client.ObjectKey{Namespace: o.NS, Name: strings.ToLower(o.GVK.Kind) + "." + o.Name}
}

func (o tracedObject) String() string { return o.GVK.Kind + " " + o.NS + "/" + o.Name }

func relProvenance(o tracedObject, i int, writer string) map[string]interface{} {
	return map[string]interface{}{
		provenance.CommitKey:      fakeCommit(fmt.Sprintf("%s/%s/%s/%d", o.NS, o.Name, writer, i)),
		provenance.RepositoryKey:  "https://github.com/acme/reliability",
		provenance.PipelineRunKey: fmt.Sprintf("https://ci.acme.dev/runs/%s-%d", writer, i),
		provenance.ApproverKey:    "alice",
		provenance.ActorKey:       "pipeline",
	}
}

// content is the tracked content of revision i of o, unique per writer and revision so
// that every admitted revision has its own digest.
func content(o tracedObject, i int, writer string) map[string]interface{} {
	v := fmt.Sprintf("%s-%d", writer, i)
	if o.GVK.Kind == "Deployment" {
		return map[string]interface{}{"spec": map[string]interface{}{"template": map[string]interface{}{"spec": map[string]interface{}{
			"containers": []interface{}{map[string]interface{}{"name": "app", "image": "ghcr.io/acme/app:" + v}},
		}}}}
	}
	return map[string]interface{}{"data": map[string]interface{}{"v": v}}
}

// createTraced creates o (revision 0) through the webhook and returns it.
func createTraced(ctx context.Context, cl client.Client, o tracedObject) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]interface{}{}}
	u.SetGroupVersionKind(o.GVK)
	u.SetNamespace(o.NS)
	u.SetName(o.Name)
	u.Object["metadata"].(map[string]interface{})["annotations"] = relProvenance(o, 0, "create")
	if o.GVK.Kind == "Deployment" {
		u.Object["spec"] = map[string]interface{}{
			"replicas":             int64(0),
			"revisionHistoryLimit": int64(1),
			"selector":             map[string]interface{}{"matchLabels": map[string]interface{}{"app": o.Name}},
			"template": map[string]interface{}{
				"metadata": map[string]interface{}{"labels": map[string]interface{}{"app": o.Name}},
				"spec": map[string]interface{}{"containers": []interface{}{
					map[string]interface{}{"name": "app", "image": "ghcr.io/acme/app:create-0"},
				}},
			},
		}
	} else {
		u.Object["data"] = map[string]interface{}{"v": "create-0"}
	}
	Expect(cl.Create(ctx, u, client.FieldOwner("rel-pipeline"))).To(Succeed(), "creating %s", o)
	return u
}

// change writes revision i of o with a merge patch (no resourceVersion: concurrent
// writers and kube-controller-manager never conflict) and returns what was stored.
func change(ctx context.Context, cl client.Client, o tracedObject, i int, writer, fieldOwner string, opts ...client.PatchOption) (*unstructured.Unstructured, error) {
	body := content(o, i, writer)
	body["metadata"] = map[string]interface{}{"annotations": relProvenance(o, i, writer)}
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(o.GVK)
	u.SetNamespace(o.NS)
	u.SetName(o.Name)
	err = retry.OnError(retry.DefaultBackoff, func(err error) bool {
		return apierrors.IsServerTimeout(err) || apierrors.IsTooManyRequests(err) || apierrors.IsInternalError(err)
	}, func() error {
		return cl.Patch(ctx, u, client.RawPatch(types.MergePatchType, raw), append(opts, client.FieldOwner(fieldOwner))...)
	})
	return u, err
}

// objectWriter changes one object sequentially: every change waits until the record
// shows it before the next. It remembers every revision the object went through.
type objectWriter struct {
	obj     tracedObject
	revs    []rev
	log     []writeLog
	untrace int
}

// writeLog is one change: when it was written and when its record showed it.
type writeLog struct {
	rev               rev
	wrote, recordedAt time.Time
}

func (w *objectWriter) waits() []time.Duration {
	var ds []time.Duration
	for _, l := range w.log {
		ds = append(ds, l.recordedAt.Sub(l.wrote))
	}
	return ds
}

// caughtUp is when the last change written before t was recorded (t when none was).
func caughtUp(ws []*objectWriter, t time.Time) time.Time {
	last := t
	for _, w := range ws {
		for _, l := range w.log {
			if l.wrote.Before(t) && l.recordedAt.After(last) {
				last = l.recordedAt
			}
		}
	}
	return last
}

// run makes n changes after the create, each waiting up to waitFor for the record.
// onWrite is called after every write (may be nil).
func (w *objectWriter) run(ctx context.Context, cl client.Client, recs client.Reader, n int, waitFor time.Duration, onWrite func()) error {
	u := createTraced(ctx, cl, w.obj)
	first := revOf(u)
	w.revs = append(w.revs, first)
	if !first.Traced {
		w.untrace++
	}
	if err := waitRecorded(ctx, recs, w.obj.recordKey(), first, waitFor); err != nil {
		return err
	}
	for i := 1; i <= n; i++ {
		if err := w.change(ctx, cl, recs, i, waitFor, onWrite); err != nil {
			return err
		}
	}
	return nil
}

// change makes change i and waits up to waitFor until the record shows it.
func (w *objectWriter) change(ctx context.Context, cl client.Client, recs client.Reader, i int, waitFor time.Duration, onWrite func()) error {
	u, err := change(ctx, cl, w.obj, i, "w", "rel-pipeline")
	if err != nil {
		return fmt.Errorf("%s change %d: %w", w.obj, i, err)
	}
	wrote := time.Now()
	r := revOf(u)
	if !r.Traced {
		w.untrace++
	}
	w.revs = append(w.revs, r)
	if onWrite != nil {
		onWrite()
	}
	if err := waitRecorded(ctx, recs, w.obj.recordKey(), r, waitFor); err != nil {
		return fmt.Errorf("%s change %d: %w", w.obj, i, err)
	}
	w.log = append(w.log, writeLog{rev: r, wrote: wrote, recordedAt: time.Now()})
	return nil
}

// verifyHistory checks a record against every revision its object went through, in
// order: the newest min(len, limit) revisions are the history, newest first, each once;
// the rest are counted in historyDropped; nothing else is there.
func verifyHistory(rec *v1alpha1.TraceRecord, revs []rev, limit int) []string {
	var problems []string
	h := rec.Status.History
	name := rec.Namespace + "/" + rec.Name
	if got, want := int64(len(h))+rec.Status.HistoryDropped, int64(len(revs)); got != want {
		problems = append(problems, fmt.Sprintf("%s: len(history) %d + historyDropped %d = %d, want %d revisions",
			name, len(h), rec.Status.HistoryDropped, got, want))
	}
	if len(h) > limit {
		problems = append(problems, fmt.Sprintf("%s: %d history entries, over the limit %d", name, len(h), limit))
	}
	problems = append(problems, duplicates(rec)...)
	for i := 0; i < len(h) && i < len(revs); i++ {
		want := revs[len(revs)-1-i]
		if got := entryRev(h[i]); !got.same(want) {
			problems = append(problems, fmt.Sprintf("%s: history[%d] is %s, want %s", name, i, got, want))
		} else if want.Traced && got.Commit != want.Commit {
			problems = append(problems, fmt.Sprintf("%s: history[%d] has commit %s, want %s", name, i, got.Commit, want.Commit))
		}
	}
	return problems
}

// duplicates are history entries recorded twice (same digest and admission time).
func duplicates(rec *v1alpha1.TraceRecord) []string {
	var problems []string
	seen := map[string]int{}
	for i, h := range rec.Status.History {
		r := entryRev(h)
		k := r.String()
		if j, ok := seen[k]; ok {
			problems = append(problems, fmt.Sprintf("%s/%s: history[%d] and history[%d] are both %s", rec.Namespace, rec.Name, j, i, k))
		}
		seen[k] = i
	}
	return problems
}

// verifyWhole checks that a record is whole and agrees with its live object: target,
// spec provenance and admission facts, status observed for the current generation,
// live digest, and (when the object's last change was traced) the newest history entry
// and the conditions.
func verifyWhole(ctx context.Context, cl client.Client, o tracedObject) []string {
	var problems []string
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(o.GVK)
	if err := cl.Get(ctx, client.ObjectKey{Namespace: o.NS, Name: o.Name}, live); err != nil {
		return []string{fmt.Sprintf("%s: %v", o, err)}
	}
	rec := &v1alpha1.TraceRecord{}
	if err := cl.Get(ctx, o.recordKey(), rec); err != nil {
		return []string{fmt.Sprintf("%s: record: %v", o, err)}
	}
	ann := live.GetAnnotations()
	d, err := digest.Of(live.Object, nil)
	Expect(err).NotTo(HaveOccurred())
	bad := func(format string, args ...interface{}) {
		problems = append(problems, fmt.Sprintf("%s: ", o)+fmt.Sprintf(format, args...))
	}
	if rec.Spec.Target.UID != live.GetUID() || rec.Spec.Target.Name != o.Name || rec.Spec.Target.Kind != o.GVK.Kind {
		bad("spec.target %+v does not name the live object (uid %s)", rec.Spec.Target, live.GetUID())
	}
	if rec.Spec.Commit != ann[provenance.CommitKey] {
		bad("spec.commit %q, live object's commit %q", rec.Spec.Commit, ann[provenance.CommitKey])
	}
	at := ""
	if rec.Spec.Admission.AdmittedAt != nil {
		at = rec.Spec.Admission.AdmittedAt.UTC().Format(time.RFC3339)
	}
	if rec.Spec.Admission.Digest != ann[provenance.DigestKey] || at != ann[provenance.AdmittedAtKey] {
		bad("spec.admission %s@%s, live object's %s@%s", short(rec.Spec.Admission.Digest), at,
			short(ann[provenance.DigestKey]), ann[provenance.AdmittedAtKey])
	}
	if rec.Status.ObservedGeneration != rec.Generation {
		bad("status.observedGeneration %d, generation %d", rec.Status.ObservedGeneration, rec.Generation)
	}
	if rec.Status.LiveDigest != d {
		bad("status.liveDigest %s, live content %s", short(rec.Status.LiveDigest), short(d))
	}
	if int(rec.Status.FindingCount) != len(rec.Status.Findings) {
		bad("findingCount %d, %d findings", rec.Status.FindingCount, len(rec.Status.Findings))
	}
	if ann[provenance.DigestKey] != "" && d != ann[provenance.DigestKey] {
		// The live object is not what was admitted last: changed behind the webhook.
		if c := condition(rec, v1alpha1.ConditionDrifted); c != "True" {
			bad("Drifted is %q although the live content (%s) is not the admitted one (%s)", c, short(d), short(ann[provenance.DigestKey]))
		}
		if findingOf(rec, v1alpha1.FindingDrift) == nil {
			bad("no Drift finding although the live content (%s) is not the admitted one (%s)", short(d), short(ann[provenance.DigestKey]))
		}
	}
	if d == ann[provenance.DigestKey] {
		// The live object is what was admitted last.
		if len(rec.Status.History) == 0 || !entryRev(rec.Status.History[0]).same(rev{Digest: d, AdmittedAt: at, Traced: true}) {
			bad("newest history entry is not the live revision %s@%s", short(d), at)
		}
		if c := condition(rec, v1alpha1.ConditionDrifted); c != "False" {
			bad("Drifted is %q on an object that matches its last traced revision", c)
		}
		if c := condition(rec, v1alpha1.ConditionTraced); c != "True" {
			bad("Traced is %q on an object admitted with provenance", c)
		}
		for _, f := range rec.Status.Findings {
			if f.Type == v1alpha1.FindingDrift || f.Type == v1alpha1.FindingUntracedChange {
				bad("open %s finding on an object that matches its last traced revision: %s", f.Type, f.Message)
			}
		}
	}
	return problems
}

func condition(rec *v1alpha1.TraceRecord, t string) string {
	for _, c := range rec.Status.Conditions {
		if c.Type == t {
			return string(c.Status)
		}
	}
	return ""
}

func findingOf(rec *v1alpha1.TraceRecord, t v1alpha1.FindingType) *v1alpha1.Finding {
	for i := range rec.Status.Findings {
		if rec.Status.Findings[i].Type == t {
			return &rec.Status.Findings[i]
		}
	}
	return nil
}

func getRecord(ctx context.Context, key client.ObjectKey) (*v1alpha1.TraceRecord, error) {
	cl, _ := relClient()
	rec := &v1alpha1.TraceRecord{}
	return rec, cl.Get(ctx, key, rec)
}

// durations summarises latencies as p50/p95/max.
func durations(ds []time.Duration) string {
	if len(ds) == 0 {
		return "n/a"
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	p := func(q float64) time.Duration { return s[int(q*float64(len(s)-1))] }
	return fmt.Sprintf("p50 %s, p95 %s, max %s (n=%d)", p(0.5).Round(time.Millisecond), p(0.95).Round(time.Millisecond),
		s[len(s)-1].Round(time.Millisecond), len(s))
}

// figure records a measured figure in the spec's report and prints it.
func figure(name string, format string, args ...interface{}) {
	v := fmt.Sprintf(format, args...)
	AddReportEntry(name, v)
	fmt.Fprintf(GinkgoWriter, "FIGURE %s: %s\n", name, v)
}

// --- processes of the local plane ---

func pidOf(name string) int {
	b, err := os.ReadFile(filepath.Join(stateDir, "pids", name))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// processAlive is true for a process that exists and is not a zombie.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return false
	}
	return s[i+2] != 'Z' && s[i+2] != 'X'
}

// killComponent sends sig to the process of $STATE/pids/name and waits (bounded) until
// it is gone.
func killComponent(name string, sig syscall.Signal) {
	pid := pidOf(name)
	Expect(pid).To(BeNumerically(">", 0), "no pid file for %s", name)
	Expect(processAlive(pid)).To(BeTrue(), "%s (pid %d) is not running", name, pid)
	Expect(syscall.Kill(pid, sig)).To(Succeed())
	Eventually(func() bool { return processAlive(pid) }, 25*time.Second, 100*time.Millisecond).Should(BeFalse(),
		"%s (pid %d) still alive after %s", name, pid, sig)
}

// localRestart runs hack/local-restart.sh and returns how long it took.
func localRestart(component string, args ...string) time.Duration {
	start := time.Now()
	out, err := try(root, env(root, stateDir), "", filepath.Join(root, "hack", "local-restart.sh"), append([]string{component}, args...)...)
	ExpectWithOffset(1, err).NotTo(HaveOccurred(), "hack/local-restart.sh %s %s:\n%s", component, strings.Join(args, " "), out)
	return time.Since(start)
}

// managerCmdline is the command line of the running manager process.
func managerCmdline(name string) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pidOf(name)))
	return strings.ReplaceAll(string(b), "\x00", " ")
}

// ensureDefaultPlane brings the plane back to what local-up.sh started, for the specs
// after a disruptive one: apiserver and kube-controller-manager running, a second
// manager stopped, the webhooks pointing at the manager, and the manager running with
// local-up.sh's flags.
func ensureDefaultPlane() {
	cl, _ := relClient()
	if _, err := kubectl("get", "--raw", "/readyz"); err != nil || !processAlive(pidOf("kube-apiserver")) {
		localRestart("kube-apiserver")
	}
	if !processAlive(pidOf("kube-controller-manager")) {
		localRestart("kube-controller-manager")
	}
	if processAlive(pidOf("manager-2")) {
		killComponent("manager-2", syscall.SIGTERM)
	}
	pointWebhooksAt(cl, relWebhookPort)
	if !processAlive(pidOf("manager")) || strings.Contains(managerCmdline("manager"), "--leader-elect") {
		localRestart("manager")
	}
}

// --- webhook configurations ---

var urlPort = regexp.MustCompile(`^(https://localhost:)\d+(/.*)$`)

// pointWebhooksAt points every webhook of kubetrail's two configurations at the
// manager listening on port (the local plane's webhooks are URLs on localhost).
func pointWebhooksAt(cl client.Client, port int) {
	ctx := context.Background()
	for _, kind := range []string{"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"} {
		name := relMutatingName
		if kind == "ValidatingWebhookConfiguration" {
			name = relValidatingName
		}
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(schema.GroupVersionKind{Group: "admissionregistration.k8s.io", Version: "v1", Kind: kind})
			if err := cl.Get(ctx, client.ObjectKey{Name: name}, u); err != nil {
				return err
			}
			hooks, _, _ := unstructured.NestedSlice(u.Object, "webhooks")
			changed := false
			for _, h := range hooks {
				cc := h.(map[string]interface{})["clientConfig"].(map[string]interface{})
				url, _ := cc["url"].(string)
				if m := urlPort.FindStringSubmatch(url); m != nil {
					if nu := fmt.Sprintf("%s%d%s", m[1], port, m[2]); nu != url {
						cc["url"], changed = nu, true
					}
				}
			}
			if !changed {
				return nil
			}
			Expect(unstructured.SetNestedSlice(u.Object, hooks, "webhooks")).To(Succeed())
			return cl.Update(ctx, u)
		})
		Expect(err).NotTo(HaveOccurred(), "pointing %s at port %d", name, port)
	}
}

// enforceFailurePolicy is the failurePolicy of the validating webhook on tracked objects.
func enforceFailurePolicy() string {
	out, _ := kubectl("get", "validatingwebhookconfiguration", relValidatingName,
		"-o", `jsonpath={.webhooks[?(@.name=="enforce.kubetrail.io")].failurePolicy}`)
	return out
}

// --- manager metrics ---

// metric sums the samples of a metric whose labels contain every labels string, from
// the manager's metrics endpoint on port; ok is false when the endpoint does not answer.
func metric(port int, name string, labels ...string) (sum float64, ok bool) {
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
lines:
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		for _, l := range labels {
			if !strings.Contains(line, l) {
				continue lines
			}
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum, resp.StatusCode == http.StatusOK
}

func isLeader(metricsPort int) bool {
	v, _ := metric(metricsPort, "leader_election_master_status", `name="kubetrail.io"`)
	return v == 1
}

// errorsJoin joins the errors of concurrent writers.
func errorsJoin(errs []error) error { return errors.Join(errs...) }
