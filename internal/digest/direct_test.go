package digest

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// checkDirect compares the direct encoder with the general path on obj: where the
// direct one answers, it must answer what the general one does.
func checkDirect(t *testing.T, obj map[string]interface{}, ignore ...string) (direct bool) {
	t.Helper()
	general, err := appendCanonicalGeneral(nil, obj, ignore)
	got, ok := appendTrackedDirect(nil, obj, ignore)
	if !ok {
		return false
	}
	if err != nil {
		t.Fatalf("the direct encoder wrote %s where the general path fails: %v", got, err)
	}
	if !bytes.Equal(got, general) {
		t.Fatalf("direct:\n%s\ngeneral:\n%s", got, general)
	}
	return true
}

func TestDirectMatchesNormalized(t *testing.T) {
	deep := map[string]interface{}{}
	cur := deep
	for i := 0; i < 20000; i++ {
		next := map[string]interface{}{}
		cur["a"] = next
		cur = next
	}
	named := func(names ...string) []interface{} {
		var out []interface{}
		for _, n := range names {
			out = append(out, map[string]interface{}{"name": n, "v": n + "!"})
		}
		return out
	}
	cases := map[string]struct {
		obj    map[string]interface{}
		ignore []string
		direct bool
	}{
		"deployment as encoding/json decodes it": {obj: deployment(t), direct: true},
		"deployment with int64 numbers":          {obj: asInt64(deployment(t)).(map[string]interface{}), direct: true},
		"nil object":                             {obj: nil, direct: true},
		"empty object":                           {obj: map[string]interface{}{}, direct: true},
		"metadata without name or namespace":     {obj: map[string]interface{}{"kind": "Pod", "metadata": map[string]interface{}{"labels": map[string]interface{}{"a": "b"}}}, direct: true},
		"metadata with namespace only":           {obj: map[string]interface{}{"kind": "Pod", "metadata": map[string]interface{}{"namespace": "x"}}, direct: true},
		"metadata name not a string":             {obj: map[string]interface{}{"metadata": map[string]interface{}{"name": []interface{}{1.5, nil}, "namespace": nil}}, direct: true},
		"labels and annotations": {obj: map[string]interface{}{"kind": "Pod", "metadata": map[string]interface{}{"name": "p",
			"labels":      map[string]interface{}{"app": "web", "pod-template-hash": "x"},
			"annotations": map[string]interface{}{"kubetrail.io/digest": "d", "kubetrail.io/commit": "c", "kubetrail.io/other": "o", "a": 1.5}}}, direct: true},
		"only left-out keys": {obj: map[string]interface{}{"kind": "Pod", "metadata": map[string]interface{}{
			"labels": map[string]interface{}{"pod-template-hash": "x"}, "annotations": map[string]interface{}{"kubetrail.io/digest": "d"}}}, direct: true},
		"empty and null labels": {obj: map[string]interface{}{"kind": "Pod", "metadata": map[string]interface{}{
			"labels": map[string]interface{}{}, "annotations": nil}}, direct: true},
		"ignore a label": {obj: map[string]interface{}{"kind": "Pod", "metadata": map[string]interface{}{"name": "p",
			"labels": map[string]interface{}{"a": "1", "b": "2"}}}, ignore: []string{"/metadata/labels/a", "/metadata/annotations"}, direct: true},
		"ignore all labels": {obj: map[string]interface{}{"kind": "Pod", "metadata": map[string]interface{}{
			"labels": map[string]interface{}{"a": "1"}}}, ignore: []string{"/metadata/labels/a"}, direct: true},
		"labels not a map":        {obj: map[string]interface{}{"kind": "Pod", "metadata": map[string]interface{}{"labels": "oops"}}},
		"typed labels":            {obj: map[string]interface{}{"kind": "Pod", "metadata": map[string]interface{}{"labels": map[string]string{"a": "b"}}}, direct: true},
		"NaN in an annotation":    {obj: map[string]interface{}{"metadata": map[string]interface{}{"annotations": map[string]interface{}{"a": math.NaN()}}}},
		"NaN in a left-out key":   {obj: map[string]interface{}{"metadata": map[string]interface{}{"name": "n", "annotations": map[string]interface{}{"kubetrail.io/digest": math.NaN()}}}, direct: true},
		"metadata is a string":    {obj: map[string]interface{}{"kind": "Pod", "metadata": "oops"}, direct: true},
		"metadata is nil":         {obj: map[string]interface{}{"kind": "Pod", "metadata": nil}, direct: true},
		"apiVersion core, status": {obj: map[string]interface{}{"apiVersion": "v1", "kind": "ConfigMap", "status": "x", "data": map[string]interface{}{"k": "v"}}, direct: true},
		"kind and apiVersion odd": {obj: map[string]interface{}{"kind": 3.0, "apiVersion": map[string]interface{}{"z": true, "a": false}}, direct: true},
		"numbers": {obj: map[string]interface{}{"spec": []interface{}{0.0, math.Copysign(0, -1), 1.5, -2.25, 1e21, 1e20, 1e-7, 123456789.125,
			float64(1 << 62), -float64(1 << 63), float64(1 << 63), math.MaxFloat64, math.SmallestNonzeroFloat64, int64(-7), int64(math.MaxInt64)}}, direct: true},
		"strings":         {obj: map[string]interface{}{"spec": map[string]interface{}{"": "", "é": "\u2028\u2029<>&\"\\\n\x01\x7f", "bad": "a\xffb", "b": "ü"}}, direct: true},
		"ignore replicas": {obj: deployment(t), ignore: []string{"/spec/replicas"}, direct: true},
		"ignore by name and index": {obj: deployment(t), direct: true, ignore: []string{"/spec/template/spec/containers/0/image",
			"/spec/template/spec/containers/app/env/1", "/spec/template/spec/containers/app/env/0", "/metadata/name", "/apiVersion", "/nope/x", "/kind/x"}},
		"ignore metadata":       {obj: deployment(t), ignore: []string{"/metadata"}, direct: true},
		"ignore name and ns":    {obj: deployment(t), ignore: []string{"/metadata/name", "/metadata/namespace"}, direct: true},
		"ignore the only key":   {obj: map[string]interface{}{"spec": map[string]interface{}{"a": 1.0}}, ignore: []string{"/spec/a"}, direct: true},
		"ignore all top keys":   {obj: map[string]interface{}{"a": 1.0, "b": 2.0}, ignore: []string{"/a", "/b"}, direct: true},
		"ignore the empty key":  {obj: map[string]interface{}{"": 1.0, "b": 2.0}, ignore: []string{"/"}, direct: true},
		"ignore escaped tokens": {obj: map[string]interface{}{"a/b": map[string]interface{}{"~": 1.0, "c": 2.0}}, ignore: []string{"/a~1b/~0"}, direct: true},
		"ignore list elements": {obj: map[string]interface{}{"l": named("a", "b", "c", "d"), "m": named("x", "x"), "n": []interface{}{"0", "1", 2.0}},
			ignore: []string{"/l/0", "/l/1", "/l/c/v", "/l/9", "/m/x", "/m/1", "/n/0", "/n/00", "/n/-1", "/n/2/x"}, direct: true},
		"list named like indexes":   {obj: map[string]interface{}{"l": named("1", "0")}, ignore: []string{"/l/0"}, direct: true},
		"NaN under an ignored path": {obj: map[string]interface{}{"spec": map[string]interface{}{"x": math.NaN()}}, ignore: []string{"/spec/x"}},
		"invalid pointer":           {obj: deployment(t), ignore: []string{"spec"}},
		"Service": {obj: map[string]interface{}{"kind": "Service", "spec": map[string]interface{}{"clusterIP": "10.0.0.1", "ports": []interface{}{map[string]interface{}{"port": 80.0}}}},
			direct: true},
		"Job":                 {obj: map[string]interface{}{"kind": "Job", "spec": map[string]interface{}{}}},
		"Secret":              {obj: map[string]interface{}{"kind": "Secret", "data": map[string]interface{}{"k": "dg=="}}},
		"typed containers":    {obj: map[string]interface{}{"spec": map[string]interface{}{"l": map[string]string{"a": "b"}}}},
		"int":                 {obj: map[string]interface{}{"spec": 3}},
		"json.Number":         {obj: map[string]interface{}{"spec": json.Number("3.0")}},
		"NaN":                 {obj: map[string]interface{}{"spec": math.NaN()}},
		"infinity":            {obj: map[string]interface{}{"spec": []interface{}{math.Inf(-1)}}},
		"channel":             {obj: map[string]interface{}{"spec": make(chan int)}},
		"absurdly deep":       {obj: map[string]interface{}{"spec": deep}},
		"deep metadata name":  {obj: map[string]interface{}{"metadata": map[string]interface{}{"name": deep}}},
		"NaN in the metadata": {obj: map[string]interface{}{"metadata": map[string]interface{}{"namespace": math.NaN()}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := checkDirect(t, tc.obj, tc.ignore...); got != tc.direct {
				t.Errorf("direct encoder used = %v, want %v", got, tc.direct)
			}
		})
	}
}

func TestDirectValueBudget(t *testing.T) {
	defer func(v int) { maxValues = v }(maxValues)
	list := make([]interface{}, 100)
	obj := map[string]interface{}{"spec": list, "metadata": map[string]interface{}{"name": "x"}}
	// 100 elements, the list, the name: 102 values.
	for _, budget := range []int{100, 101, 102, 103} {
		maxValues = budget
		_, generalErr := appendCanonicalGeneral(nil, obj, []string{"/spec/0"})
		_, direct := appendTrackedDirect(nil, obj, []string{"/spec/0"})
		if direct == (generalErr != nil) {
			t.Errorf("budget %d: direct encoder answered %v, general path error %v", budget, direct, generalErr)
		}
	}
}

func FuzzDirectMatchesNormalized(f *testing.F) {
	for _, s := range []string{`{}`, `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"a","labels":{"x":"y"}},"spec":{"replicas":3,"f":1.5}}`,
		`{"metadata":{"namespace":"n"},"status":{},"x":[null,true,-0,1e21,"\u2028\ud800"]}`,
		`{"kind":"Service","spec":{"clusterIP":"a","l":[{"name":"a","x":1},{"name":"b","y":[1,2,{"name":"0"}]}]}}`,
		`{"kind":"Pod","metadata":{"name":"p","labels":{"app":"web","pod-template-hash":"x"},"annotations":{"kubetrail.io/digest":"d","kubetrail.io/commit":"c","deployment.kubernetes.io/revision":"2","x":"y"}}}`,
		`{"metadata":{"labels":{"pod-template-hash":"x"},"annotations":{}}}`} {
		f.Add([]byte(s), "/spec/replicas\n/x/1\n/metadata/name")
		f.Add([]byte(s), "/metadata/labels/app\n/metadata/annotations/x")
	}
	f.Fuzz(func(t *testing.T, raw []byte, pointers string) {
		var obj map[string]interface{}
		if json.Unmarshal(raw, &obj) != nil {
			return
		}
		var ignore []string
		if pointers != "" {
			ignore = strings.Split(pointers, "\n")
		}
		checkDirect(t, obj, ignore...)
	})
}
