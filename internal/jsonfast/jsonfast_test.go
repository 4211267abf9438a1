package jsonfast

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// CheckUnmarshalObject fails t unless UnmarshalObject agrees with json.Unmarshal
// into a map on raw: the same value, or the same error.
func CheckUnmarshalObject(t testing.TB, raw []byte) {
	t.Helper()
	got, gotErr := UnmarshalObject(raw)
	var want map[string]interface{}
	wantErr := json.Unmarshal(raw, &want)
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
		t.Fatalf("UnmarshalObject(%q) error = %v, json.Unmarshal's = %v", raw, gotErr, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("UnmarshalObject(%q) =\n%#v\njson.Unmarshal =\n%#v", raw, got, want)
	}
}

var unmarshalObjectSeeds = []string{
	`{}`, ` { } `, `{"a":1}`, `{"a":-0,"b":0.5,"c":1e3,"d":-1.25E-7,"e":12345678901234567890}`,
	`{"a":[],"b":[1,"x",true,false,null,{"c":[[]]}]}`, `{"a":"x","a":"y"}`,
	`{"s":"tab\tnew\nquote\"slash\/back\\uni\u00e9\u2028pair\ud83d\ude00"}`,
	`{"lone":"\ud800","lone2":"\ud800x","bad":"\ud800\u0041","two":"\ud800\ud800","low":"\udc00"}`,
	"{\"utf8\":\"caf\xc3\xa9\",\"invalid\":\"a\xffb\",\"esc+invalid\":\"\\n\xff\",\"cesu\":\"\xed\xa0\x80\"}",
	`{"k\u0041":"v"}`, `{"e":"\'"}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":-}`, `{"a":1e}`, `{"a":+1}`,
	`{"a":1e400}`, `{"a":-1e400}`, `{"a":1e-400}`, `{"a":tru}`, `{"a":nul}`, `{"a":1,}`, `{"a":[1,]}`, `{,}`,
	`{"a" 1}`, `{"a":1}x`, `{"a":1}{}`, `{"a":"` + "\x01" + `"}`, `{"a":"\x"}`, `{"a":"\u12"}`, `{"a":"unterminated`,
	`null`, `[]`, `"s"`, `1`, ``, ` `, "\xef\xbb\xbf{}", `{"a":{"b":{"c":null}}}`, `{"a":[{"b":[{"c":[]}]}]}`,
	`{"a":true,"b":false}`, `{"a":truex}`, "{\"a\":\r\n\t1 }", `{"a":"\/\b\f\n\r\t"}`, `{"":""}`,
	`{"a":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`,
	`{"a":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`,
	`{"a":` + strings.Repeat(`{"a":`, 9998) + `1` + strings.Repeat("}", 9998) + `}`,
	`{"a":` + strings.Repeat(`{"a":`, 9999) + `1` + strings.Repeat("}", 9999) + `}`,
}

func TestUnmarshalObject(t *testing.T) {
	for _, s := range append(unmarshalObjectSeeds, deployment) {
		CheckUnmarshalObject(t, []byte(s))
	}
}

// A typical admitted object: a Deployment with two containers and ten env vars.
const deployment = `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"annotations":{"kubetrail.io/actor":"pipeline",` +
	`"kubetrail.io/approver":"alice,bob","kubetrail.io/commit":"0f3c2a9d5e7b41c8a6f0e2d4b9c1a3e5f7d9b2c4",` +
	`"kubetrail.io/pipeline-run":"https://ci.acme.dev/runs/7","kubetrail.io/pull-request":"42",` +
	`"kubetrail.io/repository":"https://github.com/acme/shop","kubetrail.io/source":"code"},"name":"web","namespace":"shop"},` +
	`"spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},` +
	`"spec":{"containers":[{"args":["--listen=:8080","--metrics"],"env":[{"name":"LOG_LEVEL","value":"info"},` +
	`{"name":"PORT","value":"8080"},{"name":"REGION","value":"eu-west-1"},{"name":"FEATURE_FLAGS","value":"checkout-v2,search"},` +
	`{"name":"DB_HOST","value":"db.shop.svc"},{"name":"DB_NAME","value":"shop"},{"name":"CACHE_TTL","value":"300"},` +
	`{"name":"TRACING","value":"true"},{"name":"WORKERS","value":"4"},{"name":"TZ","value":"UTC"}],` +
	`"image":"ghcr.io/acme/web:1.4.0","name":"app","ports":[{"containerPort":8080}]},` +
	`{"args":["-c","/etc/envoy/envoy.yaml"],"image":"envoyproxy/envoy:v1.31","name":"proxy"}]}}}}`

func FuzzUnmarshalObject(f *testing.F) {
	for _, s := range unmarshalObjectSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		CheckUnmarshalObject(t, raw)
	})
}

func BenchmarkUnmarshalObject(b *testing.B) {
	raw := []byte(deployment)
	b.Run("UnmarshalObject", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := UnmarshalObject(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var obj map[string]interface{}
			if err := json.Unmarshal(raw, &obj); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Where Scanner.StringValue accepts a whole input, encoding/json reads the same string.
func checkStringValue(t *testing.T, raw string) {
	t.Helper()
	p := NewScanner(raw)
	got, ok := p.StringValue()
	if !ok || !p.End() {
		return
	}
	var want string
	if err := json.Unmarshal([]byte(raw), &want); err != nil || got != want {
		t.Fatalf("StringValue(%q) = %q; encoding/json = %q, %v", raw, got, want, err)
	}
	p = NewScanner(raw)
	if rawGot, ok := p.RawStringValue(); !ok || rawGot != strings.Trim(raw, " \t\r\n") {
		t.Fatalf("RawStringValue(%q) = %q, %v", raw, rawGot, ok)
	}
}

var stringSeeds = []string{`""`, ` "a" `, `"tab\tnew\nquote\"slash\/back\\uni\u00e9"`, `"\ud83d\ude00"`, `"\ud800"`, `"\ud800\u0041"`,
	"\"a\xffb\"", "\"caf\xc3\xa9\"", `"\x"`, `"\u12"`, `"unterminated`, `"a"b`, "\"\x01\"", `null`, `"2026-01-01T00:00:00Z"`}

func TestStringValue(t *testing.T) {
	accepted := 0
	for _, s := range stringSeeds {
		checkStringValue(t, s)
		if p := NewScanner(s); func() bool { _, ok := p.StringValue(); return ok && p.End() }() {
			accepted++
		}
	}
	if accepted < 8 {
		t.Errorf("StringValue accepted only %d of the seeds", accepted)
	}
}

func FuzzStringValue(f *testing.F) {
	for _, s := range stringSeeds {
		f.Add(s)
	}
	f.Fuzz(checkStringValue)
}

func TestScannerTokens(t *testing.T) {
	p := NewScanner(` { "a" : [ "x" , "y" ] } `)
	for _, tok := range []string{"{", `"a"`, ":", "["} {
		if !p.Token(tok) {
			t.Fatalf("Token(%q) = false", tok)
		}
	}
	if s, ok := p.StringValue(); !ok || s != "x" {
		t.Fatalf("StringValue = %q, %v", s, ok)
	}
	if p.Peek() != ',' || !p.Token(",") || p.Token("]") {
		t.Fatal("Peek/Token around the comma")
	}
	if s, ok := p.RawStringValue(); !ok || s != `"y"` {
		t.Fatalf("RawStringValue = %q, %v", s, ok)
	}
	if !p.Token("]") || !p.Token("}") || !p.End() || p.Peek() != 0 {
		t.Fatal("the end of the input")
	}
}
