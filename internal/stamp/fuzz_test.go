package stamp

import (
	"bytes"
	"testing"
	"time"
)

// FuzzStamp checks that Stamp never panics, writes nothing when it fails, and that
// stamping its output again changes nothing. The seed corpus is in
// testdata/fuzz/FuzzStamp.
func FuzzStamp(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"))
	opts := Options{
		Provenance: testProv,
		Key:        testKey(),
		Namespace:  "shop",
		Now:        func() time.Time { return testNow },
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 64<<10 {
			return
		}
		var out bytes.Buffer
		if err := Stamp(bytes.NewReader(in), &out, opts); err != nil {
			if out.Len() != 0 {
				t.Fatalf("Stamp failed (%v) but wrote output", err)
			}
			return
		}
		var again bytes.Buffer
		if err := Stamp(bytes.NewReader(out.Bytes()), &again, opts); err != nil {
			t.Fatalf("stamping the output again failed: %v\noutput:\n%s", err, out.String())
		}
		if !bytes.Equal(again.Bytes(), out.Bytes()) {
			t.Fatalf("stamping twice changed the output:\nonce:\n%s\ntwice:\n%s", out.String(), again.String())
		}
	})
}
