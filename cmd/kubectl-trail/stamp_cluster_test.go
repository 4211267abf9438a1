package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/kubetrail/kubetrail/internal/provenance"
	"github.com/kubetrail/kubetrail/internal/signing"
)

// stamp --server-dry-run signs the content the apiserver admits, defaults included:
// the object created from its output, read back, verifies. Signed from the manifest
// alone, the same object does not (the apiserver defaulted fields it leaves out).
func TestStampServerDryRun(t *testing.T) {
	startCluster(t)
	if envSkip != "" {
		t.Skip(envSkip)
	}
	priv, pubPEM, err := signing.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "ci.key")
	if err := os.WriteFile(keyFile, priv, 0o600); err != nil {
		t.Fatal(err)
	}
	pub, err := signing.ParsePublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	manifest := func(name string) string {
		return `apiVersion: apps/v1
kind: Deployment
metadata: {name: ` + name + `, namespace: default}
spec:
  selector: {matchLabels: {app: ` + name + `}}
  template:
    metadata: {labels: {app: ` + name + `}}
    spec:
      containers: [{name: app, image: "nginx:1.27"}]
`
	}
	stampAndCreate := func(name string, extra ...string) error {
		t.Helper()
		args := append([]string{"--kubeconfig", envKubeconfig, "stamp", "--no-env", "--key", keyFile, "--audience", "envtest",
			"--commit", strings.Repeat("a", 40), "--actor", "pipeline"}, extra...)
		out, errOut, code := execute(t, nil, manifest(name), args...)
		if code != 0 {
			t.Fatalf("stamp %v: %s", extra, errOut)
		}
		var obj map[string]interface{}
		if err := yaml.Unmarshal([]byte(out), &obj); err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{Object: obj}
		if err := envClient.Create(context.Background(), u); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = envClient.Delete(context.Background(), u) })
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(u.GroupVersionKind())
		if err := envClient.Get(context.Background(), client.ObjectKeyFromObject(u), live); err != nil {
			t.Fatal(err)
		}
		content := runtime.DeepCopyJSON(live.Object)
		_, err := signing.Verify(context.Background(), live.GetAnnotations()[provenance.SignatureKey], signing.StatementOf(content),
			[]ed25519.PublicKey{pub}, time.Now())
		return err
	}
	if err := stampAndCreate("dry-run-signed", "--server-dry-run"); err != nil {
		t.Errorf("signed with --server-dry-run, the admitted object does not verify: %v", err)
	}
	var mm *signing.MismatchError
	if err := stampAndCreate("locally-signed"); !errors.As(err, &mm) || mm.Field != "digest" {
		t.Errorf("signed from the manifest alone: error %v, want a digest mismatch (the apiserver defaulted fields)", err)
	}
}
