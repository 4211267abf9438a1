package admissionfacts

import (
	"strings"
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

// A mutating webhook that runs after kubetrail's changes the object after the stamper
// hashed it (when nothing reinvokes the stamper after that change). The validating
// webhook sees the stamper's facts for this very request with a digest of the earlier
// object: not forged. Facts that are not this request's still are.
func TestForgedAfterLaterMutation(t *testing.T) {
	before := deployment("app:1", 1, nil)
	stamp, err := Decide(Request{Object: before, Username: "pipeline", Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	// The other webhook adds an env var; the validating webhook runs 3 s later.
	after := deployment("app:1", 1, nil)
	after["spec"].(map[string]interface{})["template"].(map[string]interface{})["spec"].(map[string]interface{})["containers"].([]interface{})[0].(map[string]interface{})["env"] =
		[]interface{}{map[string]interface{}{"name": "INJECTED", "value": "1"}}
	ann := map[string]interface{}{}
	for k, v := range stamp.Annotations {
		ann[k] = v
	}
	after["metadata"].(map[string]interface{})["annotations"] = ann
	plan, err := Decide(Request{Object: after, Username: "pipeline", Now: t0.Add(3 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Annotations[provenance.DigestKey] == stamp.Annotations[provenance.DigestKey] {
		t.Fatal("the later change did not change the digest; the test proves nothing")
	}
	if len(plan.Replaced) != 0 {
		t.Errorf("the stamper's own facts, seen again on reinvocation, were reported replaced: %v", plan.Replaced)
	}
	if k := Forged(stamp.Annotations, plan, false); k != "" {
		t.Fatalf("the stamper's facts for this request were taken for forged at %s", k)
	}

	with := func(edit func(m map[string]string)) map[string]string {
		m := map[string]string{}
		for k, v := range stamp.Annotations {
			m[k] = v
		}
		edit(m)
		return m
	}
	cases := map[string]struct {
		have map[string]string
		plan Plan
		want string
	}{
		"someone else named as submitter": {
			have: with(func(m map[string]string) { m[provenance.AdmittedByKey] = "someone" }), plan: plan, want: provenance.AdmittedByKey,
		},
		"another requester sends the pipeline's facts": {
			have: stamp.Annotations, plan: func() Plan {
				p := plan
				p.Requester = "mallory"
				p.Annotations = withBy(plan.Annotations, "mallory")
				return p
			}(),
			want: provenance.AdmittedByKey,
		},
		"admitted-at older than the window": {
			have: with(func(m map[string]string) { m[provenance.AdmittedAtKey] = t0.Add(-2 * time.Minute).Format(time.RFC3339) }), plan: plan, want: provenance.DigestKey,
		},
		"admitted-at in the future": {
			have: with(func(m map[string]string) { m[provenance.AdmittedAtKey] = t0.Add(time.Minute).Format(time.RFC3339) }), plan: plan, want: provenance.DigestKey,
		},
		"admitted-at not a time": {
			have: with(func(m map[string]string) { m[provenance.AdmittedAtKey] = "now" }), plan: plan, want: provenance.DigestKey,
		},
		"malformed digest": {
			have: with(func(m map[string]string) { m[provenance.DigestKey] = "sha256:00" }), plan: plan, want: provenance.DigestKey,
		},
		"verified=true without a signature": {
			have: with(func(m map[string]string) { m[provenance.VerifiedKey] = "true" }), plan: plan, want: provenance.VerifiedKey,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := Forged(tc.have, tc.plan, false); got != tc.want {
				t.Errorf("Forged = %q, want %q", got, tc.want)
			}
		})
	}

	// On an update that changes nothing tracked the facts must be the stored ones: a
	// fresh digest mismatch there is forged, whoever sent it.
	stored := deployment("app:1", 1, map[string]interface{}{
		provenance.AdmittedByKey: "ci", provenance.AdmittedAtKey: "2026-11-01T00:00:00Z",
		provenance.DigestKey: stamp.Annotations[provenance.DigestKey], provenance.VerifiedKey: "false",
	})
	unchanged, err := Decide(Request{Object: stored, OldObject: stored, Username: "pipeline", Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	mine := with(func(m map[string]string) { m[provenance.DigestKey] = "sha256:" + strings.Repeat("1", 64) })
	if got := Forged(mine, unchanged, false); got == "" {
		t.Error("fresh facts of the requester on an unchanged update were not taken for forged")
	}
}

func withBy(ann map[string]string, by string) map[string]string {
	out := map[string]string{}
	for k, v := range ann {
		out[k] = v
	}
	out[provenance.AdmittedByKey] = by
	return out
}

func TestWrittenFor(t *testing.T) {
	at := func(d time.Duration) map[string]string {
		return map[string]string{provenance.AdmittedByKey: "ci", provenance.AdmittedAtKey: t0.Add(d).Format(time.RFC3339)}
	}
	for name, tc := range map[string]struct {
		facts map[string]string
		user  string
		want  bool
	}{
		"this request":      {at(-2 * time.Second), "ci", true},
		"window edge":       {at(-FreshWindow), "ci", true},
		"too old":           {at(-FreshWindow - time.Second), "ci", false},
		"small clock skew":  {at(FutureSkew), "ci", true},
		"future":            {at(FutureSkew + time.Second), "ci", false},
		"another requester": {at(0), "mallory", false},
		"no username":       {map[string]string{provenance.AdmittedAtKey: t0.Format(time.RFC3339)}, "", false},
		"no time":           {map[string]string{provenance.AdmittedByKey: "ci"}, "ci", false},
	} {
		if got := WrittenFor(tc.facts, tc.user, t0); got != tc.want {
			t.Errorf("%s: WrittenFor = %v, want %v", name, got, tc.want)
		}
	}
}

// H4: an object signed by a key that is no longer trusted must not keep
// verified=true through later updates that leave its content alone.
func TestVerifiedIsWhatHoldsNow(t *testing.T) {
	stamped := func(verified string) map[string]interface{} {
		m := map[string]interface{}{
			provenance.AdmittedByKey: "pipeline", provenance.AdmittedAtKey: "2026-11-01T00:00:00Z",
			provenance.DigestKey: "sha256:old",
		}
		if verified != "" {
			m[provenance.VerifiedKey] = verified
		}
		return m
	}
	for _, tc := range []struct {
		name     string
		old      string
		verified bool
		want     string // "" for absent
	}{
		{"key rotated out", "true", false, "false"},
		{"still trusted", "true", true, "true"},
		{"newly trusted key", "false", true, "true"},
		{"no facts yet", "", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A label-only update, as kubectl label sends it: the stored facts carried along.
			req := Request{Object: deployment("app:1", 1, stamped(tc.old)), OldObject: deployment("app:1", 1, stamped(tc.old)),
				Username: "alice", Now: t0, Verified: tc.verified}
			plan, err := Decide(req)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := plan.Annotations[provenance.VerifiedKey]
			if tc.want == "" && ok || tc.want != "" && got != tc.want {
				t.Fatalf("verified = %q (present %v), want %q", got, ok, tc.want)
			}
			// What the stamper wrote is what the validating webhook, with the same
			// verdict, takes for genuine; the stale value is taken for forged.
			have := Of(req.Object)
			if tc.want != "" {
				have[provenance.VerifiedKey] = tc.want
			}
			if k := Forged(have, plan, tc.verified); k != "" {
				t.Errorf("the stamper's facts taken for forged: %s", k)
			}
			if tc.old != "" && tc.old != tc.want {
				have[provenance.VerifiedKey] = tc.old
				if k := Forged(have, plan, tc.verified); k != provenance.VerifiedKey {
					t.Errorf("a stale verified=%s passed as genuine (Forged = %q)", tc.old, k)
				}
			}
		})
	}
}
