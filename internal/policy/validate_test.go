package policy_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/digest"
	"github.com/kubetrail/kubetrail/internal/policy"
	"github.com/kubetrail/kubetrail/internal/signing"
)

func TestValidateAcceptsTheSamples(t *testing.T) {
	files, err := filepath.Glob("../../config/samples/tracepolicy_*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples found: %v", err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var p v1alpha1.TracePolicy
		if err := yaml.UnmarshalStrict(raw, &p); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if errs := policy.Validate(&p.Spec, field.NewPath("spec")); len(errs) > 0 {
			t.Errorf("%s: %v", f, errs.ToAggregate())
		}
	}
}

func TestValidate(t *testing.T) {
	key := newKey(t)
	privPEM, _, err := signing.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ref := &v1alpha1.SecretKeyReference{Namespace: "kubetrail-system", Name: "ci-keys", Key: "ed25519.pub"}
	audit := func(mutate func(s *v1alpha1.TracePolicySpec)) v1alpha1.TracePolicySpec {
		s := v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeAudit}
		mutate(&s)
		return s
	}
	ignore := func(paths ...string) func(s *v1alpha1.TracePolicySpec) {
		return func(s *v1alpha1.TracePolicySpec) {
			s.Ignore = []v1alpha1.IgnoreRule{{Kinds: []string{"Deployment"}, Paths: paths}}
		}
	}
	keys := func(ks ...v1alpha1.PublicKey) func(s *v1alpha1.TracePolicySpec) {
		return func(s *v1alpha1.TracePolicySpec) { s.Signing = &v1alpha1.Signing{PublicKeys: ks} }
	}
	tests := map[string]struct {
		spec v1alpha1.TracePolicySpec
		// want are "field: substring of the message", one per error, in order.
		want []string
	}{
		"a full, valid policy": {spec: audit(func(s *v1alpha1.TracePolicySpec) {
			s.NamespaceSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "env", Operator: metav1.LabelSelectorOpIn, Values: []string{"prod"}}}}
			s.Resources = []v1alpha1.ResourceSelector{{Group: "apps", Kinds: []string{"Deployment"}}, {Group: "*", Kinds: []string{"ConfigMap"}}, {Group: "rbac.authorization.k8s.io"}, {Kinds: []string{"*"}}}
			s.RequiredFields = []v1alpha1.ProvenanceField{v1alpha1.FieldCommit, v1alpha1.FieldSignature}
			s.TrustedSubmitters = []v1alpha1.Subject{{Kind: v1alpha1.SubjectServiceAccount, Namespace: "ci", Name: "deployer"}}
			s.AllowedApprovers = []string{"alice", "Bob Builder"}
			s.BreakGlass = &v1alpha1.BreakGlass{Allowed: []v1alpha1.Subject{{Kind: v1alpha1.SubjectGroup, Name: "sre"}}}
			s.Signing = &v1alpha1.Signing{Required: true, PublicKeys: []v1alpha1.PublicKey{{Name: "ci", PEM: key.pub}, {Name: "next", SecretRef: ref}}}
			s.ChangeWindows = []v1alpha1.ChangeWindow{weekly("weekend", "Europe/Berlin", "16:00", 64*time.Hour, "Friday"),
				{Name: "launch", Start: mtime(now), End: mtime(now.Add(time.Hour))}}
			s.Ignore = []v1alpha1.IgnoreRule{{Kinds: []string{"Deployment", "StatefulSet"}, Paths: []string{"/spec/replicas", "/metadata/annotations/example.com~1owner"}}}
		})},
		"a pointer without its leading slash": {spec: audit(ignore("/spec/paused", "spec/replicas")),
			want: []string{`spec.ignore[0].paths[1]: Invalid value: "spec/replicas": a JSON pointer starts with "/": write "/spec/replicas"`}},
		"allowed approvers: blank, and two in one item": {spec: audit(func(s *v1alpha1.TracePolicySpec) { s.AllowedApprovers = []string{"alice", " \u200b", "bob,carol"} }),
			want: []string{"spec.allowedApprovers[1]: Invalid value", "spec.allowedApprovers[2]: Invalid value: \"bob,carol\": one approver per item"}},
		"a bad ~ escape":    {spec: audit(ignore("/metadata/annotations/a~2b")), want: []string{`spec.ignore[0].paths[0]: Invalid value: "/metadata/annotations/a~2b": "~" must be written "~0"`}},
		"the empty pointer": {spec: audit(ignore("")), want: []string{"spec.ignore[0].paths[0]: Invalid value: \"\": an empty pointer would ignore the whole object"}},
		"all of /spec":      {spec: audit(ignore("/spec")), want: []string{`spec.ignore[0].paths[0]: Invalid value: "/spec": ignores the whole top-level field "spec"`}},
		"all of /data":      {spec: audit(ignore("/data")), want: []string{`spec.ignore[0].paths[0]: Invalid value: "/data": ignores the whole top-level field "data"`}},
		"a whole pod template": {spec: audit(ignore("/spec/template/spec")),
			want: []string{`spec.ignore[0].paths[0]: Invalid value: "/spec/template/spec": ignores a whole pod template`}},
		"an ignore rule without paths": {spec: audit(func(s *v1alpha1.TracePolicySpec) { s.Ignore = []v1alpha1.IgnoreRule{{}} }),
			want: []string{"spec.ignore[0].paths: Required value"}},
		"an ignore rule for an untracked kind": {spec: audit(func(s *v1alpha1.TracePolicySpec) {
			s.Ignore = []v1alpha1.IgnoreRule{{Kinds: []string{"Deployments"}, Paths: []string{"/spec/replicas"}}}
		}), want: []string{`spec.ignore[0].kinds[0]: Unsupported value: "Deployments": supported values: "ClusterRole"`}},
		"an invalid mode": {spec: v1alpha1.TracePolicySpec{Mode: "enforce"},
			want: []string{`spec.mode: Unsupported value: "enforce": supported values: "Enforce", "Warn", "Audit"`}},
		"a selector with an unknown operator": {spec: audit(func(s *v1alpha1.TracePolicySpec) {
			s.NamespaceSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "env", Operator: "Equals", Values: []string{"prod"}}}}
		}), want: []string{`spec.namespaceSelector.matchExpressions[0].operator: Invalid value: "Equals"`}},
		"a selector with an invalid label value": {spec: audit(func(s *v1alpha1.TracePolicySpec) {
			s.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"team": "shop & everything"}}
		}), want: []string{`spec.namespaceSelector.matchLabels: Invalid value: "shop & everything"`}},
		"an unknown kind and group": {spec: audit(func(s *v1alpha1.TracePolicySpec) {
			s.Resources = []v1alpha1.ResourceSelector{{Group: "apps", Kinds: []string{"Deployments", "ConfigMap"}}, {Group: "extensions"}}
		}), want: []string{`spec.resources[0].kinds[0]: Unsupported value: "Deployments": supported values: "DaemonSet", "Deployment"`,
			`spec.resources[0].kinds[1]: Unsupported value: "ConfigMap"`, `spec.resources[1].group: Unsupported value: "extensions"`}},
		"a key that is not a key, a private key, none, both, a duplicate name": {spec: audit(keys(
			v1alpha1.PublicKey{Name: "typo", PEM: "-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n"},
			v1alpha1.PublicKey{Name: "oops", PEM: string(privPEM)},
			v1alpha1.PublicKey{Name: "empty"},
			v1alpha1.PublicKey{Name: "both", PEM: key.pub, SecretRef: ref},
			v1alpha1.PublicKey{Name: "typo", PEM: key.pub},
			v1alpha1.PublicKey{PEM: key.pub},
		)), want: []string{"spec.signing.publicKeys[0].pem: Invalid value: ", "spec.signing.publicKeys[1].pem: Invalid value: trusted key #1: the public key is a PRIVATE KEY",
			"spec.signing.publicKeys[2].pem: Required value: set pem", "spec.signing.publicKeys[3]: Invalid value: \"both\": set either pem or secretRef, not both",
			`spec.signing.publicKeys[4].name: Duplicate value: "typo"`, "spec.signing.publicKeys[5].name: Required value"}},
		"bad secretRefs": {spec: audit(keys(
			v1alpha1.PublicKey{Name: "a", SecretRef: &v1alpha1.SecretKeyReference{Name: "Keys", Key: "pub/key"}},
		)), want: []string{"spec.signing.publicKeys[0].secretRef.namespace: Required value", `spec.signing.publicKeys[0].secretRef.name: Invalid value: "Keys"`,
			`spec.signing.publicKeys[0].secretRef.key: Invalid value: "pub/key"`}},
		"a signature lifetime that is not one": {spec: audit(func(s *v1alpha1.TracePolicySpec) {
			s.Signing = &v1alpha1.Signing{PublicKeys: []v1alpha1.PublicKey{{Name: "ci", PEM: key.pub}}, MaxValidity: &metav1.Duration{Duration: -time.Hour}}
		}), want: []string{`spec.signing.maxValidity: Invalid value: "-1h0m0s": must be more than 0`}},
		"required signatures without keys": {spec: audit(func(s *v1alpha1.TracePolicySpec) { s.Signing = &v1alpha1.Signing{Required: true} }),
			want: []string{"spec.signing.publicKeys: Required value: required signatures need at least one trusted key"}},
		"subjects": {spec: audit(func(s *v1alpha1.TracePolicySpec) {
			s.TrustedSubmitters = []v1alpha1.Subject{{Kind: v1alpha1.SubjectServiceAccount, Name: "deployer"}, {Kind: "Robot", Name: "r2"}}
			s.Exempt = []v1alpha1.Subject{{Kind: v1alpha1.SubjectUser, Namespace: "ci", Name: "alice"}}
			s.BreakGlass = &v1alpha1.BreakGlass{Allowed: []v1alpha1.Subject{{Kind: v1alpha1.SubjectGroup}}}
		}), want: []string{"spec.trustedSubmitters[0].namespace: Required value", `spec.trustedSubmitters[1].kind: Unsupported value: "Robot"`,
			`spec.exempt[0].namespace: Invalid value: "ci": only a ServiceAccount subject has a namespace`, "spec.breakGlass.allowed[0].name: Required value"}},
		"change windows": {spec: audit(func(s *v1alpha1.TracePolicySpec) {
			s.ChangeWindows = []v1alpha1.ChangeWindow{
				weekly("typo", "Mars/Olympus", "16:00", time.Hour, "Friday"),
				{Name: "open-ended", Start: mtime(now)},
				{Name: "backwards", Start: mtime(now), End: mtime(now.Add(-time.Hour))},
				weekly("", "", "4pm", 0, "Freeday"),
				{Name: "nothing"},
			}
		}), want: []string{`spec.changeWindows[0].weekly.timeZone: Invalid value: "Mars/Olympus"`, "spec.changeWindows[1].end: Required value",
			"spec.changeWindows[2].end: Invalid value: ", "spec.changeWindows[3].name: Required value",
			`spec.changeWindows[3].weekly.days[0]: Unsupported value: "Freeday"`, `spec.changeWindows[3].weekly.start: Invalid value: "4pm"`,
			`spec.changeWindows[3].weekly.duration: Invalid value: "0s": must be more than 0`, "spec.changeWindows[4]: Required value: set start and end"}},
		"actions": {spec: audit(func(s *v1alpha1.TracePolicySpec) {
			s.SecretLiterals = "Block"
			s.RBACEscalation = &v1alpha1.RBACEscalationRule{Action: "deny", MinApprovers: -1}
		}), want: []string{`spec.secretLiterals: Unsupported value: "Block"`, `spec.rbacEscalation.action: Unsupported value: "deny"`,
			"spec.rbacEscalation.minApprovers: Invalid value: -1"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			errs := policy.Validate(&tc.spec, field.NewPath("spec"))
			if len(errs) != len(tc.want) {
				t.Fatalf("Validate() = %d errors, want %d:\n%s", len(errs), len(tc.want), errs.ToAggregate())
			}
			for i, want := range tc.want {
				if !strings.HasPrefix(errs[i].Error(), want) {
					t.Errorf("error %d = %q\nwant it to start with %q", i, errs[i].Error(), want)
				}
			}
			for _, e := range errs {
				if strings.Contains(e.Error(), "PRIVATE KEY-----") {
					t.Errorf("%q repeats the private key", e.Error())
				}
			}
		})
	}
}

// A policy stored before validation (or with the webhook down) still compiles: its
// bad parts are problems, skipped, and never reach the digest.
func TestCompileSkipsInvalidIgnorePointers(t *testing.T) {
	p := &v1alpha1.TracePolicy{Spec: v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeAudit, Ignore: []v1alpha1.IgnoreRule{
		{Kinds: []string{"Deployment"}, Paths: []string{"spec/replicas", "/spec/paused"}},
		{Paths: []string{"/spec"}},
		{Paths: []string{"/metadata/labels/tier"}},
	}}}
	p.Name = "typo-audit"
	c := policy.Compile(p, nil)
	want := []string{`spec.ignore[0].paths[0]: Invalid value: "spec/replicas"`, `spec.ignore[1].paths[0]: Invalid value: "/spec"`}
	if len(c.Problems) != len(want) {
		t.Fatalf("Problems = %q, want %q", c.Problems, want)
	}
	for i := range want {
		if !strings.HasPrefix(c.Problems[i], want[i]) {
			t.Errorf("Problems[%d] = %q, want %q", i, c.Problems[i], want[i])
		}
	}
	paths := policy.IgnorePaths([]*policy.Compiled{c}, "Deployment")
	if !slices.Equal(paths, []string{"/spec/paused", "/metadata/labels/tier"}) {
		t.Errorf("IgnorePaths = %q, want only the usable pointers", paths)
	}
	for _, path := range paths {
		if _, err := digest.ParsePointer(path); err != nil {
			t.Errorf("IgnorePaths returned %q: %v", path, err)
		}
	}
	if len(p.Spec.Ignore[0].Paths) != 2 || len(p.Spec.Ignore) != 3 {
		t.Errorf("Compile modified the policy it was given: %v", p.Spec.Ignore)
	}
}

// IgnorePathProblem is the only gate between a policy's text and digest.Of: whatever
// it accepts must parse, and never designate the object or a whole top-level field.
func FuzzIgnorePathProblem(f *testing.F) {
	for _, s := range []string{"/spec/replicas", "spec/replicas", "", "/", "/spec", "/a~0b~1c", "/a~2", "//", "/spec/template/spec/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if policy.IgnorePathProblem(p) != "" {
			return
		}
		tokens, err := digest.ParsePointer(p)
		if err != nil {
			t.Fatalf("accepted %q, which does not parse: %v", p, err)
		}
		if len(tokens) < 2 {
			t.Fatalf("accepted %q, which covers a whole top-level field", p)
		}
	})
}

// Whatever a stored policy holds (the CRD's schema aside), Validate and Compile never
// panic, and no ignore pointer Compile keeps is one the digest refuses.
func FuzzValidate(f *testing.F) {
	for _, s := range []string{
		`{"mode":"Audit","ignore":[{"paths":["spec/replicas","/spec","/spec/replicas"]}]}`,
		`{"mode":"Enforce","namespaceSelector":{"matchExpressions":[{"key":"env","operator":"Equals"}]}}`,
		`{"mode":"Enforce","signing":{"required":true,"publicKeys":[{"name":"a","pem":"x"},{"name":"a","secretRef":{"namespace":"","name":"N","key":"/"}}]}}`,
		`{"mode":"x","resources":[{"group":"apps","kinds":["*","Nope"]}],"changeWindows":[{"name":"w","weekly":{"days":["Funday"],"start":"25:00","duration":"-1h"}}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var spec v1alpha1.TracePolicySpec
		if err := yaml.Unmarshal(raw, &spec); err != nil {
			return
		}
		_ = policy.Validate(&spec, field.NewPath("spec"))
		c := policy.Compile(&v1alpha1.TracePolicy{Spec: spec}, nil)
		for _, r := range c.Spec.Ignore {
			for _, k := range append(r.Kinds, "Deployment") {
				for _, p := range policy.IgnorePaths([]*policy.Compiled{c}, k) {
					if _, err := digest.ParsePointer(p); err != nil {
						t.Fatalf("Compile kept ignore pointer %q: %v", p, err)
					}
				}
			}
		}
	})
}
