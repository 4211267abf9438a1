package drift

import (
	"encoding/json"
	"math"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// deployment returns a fresh copy of a two-container Deployment as the apiserver
// returns it (defaults, status, managedFields and all).
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

func m(obj interface{}, path ...string) map[string]interface{} {
	cur := obj
	for _, p := range path {
		cur = cur.(map[string]interface{})[p]
	}
	return cur.(map[string]interface{})
}

func podSpec(obj map[string]interface{}) map[string]interface{} {
	return m(obj, "spec", "template", "spec")
}

func container(obj map[string]interface{}, name string) map[string]interface{} {
	for _, c := range podSpec(obj)["containers"].([]interface{}) {
		if c.(map[string]interface{})["name"] == name {
			return c.(map[string]interface{})
		}
	}
	panic("no container " + name)
}

const containers = "/spec/template/spec/containers"

func TestChanged(t *testing.T) {
	cases := map[string]struct {
		mutate func(obj map[string]interface{})
		ignore []string
		want   []string
	}{
		"image changed": {
			mutate: func(obj map[string]interface{}) {
				container(obj, "app")["image"] = "registry.example.com/shop/checkout:1.4.3"
			},
			want: []string{containers + "/app/image"},
		},
		"env var inserted first reports only that entry": {
			mutate: func(obj map[string]interface{}) {
				c := container(obj, "app")
				c["env"] = append([]interface{}{map[string]interface{}{"name": "DEBUG", "value": "1"}}, c["env"].([]interface{})...)
			},
			want: []string{containers + "/app/env/DEBUG"},
		},
		"env added to a container that had none": {
			mutate: func(obj map[string]interface{}) {
				container(obj, "proxy")["env"] = []interface{}{map[string]interface{}{"name": "LEVEL", "value": "debug"}}
			},
			want: []string{containers + "/proxy/env"},
		},
		"env value changed": {
			mutate: func(obj map[string]interface{}) {
				container(obj, "app")["env"].([]interface{})[2].(map[string]interface{})["value"] = "60s"
			},
			want: []string{containers + "/app/env/CACHE_TTL/value"},
		},
		"change below MaxDepth reports the subtree hashed as one leaf": {
			mutate: func(obj map[string]interface{}) {
				env := container(obj, "app")["env"].([]interface{})[1].(map[string]interface{})
				m(env, "valueFrom", "secretKeyRef")["key"] = "pw"
			},
			want: []string{containers + "/app/env/DB_PASSWORD/valueFrom"},
		},
		"replicas scaled, not ignored": {
			mutate: func(obj map[string]interface{}) { m(obj, "spec")["replicas"] = 5.0 },
			want:   []string{"/spec/replicas"},
		},
		"replicas scaled, ignored": {
			mutate: func(obj map[string]interface{}) { m(obj, "spec")["replicas"] = 5.0 },
			ignore: []string{"/spec/replicas"},
			want:   nil,
		},
		"ignoring replicas still reports the image": {
			mutate: func(obj map[string]interface{}) {
				m(obj, "spec")["replicas"] = 5.0
				container(obj, "proxy")["image"] = "envoy:2"
			},
			ignore: []string{"/spec/replicas"},
			want:   []string{containers + "/proxy/image"},
		},
		"sidecar added collapses to the container": {
			mutate: func(obj map[string]interface{}) {
				ps := podSpec(obj)
				ps["containers"] = append(ps["containers"].([]interface{}), map[string]interface{}{
					"name": "sidecar", "image": "istio/proxyv2:1.22", "imagePullPolicy": "IfNotPresent",
					"args":      []interface{}{"proxy", "sidecar"},
					"ports":     []interface{}{map[string]interface{}{"containerPort": 15090.0, "name": "http-envoy-prom", "protocol": "TCP"}},
					"resources": map[string]interface{}{"limits": map[string]interface{}{"cpu": "2", "memory": "1Gi"}},
				})
			},
			want: []string{containers + "/sidecar"},
		},
		"container removed collapses to the container": {
			mutate: func(obj map[string]interface{}) {
				ps := podSpec(obj)
				ps["containers"] = ps["containers"].([]interface{})[:1]
			},
			want: []string{containers + "/proxy"},
		},
		"containers reordered": {
			mutate: func(obj map[string]interface{}) {
				cs := podSpec(obj)["containers"].([]interface{})
				cs[0], cs[1] = cs[1], cs[0]
			},
			want: []string{containers},
		},
		"empty map filled in": {
			mutate: func(obj map[string]interface{}) {
				podSpec(obj)["securityContext"] = map[string]interface{}{"runAsUser": 1000.0}
			},
			want: []string{"/spec/template/spec/securityContext/runAsUser"},
		},
		"field removed and another added": {
			mutate: func(obj map[string]interface{}) {
				delete(podSpec(obj), "schedulerName")
				podSpec(obj)["priorityClassName"] = "high"
			},
			want: []string{"/spec/template/spec/priorityClassName", "/spec/template/spec/schedulerName"},
		},
		"pod template metadata ignored as a whole": {
			mutate: func(obj map[string]interface{}) {
				m(obj, "spec", "template", "metadata", "annotations")["kubectl.kubernetes.io/restartedAt"] = "2025-06-02T00:00:00Z"
				m(obj, "spec", "template", "metadata", "labels")["version"] = "2"
			},
			ignore: []string{"/spec/template/metadata"},
			want:   nil,
		},
		"ignored container": {
			mutate: func(obj map[string]interface{}) { container(obj, "proxy")["image"] = "envoy:2" },
			ignore: []string{containers + "/proxy"},
			want:   nil,
		},
		"labels are tracked": {
			mutate: func(obj map[string]interface{}) { m(obj, "metadata", "labels")["team"] = "payments" },
			want:   []string{"/metadata/labels/team"},
		},
		"kubetrail's annotations, other object metadata and status are not tracked": {
			mutate: func(obj map[string]interface{}) {
				m(obj, "metadata", "annotations")["kubetrail.io/commit"] = "ffff"
				m(obj, "metadata", "annotations")["deployment.kubernetes.io/revision"] = "3"
				m(obj, "metadata")["resourceVersion"] = "1"
				m(obj, "status")["readyReplicas"] = 0.0
			},
			want: nil,
		},
		"renamed": {
			mutate: func(obj map[string]interface{}) { m(obj, "metadata")["name"] = "checkout-v2" },
			want:   []string{"/metadata/name"},
		},
	}
	before := Fingerprints(deployment(t))
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			obj := deployment(t)
			tc.mutate(obj)
			got := Changed(before, Fingerprints(obj), tc.ignore)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Changed = %q, want %q", got, tc.want)
			}
			// Swapping the sides reports the same paths: an addition one way is a
			// removal the other.
			if back := Changed(Fingerprints(obj), before, tc.ignore); !reflect.DeepEqual(back, tc.want) {
				t.Errorf("Changed (reversed) = %q, want %q", back, tc.want)
			}
		})
	}
}

func TestChangedFromNothing(t *testing.T) {
	// The first revision of an object: everything is new, reported by top-level field.
	got := Changed(nil, Fingerprints(deployment(t)), nil)
	want := []string{"/apiVersion", "/kind", "/metadata", "/spec"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Changed(nil, fp) = %q, want %q", got, want)
	}
	if got := Changed(Fingerprints(deployment(t)), Fingerprints(deployment(t)), nil); len(got) != 0 {
		t.Errorf("Changed(fp, fp) = %q, want nothing", got)
	}
}

var shortHash = regexp.MustCompile(`^[0-9a-f]{8}$`)

func TestFingerprintPaths(t *testing.T) {
	cm := func() map[string]interface{} {
		return map[string]interface{}{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]interface{}{"name": "web", "namespace": "shop"},
			"data":     map[string]interface{}{"a/b": "1", "c~d": "2", "~1": "3", "plain": "4"},
			"spec":     map[string]interface{}{"list": []interface{}{"x", "y"}, "empty": []interface{}{}, "none": map[string]interface{}{}},
		}
	}
	fp := Fingerprints(cm())
	want := []string{"/apiVersion", "/data/a~1b", "/data/c~0d", "/data/plain", "/data/~01", "/kind", "/metadata/name", "/metadata/namespace",
		"/spec/empty", "/spec/list/0", "/spec/list/1", "/spec/none"}
	var got []string
	for p, h := range fp {
		got = append(got, p)
		if !shortHash.MatchString(h) {
			t.Errorf("%s: hash %q is not 8 hex digits", p, h)
		}
	}
	sort.Strings(got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("paths = %q\nwant %q", got, want)
	}

	cases := map[string]struct {
		key    string
		ignore []string
		want   []string
	}{
		"slash in key":                     {key: "a/b", want: []string{"/data/a~1b"}},
		"tilde in key":                     {key: "c~d", want: []string{"/data/c~0d"}},
		"tilde-one is not slash":           {key: "~1", want: []string{"/data/~01"}},
		"escaped key ignored":              {key: "a/b", ignore: []string{"/data/a~1b"}, want: nil},
		"unescaped pointer is another key": {key: "a/b", ignore: []string{"/data/a/b"}, want: []string{"/data/a~1b"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			obj := cm()
			obj["data"].(map[string]interface{})[tc.key] = "changed"
			if got := Changed(fp, Fingerprints(obj), tc.ignore); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Changed = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFingerprintsCanonicalNumbers(t *testing.T) {
	a := map[string]interface{}{"kind": "X", "spec": map[string]interface{}{"replicas": int64(3), "ratio": 0.5}}
	b := map[string]interface{}{"kind": "X", "spec": map[string]interface{}{"replicas": 3.0, "ratio": json.Number("0.50")}}
	if got := Changed(Fingerprints(a), Fingerprints(b), nil); len(got) != 0 {
		t.Errorf("int64 vs float64 reported as changed: %q", got)
	}
}

func TestFingerprintsDepthAndMalformedInput(t *testing.T) {
	deep := map[string]interface{}{}
	cur := deep
	for i := 0; i < 50; i++ {
		next := map[string]interface{}{"v": float64(i)}
		cur["a"] = next
		cur = next
	}
	fp := Fingerprints(map[string]interface{}{"kind": "X", "spec": deep})
	for p := range fp {
		if n := strings.Count(p, "/"); n > MaxDepth {
			t.Errorf("path %q is %d levels deep, more than MaxDepth", p, n)
		}
	}
	if len(fp) > 2*MaxDepth {
		t.Errorf("%d fingerprints for a chain, want a handful", len(fp))
	}

	cyclic := map[string]interface{}{}
	cyclic["self"] = cyclic
	for name, obj := range map[string]map[string]interface{}{
		"nil":                  nil,
		"metadata not a map":   {"metadata": "x", "spec": 1},
		"channel":              {"spec": make(chan int)},
		"NaN":                  {"spec": math.NaN()},
		"cyclic":               {"spec": cyclic},
		"duplicate list names": {"spec": []interface{}{map[string]interface{}{"name": "a"}, map[string]interface{}{"name": "a", "x": 1}}},
	} {
		t.Run(name, func(t *testing.T) {
			fp := Fingerprints(obj)
			_ = Changed(fp, Fingerprints(deployment(t)), []string{"", "x", "/spec"})
			if got, err := Decode(Encode(fp)); err != nil || !reflect.DeepEqual(got, fp) {
				t.Errorf("round trip: %v", err)
			}
		})
	}
}

func TestMatches(t *testing.T) {
	cases := map[string]struct {
		path   string
		ignore []string
		want   bool
	}{
		"equal":                      {path: "/spec/replicas", ignore: []string{"/spec/replicas"}, want: true},
		"below":                      {path: "/spec/template/metadata/labels/app", ignore: []string{"/spec/template/metadata"}, want: true},
		"sibling with same start":    {path: "/spec/replicasMax", ignore: []string{"/spec/replicas"}, want: false},
		"above":                      {path: "/spec", ignore: []string{"/spec/replicas"}, want: false},
		"any of several":             {path: "/data/x", ignore: []string{"/spec", "/data"}, want: true},
		"empty pointer ignored":      {path: "/spec", ignore: []string{""}, want: false},
		"relative pointer ignored":   {path: "/spec", ignore: []string{"spec"}, want: false},
		"no ignores":                 {path: "/spec", ignore: nil, want: false},
		"trailing slash is key \"\"": {path: "/spec/x", ignore: []string{"/spec/"}, want: false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := Matches(tc.path, tc.ignore); got != tc.want {
				t.Errorf("Matches(%q, %q) = %v, want %v", tc.path, tc.ignore, got, tc.want)
			}
		})
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	cases := map[string]map[string]string{
		"deployment": Fingerprints(deployment(t)),
		"empty":      {},
		"awkward paths and values": {
			"":             "root",
			"/a=b":         "x=y",
			"/back\\slash": `\`,
			"/new\nline":   "tab\there",
			"/bad\xffutf8": "\x00\x7f",
			"/é":           "1",
			"/è":           "2", // shares a partial UTF-8 character with "/é"
			"/日本/語":        "3",
			"/日本/x":        "4",
			"/a:1":         "5",
			"/x\\x41":      "6", // a literal \x41 must not turn into "A"
		},
	}
	for name, fp := range cases {
		t.Run(name, func(t *testing.T) {
			s := Encode(fp)
			if !strings.HasPrefix(s, "v1") {
				t.Errorf("encoding %q lacks the version line", s)
			}
			for _, r := range s {
				if r == '\uFFFD' || (r < 0x20 && r != '\n') || r == 0x7f {
					t.Fatalf("encoding is not printable UTF-8: %q", s)
				}
			}
			got, err := Decode(s)
			if err != nil {
				t.Fatalf("Decode(Encode(fp)): %v\n%s", err, s)
			}
			if !reflect.DeepEqual(got, fp) {
				t.Errorf("round trip changed the map:\n got %q\nwant %q", got, fp)
			}
			if Encode(got) != s {
				t.Error("encoding is not deterministic")
			}
		})
	}
	if got, err := Decode(""); err != nil || len(got) != 0 {
		t.Errorf(`Decode("") = %v, %v; want an empty map`, got, err)
	}
}

func TestDecodeRejectsGarbage(t *testing.T) {
	cases := map[string]string{
		"no version":            "0:/kind=12345678",
		"unknown version":       "v2\n0:/kind=12345678",
		"not fingerprints":      "hello world",
		"json":                  `{"/kind":"12345678"}`,
		"missing colon":         "v1\n/kind=12345678",
		"missing length":        "v1\n:/kind=12345678",
		"negative length":       "v1\n-1:/kind=12345678",
		"missing equals":        "v1\n0:/kind",
		"prefix too long":       "v1\n0:/kind=12345678\n9:x=12345678",
		"prefix on first line":  "v1\n3:/kind=12345678",
		"huge length":           "v1\n99999999999999999999:/x=1",
		"out of order":          "v1\n0:/spec=1\n0:/kind=2",
		"duplicate":             "v1\n0:/kind=1\n5:=2",
		"bad escape":            "v1\n0:/a\\q=1",
		"truncated escape":      "v1\n0:/a\\x4=1",
		"raw control character": "v1\n0:/a\tb=1",
		"raw carriage return":   "v1\n0:/a=1\r",
		"invalid utf-8":         "v1\n0:/a\xff=1",
		"blank line":            "v1\n\n0:/a=1",
	}
	for name, s := range cases {
		t.Run(name, func(t *testing.T) {
			if got, err := Decode(s); err == nil {
				t.Errorf("Decode(%q) = %q, want an error", s, got)
			}
		})
	}
}

// FuzzDecode checks that Decode never panics and that whatever it accepts
// survives a round trip.
func FuzzDecode(f *testing.F) {
	f.Add(Encode(map[string]string{"/spec/replicas": "1a2b3c4d", "/spec/template/spec/containers/app/image": "deadbeef"}))
	f.Add("v1\n0:/a\\x3d=1\n2:b=2")
	f.Add("v1\n9:x=1")
	f.Fuzz(func(t *testing.T, s string) {
		fp, err := Decode(s)
		if err != nil {
			return
		}
		back, err := Decode(Encode(fp))
		if err != nil || !reflect.DeepEqual(back, fp) {
			t.Errorf("round trip of %q: %v", s, err)
		}
	})
}

func TestEncodedSize(t *testing.T) {
	fp := Fingerprints(deployment(t))
	s := Encode(fp)
	t.Logf("%d fingerprints of a 2-container Deployment encode to %d bytes", len(fp), len(s))
	if len(s) >= 2500 {
		t.Errorf("encoding is %d bytes, want under 2500:\n%s", len(s), s)
	}
}

func BenchmarkFingerprints(b *testing.B) {
	obj := deployment(b)
	b.ReportAllocs()
	for b.Loop() {
		Fingerprints(obj)
	}
}

func BenchmarkChanged(b *testing.B) {
	before := Fingerprints(deployment(b))
	obj := deployment(b)
	container(obj, "app")["image"] = "other"
	after := Fingerprints(obj)
	b.ReportAllocs()
	for b.Loop() {
		Changed(before, after, []string{"/spec/replicas"})
	}
}
