package stamp

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/kubetrail/kubetrail/internal/provenance"
	"github.com/kubetrail/kubetrail/internal/signing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const testCommit = "0123456789abcdef0123456789abcdef01234567"

var testProv = provenance.Provenance{
	Commit:      testCommit,
	Repository:  "https://github.com/kubetrail/demo",
	PullRequest: "42",
	PipelineRun: "https://github.com/kubetrail/demo/actions/runs/7",
	Approvers:   []string{"alice", "bob"},
	Actor:       provenance.ActorPipeline,
	Source:      provenance.SourceCode,
	Path:        "deploy/overlays/prod",
}

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testKey() ed25519.PrivateKey { return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32)) }

func stampString(t *testing.T, in string, opts Options) (string, string, error) {
	t.Helper()
	var out, warn bytes.Buffer
	if opts.Now == nil {
		opts.Now = func() time.Time { return testNow }
	}
	opts.Warnings = &warn
	err := Stamp(strings.NewReader(in), &out, opts)
	return out.String(), warn.String(), err
}

// addedLine is what Stamp may add: kubetrail annotations and the mapping keys holding them.
var addedLine = regexp.MustCompile(`^ *(kubetrail\.io/[a-z-]+: \S.*|annotations:|metadata:)$`)

// checkOnlyAdded checks that out is in with lines added and none removed or changed,
// and that the added lines are kubetrail annotations. It returns the added lines.
func checkOnlyAdded(t *testing.T, in, out string) []string {
	t.Helper()
	inLines := strings.SplitAfter(in, "\n")
	var added []string
	i := 0
	for _, l := range strings.SplitAfter(out, "\n") {
		if i < len(inLines) && l == inLines[i] {
			i++
			continue
		}
		if !addedLine.MatchString(strings.TrimRight(l, "\r\n")) {
			t.Errorf("output line %q is neither an input line (next: %q) nor a kubetrail annotation", l, inLines[min(i, len(inLines)-1)])
		}
		added = append(added, strings.TrimRight(l, "\r\n"))
	}
	if i != len(inLines) {
		t.Errorf("input lines missing from the output, from %q on", inLines[i])
	}
	return added
}

// objects decodes every non-empty document of a stream.
func objects(t *testing.T, s string) []map[string]interface{} {
	t.Helper()
	dec := yaml.NewDecoder(strings.NewReader(s))
	var out []map[string]interface{}
	for {
		var obj map[string]interface{}
		err := dec.Decode(&obj)
		if err != nil {
			if err.Error() == "EOF" {
				return out
			}
			t.Fatalf("output does not parse: %v\n%s", err, s)
		}
		if obj != nil {
			out = append(out, obj)
		}
	}
}

func annotationsOf(obj map[string]interface{}) map[string]interface{} {
	meta, _ := obj["metadata"].(map[string]interface{})
	ann, _ := meta["annotations"].(map[string]interface{})
	return ann
}

func TestStampPreservesFormatting(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "format.in.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, signed := range []bool{false, true} {
		opts := Options{Provenance: testProv}
		if signed {
			opts.Key, opts.Audience = testKey(), "prod-eu-1"
			opts.Namespace = "shop"
		}
		out, warnings, err := stampString(t, string(in), opts)
		if err != nil {
			t.Fatalf("Stamp: %v", err)
		}
		if warnings != "" {
			t.Errorf("unexpected warnings:\n%s", warnings)
		}
		added := checkOnlyAdded(t, string(in), out)
		objs := objects(t, out)
		if len(objs) != 5 {
			t.Fatalf("got %d objects, want 5", len(objs))
		}
		perObject := len(testProv.Annotations())
		if signed {
			perObject++
		}
		// Namespace, ConfigMap and ClusterRole get an "annotations:" line too.
		if want := 5*perObject + 3; len(added) != want {
			t.Errorf("added %d lines, want %d:\n%s", len(added), want, strings.Join(added, "\n"))
		}
		for _, obj := range objs {
			ann := annotationsOf(obj)
			for k, v := range testProv.Annotations() {
				if ann[k] != v {
					t.Errorf("%s: %s = %v, want %q", obj["kind"], k, ann[k], v)
				}
			}
			if _, ok := ann[provenance.SignatureKey]; ok != signed {
				t.Errorf("%s: signature present = %v, want %v", obj["kind"], ok, signed)
			}
		}
		if !signed {
			golden := filepath.Join("testdata", "format.out.yaml")
			if *update {
				if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if out != string(want) {
				t.Errorf("output differs from %s (go test -update to rewrite it):\n%s", golden, out)
			}
		}
	}
}

func TestStampLayouts(t *testing.T) {
	p := provenance.Provenance{Commit: testCommit, Actor: provenance.ActorPipeline}
	commitLine := "kubetrail.io/commit: " + testCommit
	for _, tc := range []struct {
		name, in, want string
	}{{
		name: "flow metadata",
		in:   "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n",
		want: `apiVersion: v1
kind: Service
metadata: {"annotations": {"kubetrail.io/commit": "` + testCommit + `", "kubetrail.io/actor": "pipeline"}, name: web, namespace: shop}
`,
	}, {
		name: "flow annotations",
		in:   "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  annotations: {a: b}\n",
		want: "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  annotations: {\"kubetrail.io/commit\": \"" + testCommit + "\", \"kubetrail.io/actor\": \"pipeline\", a: b}\n",
	}, {
		name: "empty flow annotations on the key line",
		in:   "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n  annotations: {}   # none\ntype: Opaque\n",
		want: "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n  annotations:   # none\n    " + commitLine + "\n    kubetrail.io/actor: pipeline\ntype: Opaque\n",
	}, {
		name: "empty flow annotations on their own line (helm toYaml)",
		in:   "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n  annotations:\n    {}\ntype: Opaque\n",
		want: "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n  annotations:\n    " + commitLine + "\n    kubetrail.io/actor: pipeline\ntype: Opaque\n",
	}, {
		name: "null annotations",
		in:   "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n  annotations:\n",
		want: "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n  annotations:\n    " + commitLine + "\n    kubetrail.io/actor: pipeline\n",
	}, {
		name: "tilde annotations",
		in:   "apiVersion: v1\nkind: Secret\nmetadata:\n   name: creds\n   annotations: ~\n",
		want: "apiVersion: v1\nkind: Secret\nmetadata:\n   name: creds\n   annotations:\n      " + commitLine + "\n      kubetrail.io/actor: pipeline\n",
	}, {
		name: "CRLF and no final line break",
		in:   "apiVersion: v1\r\nkind: ConfigMap\r\nmetadata:\r\n  name: x\r\ndata: {}",
		want: "apiVersion: v1\r\nkind: ConfigMap\r\nmetadata:\r\n  name: x\r\n  annotations:\r\n    " + commitLine + "\r\n    kubetrail.io/actor: pipeline\r\ndata: {}",
	}, {
		name: "metadata last, no final line break",
		in:   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x",
		want: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  annotations:\n    " + commitLine + "\n    kubetrail.io/actor: pipeline",
	}, {
		name: "JSON",
		in:   "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"ConfigMap\",\n  \"metadata\": {\n    \"name\": \"x\"\n  }\n}\n",
		want: "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"ConfigMap\",\n  \"metadata\": {\"annotations\": {\"kubetrail.io/commit\": \"" + testCommit + "\", \"kubetrail.io/actor\": \"pipeline\"}, \n    \"name\": \"x\"\n  }\n}\n",
	}, {
		name: "already stamped",
		in:   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  annotations:\n    kubetrail.io/actor: pipeline\n    " + commitLine + "\n",
		want: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  annotations:\n    kubetrail.io/actor: pipeline\n    " + commitLine + "\n",
	}, {
		name: "replaces other values",
		in:   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  annotations:\n    kubetrail.io/commit: \"" + strings.Repeat("f", 40) + "\"\n    kubetrail.io/actor: human\n    other: kept\n",
		want: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  annotations:\n    other: kept\n    " + commitLine + "\n    kubetrail.io/actor: pipeline\n",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			out, warnings, err := stampString(t, tc.in, Options{Provenance: p})
			if err != nil {
				t.Fatalf("Stamp: %v", err)
			}
			if out != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", out, tc.want)
			}
			if warnings != "" {
				t.Errorf("unexpected warnings: %s", warnings)
			}
			if tc.name == "JSON" {
				var v map[string]interface{}
				if err := json.Unmarshal([]byte(out), &v); err != nil {
					t.Errorf("JSON input no longer JSON: %v", err)
				}
			}
		})
	}
}

func TestStampSignatureVerifies(t *testing.T) {
	in := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
      - name: web
        image: registry.example.com/web:1.2.3
      - name: sidecar
        image: registry.example.com/proxy:2
---
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: other
  annotations:
    kubetrail.io/approver: carol
`
	key := testKey()
	pub := key.Public().(ed25519.PublicKey)
	p := testProv
	p.Approvers = nil
	out, warnings, err := stampString(t, in, Options{Provenance: p, Key: key, Audience: "prod-eu-1", Expires: time.Hour, Namespace: "shop"})
	if err != nil {
		t.Fatalf("Stamp: %v", err)
	}
	if warnings != "" {
		t.Errorf("unexpected warnings: %s", warnings)
	}
	checkOnlyAdded(t, in, out)
	objs := objects(t, out)
	wantNS := []string{"shop", "", "other"}
	for i, obj := range objs {
		sig, _ := annotationsOf(obj)[provenance.SignatureKey].(string)
		if sig == "" {
			t.Fatalf("%s: no signature", obj["kind"])
		}
		if md := obj["metadata"].(map[string]interface{}); md["namespace"] == nil && wantNS[i] != "" {
			md["namespace"] = wantNS[i] // the API server fills it in from kubectl apply -n
		}
		st := signing.StatementOf(obj)
		if _, err := signing.Verify(context.Background(), sig, st, []ed25519.PublicKey{pub}, testNow.Add(30*time.Minute)); err != nil {
			t.Errorf("%s: signature does not verify: %v", obj["kind"], err)
		}
		if _, err := signing.Verify(context.Background(), sig, st, []ed25519.PublicKey{pub}, testNow.Add(2*time.Hour)); err == nil {
			t.Errorf("%s: signature still valid after --expires", obj["kind"])
		}
		if i == 2 && st.Provenance[provenance.ApproverKey] != "carol" {
			t.Errorf("existing approver not part of the signed provenance: %v", st.Provenance)
		}
	}
	if len(objs) != 3 {
		t.Fatalf("got %d objects", len(objs))
	}
	// The signature binds the content: the same object with another image (or any
	// other change) does not verify, naming the digest.
	changed := objs[0]
	changed["spec"] = map[string]interface{}{"template": map[string]interface{}{"spec": map[string]interface{}{
		"containers": []interface{}{map[string]interface{}{"name": "web", "image": "registry.example.com/web:6.6.6"}}}}}
	st := signing.StatementOf(changed)
	var mm *signing.MismatchError
	if _, err := signing.Verify(context.Background(), annotationsOf(objs[0])[provenance.SignatureKey].(string), st, []ed25519.PublicKey{pub}, testNow); !errors.As(err, &mm) || mm.Field != "digest" {
		t.Errorf("signature over changed content: error %v, want a digest mismatch", err)
	}

	// Stamping the output again changes nothing.
	again, _, err := stampString(t, out, Options{Provenance: p, Key: key, Audience: "prod-eu-1", Expires: time.Hour, Namespace: "shop"})
	if err != nil || again != out {
		t.Errorf("stamping twice is not idempotent (err %v):\n%s", err, again)
	}

	// Without a namespace the signature is for none, with a warning.
	_, warnings, err = stampString(t, in, Options{Provenance: p, Key: key, Audience: "prod-eu-1"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(warnings, "1 signed object has no metadata.namespace (document 1: Deployment web)") || strings.Count(warnings, "warning:") != 1 {
		t.Errorf("want one namespace warning for the Deployment, got:\n%s", warnings)
	}
}

func TestStampRemovesAdmissionAnnotations(t *testing.T) {
	in := `apiVersion: v1
kind: ConfigMap
metadata:
  annotations:
    kubetrail.io/admitted-by: system:serviceaccount:x:y
    kubetrail.io/admitted-at: "2026-01-01T00:00:00Z"
    kubetrail.io/digest: sha256:abc
    keep: me
    kubetrail.io/verified: |
      multi
      line
    kubetrail.io/signature: c3RhbGU=
  name: x
`
	out, warnings, err := stampString(t, in, Options{Provenance: testProv})
	if err != nil {
		t.Fatalf("Stamp: %v", err)
	}
	for _, k := range provenance.AdmissionKeys {
		if strings.Contains(out, k) {
			t.Errorf("%s still in the output", k)
		}
		if !strings.Contains(warnings, "removed "+k) {
			t.Errorf("no warning about %s:\n%s", k, warnings)
		}
	}
	if strings.Contains(out, "c3RhbGU=") || !strings.Contains(warnings, "removed kubetrail.io/signature") {
		t.Errorf("stale signature not removed with a warning:\n%s\n%s", out, warnings)
	}
	want := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  annotations:\n    keep: me\n"
	if !strings.HasPrefix(out, want) || !strings.HasSuffix(out, "  name: x\n") {
		t.Errorf("unexpected output:\n%s", out)
	}
	if ann := annotationsOf(objects(t, out)[0]); len(ann) != len(testProv.Annotations())+1 {
		t.Errorf("annotations = %v", ann)
	}
}

func TestStampFallsBackToReencoding(t *testing.T) {
	// A provenance value to replace inside a flow mapping cannot be removed line-wise.
	in := "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x   # the name\n  annotations: {kubetrail.io/actor: human, a: b}\n"
	out, warnings, err := stampString(t, in, Options{Provenance: provenance.Provenance{Actor: "pipeline"}})
	if err != nil {
		t.Fatalf("Stamp: %v", err)
	}
	if !strings.Contains(warnings, "reformatted") {
		t.Errorf("no warning about reformatting: %q", warnings)
	}
	if !strings.HasPrefix(out, "---\n") || !strings.Contains(out, "# the name") {
		t.Errorf("document marker or comment lost:\n%s", out)
	}
	ann := annotationsOf(objects(t, out)[0])
	if ann["kubetrail.io/actor"] != "pipeline" || ann["a"] != "b" || len(ann) != 2 {
		t.Errorf("annotations = %v", ann)
	}
}

func TestStampErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		opts     Options
		want     string
	}{
		{"invalid commit flag", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
			Options{Provenance: provenance.Provenance{Commit: "abc123"}},
			`--commit: must be the full commit SHA, 40 or 64 lowercase hex characters (git rev-parse HEAD) (got "abc123")`},
		{"unsupported actor", "", Options{Provenance: provenance.Provenance{Actor: "robot"}}, `--actor: must be one of "human", "pipeline", "agent" (got "robot")`},
		{"agent without name", "", Options{Provenance: provenance.Provenance{Actor: "agent"}}, `--agent: an agent change must name the agent`},
		{"bad repository", "", Options{Provenance: provenance.Provenance{Repository: "github.com/x"}}, `--repository: must be the repository URL`},
		{"signature given", "", Options{Provenance: provenance.Provenance{Signature: "x"}}, `--signature: stamp writes the signature itself`},
		{"negative expiry", "", Options{Provenance: testProv, Expires: -time.Hour}, `--expires: must be a positive duration`},
		{"missing name", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n---\n# comment\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: x-\n",
			Options{Provenance: testProv}, "document 2 (ConfigMap, line 6): metadata.name is missing"},
		{"missing kind", "apiVersion: v1\nmetadata:\n  name: x\n", Options{Provenance: testProv}, "document 1 (line 1): not a Kubernetes object: kind is missing"},
		{"missing apiVersion", "kind: Pod\nmetadata:\n  name: x\n", Options{Provenance: testProv}, "document 1 (Pod, line 1): apiVersion is missing"},
		{"list", "apiVersion: v1\nkind: List\nitems: []\n", Options{Provenance: testProv}, "document 1 (List, line 1): List is not supported"},
		{"scalar document", "--- hello\n", Options{Provenance: testProv}, "document 1 (line 1): not a Kubernetes object"},
		{"syntax error", "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n---\na: [\n", Options{Provenance: testProv}, "document 2: yaml: line 5"},
		{"invalid existing annotation", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  annotations:\n    kubetrail.io/source: hand\n",
			Options{Provenance: provenance.Provenance{Commit: testCommit}}, "document 1 (ConfigMap x, line 1): metadata.annotations[kubetrail.io/source]: Invalid value"},
		{"non-string provenance", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  annotations:\n    kubetrail.io/agent: 12\n",
			Options{Provenance: testProv}, "metadata.annotations[kubetrail.io/agent] must be a string"},
		{"input name", "kind: Pod\n", Options{Provenance: testProv, InputName: "deploy.yaml"}, "deploy.yaml: document 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := stampString(t, tc.in, tc.opts)
			if err == nil {
				t.Fatalf("Stamp succeeded, want error %q; output:\n%s", tc.want, out)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if out != "" {
				t.Errorf("output written despite the error:\n%s", out)
			}
		})
	}
}

func TestStampEmptyInput(t *testing.T) {
	for _, in := range []string{"", "\n", "# only a comment\n", "---\n", "---\n# Source: chart/templates/empty.yaml\n---\n"} {
		out, warnings, err := stampString(t, in, Options{Provenance: testProv, Key: testKey(), Audience: "prod-eu-1"})
		if err != nil {
			t.Errorf("Stamp(%q): %v", in, err)
		}
		if out != in {
			t.Errorf("Stamp(%q) = %q, want the input unchanged", in, out)
		}
		if !strings.Contains(warnings, "no Kubernetes objects") {
			t.Errorf("Stamp(%q): no warning about the empty input: %q", in, warnings)
		}
	}
}

func TestValidateProvenance(t *testing.T) {
	if err := ValidateProvenance(testProv); err != nil {
		t.Errorf("valid provenance: %v", err)
	}
	err := ValidateProvenance(provenance.Provenance{Commit: "HEAD", PullRequest: "not a pr"})
	fe, ok := err.(FieldErrors)
	if !ok || len(fe) != 2 || fe[0].Flag != "--commit" || fe[1].Flag != "--pull-request" {
		t.Errorf("ValidateProvenance = %#v", err)
	}
}

func TestFromEnv(t *testing.T) {
	const sha = "89abcdef0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		name   string
		env    map[string]string
		wantCI string
		want   provenance.Provenance
	}{
		{name: "none", env: map[string]string{"GIT_COMMIT": sha, "HOME": "/root"}},
		{name: "GitHub push", env: map[string]string{
			"GITHUB_ACTIONS": "true", "GITHUB_SHA": sha, "GITHUB_SERVER_URL": "https://github.com",
			"GITHUB_REPOSITORY": "org/app", "GITHUB_RUN_ID": "123", "GITHUB_REF": "refs/heads/main",
		}, wantCI: CIGitHubActions, want: provenance.Provenance{
			Commit: sha, Repository: "https://github.com/org/app",
			PipelineRun: "https://github.com/org/app/actions/runs/123", Actor: "pipeline",
		}},
		{name: "GitHub pull request", env: map[string]string{
			"GITHUB_ACTIONS": "true", "GITHUB_SHA": sha, "GITHUB_SERVER_URL": "https://ghe.example.com/",
			"GITHUB_REPOSITORY": "org/app", "GITHUB_RUN_ID": "9", "GITHUB_REF": "refs/pull/17/merge",
		}, wantCI: CIGitHubActions, want: provenance.Provenance{
			Commit: sha, Repository: "https://ghe.example.com/org/app", PullRequest: "https://ghe.example.com/org/app/pull/17",
			PipelineRun: "https://ghe.example.com/org/app/actions/runs/9", Actor: "pipeline",
		}},
		{name: "GitLab merge request", env: map[string]string{
			"GITLAB_CI": "true", "CI_COMMIT_SHA": sha, "CI_PROJECT_URL": "https://gitlab.com/org/app",
			"CI_PIPELINE_URL": "https://gitlab.com/org/app/-/pipelines/5", "CI_MERGE_REQUEST_IID": "3",
			"CI_MERGE_REQUEST_PROJECT_URL": "https://gitlab.com/org/app",
		}, wantCI: CIGitLab, want: provenance.Provenance{
			Commit: sha, Repository: "https://gitlab.com/org/app", PullRequest: "https://gitlab.com/org/app/-/merge_requests/3",
			PipelineRun: "https://gitlab.com/org/app/-/pipelines/5", Actor: "pipeline",
		}},
		{name: "GitLab branch", env: map[string]string{
			"GITLAB_CI": "true", "CI_COMMIT_SHA": sha, "CI_PROJECT_URL": "https://gitlab.com/org/app",
			"CI_PIPELINE_URL": "https://gitlab.com/org/app/-/pipelines/5",
		}, wantCI: CIGitLab, want: provenance.Provenance{
			Commit: sha, Repository: "https://gitlab.com/org/app", PipelineRun: "https://gitlab.com/org/app/-/pipelines/5", Actor: "pipeline",
		}},
		{name: "Jenkins pull request", env: map[string]string{
			"JENKINS_URL": "https://ci.example.com/", "GIT_COMMIT": sha, "GIT_URL": "git@github.com:org/app.git",
			"BUILD_URL": "https://ci.example.com/job/app/PR-4/2/", "CHANGE_ID": "4", "CHANGE_URL": "https://github.com/org/app/pull/4",
		}, wantCI: CIJenkins, want: provenance.Provenance{
			Commit: sha, Repository: "git@github.com:org/app.git", PullRequest: "https://github.com/org/app/pull/4",
			PipelineRun: "https://ci.example.com/job/app/PR-4/2/", Actor: "pipeline",
		}},
		{name: "Jenkins change id only", env: map[string]string{"JENKINS_URL": "https://ci", "CHANGE_ID": "4"},
			wantCI: CIJenkins, want: provenance.Provenance{PullRequest: "4", Actor: "pipeline"}},
		{name: "Tekton", env: map[string]string{
			"TEKTON_PIPELINE_RUN": "deploy-x7k2", "TEKTON_PIPELINE_RUN_NAMESPACE": "ci", "GIT_COMMIT": sha,
			"GIT_URL": "https://github.com/org/app", "PULL_REQUEST_NUMBER": "8",
		}, wantCI: CITekton, want: provenance.Provenance{
			Commit: sha, Repository: "https://github.com/org/app", PullRequest: "8", PipelineRun: "ci/deploy-x7k2", Actor: "pipeline",
		}},
		{name: "Tekton dashboard", env: map[string]string{
			"PIPELINE_RUN_NAME": "deploy-x7k2", "TEKTON_PIPELINE_RUN_NAMESPACE": "ci", "TEKTON_DASHBOARD_URL": "https://tekton.example.com/",
		}, wantCI: CITekton, want: provenance.Provenance{
			PipelineRun: "https://tekton.example.com/#/namespaces/ci/pipelineruns/deploy-x7k2", Actor: "pipeline",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ci := FromEnv(func(k string) string { return tc.env[k] })
			if ci != tc.wantCI {
				t.Errorf("CI = %q, want %q", ci, tc.wantCI)
			}
			if !equalProvenance(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
			if ci != "" {
				if err := ValidateProvenance(got); err != nil {
					t.Errorf("detected provenance is invalid: %v", err)
				}
			}
		})
	}
}

func equalProvenance(a, b provenance.Provenance) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func TestFlagsOverrideEnv(t *testing.T) {
	env := map[string]string{
		"GITHUB_ACTIONS": "true", "GITHUB_SHA": strings.Repeat("a", 40), "GITHUB_SERVER_URL": "https://github.com",
		"GITHUB_REPOSITORY": "org/app", "GITHUB_RUN_ID": "1",
	}
	detected, _ := FromEnv(func(k string) string { return env[k] })
	flags := provenance.Provenance{Commit: strings.Repeat("b", 40), Actor: "agent", Agent: "deploy-bot run 3", Approvers: []string{"dana"}}
	got := Override(detected, flags)
	want := provenance.Provenance{
		Commit: strings.Repeat("b", 40), Repository: "https://github.com/org/app",
		PipelineRun: "https://github.com/org/app/actions/runs/1", Approvers: []string{"dana"},
		Actor: "agent", Agent: "deploy-bot run 3",
	}
	if !equalProvenance(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if !equalProvenance(Override(detected, provenance.Provenance{}), detected) {
		t.Error("empty flags changed the detected provenance")
	}
}

func TestBlockScalar(t *testing.T) {
	for in, want := range map[string]string{
		testCommit: testCommit,
		"1234567890123456789012345678901234567890": `"1234567890123456789012345678901234567890"`,
		"1234567e90":           `"1234567e90"`,
		"42":                   `"42"`,
		"yes":                  `"yes"`,
		"on":                   `"on"`,
		"null":                 `"null"`,
		"alice,bob":            "alice,bob",
		"a: b":                 `"a: b"`,
		"a #b":                 `"a #b"`,
		"deploy-bot run 42":    "deploy-bot run 42",
		"generated:helm":       "generated:helm",
		"https://x/y?z=1#frag": "https://x/y?z=1#frag",
		"- item":               `"- item"`,
		"*alias":               `"*alias"`,
		"tab\there":            `"tab\u0009here"`,
		`quote"back\slash`:     `"quote\"back\\slash"`,
		"del\x7f":              `"del\u007f"`,
		"nel\u0085ls\u2028":    `"nel\u0085ls\u2028"`,
		"émoji 🙂":              "émoji 🙂",
		" padded":              `" padded"`,
		"@at":                  `"@at"`,
		"%percent":             `"%percent"`,
		"c3RhbGU+/w==":         "c3RhbGU+/w==",
		"2026-01-01":           `"2026-01-01"`,
		"0x1F":                 `"0x1F"`,
		"1_000":                `"1_000"`,
		"190:20:30":            "190:20:30",
		"":                     `""`,
		"ok\ufeffbom":          `"ok\ufeffbom"`,
	} {
		if got := blockScalar(in); got != want {
			t.Errorf("blockScalar(%q) = %s, want %s", in, got, want)
		}
		var back map[string]string
		if err := yaml.Unmarshal([]byte("k: "+blockScalar(in)), &back); err != nil || back["k"] != in {
			t.Errorf("blockScalar(%q) reads back as %q (%v)", in, back["k"], err)
		}
		var js string
		if err := json.Unmarshal([]byte(quoteScalar(in)), &js); err != nil || js != in {
			t.Errorf("quoteScalar(%q) is not the JSON string (%q, %v)", in, js, err)
		}
	}
}

// With Resolve (kubectl trail stamp --server-dry-run) the signature binds the
// content of the object as the apiserver returns it, defaults included, not the
// manifest's; the dry run sees the object without a signature.
func TestStampSignsWhatResolveReturns(t *testing.T) {
	in := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: shop\ndata:\n  a: \"1\"\n"
	key := testKey()
	pub := key.Public().(ed25519.PublicKey)
	var sent map[string]interface{}
	resolve := func(obj map[string]interface{}) (map[string]interface{}, error) {
		sent = obj
		out := maps.Clone(obj)
		out["data"] = map[string]interface{}{"a": "1", "defaulted": "by the server"}
		return out, nil
	}
	out, _, err := stampString(t, in, Options{Provenance: testProv, Key: key, Audience: "prod-eu-1", Resolve: resolve})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := annotationsOf(sent)[provenance.SignatureKey]; ok || annotationsOf(sent)[provenance.CommitKey] == nil {
		t.Errorf("the dry run got annotations %v, want the provenance without a signature", annotationsOf(sent))
	}
	obj := objects(t, out)[0]
	sig := annotationsOf(obj)[provenance.SignatureKey].(string)
	verify := func(o map[string]interface{}) error {
		_, err := signing.Verify(context.Background(), sig, signing.StatementOf(o), []ed25519.PublicKey{pub}, testNow)
		return err
	}
	var mm *signing.MismatchError
	if err := verify(obj); !errors.As(err, &mm) || mm.Field != "digest" {
		t.Errorf("the manifest as written verifies (%v); the signature must bind the defaulted content", err)
	}
	admitted := maps.Clone(obj)
	admitted["data"] = map[string]interface{}{"a": "1", "defaulted": "by the server"}
	if err := verify(admitted); err != nil {
		t.Errorf("the object as the server admits it does not verify: %v", err)
	}

	// A failing dry run is an error naming the object.
	_, _, err = stampString(t, in, Options{Provenance: testProv, Key: key, Audience: "prod-eu-1",
		Resolve: func(map[string]interface{}) (map[string]interface{}, error) { return nil, errors.New("forbidden") }})
	if err == nil || !strings.Contains(err.Error(), "ConfigMap shop/settings") || !strings.Contains(err.Error(), "server-side dry run: forbidden") {
		t.Errorf("error = %v, want the dry run's error naming the object", err)
	}
	// A key without an audience is refused.
	if _, _, err := stampString(t, in, Options{Provenance: testProv, Key: key}); err == nil || !strings.Contains(err.Error(), "--audience") {
		t.Errorf("error = %v, want --audience required", err)
	}
}
