package admissionfacts

import (
	"testing"
	"time"

	"github.com/kubetrail/kubetrail/internal/digest"
	"github.com/kubetrail/kubetrail/internal/provenance"
)

func deployment(image string, replicas int64, ann map[string]interface{}) map[string]interface{} {
	md := map[string]interface{}{"name": "web", "namespace": "shop"}
	if ann != nil {
		md["annotations"] = ann
	}
	return map[string]interface{}{
		"apiVersion": "apps/v1", "kind": "Deployment", "metadata": md,
		"spec": map[string]interface{}{"replicas": replicas, "template": map[string]interface{}{"spec": map[string]interface{}{
			"containers": []interface{}{map[string]interface{}{"name": "app", "image": image}},
		}}},
	}
}

var t0 = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func TestDecide(t *testing.T) {
	stamped := func() map[string]interface{} {
		return map[string]interface{}{
			provenance.AdmittedByKey: "pipeline", provenance.AdmittedAtKey: "2026-11-01T00:00:00Z",
			provenance.DigestKey: "sha256:old", provenance.VerifiedKey: "true",
		}
	}
	cases := map[string]struct {
		req          Request
		changed      bool
		wantBy       string
		wantReplaced int
	}{
		"create stamps fresh facts": {
			req: Request{Object: deployment("app:1", 1, nil), Username: "alice", Now: t0}, changed: true, wantBy: "alice",
		},
		"forged facts on create are replaced": {
			req: Request{Object: deployment("app:1", 1, map[string]interface{}{
				provenance.AdmittedByKey: "pipeline", provenance.VerifiedKey: "true", provenance.DigestKey: "sha256:x",
			}), Username: "mallory", Now: t0},
			changed: true, wantBy: "mallory", wantReplaced: 3,
		},
		"image change restamps": {
			req:     Request{Object: deployment("app:2", 1, stamped()), OldObject: deployment("app:1", 1, stamped()), Username: "bob", Now: t0},
			changed: true, wantBy: "bob",
		},
		"label-only update keeps the old facts": {
			req:     Request{Object: deployment("app:1", 1, stamped()), OldObject: deployment("app:1", 1, stamped()), Username: "ctrl", Now: t0},
			changed: false, wantBy: "pipeline",
		},
		"ignored replicas change keeps the old facts": {
			req:     Request{Object: deployment("app:1", 5, stamped()), OldObject: deployment("app:1", 1, stamped()), Username: "hpa", Now: t0, Ignore: []string{"/spec/replicas"}},
			changed: false, wantBy: "pipeline",
		},
		"forging on an update without content change is undone": {
			req: Request{Object: deployment("app:1", 1, map[string]interface{}{
				provenance.AdmittedByKey: "someone-else", provenance.AdmittedAtKey: "2026-11-01T00:00:00Z",
				provenance.DigestKey: "sha256:old", provenance.VerifiedKey: "true",
			}), OldObject: deployment("app:1", 1, stamped()), Username: "mallory", Now: t0},
			changed: false, wantBy: "pipeline", wantReplaced: 1,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p, err := Decide(tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if p.ContentChanged != tc.changed {
				t.Errorf("ContentChanged = %v, want %v", p.ContentChanged, tc.changed)
			}
			if got := p.Annotations[provenance.AdmittedByKey]; got != tc.wantBy {
				t.Errorf("admitted-by = %q, want %q", got, tc.wantBy)
			}
			if len(p.Replaced) != tc.wantReplaced {
				t.Errorf("replaced %v, want %d keys", p.Replaced, tc.wantReplaced)
			}
			if tc.changed {
				want, _ := digest.Of(tc.req.Object, nil)
				if p.Annotations[provenance.DigestKey] != want || p.Annotations[provenance.AdmittedAtKey] != "2026-11-29T12:00:00Z" {
					t.Errorf("fresh facts wrong: %v", p.Annotations)
				}
			}
		})
	}
}

func TestForged(t *testing.T) {
	obj := deployment("app:1", 1, nil)
	plan, err := Decide(Request{Object: obj, Username: "pipeline", Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	honest := map[string]string{}
	for k, v := range plan.Annotations {
		honest[k] = v
	}
	honest[provenance.AdmittedAtKey] = "2026-11-29T12:00:01Z" // the mutating webhook's instant
	if k := Forged(honest, plan, false); k != "" {
		t.Fatalf("honest facts reported forged at %s", k)
	}
	cases := map[string]func(m map[string]string){
		provenance.AdmittedByKey: func(m map[string]string) { m[provenance.AdmittedByKey] = "someone" },
		provenance.DigestKey:     func(m map[string]string) { m[provenance.DigestKey] = "sha256:00" },
		provenance.VerifiedKey:   func(m map[string]string) { m[provenance.VerifiedKey] = "true" },
	}
	unstamped := map[string]string{}
	if k := Forged(unstamped, plan, false); k != "" {
		t.Errorf("an unstamped object (mutating webhook skipped) was reported forged at %s", k)
	}
	for key, tamper := range cases {
		m := map[string]string{}
		for k, v := range honest {
			m[k] = v
		}
		tamper(m)
		if got := Forged(m, plan, false); got != key {
			t.Errorf("tampering %s: Forged = %q", key, got)
		}
	}
}
