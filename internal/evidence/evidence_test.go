package evidence

import (
	"bytes"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/kubetrail/kubetrail/api/v1alpha1"
)

var now = time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)

func ts(t time.Time) *metav1.Time { m := metav1.NewTime(t); return &m }

func sampleInput() Input {
	since := now.Add(-24 * time.Hour)
	rec := v1alpha1.TraceRecord{
		ObjectMeta: metav1.ObjectMeta{
			Name: "deployment.web", Namespace: "shop",
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubetrail"}},
		},
		Spec: v1alpha1.TraceRecordSpec{
			Target:     v1alpha1.TraceTarget{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "web"},
			Provenance: v1alpha1.Provenance{Commit: strings.Repeat("a", 40), Approver: "alice"},
		},
		Status: v1alpha1.TraceRecordStatus{
			History: []v1alpha1.Revision{
				{Provenance: v1alpha1.Provenance{Commit: strings.Repeat("a", 40)}, Traced: true,
					Admission: v1alpha1.AdmissionFacts{AdmittedAt: ts(now.Add(-time.Hour))}},
				{Traced: false, ObservedAt: metav1.NewTime(now.Add(-2 * time.Hour))},
				{Provenance: v1alpha1.Provenance{Commit: strings.Repeat("b", 40)}, Traced: true,
					Admission: v1alpha1.AdmissionFacts{AdmittedAt: ts(now.Add(-72 * time.Hour))}},
			},
			Findings: []v1alpha1.Finding{
				{ID: "f2", Type: v1alpha1.FindingDrift, Severity: v1alpha1.SeverityMedium, Message: "replicas changed by kubectl <edit> & more"},
				{ID: "f1", Type: v1alpha1.FindingSecretExposure, Severity: v1alpha1.SeverityHigh, Message: "a literal AWS key in env"},
			},
		},
	}
	crb := v1alpha1.TraceRecord{
		ObjectMeta: metav1.ObjectMeta{Name: "clusterrolebinding.ci-admin", Namespace: "kubetrail-system"},
		Spec: v1alpha1.TraceRecordSpec{
			Target: v1alpha1.TraceTarget{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding", Name: "ci-admin"},
		},
		Status: v1alpha1.TraceRecordStatus{Findings: []v1alpha1.Finding{
			{ID: "r1", Type: v1alpha1.FindingRBACEscalation, Severity: v1alpha1.SeverityCritical, Message: "ServiceAccount shop/builder gained cluster-admin",
				Dependents: []v1alpha1.ObjectReference{{Kind: "Deployment", Namespace: "shop", Name: "builder"}}},
		}},
	}
	pol := v1alpha1.TracePolicy{ObjectMeta: metav1.ObjectMeta{Name: "prod"}, Spec: v1alpha1.TracePolicySpec{Mode: v1alpha1.ModeEnforce}}
	return Input{Cluster: "https://127.0.0.1:6443", Since: &since, Until: now,
		Records: []v1alpha1.TraceRecord{rec, crb}, Policies: []v1alpha1.TracePolicy{pol}}
}

func sealed(t *testing.T) []byte {
	t.Helper()
	b := New(sampleInput())
	if err := Seal(b); err != nil {
		t.Fatal(err)
	}
	doc, err := Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestNewFiltersAndFlattens(t *testing.T) {
	in := sampleInput()
	b := New(in)
	if b.APIVersion != APIVersion || !b.GeneratedAt.Equal(now) || !b.Since.Equal(now.Add(-24*time.Hour)) {
		t.Fatalf("header: %+v", b)
	}
	if len(b.Records) != 2 || b.Records[0].Namespace != "kubetrail-system" || b.Records[1].Name != "deployment.web" {
		t.Fatalf("records not sorted: %v", b.Records)
	}
	web := b.Records[1]
	if len(web.Status.History) != 2 {
		t.Fatalf("history not cut to the last 24h: %+v", web.Status.History)
	}
	if web.ManagedFields != nil || web.Kind != "TraceRecord" || web.APIVersion != "kubetrail.io/v1alpha1" {
		t.Errorf("record not normalised: %+v", web.ObjectMeta)
	}
	if len(in.Records[0].Status.History) != 3 || in.Records[0].ManagedFields == nil {
		t.Error("New modified its input")
	}
	var ids []string
	for _, f := range b.Findings {
		ids = append(ids, f.Record+"#"+f.ID+"@"+f.Target.Kind)
	}
	want := []string{"kubetrail-system/clusterrolebinding.ci-admin#r1@ClusterRoleBinding", "shop/deployment.web#f1@Deployment", "shop/deployment.web#f2@Deployment"}
	if strings.Join(ids, " ") != strings.Join(want, " ") {
		t.Errorf("findings = %v, want %v", ids, want)
	}
	// The flattened finding carries its fields inline, next to its target.
	raw, _ := json.Marshal(b.Findings[0])
	for _, k := range []string{`"target":{`, `"record":"kubetrail-system/clusterrolebinding.ci-admin"`, `"id":"r1"`, `"severity":"Critical"`, `"dependents":[`} {
		if !bytes.Contains(raw, []byte(k)) {
			t.Errorf("finding JSON lacks %s: %s", k, raw)
		}
	}
	// No since: the whole history.
	in.Since = nil
	if b := New(in); len(b.Records[1].Status.History) != 3 || b.Since != nil {
		t.Errorf("without since the whole history is kept: %+v", b.Records[1].Status.History)
	}
}

func TestRoundTrip(t *testing.T) {
	doc := sealed(t)
	res, err := Verify(doc)
	if err != nil {
		t.Fatalf("fresh bundle does not verify: %v", err)
	}
	if res.Records != 2 || res.Findings != 3 || res.Policies != 1 || !strings.HasPrefix(res.Digest, "sha256:") || len(res.Digest) != 71 {
		t.Errorf("result = %+v", res)
	}
	var back Bundle
	if err := json.Unmarshal(doc, &back); err != nil {
		t.Fatal(err)
	}
	if back.Digest != res.Digest || len(back.Findings) != 3 || back.Findings[2].Message != "replicas changed by kubectl <edit> & more" {
		t.Errorf("decoded bundle = %+v", back)
	}
	// Sealing the decoded bundle again gives the same digest: the encoding is deterministic.
	if err := Seal(&back); err != nil || back.Digest != res.Digest {
		t.Errorf("re-sealed digest %s (err %v), want %s", back.Digest, err, res.Digest)
	}
}

func TestOneEditedByteFails(t *testing.T) {
	doc := sealed(t)
	i := bytes.Index(doc, []byte("a literal AWS key"))
	if i < 0 {
		t.Fatal("message not found")
	}
	edited := append([]byte(nil), doc...)
	edited[i] = 'A'
	_, err := Verify(edited)
	var ee *EditedError
	if !errors.As(err, &ee) {
		t.Fatalf("edited bundle: err = %v, want EditedError", err)
	}
	if !strings.Contains(err.Error(), "edited after export") || ee.Recorded == ee.Computed {
		t.Errorf("error = %v", err)
	}
}

func TestEditsThatMustFail(t *testing.T) {
	doc := sealed(t)
	for name, edit := range map[string]func(map[string]interface{}){
		"severity lowered": func(m map[string]interface{}) {
			m["findings"].([]interface{})[0].(map[string]interface{})["severity"] = "Low"
		},
		"finding removed": func(m map[string]interface{}) {
			m["findings"] = m["findings"].([]interface{})[1:]
		},
		"member added": func(m map[string]interface{}) { m["note"] = "harmless?" },
		"findings reordered": func(m map[string]interface{}) {
			f := m["findings"].([]interface{})
			f[0], f[1] = f[1], f[0]
		},
		"digest replaced": func(m map[string]interface{}) { m["digest"] = "sha256:" + strings.Repeat("0", 64) },
	} {
		t.Run(name, func(t *testing.T) {
			var m map[string]interface{}
			if err := json.Unmarshal(doc, &m); err != nil {
				t.Fatal(err)
			}
			edit(m)
			out, _ := json.Marshal(m)
			var ee *EditedError
			if _, err := Verify(out); !errors.As(err, &ee) {
				t.Errorf("err = %v, want EditedError", err)
			}
		})
	}
}

// reencode writes v as JSON with every object's keys in reverse order and new white space.
func reencode(buf *bytes.Buffer, v interface{}) {
	switch x := v.(type) {
	case map[string]interface{}:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Sort(sort.Reverse(sort.StringSlice(keys)))
		buf.WriteString("{\n")
		for i, k := range keys {
			if i > 0 {
				buf.WriteString(" ,\n")
			}
			kb, _ := json.Marshal(k)
			buf.Write(kb)
			buf.WriteString(" :\t")
			reencode(buf, x[k])
		}
		buf.WriteString("}")
	case []interface{}:
		buf.WriteString("[ ")
		for i, e := range x {
			if i > 0 {
				buf.WriteString(", ")
			}
			reencode(buf, e)
		}
		buf.WriteString(" ]")
	default:
		b, _ := json.Marshal(x)
		buf.Write(b)
	}
}

func TestReorderedKeysStillVerify(t *testing.T) {
	doc := sealed(t)
	v, err := Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	reencode(&buf, v)
	if bytes.Equal(buf.Bytes(), doc) || !bytes.HasPrefix(buf.Bytes(), []byte("{\n\"until\"")) {
		t.Fatalf("re-encoding did not reorder: %.60s", buf.Bytes())
	}
	if _, err := Verify(buf.Bytes()); err != nil {
		t.Errorf("reordered bundle: %v", err)
	}
}

func TestNotABundle(t *testing.T) {
	doc := sealed(t)
	dup := bytes.Replace(doc, []byte(`"cluster":`), []byte(`"cluster": "https://evil", "cluster":`), 1)
	for name, in := range map[string][]byte{
		"not json":      []byte("hello"),
		"array":         []byte("[]"),
		"other version": []byte(`{"apiVersion":"v1","digest":"sha256:00"}`),
		"no digest":     bytes.Replace(doc, []byte(`"digest"`), []byte(`"digezt"`), 1),
		"duplicate key": dup,
		"trailing data": append(append([]byte(nil), doc...), []byte("{}")...),
		"invalid utf-8": append([]byte(`{"apiVersion":"kubetrail.io/evidence/v1","x":"`), 0xff, '"', '}'),
	} {
		if _, err := Verify(in); !errors.Is(err, ErrNotBundle) {
			t.Errorf("%s: err = %v, want ErrNotBundle", name, err)
		}
	}
}

func TestCanonical(t *testing.T) {
	c, err := Canonical([]byte(`{ "b": [1, 2.50, "x<y"], "a": {"d": null, "c": true}, "digest": "sha256:zz" }`))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":{"c":true,"d":null},"b":[1,2.50,"x<y"]}`; string(c) != want {
		t.Errorf("canonical = %s, want %s", c, want)
	}
}

func TestParseSince(t *testing.T) {
	for in, want := range map[string]time.Time{
		"24h":                  now.Add(-24 * time.Hour),
		"7d":                   now.Add(-7 * 24 * time.Hour),
		"2w":                   now.Add(-14 * 24 * time.Hour),
		"1d12h":                now.Add(-36 * time.Hour),
		"90m":                  now.Add(-90 * time.Minute),
		"2026-05-01T00:00:00Z": time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC),
		"2026-05-01":           time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC),
	} {
		got, err := ParseSince(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "yesterday", "-3h", "7x", "d"} {
		if _, err := ParseSince(bad, now); err == nil {
			t.Errorf("ParseSince(%q) succeeded", bad)
		}
	}
}
