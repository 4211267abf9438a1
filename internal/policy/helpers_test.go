package policy_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/policy"
	"github.com/kubetrail/kubetrail/internal/provenance"
	"github.com/kubetrail/kubetrail/internal/signing"
)

const (
	commitA = "0f3c2a9d5e7b41c8a6f0e2d4b9c1a3e5f7d9b2c4"
	commitB = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
)

// now is a Wednesday morning, outside every freeze the tests do not put it in.
var now = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// Identities as the apiserver reports them.
var (
	pipeline = policy.Identity{Username: "system:serviceaccount:ci:deployer",
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"}}
	human = policy.Identity{Username: "alice", Groups: []string{"devs", "system:authenticated"}}
	sre   = policy.Identity{Username: "sam", Groups: []string{"sre", "system:authenticated"}}
)

var (
	requireAll    = []v1alpha1.ProvenanceField{v1alpha1.FieldCommit, v1alpha1.FieldRepository, v1alpha1.FieldPipelineRun, v1alpha1.FieldApprover}
	trustPipeline = []v1alpha1.Subject{{Kind: v1alpha1.SubjectServiceAccount, Namespace: "ci", Name: "deployer"}}
	sreMayBreak   = &v1alpha1.BreakGlass{Allowed: []v1alpha1.Subject{{Kind: v1alpha1.SubjectGroup, Name: "sre"}}}
)

// pipelineProvenance is what `kubectl trail stamp` writes in CI for commit.
func pipelineProvenance(commit string) map[string]string {
	return map[string]string{
		provenance.CommitKey:      commit,
		provenance.RepositoryKey:  "https://github.com/acme/shop",
		provenance.PullRequestKey: "42",
		provenance.PipelineRunKey: "https://ci.example/runs/7",
		provenance.ApproverKey:    "alice,bob",
		provenance.ActorKey:       provenance.ActorPipeline,
		provenance.SourceKey:      provenance.SourceCode,
	}
}

// with returns a copy of ann with the given key/value pairs set ("" deletes).
func with(ann map[string]string, kv ...string) map[string]string {
	out := maps.Clone(ann)
	if out == nil {
		out = map[string]string{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(out, kv[i])
		} else {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}

// deployment is an unstructured apps/v1 Deployment shop/web running image, with env
// variables name=value pairs on its one container.
func deployment(image string, ann map[string]string, env ...string) map[string]interface{} {
	md := map[string]interface{}{"name": "web", "namespace": "shop"}
	if ann != nil {
		a := map[string]interface{}{}
		for k, v := range ann {
			a[k] = v
		}
		md["annotations"] = a
	}
	container := map[string]interface{}{"name": "app", "image": image}
	if len(env) > 0 {
		var list []interface{}
		for i := 0; i+1 < len(env); i += 2 {
			list = append(list, map[string]interface{}{"name": env[i], "value": env[i+1]})
		}
		container["env"] = list
	}
	return map[string]interface{}{
		"apiVersion": "apps/v1", "kind": "Deployment", "metadata": md,
		"spec": map[string]interface{}{"replicas": int64(2), "template": map[string]interface{}{"spec": map[string]interface{}{
			"containers": []interface{}{container},
		}}},
	}
}

// testKey is a fresh signing key pair: the private key and the public PEM a policy lists.
type testKey struct {
	priv ed25519.PrivateKey
	pub  string
	id   string
}

func newKey(t testing.TB) testKey {
	t.Helper()
	privPEM, pubPEM, err := signing.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	priv, err := signing.ParsePrivateKey(privPEM)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := signing.ParsePublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{priv: priv, pub: string(pubPEM), id: signing.KeyID(pub)}
}

// signed returns ann plus a kubetrail.io/signature over the provenance that obj
// (built from ann by build) carries, valid until expires, as `kubectl trail stamp
// --key` makes it.
func signed(t testing.TB, k testKey, expires time.Time, ann map[string]string, build func(map[string]string) map[string]interface{}) map[string]string {
	t.Helper()
	st := signing.StatementOf(build(ann))
	st.Expires = expires
	st.Audience, st.SignedAt = "test-cluster", expires.Add(-2*time.Hour)
	sig, err := signing.Sign(context.Background(), st, k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return with(ann, provenance.SignatureKey, sig)
}

// compile turns specs into compiled policies named p0, p1, ... and returns the
// problems Compile found in any of them.
func compile(specs ...v1alpha1.TracePolicySpec) ([]*policy.Compiled, []string) {
	var out []*policy.Compiled
	var problems []string
	for i, s := range specs {
		p := &v1alpha1.TracePolicy{Spec: s}
		p.Name = fmt.Sprintf("p%d", i)
		c := policy.Compile(p, nil)
		problems = append(problems, c.Problems...)
		out = append(out, c)
	}
	return out, problems
}

// summary lists violations as "Type field (policies)", sorted, so that a table can
// state exactly what must be raised.
func summary(vs []policy.Violation) []string {
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		out = append(out, fmt.Sprintf("%s %s (%s)", v.Type, v.Err.Field, strings.Join(v.Policies, ",")))
	}
	slices.Sort(out)
	return out
}
