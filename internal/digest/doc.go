// Package digest computes kubetrail's content digest, the value of the
// kubetrail.io/digest annotation ("sha256:" followed by 64 lowercase hex digits).
//
// The mutating webhook stamps the digest on every object it admits; the reconciler
// and the CLI later recompute it from the live object read back from the apiserver.
// If the two agree, the object still holds what was deployed; if they differ,
// something changed it after admission. Both sides must therefore derive exactly the
// same bytes from the same content, whichever decoder produced it, and the digest
// must cover what a deploy changes but not what controllers and the apiserver write
// on their own.
//
// # What is tracked
//
// The digest is the SHA-256 of the canonical JSON (see below) of the object's
// tracked content, which is built from the object as follows:
//
//   - "kind" is kept as is.
//   - "apiVersion" is reduced to its API group: "apps/v1" becomes "apps", "v1"
//     becomes "" (the core group). The key stays "apiVersion" so that it cannot
//     collide with a field of the object. The version is dropped so that the same
//     object read through another version of its group is not reported as changed
//     just for that.
//   - "metadata" keeps "name", "namespace", "labels" and "annotations". Labels and
//     annotations change behaviour (Ingress controller snippets, load-balancer
//     settings, what a Service selects, ClusterRole aggregation), so they are
//     content, except kubetrail's own admission and provenance annotations (the
//     digest cannot cover itself, and stamping or signing must not change it) and a
//     short list of keys the control plane writes (see metadata.go). A map that is
//     absent, null, empty or holds only keys left out is no content. managedFields,
//     resourceVersion, generation, uid, creationTimestamp, ownerReferences,
//     finalizers and everything else in metadata are left out.
//   - "status" is left out: it is written by controllers, not by a deploy.
//   - Every other top-level field is kept whole: spec, data, binaryData, rules,
//     subjects, roleRef, aggregationRule, webhooks, secrets, imagePullSecrets,
//     automountServiceAccountToken, type, immutable, and the fields of any custom
//     resource.
//   - Values the apiserver defaulted are content like any other. The mutating webhook
//     runs after defaulting, so the admitted object and the live one both carry them.
//
// Then the ignore pointers are applied (see Of), and finally, for kind "Secret" (in
// any group: erring on the side of not hashing a secret), "data" and "stringData"
// are replaced by a single "data" field: with a secret key set (SetSecretKey; the
// manager sets its own at start), a map of each key name to a keyed hash (HMAC) of
// its value, so that a value change changes the digest while a digest of a
// low-entropy value cannot be tested against guesses without the key; without a key
// (the CLI), the sorted, de-duplicated list of their key names, values never hashed.
// Key names from stringData are merged into data because the apiserver moves them
// there before anyone reads the object back (see secret.go).
//
// # Canonical JSON
//
// The tracked content is encoded as JSON with object keys sorted by their bytes, no
// insignificant whitespace and no HTML escaping. Numbers are canonicalised so that
// the decoder does not matter: int64 3, float64 3.0 and json.Number "3.0" all print
// as 3 (any integral value in the int64 range prints as an integer, -0 prints as 0);
// other numbers print like encoding/json prints a float64. NaN and infinities are
// not JSON and are an error. Strings are escaped like encoding/json does, invalid
// UTF-8 becoming U+FFFD.
//
// Input is expected to be JSON-shaped, as unstructured.Unstructured content is:
// maps with string keys, slices, strings, booleans, nil and numbers. Canonical and
// Of return an error, and never panic, for anything else (channels, structs,
// cyclic or absurdly deep structures).
package digest
