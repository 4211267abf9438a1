package policy_test

import (
	"crypto/ed25519"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/policy"
	"github.com/kubetrail/kubetrail/internal/signing"
)

func TestCompile(t *testing.T) {
	good, other := newKey(t), newKey(t)
	privPEM, _, err := signing.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ref := v1alpha1.SecretKeyReference{Namespace: "kubetrail-system", Name: "ci-keys", Key: "pub"}
	keys := func(ks ...v1alpha1.PublicKey) *v1alpha1.Signing { return &v1alpha1.Signing{PublicKeys: ks} }
	secrets := func(data map[string]string) policy.SecretReader {
		return func(r v1alpha1.SecretKeyReference) ([]byte, error) {
			if r != ref {
				return nil, errors.New("asked for the wrong Secret")
			}
			if v, ok := data[r.Key]; ok {
				return []byte(v), nil
			}
			return nil, errors.New(`secrets "ci-keys" not found`)
		}
	}
	tests := map[string]struct {
		spec   v1alpha1.TracePolicySpec
		secret policy.SecretReader
		keys   []string // KeyIDs of the keys used, in order
		// problems are substrings, one per problem, in order.
		problems []string
	}{
		"a clean policy": {
			spec: v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, Signing: keys(v1alpha1.PublicKey{Name: "ci", PEM: good.pub})},
			keys: []string{good.id},
		},
		"a PEM that is not a key is reported and the other keys still used": {
			spec: v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, Signing: keys(
				v1alpha1.PublicKey{Name: "typo", PEM: "-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n"},
				v1alpha1.PublicKey{Name: "ci", PEM: good.pub},
				v1alpha1.PublicKey{Name: "empty"},
				v1alpha1.PublicKey{Name: "oops", PEM: string(privPEM)},
				v1alpha1.PublicKey{Name: "ci-next", PEM: other.pub},
			)},
			keys: []string{good.id, other.id},
			problems: []string{"spec.signing.publicKeys[0].pem: Invalid value: no trusted keys found",
				"spec.signing.publicKeys[2].pem: Required value: set pem to the public key",
				"spec.signing.publicKeys[3].pem: Invalid value: trusted key #1: the public key is a PRIVATE KEY"},
		},
		"a key read from a Secret": {
			spec:   v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, Signing: keys(v1alpha1.PublicKey{Name: "ci", SecretRef: &ref})},
			secret: secrets(map[string]string{"pub": good.pub}),
			keys:   []string{good.id},
		},
		"a Secret holding two keys during a rotation": {
			spec:   v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, Signing: keys(v1alpha1.PublicKey{Name: "ci", SecretRef: &ref})},
			secret: secrets(map[string]string{"pub": good.pub + other.pub}),
			keys:   []string{good.id, other.id},
		},
		"a Secret that cannot be read": {
			spec: v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, Signing: keys(
				v1alpha1.PublicKey{Name: "ci", SecretRef: &ref}, v1alpha1.PublicKey{Name: "inline", PEM: other.pub})},
			secret:   secrets(nil),
			keys:     []string{other.id},
			problems: []string{`spec.signing.publicKeys[0] (ci): reading Secret kubetrail-system/ci-keys key "pub": secrets "ci-keys" not found`},
		},
		"a Secret that holds no key": {
			spec:     v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, Signing: keys(v1alpha1.PublicKey{Name: "ci", SecretRef: &ref})},
			secret:   secrets(map[string]string{"pub": "hello"}),
			problems: []string{"spec.signing.publicKeys[0] (ci): no trusted keys found"},
		},
		"a secretRef without a reader": {
			spec:     v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, Signing: keys(v1alpha1.PublicKey{Name: "ci", SecretRef: &ref})},
			problems: []string{"spec.signing.publicKeys[0] (ci): secretRef cannot be read here"},
		},
		"an invalid namespaceSelector": {
			spec: v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, NamespaceSelector: &metav1.LabelSelector{
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "env", Operator: "Equals", Values: []string{"prod"}}}}},
			problems: []string{"spec.namespaceSelector"},
		},
		"broken change windows": {
			spec: v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, ChangeWindows: []v1alpha1.ChangeWindow{
				weekly("typo", "Mars/Olympus", "16:00", time.Hour, "Friday"),
				{Name: "open-ended", Start: mtime(now)},
				weekly("fine", "Europe/Berlin", "16:00", time.Hour, "Friday"),
			}},
			problems: []string{`spec.changeWindows[0].weekly.timeZone: Invalid value: "Mars/Olympus": is not an IANA time zone`,
				"spec.changeWindows[1].end: Required value: a one-off freeze needs both start and end"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := &v1alpha1.TracePolicy{Spec: tc.spec}
			p.Name = "ci"
			c := policy.Compile(p, tc.secret)
			if c.Name != "ci" || c.Spec.Mode != tc.spec.Mode {
				t.Errorf("Compile() lost the policy's name or spec: %q %q", c.Name, c.Spec.Mode)
			}
			var ids []string
			for _, k := range c.Keys {
				ids = append(ids, signing.KeyID(k))
			}
			if !slices.Equal(ids, tc.keys) {
				t.Errorf("Keys = %v, want %v", ids, tc.keys)
			}
			if len(c.Problems) != len(tc.problems) {
				t.Fatalf("Problems = %q, want %d saying %q", c.Problems, len(tc.problems), tc.problems)
			}
			for i, want := range tc.problems {
				if !strings.Contains(c.Problems[i], want) {
					t.Errorf("Problems[%d] = %q, want it to say %q", i, c.Problems[i], want)
				}
			}
		})
	}
}

func TestCompileNeverLeaksPrivateKeyMaterial(t *testing.T) {
	privPEM, _, err := signing.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	p := &v1alpha1.TracePolicy{Spec: v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce,
		Signing: &v1alpha1.Signing{PublicKeys: []v1alpha1.PublicKey{{Name: "oops", PEM: string(privPEM)}}}}}
	c := policy.Compile(p, nil)
	body := strings.Join(strings.Split(strings.TrimSpace(string(privPEM)), "\n")[1:2], "")
	for _, prob := range c.Problems {
		if strings.Contains(prob, body) {
			t.Errorf("problem %q repeats the private key", prob)
		}
	}
}

func TestSelects(t *testing.T) {
	shop := map[string]string{"kubernetes.io/metadata.name": "shop", "team": "shop"}
	lab := map[string]string{"kubernetes.io/metadata.name": "lab", "team": "research", "kubetrail.io/exempt": "true"}
	sel := func(s *metav1.LabelSelector, rs ...v1alpha1.ResourceSelector) v1alpha1.TracePolicySpec {
		return v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce, NamespaceSelector: s, Resources: rs}
	}
	team := &metav1.LabelSelector{MatchLabels: map[string]string{"team": "shop"}}
	notExempt := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "kubetrail.io/exempt", Operator: metav1.LabelSelectorOpDoesNotExist}}}
	invalid := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "team", Operator: "Bogus", Values: []string{"shop"}}}}
	badValue := &metav1.LabelSelector{MatchLabels: map[string]string{"team": "shop & everything"}}
	apps := v1alpha1.ResourceSelector{Group: "apps", Kinds: []string{"Deployment"}}
	rbac := v1alpha1.ResourceSelector{Group: "rbac.authorization.k8s.io"}

	type obj struct {
		group, kind string
		labels      map[string]string // nil with namespaced false: cluster-scoped
		namespaced  bool
	}
	deploy := func(l map[string]string) obj { return obj{"apps", "Deployment", l, true} }
	var (
		statefulSet = obj{"apps", "StatefulSet", shop, true}
		configMap   = obj{"", "ConfigMap", shop, true}
		job         = obj{"batch", "Job", shop, true}
		crb         = obj{"rbac.authorization.k8s.io", "ClusterRoleBinding", nil, false}
		roleBinding = obj{"rbac.authorization.k8s.io", "RoleBinding", shop, true}
	)
	tests := map[string]struct {
		spec v1alpha1.TracePolicySpec
		yes  []obj
		no   []obj
	}{
		"an empty policy selects every tracked object": {
			spec: sel(nil), yes: []obj{deploy(shop), deploy(lab), deploy(nil), configMap, crb},
		},
		"by group and kind": {
			spec: sel(nil, apps), yes: []obj{deploy(shop)}, no: []obj{statefulSet, configMap, crb},
		},
		"a group without kinds selects all its kinds": {
			spec: sel(nil, v1alpha1.ResourceSelector{Group: "apps"}), yes: []obj{deploy(shop), statefulSet}, no: []obj{job, configMap},
		},
		"the core group is the empty group": {
			spec: sel(nil, v1alpha1.ResourceSelector{Kinds: []string{"ConfigMap"}}), yes: []obj{configMap}, no: []obj{deploy(shop), obj{"example.com", "ConfigMap", shop, true}},
		},
		"any group": {
			spec: sel(nil, v1alpha1.ResourceSelector{Group: "*", Kinds: []string{"Deployment", "ConfigMap"}}), yes: []obj{deploy(shop), configMap}, no: []obj{statefulSet},
		},
		"any kind of a group": {
			spec: sel(nil, v1alpha1.ResourceSelector{Group: "rbac.authorization.k8s.io", Kinds: []string{"*"}}), yes: []obj{crb, roleBinding}, no: []obj{deploy(shop)},
		},
		"several selectors are a union": {
			spec: sel(nil, apps, rbac), yes: []obj{deploy(shop), crb}, no: []obj{configMap, statefulSet},
		},
		"namespaces by label": {
			spec: sel(team), yes: []obj{deploy(shop)}, no: []obj{deploy(lab), deploy(nil), deploy(map[string]string{})},
		},
		"namespaces without an opt-out label": {
			spec: sel(notExempt), yes: []obj{deploy(shop), deploy(nil)}, no: []obj{deploy(lab)},
		},
		"cluster-scoped objects are selected by resources when there is no namespaceSelector": {
			spec: sel(nil, rbac), yes: []obj{crb, roleBinding}, no: []obj{deploy(shop)},
		},
		"a policy with a namespaceSelector leaves cluster-scoped objects alone": {
			spec: sel(team, rbac), yes: []obj{roleBinding}, no: []obj{crb, obj{"rbac.authorization.k8s.io", "RoleBinding", lab, true}},
		},
		"an invalid namespaceSelector selects no namespace, never every one": {
			spec: sel(invalid), no: []obj{deploy(shop), deploy(lab), deploy(nil), deploy(map[string]string{}), crb},
		},
		"an invalid label value selects no namespace either": {
			spec: sel(badValue), no: []obj{deploy(shop), deploy(map[string]string{"team": "shop & everything"})},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := policy.Compile(&v1alpha1.TracePolicy{Spec: tc.spec}, nil)
			for _, o := range tc.yes {
				if !c.Selects(o.group, o.kind, o.namespaced, o.labels) {
					t.Errorf("does not select %s/%s in namespace %v", o.group, o.kind, o.labels)
				}
			}
			for _, o := range tc.no {
				if c.Selects(o.group, o.kind, o.namespaced, o.labels) {
					t.Errorf("selects %s/%s in namespace %v", o.group, o.kind, o.labels)
				}
			}
		})
	}
}

func TestIgnorePathsAndKeys(t *testing.T) {
	k1, k2 := newKey(t), newKey(t)
	ps, _ := compile(
		v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeAudit, Ignore: []v1alpha1.IgnoreRule{{Kinds: []string{"Deployment"}, Paths: []string{"/spec/replicas"}}},
			Signing: &v1alpha1.Signing{PublicKeys: []v1alpha1.PublicKey{{Name: "a", PEM: k1.pub}}}},
		v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeAudit, Ignore: []v1alpha1.IgnoreRule{{Paths: []string{"/spec/replicas", "/metadata/labels/version"}}}},
		v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeAudit, Ignore: []v1alpha1.IgnoreRule{{Kinds: []string{"StatefulSet"}, Paths: []string{"/spec/template/metadata/annotations"}}},
			Signing: &v1alpha1.Signing{PublicKeys: []v1alpha1.PublicKey{{Name: "b", PEM: k2.pub}}}},
	)
	if got, want := policy.IgnorePaths(ps, "Deployment"), []string{"/spec/replicas", "/metadata/labels/version"}; !slices.Equal(got, want) {
		t.Errorf("IgnorePaths(Deployment) = %v, want %v", got, want)
	}
	if got, want := policy.IgnorePaths(ps, "StatefulSet"), []string{"/spec/replicas", "/metadata/labels/version", "/spec/template/metadata/annotations"}; !slices.Equal(got, want) {
		t.Errorf("IgnorePaths(StatefulSet) = %v, want %v", got, want)
	}
	if got := policy.IgnorePaths(nil, "Deployment"); len(got) != 0 {
		t.Errorf("IgnorePaths(no policies) = %v", got)
	}
	got := policy.Keys(ps)
	if len(got) != 2 || !got[0].Equal(mustKey(t, k1)) || !got[1].Equal(mustKey(t, k2)) {
		t.Errorf("Keys() = %d keys, want the two listed", len(got))
	}
}

func mustKey(t *testing.T, k testKey) ed25519.PublicKey {
	t.Helper()
	pub, err := signing.ParsePublicKey([]byte(k.pub))
	if err != nil {
		t.Fatal(err)
	}
	return pub
}
