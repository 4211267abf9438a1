package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubetrail/kubetrail/internal/provenance"
	"github.com/kubetrail/kubetrail/internal/signing"
)

// execute runs the command line in-process with env as the environment.
func execute(t *testing.T, env map[string]string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	o := &rootOptions{
		streams:     genericiooptions.IOStreams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut},
		configFlags: newClientFlags(),
		getenv:      func(k string) string { return env[k] },
	}
	cmd := newRootCmdWith(o)
	cmd.SetArgs(args)
	code = 0
	if err := cmd.Execute(); err != nil {
		errOut.WriteString("error: " + err.Error() + "\n")
		code = 1
	}
	return out.String(), errOut.String(), code
}

const manifests = `# two objects, as kustomize build writes them
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
      - name: web
        image: registry.example.com/web:1.2.3
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: shop
data:
  a: "1"
`

func TestKeygenThenStamp(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "ci")

	out, errOut, code := execute(t, nil, "", "keygen", "--out", prefix)
	if code != 0 {
		t.Fatalf("keygen failed: %s", errOut)
	}
	for _, want := range []string{"Key id: sha256:", "spec:\n    signing:", "-----BEGIN PUBLIC KEY-----",
		"kubectl create secret generic kubetrail-signing -n kubetrail-system --from-file=ed25519.pub=" + prefix + ".pub"} {
		if !strings.Contains(out, want) {
			t.Errorf("keygen output lacks %q:\n%s", want, out)
		}
	}
	for file, mode := range map[string]os.FileMode{prefix + ".key": 0o600, prefix + ".pub": 0o644} {
		fi, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&^mode != 0 {
			t.Errorf("%s has mode %v, want at most %v", file, fi.Mode().Perm(), mode)
		}
	}
	if _, errOut, code := execute(t, nil, "", "keygen", "--out", prefix); code != 1 || !strings.Contains(errOut, "already exists: pass --force") {
		t.Errorf("keygen overwrote a key (exit %d): %s", code, errOut)
	}
	pubPEM, err := os.ReadFile(prefix + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := signing.ParsePublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, signing.KeyID(pub)) {
		t.Errorf("keygen printed another key id than the one it wrote")
	}

	sha := strings.Repeat("c0ffee", 6) + "c0ff"
	githubEnv := map[string]string{
		"GITHUB_ACTIONS": "true", "GITHUB_SHA": strings.Repeat("a", 40), "GITHUB_SERVER_URL": "https://github.com",
		"GITHUB_REPOSITORY": "org/shop", "GITHUB_RUN_ID": "99", "GITHUB_REF": "refs/pull/12/merge",
	}
	stamped, errOut, code := execute(t, githubEnv, manifests, "stamp", "--key", prefix+".key", "--audience", "prod-eu-1", "-n", "shop",
		"--commit", sha, "--approver", "alice", "--approver", "bob,carol", "--source", "generated:kustomize", "--path", "deploy/prod")
	if code != 0 {
		t.Fatalf("stamp failed: %s", errOut)
	}
	if !strings.Contains(errOut, "GitHub Actions") {
		t.Errorf("stamp did not say it read the CI environment: %q", errOut)
	}
	if !strings.HasPrefix(stamped, "# two objects, as kustomize build writes them\n") {
		t.Errorf("comment lost:\n%s", stamped)
	}
	want := map[string]string{
		provenance.CommitKey:      sha,
		provenance.RepositoryKey:  "https://github.com/org/shop",
		provenance.PullRequestKey: "https://github.com/org/shop/pull/12",
		provenance.PipelineRunKey: "https://github.com/org/shop/actions/runs/99",
		provenance.ApproverKey:    "alice,bob,carol",
		provenance.ActorKey:       "pipeline",
		provenance.SourceKey:      "generated:kustomize",
		provenance.PathKey:        "deploy/prod",
	}
	dec := yaml.NewDecoder(strings.NewReader(stamped))
	n := 0
	for {
		var obj map[string]interface{}
		if err := dec.Decode(&obj); err != nil {
			break
		}
		n++
		meta := obj["metadata"].(map[string]interface{})
		ann, _ := meta["annotations"].(map[string]interface{})
		for k, v := range want {
			if ann[k] != v {
				t.Errorf("%s: %s = %v, want %q", obj["kind"], k, ann[k], v)
			}
		}
		sig, _ := ann[provenance.SignatureKey].(string)
		if md := obj["metadata"].(map[string]interface{}); md["namespace"] == nil {
			md["namespace"] = "shop" // as the API server fills it in
		}
		st := signing.StatementOf(obj)
		if _, err := signing.Verify(context.Background(), sig, st, []ed25519.PublicKey{pub}, time.Now()); err != nil {
			t.Errorf("%s: signature does not verify: %v", obj["kind"], err)
		}
		if _, err := signing.Verify(context.Background(), sig, st, []ed25519.PublicKey{pub}, time.Now().Add(73*time.Hour)); err == nil {
			t.Errorf("%s: signature valid past the default 72h expiry", obj["kind"])
		}
	}
	if n != 2 {
		t.Fatalf("stamped output holds %d objects, want 2:\n%s", n, stamped)
	}
}

func TestStampFiles(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	os.WriteFile(a, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a"), 0o644)
	os.WriteFile(b, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n"), 0o644)
	out, errOut, code := execute(t, nil, "", "stamp", "-f", a, "-f", b, "--actor", "human")
	if code != 0 {
		t.Fatalf("stamp failed: %s", errOut)
	}
	want := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations:\n    kubetrail.io/actor: human\n---\n" +
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n  annotations:\n    kubetrail.io/actor: human\n"
	if out != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}

	_, errOut, code = execute(t, nil, "", "stamp", "-f", a, "-f", filepath.Join(dir, "missing.yaml"), "--actor", "human")
	if code != 1 || !strings.Contains(errOut, "missing.yaml") {
		t.Errorf("missing file: exit %d, %q", code, errOut)
	}
	os.WriteFile(b, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n"), 0o644)
	_, errOut, code = execute(t, nil, "", "stamp", "-f", b, "--actor", "human")
	if code != 1 || !strings.HasPrefix(errOut, "error: "+b+": document 1 (ConfigMap, line 1): metadata.name is missing") {
		t.Errorf("bad document: exit %d, %q", code, errOut)
	}
}

func TestStampErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"invalid commit", nil, []string{"--commit", "abc"},
			`error: --commit: must be the full commit SHA, 40 or 64 lowercase hex characters (git rev-parse HEAD) (got "abc")` + "\n"},
		{"invalid commit from the environment", map[string]string{"GITLAB_CI": "true", "CI_COMMIT_SHA": "main"}, nil,
			`error: --commit: must be the full commit SHA, 40 or 64 lowercase hex characters (git rev-parse HEAD) (got "main") (read from the GitLab CI environment: pass --commit to set it, or --no-env)` + "\n"},
		{"nothing to stamp", map[string]string{"GITLAB_CI": "true"}, []string{"--no-env"}, "error: nothing to stamp"},
		{"bad key file", nil, []string{"--actor", "human", "--key", "/nonexistent/key.pem"}, "error: --key: open /nonexistent/key.pem"},
		{"public key as key", nil, []string{"--actor", "human", "--key", "testdata/public.pem"}, "error: --key testdata/public.pem: the signing key is a PUBLIC KEY"},
		{"bad expiry", nil, []string{"--actor", "human", "--expires", "-1h"}, "error: --expires: must be a positive duration"},
		{"unknown flag", nil, []string{"--comit", "x"}, "error: unknown flag: --comit (see 'kubectl trail stamp --help')\n"},
		{"key without audience", nil, []string{"--actor", "human", "--key", "testdata/private.pem"}, "error: --audience: required with --key"},
		{"audience without key", nil, []string{"--actor", "human", "--audience", "prod"}, "error: --audience and --server-dry-run are for signing: give --key too"},
		{"argument", nil, []string{"deploy.yaml"}, `error: unexpected argument "deploy.yaml": give manifest files with -f`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := execute(t, tc.env, manifests, append([]string{"stamp"}, tc.args...)...)
			if code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			if !strings.HasPrefix(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("stderr = %q, want one line starting %q", stderr, tc.want)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
		})
	}
}

func TestRunExitCode(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{"nosuchverb"}, genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	if code != 1 || !strings.HasPrefix(errOut.String(), "error: unknown command \"nosuchverb\"") || strings.Contains(errOut.String(), "goroutine") {
		t.Errorf("exit %d, stderr %q", code, errOut.String())
	}
}
