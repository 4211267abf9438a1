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

	"github.com/kubetrail/kubetrail/internal/jsonfast"
)

// The handlers decode objects with jsonfast; on every object and old object of their
// fuzz corpus it must agree with encoding/json.
func TestDecodeObjectAgreesWithEncodingJSON(t *testing.T) {
	raw, _ := json.Marshal(benchDeployment())
	seeds := []string{string(raw)}
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
	if len(seeds) < len(files) {
		t.Fatalf("read only %d objects from %d corpus files", len(seeds), len(files))
	}
	for _, s := range seeds {
		got, gotErr := jsonfast.UnmarshalObject([]byte(s))
		var want map[string]interface{}
		wantErr := json.Unmarshal([]byte(s), &want)
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || !reflect.DeepEqual(got, want) {
			t.Errorf("on %q: jsonfast = %v, %v; encoding/json = %v, %v", s, got, gotErr, want, wantErr)
		}
	}
}
