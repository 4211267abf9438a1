// Package signing binds a Kubernetes object's content and provenance (the
// kubetrail.io/* annotations saying which commit, pipeline and repository produced
// it) to the object with a signature, so that the admission webhook can tell a
// manifest the pipeline produced from one somebody edited, re-created or applied by
// hand, and a signature made for this cluster from one made for another.
//
// The pipeline builds a Statement from the object as it will be admitted (ideally
// what a server-side dry run returns: defaults and other mutating webhooks applied),
// names the cluster (Audience) and an expiry, and signs it with an ed25519 key; the
// encoded DSSE envelope goes into the kubetrail.io/signature annotation. The webhook
// builds the Statement the admitted object carries (StatementOf) and calls Verify,
// which checks, in this order, that the annotation decodes, that a trusted key signed
// it, that it was made for this very object and content (identity, ContentDigest,
// provenance: so it cannot be copied to another object or onto other content) and
// that it has not expired. The audience and the longest lifetime are a policy's
// (CheckAudience, CheckLifetime).
//
// The envelope is DSSE (https://github.com/secure-systems-lab/dsse), produced and
// checked by go-securesystemslib, so that the signed bytes are unambiguous (PAE); its
// payload is an in-toto Statement v1 (github.com/in-toto/attestation/go/v1) with the
// object as subject (name "<group>/<kind>/<namespace>/<name>", digest sha256 of its
// tracked content) and the predicate type https://kubetrail.io/provenance/v1, so that
// other tools can read it. ed25519 is the only algorithm: one algorithm means no
// algorithm confusion and small keys that fit in a Secret or a CI variable.
package signing
