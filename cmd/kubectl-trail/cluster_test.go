package main

// The cluster verbs (why, commit, findings, export) against a real kube-apiserver and
// etcd (envtest) with kubetrail's CRDs installed. No manager and no webhook run: the
// tests write the TraceRecords the manager would write, then run the commands
// in-process with --kubeconfig, as kubectl would run the plugin.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	v1alpha1 "github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/digest"
	"github.com/kubetrail/kubetrail/internal/evidence"
	"github.com/kubetrail/kubetrail/internal/report"
)

// envtest state, set up once by TestMain.
var (
	envSkip       string        // why the cluster tests are skipped ("" when they run)
	envClient     client.Client // direct client, as the tester
	envKubeconfig string        // kubeconfig file of the tester (current context "envtest")
	envDir        string
)

// Commits of the fixtures: shaA and shaA2 share the prefix 1a2b.
var (
	shaA  = "1a2b3c4d" + strings.Repeat("0", 32)
	shaA2 = "1a2b9f00" + strings.Repeat("1", 32)
	shaB  = "bbbb0000" + strings.Repeat("2", 32)
	shaC  = "cccc0000" + strings.Repeat("3", 32)
)

func TestMain(m *testing.M) {
	code := m.Run()
	if env != nil {
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping envtest: %v\n", err)
		}
	}
	if envDir != "" {
		os.RemoveAll(envDir)
	}
	os.Exit(code)
}

var (
	env     *envtest.Environment
	envOnce sync.Once
)

// startCluster starts envtest the first time a cluster test needs it (so that the
// tests of stamp and keygen never wait for it) and creates the fixtures. It sets
// envSkip when the control plane binaries are absent; any other failure is fatal.
func startCluster(t *testing.T) {
	t.Helper()
	envOnce.Do(func() {
		assets := os.Getenv("KUBEBUILDER_ASSETS")
		if assets == "" {
			assets, _ = filepath.Abs(filepath.Join("..", "..", "bin"))
		}
		for _, bin := range []string{"kube-apiserver", "etcd"} {
			if _, err := os.Stat(filepath.Join(assets, bin)); err != nil {
				envSkip = fmt.Sprintf("the cluster verb tests need kube-apiserver and etcd in KUBEBUILDER_ASSETS (%s): %v; "+
					"run hack/build-control-plane.sh, or make test", assets, err)
				return
			}
		}
		env = &envtest.Environment{
			CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
			ErrorIfCRDPathMissing: true,
			BinaryAssetsDirectory: assets,
		}
		if _, err := env.Start(); err != nil {
			env = nil
			envErr = fmt.Errorf("cannot start envtest: %w", err)
			return
		}
		var err error
		if envDir, err = os.MkdirTemp("", "kubectl-trail-envtest-"); err != nil {
			envErr = err
			return
		}
		if err := setupCluster(env); err != nil {
			envErr = fmt.Errorf("cannot set up the test cluster: %w", err)
		}
	})
	if envErr != nil {
		t.Fatal(envErr)
	}
	if envSkip != "" {
		t.Skip(envSkip)
	}
}

var envErr error

// setupCluster writes the tester's kubeconfig and creates the fixtures.
func setupCluster(env *envtest.Environment) error {
	user, err := env.AddUser(envtest.User{Name: "trail-tester", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	raw, err := user.KubeConfig()
	if err != nil {
		return err
	}
	kc, err := clientcmd.Load(raw)
	if err != nil {
		return err
	}
	// A second context whose namespace is shop, and a broken one pointing nowhere.
	shopCtx := kc.Contexts["envtest"].DeepCopy()
	shopCtx.Namespace = "shop"
	kc.Contexts["shop"] = shopCtx
	broken := kc.Clusters["envtest"].DeepCopy()
	broken.Server = "https://127.0.0.1:1"
	kc.Clusters["nowhere"] = broken
	nowhere := kc.Contexts["envtest"].DeepCopy()
	nowhere.Cluster = "nowhere"
	kc.Contexts["nowhere"] = nowhere
	envKubeconfig = filepath.Join(envDir, "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, envKubeconfig); err != nil {
		return err
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	if envClient, err = client.New(user.Config(), client.Options{Scheme: scheme}); err != nil {
		return err
	}
	return createFixtures(context.Background(), envClient)
}

var now = time.Now().UTC().Truncate(time.Second)

func ago(d time.Duration) *metav1.Time { t := metav1.NewTime(now.Add(-d)); return &t }

func podTemplate(sa string, spec corev1.PodSpec) corev1.PodTemplateSpec {
	spec.ServiceAccountName = sa
	if len(spec.Containers) == 0 {
		spec.Containers = []corev1.Container{{Name: "main", Image: "registry.example.com/app:1.0"}}
	}
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}}, Spec: spec}
}

func deployment(name, sa string, spec corev1.PodSpec) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}},
			Template: podTemplate(sa, spec),
		},
	}
}

// liveDigest is the digest the webhook would have stamped on obj as it is stored.
func liveDigest(ctx context.Context, c client.Client, obj client.Object, apiVersion, kind string) (string, error) {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	if err := c.Get(ctx, client.ObjectKeyFromObject(obj), u); err != nil {
		return "", err
	}
	return digest.Of(u.Object, nil)
}

func createFixtures(ctx context.Context, c client.Client) error {
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kubetrail-system"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "builder"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "settings"}, Data: map[string]string{"a": "1"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db"}, StringData: map[string]string{"password": "hunter2-very-secret"}},
		deployment("web", "", corev1.PodSpec{Containers: []corev1.Container{{
			Name: "web", Image: "registry.example.com/web:1.3.0",
			EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}}},
			Env: []corev1.EnvVar{{Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}}},
		}}}),
		deployment("builder", "builder", corev1.PodSpec{}),
		deployment("untracked", "", corev1.PodSpec{}),
		&batchv1.CronJob{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "nightly"},
			Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
				Template: func() corev1.PodTemplateSpec {
					t := podTemplate("builder", corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever})
					return t
				}(),
			}}},
		},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "ci-admin"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: "shop", Name: "builder"}},
		},
		&v1alpha1.TracePolicy{
			ObjectMeta: metav1.ObjectMeta{Name: "prod"},
			Spec: v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeAudit,
				TrustedSubmitters: []v1alpha1.Subject{{Kind: v1alpha1.SubjectServiceAccount, Namespace: "ci", Name: "deployer"}}},
		},
	}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			return fmt.Errorf("create %T %s: %w", o, o.GetName(), err)
		}
	}
	webDigest, err := liveDigest(ctx, c, objs[5], "apps/v1", "Deployment")
	if err != nil {
		return err
	}

	ci := "system:serviceaccount:ci:deployer"
	agentProv := v1alpha1.Provenance{Commit: shaA, Repository: "https://github.com/org/shop",
		PullRequest: "https://github.com/org/shop/pull/42", PipelineRun: "https://github.com/org/shop/actions/runs/99",
		Approver: "alice", Actor: v1alpha1.ActorAgent, Agent: "deploy-bot run 7", Verified: true}
	agentAdm := v1alpha1.AdmissionFacts{AdmittedBy: ci, AdmittedAt: ago(time.Hour), Digest: webDigest}
	humanProv := v1alpha1.Provenance{Commit: shaB, PullRequest: "41", Approver: "bob", Actor: v1alpha1.ActorHuman}
	humanAdm := v1alpha1.AdmissionFacts{AdmittedBy: ci, AdmittedAt: ago(72 * time.Hour), Digest: "sha256:" + strings.Repeat("b", 64)}
	inSync := []metav1.Condition{
		{Type: v1alpha1.ConditionDrifted, Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonInSync, Message: "in sync", LastTransitionTime: *ago(time.Hour)},
		{Type: v1alpha1.ConditionTraced, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonAdmitted, Message: "admitted with provenance", LastTransitionTime: *ago(time.Hour)},
	}
	target := func(apiVersion, kind, ns, name string) v1alpha1.TraceTarget {
		return v1alpha1.TraceTarget{APIVersion: apiVersion, Kind: kind, Namespace: ns, Name: name}
	}
	records := []v1alpha1.TraceRecord{
		{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: recordName("Deployment", "web")},
			Spec: v1alpha1.TraceRecordSpec{Target: target("apps/v1", "Deployment", "shop", "web"),
				Provenance: agentProv, Admission: agentAdm, Images: []string{"registry.example.com/web:1.3.0"}},
			Status: v1alpha1.TraceRecordStatus{
				Conditions: inSync,
				History: []v1alpha1.Revision{
					{Traced: true, Provenance: agentProv, Admission: agentAdm, Images: []string{"registry.example.com/web:1.3.0"},
						ChangedPaths: []string{"/spec/template/spec/containers/web/image"}, ObservedAt: *ago(time.Hour)},
					{Traced: true, Provenance: humanProv, Admission: humanAdm, ObservedAt: *ago(72 * time.Hour)},
				},
				Findings: []v1alpha1.Finding{{
					ID: "secret-1", Type: v1alpha1.FindingSecretExposure, Severity: v1alpha1.SeverityHigh,
					Message: "env API_KEY of container web holds a literal AWS access key", Rule: "aws-access-token",
					Paths: []string{"/spec/template/spec/containers/web/env/API_KEY"}, Fingerprint: "AKIA…(redacted)",
					FirstSeen:    *ago(time.Hour),
					IntroducedBy: v1alpha1.ChangeOrigin{Traced: true, Provenance: agentProv, Admission: agentAdm},
				}},
				FindingCount: 1,
			},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: recordName("Deployment", "builder")},
			Spec: v1alpha1.TraceRecordSpec{Target: target("apps/v1", "Deployment", "shop", "builder"),
				Provenance: humanProv, Admission: humanAdm},
			Status: v1alpha1.TraceRecordStatus{
				Conditions: []metav1.Condition{
					{Type: v1alpha1.ConditionDrifted, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonFieldsChanged,
						Message: "/spec/replicas changed outside the pipeline", LastTransitionTime: *ago(30 * time.Minute)},
				},
				History: []v1alpha1.Revision{{Traced: true, Provenance: humanProv, Admission: humanAdm, ObservedAt: *ago(72 * time.Hour)}},
				Findings: []v1alpha1.Finding{{
					ID: "drift-1", Type: v1alpha1.FindingDrift, Severity: v1alpha1.SeverityMedium,
					Message: "/spec/replicas changed outside the pipeline", Paths: []string{"/spec/replicas"}, Managers: []string{"kubectl-edit"},
					FirstSeen:    *ago(30 * time.Minute),
					IntroducedBy: v1alpha1.ChangeOrigin{Traced: false, Admission: v1alpha1.AdmissionFacts{AdmittedBy: "kubernetes-admin", AdmittedAt: ago(30 * time.Minute)}},
				}},
				FindingCount: 1,
			},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: recordName("ConfigMap", "settings")},
			Spec: v1alpha1.TraceRecordSpec{Target: target("v1", "ConfigMap", "shop", "settings"),
				Provenance: agentProv, Admission: v1alpha1.AdmissionFacts{AdmittedBy: ci, AdmittedAt: ago(time.Hour)}},
			Status: v1alpha1.TraceRecordStatus{Conditions: inSync, History: []v1alpha1.Revision{
				{Traced: true, Provenance: agentProv, Admission: v1alpha1.AdmissionFacts{AdmittedBy: ci, AdmittedAt: ago(time.Hour)}},
				{Traced: true, Provenance: humanProv, Admission: humanAdm},
			}},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: recordName("ServiceAccount", "builder")},
			Spec: v1alpha1.TraceRecordSpec{Target: target("v1", "ServiceAccount", "shop", "builder"),
				Provenance: v1alpha1.Provenance{Commit: shaC, Actor: v1alpha1.ActorPipeline, Approver: "carol"},
				Admission:  v1alpha1.AdmissionFacts{AdmittedBy: ci, AdmittedAt: ago(5 * 24 * time.Hour)}},
			Status: v1alpha1.TraceRecordStatus{Conditions: inSync},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Namespace: "kubetrail-system", Name: recordName("ClusterRoleBinding", "ci-admin")},
			Spec: v1alpha1.TraceRecordSpec{Target: target("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", "ci-admin"),
				Provenance: v1alpha1.Provenance{Commit: shaA2, PullRequest: "43", Approver: "dave", Actor: v1alpha1.ActorHuman},
				Admission:  v1alpha1.AdmissionFacts{AdmittedBy: "dave@example.com", AdmittedAt: ago(10 * time.Minute)}},
			Status: v1alpha1.TraceRecordStatus{
				Conditions: inSync,
				Findings: []v1alpha1.Finding{{
					ID: "rbac-1", Type: v1alpha1.FindingRBACEscalation, Severity: v1alpha1.SeverityCritical,
					Message: "ServiceAccount shop/builder gained cluster-admin", Subject: "ServiceAccount shop/builder",
					Permissions:  []string{"* *.*"},
					Dependents:   []v1alpha1.ObjectReference{{Kind: "Deployment", Namespace: "shop", Name: "builder"}},
					FirstSeen:    *ago(10 * time.Minute),
					IntroducedBy: v1alpha1.ChangeOrigin{Traced: true, Provenance: v1alpha1.Provenance{Commit: shaA2, PullRequest: "43", Approver: "dave"}},
				}},
				FindingCount: 1,
			},
		},
	}
	for i := range records {
		// TraceRecords have no status subresource: one create writes the whole record.
		if err := c.Create(ctx, records[i].DeepCopy()); err != nil {
			return fmt.Errorf("create record %s: %w", records[i].Name, err)
		}
	}
	return nil
}

// trail runs kubectl-trail against the test cluster.
func trail(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	startCluster(t)
	return execute(t, nil, "", append([]string{"--kubeconfig", envKubeconfig}, args...)...)
}

func mustContain(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

func TestWhyDeployment(t *testing.T) {
	out, errOut, code := trail(t, "why", "deployment/web", "-n", "shop")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	mustContain(t, out,
		"Deployment shop/web  (apps/v1)   record shop/deployment.web",
		"WHAT CHANGED", "commit 1a2b3c4  PR #42  run 99  by agent deploy-bot run 7  [current]",
		"commit bbbb000  PR #41  by human",
		"WHO APPROVED", "approvers     alice", "actor         agent deploy-bot run 7 (an AI agent's change, approved by alice)",
		"signature     signed, verified against a trusted key",
		"submitted by  system:serviceaccount:ci:deployer (trusted submitter (TracePolicy prod))",
		"WHAT DEPLOYED", "(the live object matches)", "images        registry.example.com/web:1.3.0",
		"WHAT DEPENDS ON IT", "it runs as ServiceAccount shop/default",
		"DRIFT", "in sync with the last traced revision",
		"FINDINGS  (1 open)", "High      SecretExposure: env API_KEY of container web holds a literal AWS access key",
		"introduced by commit 1a2b3c4, PR #42, pipeline run 99, by agent deploy-bot run 7, approved by alice")

	// The same object in other spellings, and the namespace from the context.
	for _, args := range [][]string{
		{"why", "deploy", "web", "-n", "shop"},
		{"why", "Deployment/web", "--namespace", "shop"},
		{"why", "deployments.apps/web", "-n", "shop"},
		{"--context", "shop", "why", "deployments/web"},
	} {
		if out2, errOut, code := trail(t, args...); code != 0 || !strings.Contains(out2, "record shop/deployment.web") {
			t.Errorf("%v: exit %d: %s%s", args, code, errOut, out2)
		}
	}

	// -o json is the structured answer.
	out, errOut, code = trail(t, "why", "deployment/web", "-n", "shop", "-o", "json")
	if code != 0 {
		t.Fatalf("-o json: exit %d: %s", code, errOut)
	}
	var a report.Why
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		t.Fatalf("-o json is not JSON: %v\n%s", err, out)
	}
	if a.Target.Name != "web" || a.WhatDeployed.Live != report.LiveMatches || a.WhoApproved.Agent != "deploy-bot run 7" ||
		len(a.WhatChanged) != 2 || !a.WhatChanged[0].Current || len(a.Findings) != 1 {
		t.Errorf("structured answer: %+v", a)
	}
	if out, _, code := trail(t, "why", "deployment/web", "-n", "shop", "-o", "yaml"); code != 0 || !strings.Contains(out, "whatDeployed:\n") {
		t.Errorf("-o yaml: exit %d:\n%s", code, out)
	}

	// Someone scales the Deployment by hand: the live digest no longer matches.
	d := &appsv1.Deployment{}
	if err := envClient.Get(context.Background(), client.ObjectKey{Namespace: "shop", Name: "web"}, d); err != nil {
		t.Fatal(err)
	}
	replicas := int32(5)
	d.Spec.Replicas = &replicas
	if err := envClient.Update(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	out, _, _ = trail(t, "why", "deployment/web", "-n", "shop")
	mustContain(t, out, "(the live object DIFFERS: sha256:")
}

func TestWhyDependents(t *testing.T) {
	out, errOut, code := trail(t, "why", "sa/builder", "-n", "shop")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	mustContain(t, out, "ServiceAccount shop/builder  (v1)   record shop/serviceaccount.builder",
		"ServiceAccount shop/builder can: Critical cluster-admin (cluster)",
		"CronJob shop/nightly", "Deployment shop/builder", "runs as ServiceAccount shop/builder",
		"approvers     carol", "actor         pipeline")
	if strings.Contains(section(out, "WHAT DEPENDS ON IT"), "shop/web") {
		t.Errorf("web does not run as builder:\n%s", out)
	}

	out, errOut, code = trail(t, "why", "crb/ci-admin")
	if code != 0 {
		t.Fatalf("crb: exit %d: %s", code, errOut)
	}
	mustContain(t, out, "ClusterRoleBinding ci-admin  (rbac.authorization.k8s.io/v1)   record kubetrail-system/clusterrolebinding.ci-admin",
		"ServiceAccount shop/builder can: Critical cluster-admin", "CronJob shop/nightly", "Deployment shop/builder",
		"Critical  RBACEscalation: ServiceAccount shop/builder gained cluster-admin",
		"submitted by  dave@example.com (NOT a trusted submitter of TracePolicy prod)")

	out, errOut, code = trail(t, "why", "cm/settings", "-n", "shop")
	if code != 0 {
		t.Fatalf("cm: exit %d: %s", code, errOut)
	}
	mustContain(t, out, "Deployment shop/web  envFrom (container web)")

	// A Secret without a record: the error names it; its value is never printed.
	out, errOut, code = trail(t, "why", "secret/db", "-n", "shop")
	if code != 1 || !strings.Contains(errOut, "error: no TraceRecord for Secret shop/db yet: kubetrail records objects within seconds of a change; is the manager running?") {
		t.Errorf("secret without record: exit %d: %s", code, errOut)
	}
	if strings.Contains(out+errOut, "hunter2") {
		t.Error("a secret value was printed")
	}
}

// section returns the lines of out from heading to the next blank line.
func section(out, heading string) string {
	i := strings.Index(out, heading)
	if i < 0 {
		return ""
	}
	s := out[i:]
	if j := strings.Index(s, "\n\n"); j >= 0 {
		s = s[:j]
	}
	return s
}

func TestWhyErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"no record yet": {[]string{"why", "deployment/untracked", "-n", "shop"},
			"error: no TraceRecord for Deployment shop/untracked yet: kubetrail records objects within seconds of a change; is the manager running?"},
		"not found": {[]string{"why", "deployment/nope", "-n", "shop"},
			`error: Deployment shop/nope not found: there is no Deployment "nope" in namespace shop and kubetrail has no record of one; check the name and the namespace (-n)`},
		"unknown kind":     {[]string{"why", "frobnicator/x"}, `error: unknown kind "frobnicator"`},
		"bad target":       {[]string{"why", "web"}, "error: give the object as KIND/NAME, e.g. deployment/web"},
		"bad output":       {[]string{"why", "deployment/web", "-o", "wide"}, `error: unsupported output format "wide"`},
		"unreachable":      {[]string{"--context", "nowhere", "why", "deployment/web"}, "error: cannot reach the cluster at https://127.0.0.1:1: "},
		"ambiguous commit": {[]string{"commit", "1a2b"}, "error: commit 1a2b is ambiguous: it matches " + shaA + ", " + shaA2 + "; give more digits"},
		"unknown commit":   {[]string{"commit", "ffff"}, "error: no object in the cluster was deployed by a commit starting with ffff"},
		"not a commit":     {[]string{"commit", "xyz"}, `error: invalid commit "xyz"`},
		"bad type":         {[]string{"findings", "--type", "Bogus"}, `error: unknown finding type "Bogus": use one of RBACEscalation`},
	} {
		t.Run(name, func(t *testing.T) {
			_, errOut, code := trail(t, tc.args...)
			if code != 1 || !strings.HasPrefix(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want one line starting with %q", code, errOut, tc.want)
			}
			if strings.Contains(tc.want, "cannot reach") && !strings.Contains(errOut, "check --kubeconfig/--context") {
				t.Errorf("unreachable error does not say what to do: %s", errOut)
			}
		})
	}
}

func TestCommit(t *testing.T) {
	out, errOut, code := trail(t, "commit", shaB)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := [][]string{
		{"NAMESPACE", "KIND", "NAME", "STATE", "ADMITTED-AT", "ADMITTED-BY"},
		{"shop", "ConfigMap", "settings", "overwritten", "system:serviceaccount:ci:deployer"},
		{"shop", "Deployment", "builder", "drifted", now.Add(-72 * time.Hour).Format(time.RFC3339)},
		{"shop", "Deployment", "web", "overwritten"},
	}
	if len(lines) != len(want) {
		t.Fatalf("commit %s:\n%s", shaB, out)
	}
	for i, w := range want {
		if got := strings.Fields(lines[i]); got[0] != w[0] || got[1] != w[1] || got[2] != w[2] || got[3] != w[3] {
			t.Errorf("line %d = %q, want %v", i, lines[i], w)
		}
		mustContain(t, lines[i], w[4:]...)
	}

	// A unique prefix (in upper case, too) resolves; the current objects of shaA.
	out, errOut, code = trail(t, "commit", "1A2B3")
	if code != 0 {
		t.Fatalf("short sha: exit %d: %s", code, errOut)
	}
	mustContain(t, out, "shop       ConfigMap   settings  current", "shop       Deployment  web       current")
	if strings.Contains(out, "ci-admin") {
		t.Errorf("1a2b3 is not the commit of ci-admin:\n%s", out)
	}

	out, errOut, code = trail(t, "commit", "1a2b9", "-o", "json")
	if code != 0 {
		t.Fatalf("-o json: exit %d: %s", code, errOut)
	}
	var rows []report.CommitRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 1 || rows[0].Target.Kind != "ClusterRoleBinding" ||
		rows[0].Commit != shaA2 || rows[0].State != report.StateCurrent || rows[0].Target.Namespace != "" {
		t.Errorf("rows = %+v (%v)", rows, err)
	}

	// A full SHA nothing deployed: an empty answer, not an error.
	if out, errOut, code := trail(t, "commit", strings.Repeat("e", 40)); code != 0 || out != "" || !strings.Contains(errOut, "No object in the cluster was deployed by commit eeee") {
		t.Errorf("unknown full sha: exit %d, %q %q", code, out, errOut)
	}
}

func TestFindings(t *testing.T) {
	out, errOut, code := trail(t, "findings", "-A")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("findings -A:\n%s", out)
	}
	for i, w := range [][]string{
		{"NAMESPACE", "TARGET", "TYPE", "SEVERITY", "INTRODUCED-BY", "MESSAGE"},
		{"-", "ClusterRoleBinding/ci-admin", "RBACEscalation", "Critical", "1a2b9f0 (PR #43)", "ServiceAccount shop/builder gained cluster-admin"},
		{"shop", "Deployment/web", "SecretExposure", "High", "1a2b3c4 (PR #42)", "literal AWS access key"},
		{"shop", "Deployment/builder", "Drift", "Medium", "untraced (admitted by kubernetes-admin)", "/spec/replicas changed"},
	} {
		mustContain(t, lines[i], w...)
	}
	if strings.Contains(out, "AKIA") {
		t.Error("a secret fingerprint was printed")
	}

	out, _, _ = trail(t, "findings", "-A", "--type", "RBACEscalation")
	if n := strings.Count(out, "\n"); n != 2 || !strings.Contains(out, "ci-admin") {
		t.Errorf("--type RBACEscalation:\n%s", out)
	}
	out, _, _ = trail(t, "findings", "-A", "--severity", "high")
	if strings.Contains(out, "Drift") || !strings.Contains(out, "SecretExposure") {
		t.Errorf("--severity high:\n%s", out)
	}
	out, _, _ = trail(t, "findings", "-n", "shop", "--type", "drift,secretexposure")
	if strings.Contains(out, "ci-admin") || strings.Count(out, "\n") != 3 {
		t.Errorf("-n shop:\n%s", out)
	}
	out, errOut, code = trail(t, "findings") // namespace of the context: default
	if code != 0 || out != "" || !strings.Contains(errOut, "No open findings in namespace default.") {
		t.Errorf("findings in default: exit %d %q %q", code, out, errOut)
	}
	out, _, _ = trail(t, "findings", "-A", "-o", "json")
	var rows []report.FindingRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 3 || rows[0].ID != "rbac-1" ||
		rows[0].Target.Kind != "ClusterRoleBinding" || rows[0].IntroducedBy.Commit != shaA2 {
		t.Errorf("-o json: %v %+v", err, rows)
	}
}

func TestExport(t *testing.T) {
	file := filepath.Join(t.TempDir(), "evidence.json")
	_, errOut, code := trail(t, "export", "--since", "24h", "-o", file)
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, errOut)
	}
	mustContain(t, errOut, "Wrote "+file+": 5 records, 3 findings, 1 policies, digest sha256:")
	doc, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var b evidence.Bundle
	if err := json.Unmarshal(doc, &b); err != nil {
		t.Fatal(err)
	}
	if b.APIVersion != "kubetrail.io/evidence/v1" || b.Since == nil || !strings.HasPrefix(b.Cluster, "https://127.0.0.1:") ||
		len(b.Records) != 5 || len(b.Findings) != 3 || len(b.Policies) != 1 || !strings.HasPrefix(b.Digest, "sha256:") {
		t.Fatalf("bundle header: %+v", b)
	}
	for _, r := range b.Records {
		if r.Name == "deployment.web" && len(r.Status.History) != 1 {
			t.Errorf("web's 3-day-old revision is outside --since 24h: %+v", r.Status.History)
		}
	}
	if strings.Contains(string(doc), "hunter2") {
		t.Error("a secret value was exported")
	}

	out, errOut, code := trail(t, "export", "--verify", file)
	if code != 0 || !strings.HasPrefix(out, "OK: "+file+" is unmodified (digest "+b.Digest+"): 5 records, 3 findings, 1 policies") {
		t.Fatalf("verify: exit %d: %s%s", code, out, errOut)
	}

	// One byte of a finding's message changed.
	tampered := strings.Replace(string(doc), "gained cluster-admin", "gained cluster-adm1n", 1)
	if tampered == string(doc) {
		t.Fatal("message not found in the bundle")
	}
	bad := filepath.Join(t.TempDir(), "tampered.json")
	if err := os.WriteFile(bad, []byte(tampered), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = trail(t, "export", "--verify", bad)
	if code != 1 || out != "" || !strings.HasPrefix(errOut, "error: "+bad+" was EDITED after export: its content hashes to sha256:") {
		t.Errorf("tampered: exit %d: %q %q", code, out, errOut)
	}

	// To standard output, and the whole history without --since.
	out, errOut, code = trail(t, "export")
	if code != 0 {
		t.Fatalf("export to stdout: exit %d: %s", code, errOut)
	}
	if _, err := evidence.Verify([]byte(out)); err != nil {
		t.Errorf("stdout bundle: %v", err)
	}
	if !strings.Contains(out, `"since": null`) || !strings.Contains(out, shaB) {
		t.Errorf("without --since the whole history is exported")
	}
	if _, errOut, code := trail(t, "export", "--since", "yesterday"); code != 1 || !strings.Contains(errOut, `error: invalid --since "yesterday"`) {
		t.Errorf("bad --since: exit %d: %s", code, errOut)
	}
}
