package webhooks

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// unmarshalObject must agree with json.Unmarshal into a map on every input: the
// same value, or the same error.
func checkUnmarshalObject(t *testing.T, raw []byte) {
	t.Helper()
	got, gotErr := unmarshalObject(raw)
	var want map[string]interface{}
	wantErr := json.Unmarshal(raw, &want)
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
		t.Fatalf("unmarshalObject(%q) error = %v, json.Unmarshal's = %v", raw, gotErr, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("unmarshalObject(%q) =\n%#v\njson.Unmarshal =\n%#v", raw, got, want)
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
	seeds := append([]string(nil), unmarshalObjectSeeds...)
	// The objects and old objects of the handlers' fuzz corpus.
	files, _ := filepath.Glob("testdata/fuzz/*/*")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if q, ok := strings.CutPrefix(line, "[]byte("); ok {
				s, err := strconv.Unquote(strings.TrimSuffix(q, ")"))
				if err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				seeds = append(seeds, s)
			}
		}
	}
	if len(seeds) < len(unmarshalObjectSeeds)+len(files) {
		t.Fatalf("read only %d objects from %d corpus files", len(seeds)-len(unmarshalObjectSeeds), len(files))
	}
	obj := benchDeployment()
	raw, _ := json.Marshal(obj)
	seeds = append(seeds, string(raw))
	for _, s := range seeds {
		checkUnmarshalObject(t, []byte(s))
	}
}

func FuzzUnmarshalObject(f *testing.F) {
	for _, s := range unmarshalObjectSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkUnmarshalObject(t, raw)
	})
}

func BenchmarkUnmarshalObject(b *testing.B) {
	raw, _ := json.Marshal(benchDeployment())
	b.Run("unmarshalObject", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := unmarshalObject(raw); err != nil {
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
