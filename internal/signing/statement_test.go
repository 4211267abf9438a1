package signing

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kubetrail/kubetrail/internal/digest"
)

func secret(data, stringData map[string]interface{}) map[string]interface{} {
	obj := map[string]interface{}{
		"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]interface{}{"name": "token", "namespace": "shop"},
	}
	if data != nil {
		obj["data"] = data
	}
	if stringData != nil {
		obj["stringData"] = stringData
	}
	return obj
}

func TestContentDigest(t *testing.T) {
	rb := func(role, user string) map[string]interface{} {
		return map[string]interface{}{
			"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
			"metadata": map[string]interface{}{"name": "app-view", "namespace": "prod", "annotations": map[string]interface{}{
				"kubetrail.io/commit": "abc", "kubetrail.io/signature": "sig", "kubetrail.io/digest": "sha256:x",
			}},
			"roleRef":  map[string]interface{}{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
			"subjects": []interface{}{map[string]interface{}{"kind": "User", "name": user}},
		}
	}
	view, _ := ContentDigest(rb("view", "alice"))
	if want, _ := digest.Of(rb("view", "alice"), nil); view != want {
		t.Errorf("ContentDigest = %s, want the stamped digest.Of(obj, nil) %s", view, want)
	}
	for name, other := range map[string]map[string]interface{}{
		"roleRef": rb("cluster-admin", "alice"), "subjects": rb("view", "mallory"),
	} {
		if d, _ := ContentDigest(other); d == view {
			t.Errorf("changing %s does not change the content digest", name)
		}
	}
	// The signature and the other kubetrail keys are not content (signing must not
	// change what it signs).
	unsigned := rb("view", "alice")
	delete(unsigned["metadata"].(map[string]interface{})["annotations"].(map[string]interface{}), "kubetrail.io/signature")
	if d, _ := ContentDigest(unsigned); d != view {
		t.Error("adding the signature changes the content digest")
	}

	// Secrets: key names are bound, values are not, whether or not the manager's key
	// is set (the pipeline never has it), and data and stringData alike.
	one, _ := ContentDigest(secret(map[string]interface{}{"token": "YQ=="}, nil))
	for name, obj := range map[string]map[string]interface{}{
		"other value":       secret(map[string]interface{}{"token": "Yg=="}, nil),
		"stringData":        secret(nil, map[string]interface{}{"token": "b"}),
		"both, same name":   secret(map[string]interface{}{"token": "YQ=="}, map[string]interface{}{"token": "c"}),
		"non-string values": secret(map[string]interface{}{"token": 5}, nil),
	} {
		if d, _ := ContentDigest(obj); d != one {
			t.Errorf("%s: digest %s, want %s (key names only)", name, d, one)
		}
	}
	if d, _ := ContentDigest(secret(map[string]interface{}{"token": "YQ==", "extra": "YQ=="}, nil)); d == one {
		t.Error("another key name does not change a Secret's content digest")
	}
	if err := digest.SetSecretKey([]byte(strings.Repeat("k", 32))); err != nil {
		t.Fatal(err)
	}
	withKey, _ := ContentDigest(secret(map[string]interface{}{"token": "Yg=="}, nil))
	_ = digest.SetSecretKey(nil)
	if withKey != one {
		t.Errorf("with the manager's key set the digest is %s, want %s: the CLI could never sign it", withKey, one)
	}
	empty := secret(nil, nil)
	if d, _ := ContentDigest(empty); d != mustDigest(t, empty) {
		t.Error("a Secret without data does not digest as kubetrail.io/digest")
	}
}

func mustDigest(t *testing.T, obj map[string]interface{}) string {
	t.Helper()
	d, err := digest.Of(obj, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestCheckAudience(t *testing.T) {
	st := testStatement()
	if err := CheckAudience(st, "prod-eu-1"); err != nil {
		t.Errorf("CheckAudience(same) = %v", err)
	}
	err := CheckAudience(st, "prod-us-1")
	if !errors.Is(err, ErrAudience) || !strings.Contains(err.Error(), `audience is "prod-eu-1"`) || !strings.Contains(err.Error(), `this cluster is "prod-us-1"`) {
		t.Errorf("CheckAudience(other) = %v, want ErrAudience naming both", err)
	}
}

func TestCheckLifetime(t *testing.T) {
	st := testStatement() // signed a minute before testNow, expires an hour after
	cases := map[string]struct {
		st      Statement
		max     time.Duration
		wantErr string
	}{
		"within":          {st: st, max: 2 * time.Hour},
		"no maximum":      {st: with(st, func(s *Statement) { s.Expires = testNow.Add(365 * 24 * time.Hour) })},
		"exactly maximum": {st: st, max: 61 * time.Minute},
		"too long":        {st: st, max: time.Hour, wantErr: "1h1m0s), longer than the 1h0m0s the TracePolicy allows (spec.signing.maxValidity)"},
		"signed in the future to look short": {st: with(st, func(s *Statement) {
			s.SignedAt, s.Expires = testNow.Add(300*24*time.Hour), testNow.Add(300*24*time.Hour+time.Hour)
		}), max: 2 * time.Hour, wantErr: "later than now"},
		"small clock skew": {st: with(st, func(s *Statement) { s.SignedAt = testNow.Add(time.Minute) }), max: 2 * time.Hour},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := CheckLifetime(tc.st, tc.max, testNow)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("CheckLifetime = %v, want nil", err)
			case tc.wantErr != "" && (!errors.Is(err, ErrLifetime) || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("CheckLifetime = %v, want ErrLifetime mentioning %q", err, tc.wantErr)
			}
		})
	}
}

func TestSubjectName(t *testing.T) {
	for _, tc := range []struct{ group, kind, ns, name, want string }{
		{"apps", "Deployment", "shop", "web", "apps/Deployment/shop/web"},
		{"", "ConfigMap", "shop", "settings", "/ConfigMap/shop/settings"},
		{"rbac.authorization.k8s.io", "ClusterRoleBinding", "", "admins", "rbac.authorization.k8s.io/ClusterRoleBinding//admins"},
	} {
		if got := SubjectName(tc.group, tc.kind, tc.ns, tc.name); got != tc.want {
			t.Errorf("SubjectName = %q, want %q", got, tc.want)
		}
	}
}
