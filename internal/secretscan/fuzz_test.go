package secretscan

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// FuzzScanWithin: any object (and old object) decoded from JSON is walked without
// panicking, and the result is defined: findings sorted and unique per location and
// rule, an incomplete result naming a bound, the counts within the totals.
func FuzzScanWithin(f *testing.F) {
	for _, s := range [][2]string{
		{`{"kind":"ConfigMap","data":{"a":"GITHUB_TOKEN=` + githubPAT + `"},"binaryData":{"b":"R0lUSFVCX1RPS0VOPWdocF8="}}`, ``},
		{`{"kind":"Deployment","spec":{"template":{"metadata":{"annotations":{"x":"y"}},"spec":{"containers":[{"name":"app","env":[{"name":"T","value":"` + githubPAT + `"}],"livenessProbe":{"httpGet":{"httpHeaders":[{"name":"Authorization","value":"token x"}]}}}]}}}}`, ``},
		{`{"kind":"Pod","metadata":{"labels":{"a":1}},"spec":{"containers":[[["x"]],{"name":null,"command":["--token",null,"x"]}],"volumes":{"a":"b"}}}`, `{"kind":"Pod"}`},
		{`{"kind":"CronJob","spec":{"jobTemplate":{"spec":{"template":{"spec":{"initContainers":[{"name":"a.b[c]","args":["-p","` + dbPassword + `"]}]}}}}}}`, ``},
		{`{"kind":"ConfigMap","data":{"a":"x"}}`, `{"kind":"ConfigMap","data":{"a":"y"}}`},
	} {
		f.Add(s[0], s[1], uint16(0))
	}
	if err := Load(); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, objJSON, oldJSON string, maxBytes uint16) {
		var obj, old map[string]interface{}
		if json.Unmarshal([]byte(objJSON), &obj) != nil {
			return
		}
		if oldJSON != "" && json.Unmarshal([]byte(oldJSON), &old) != nil {
			return
		}
		b := Budget{MaxBytes: int(maxBytes), MaxValues: 1000, MaxDuration: time.Second}
		r := ScanWithin(context.Background(), obj, old, b)
		for i := 1; i < len(r.Findings); i++ {
			a, c := r.Findings[i-1], r.Findings[i]
			if a.Location > c.Location || a.Location == c.Location && a.RuleID >= c.RuleID {
				t.Errorf("findings not sorted and unique: %+v then %+v", a, c)
			}
		}
		for _, f := range r.Findings {
			if !strings.HasPrefix(f.Fingerprint, "sha256:") || f.Location == "" {
				t.Errorf("finding %+v has no location or fingerprint", f)
			}
		}
		if inc := r.Incomplete; inc != nil {
			if inc.Location == "" || inc.Reason() == "" || inc.ScannedBytes > inc.TotalBytes || inc.ScannedValues > inc.TotalValues {
				t.Errorf("incomplete result not defined: %+v", inc)
			}
		}
	})
}
