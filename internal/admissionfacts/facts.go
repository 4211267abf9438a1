// Package admissionfacts decides which admission annotations (kubetrail.io/admitted-by,
// admitted-at, digest, verified) an admitted object carries. They are facts only the
// webhook can know, so whatever a client sent for them is replaced: on a change of
// tracked content by fresh facts, otherwise by the facts the stored object had.
package admissionfacts

import (
	"strconv"
	"time"

	"github.com/kubetrail/kubetrail/internal/digest"
	"github.com/kubetrail/kubetrail/internal/provenance"
)

// Request is what the webhook knows about one create or update.
type Request struct {
	// Object is the incoming object; OldObject the stored one (nil on create).
	Object, OldObject map[string]interface{}
	// Username submitted the request.
	Username string
	// Now is the admission time.
	Now time.Time
	// Ignore are JSON pointers whose changes do not count as changes of tracked content
	// (from the TracePolicies selecting the object, e.g. /spec/replicas).
	Ignore []string
	// Verified is true when the object's signature verified against a trusted key.
	Verified bool
}

// Plan is the admission annotations an object must carry.
type Plan struct {
	// Annotations are the admission annotations to set; keys absent here are removed.
	Annotations map[string]string
	// ContentChanged is true on create and when tracked content changed.
	ContentChanged bool
	// NameGenerated is true on a create whose name the apiserver generates
	// (metadata.generateName): the stamped digest was taken before the name existed.
	NameGenerated bool
	// Replaced lists the admission keys whose client-sent value was replaced: a client
	// tried to set or change a fact only the webhook writes.
	Replaced []string
}

// Decide computes the plan for r.
func Decide(r Request) (Plan, error) {
	var p Plan
	changed := r.OldObject == nil
	if !changed {
		before, err := digest.Of(r.OldObject, r.Ignore)
		if err != nil {
			return p, err
		}
		after, err := digest.Of(r.Object, r.Ignore)
		if err != nil {
			return p, err
		}
		changed = before != after
	}
	p.ContentChanged = changed
	if r.OldObject == nil {
		md, _ := r.Object["metadata"].(map[string]interface{})
		generateName, _ := md["generateName"].(string)
		p.NameGenerated = generateName != ""
	}
	if changed {
		d, err := digest.Of(r.Object, nil)
		if err != nil {
			return p, err
		}
		p.Annotations = map[string]string{
			provenance.AdmittedByKey: r.Username,
			provenance.AdmittedAtKey: r.Now.UTC().Format(time.RFC3339),
			provenance.DigestKey:     d,
			provenance.VerifiedKey:   strconv.FormatBool(r.Verified),
		}
	} else {
		// Nothing tracked changed: the object keeps the facts of the admission that
		// produced its content, whatever the client sent.
		p.Annotations = map[string]string{}
		old := Of(r.OldObject)
		for _, k := range provenance.AdmissionKeys {
			if v, ok := old[k]; ok {
				p.Annotations[k] = v
			}
		}
	}
	sent := Of(r.Object)
	var before map[string]string
	if r.OldObject != nil {
		before = Of(r.OldObject)
	}
	for _, k := range provenance.AdmissionKeys {
		v, ok := sent[k]
		if !ok {
			continue
		}
		// A value the client merely carried over from the stored object is not a forgery
		// (kubectl apply and edit send the whole object back).
		if old, had := before[k]; had && old == v {
			continue
		}
		if p.Annotations[k] != v || k == provenance.AdmittedAtKey {
			p.Replaced = append(p.Replaced, k)
		}
	}
	return p, nil
}

// Of returns the admission annotations obj carries.
func Of(obj map[string]interface{}) map[string]string {
	md, _ := obj["metadata"].(map[string]interface{})
	ann, _ := md["annotations"].(map[string]interface{})
	out := map[string]string{}
	for _, k := range provenance.AdmissionKeys {
		if v, ok := ann[k].(string); ok {
			out[k] = v
		}
	}
	return out
}

// Forged returns the first admission key whose value in have (the object the
// validating webhook sees) is not what plan says the mutating webhook wrote, or ""
// when all agree. When the mutating webhook was bypassed (down, failing open) a
// client's values get this far, and this catches them. admitted-at is only required
// to be present on a content change: the two webhooks see the request at different
// instants. verified is what the validating webhook's own signature check found.
func Forged(have map[string]string, plan Plan, verified bool) string {
	for _, k := range provenance.AdmissionKeys {
		want, set := plan.Annotations[k]
		got, ok := have[k]
		switch {
		case !set && ok:
			return k
		case !set:
		case !ok:
			// Missing is not forged: the mutating webhook was skipped (down, timed out)
			// and the object is simply unstamped, which the reconciler records as an
			// untraced change. Denying it would turn a fail-open webhook into a closed one.
		case plan.ContentChanged && k == provenance.AdmittedAtKey:
		case plan.NameGenerated && k == provenance.DigestKey:
			// The name did not exist yet when the mutating webhook hashed the object.
			if !digest.Valid(got) {
				return k
			}
		case plan.ContentChanged && k == provenance.VerifiedKey:
			if got != strconv.FormatBool(verified) {
				return k
			}
		case got != want:
			return k
		}
	}
	return ""
}
