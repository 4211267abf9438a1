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
	// Requester and At are the request's username and admission time (see WrittenFor).
	Requester string
	At        time.Time
}

// FreshWindow is how long before the validating webhook's instant the mutating webhook
// may have stamped the same request: the apiserver gives a whole request a minute by
// default (--request-timeout), every mutating webhook's call and reinvocation included.
// FutureSkew allows for replicas whose clocks differ a little.
const (
	FreshWindow = time.Minute
	FutureSkew  = 5 * time.Second
)

// WrittenFor reports whether facts are the mutating webhook's for this very request:
// admitted-by is the requester and admitted-at lies within FreshWindow before now. A
// mutating webhook that runs after kubetrail's (Kyverno, a Vault injector) can change
// the object after it was hashed; the stamper is reinvoked then (reinvocationPolicy
// IfNeeded) and, on that call, finds its own facts here. A client that forges them
// gains nothing: they name itself and the time of its own request.
func WrittenFor(facts map[string]string, username string, now time.Time) bool {
	if username == "" || facts[provenance.AdmittedByKey] != username {
		return false
	}
	at, err := time.Parse(time.RFC3339, facts[provenance.AdmittedAtKey])
	if err != nil {
		return false
	}
	return !at.Before(now.Add(-FreshWindow)) && !at.After(now.Add(FutureSkew))
}

// Decide computes the plan for r.
func Decide(r Request) (Plan, error) {
	p := Plan{Requester: r.Username, At: r.Now}
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
		// Except verified, which says what holds now: a signature whose key is no
		// longer trusted (rotated out, revoked), or that was removed, is no longer
		// verified, and a later label change must not carry the old "true" along.
		if _, ok := p.Annotations[provenance.VerifiedKey]; ok {
			p.Annotations[provenance.VerifiedKey] = strconv.FormatBool(r.Verified)
		}
	}
	sent := Of(r.Object)
	// The stamper's own facts from an earlier call for this request (it is reinvoked
	// when a later webhook changed the object): restamping them is no replacement of a
	// client's value, and warning the client about it would be wrong.
	own := changed && WrittenFor(sent, r.Username, r.Now)
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
		if own && k != provenance.VerifiedKey {
			continue
		}
		// A signature binds the final content, so the stamper's first call (before a
		// later mutating webhook finished the object) may have written "false" where
		// this reinvocation verifies it: no client's value. Claiming "true" still is.
		if own && k == provenance.VerifiedKey && v == "false" {
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
// instants. verified is what the validating webhook's own signature check found; the
// verified fact must equal it on every update (plan's value is not compared).
//
// A digest that is not the final object's is not forged when the facts are the
// mutating webhook's for this request (WrittenFor): a mutating webhook that ran after
// kubetrail's last call changed the object after it was hashed. The object is admitted;
// the reconciler, which compares the live digest with the stamped one, records the
// change as Drift and UntracedChange. admitted-by naming someone else, an admitted-at
// outside the window, a malformed digest or a wrong verified are still forged.
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
		case plan.ContentChanged && k == provenance.DigestKey && got != want && WrittenFor(have, plan.Requester, plan.At):
			if !digest.Valid(got) {
				return k
			}
		case plan.NameGenerated && k == provenance.DigestKey:
			// The name did not exist yet when the mutating webhook hashed the object.
			if !digest.Valid(got) {
				return k
			}
		case k == provenance.VerifiedKey:
			// On every update, not only content changes: verified is what the
			// signature's check against the keys trusted now found (Decide).
			if got != strconv.FormatBool(verified) {
				return k
			}
		case got != want:
			return k
		}
	}
	return ""
}
