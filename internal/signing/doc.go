// Package signing binds a Kubernetes object's provenance (the kubetrail.io/*
// annotations saying which commit, pipeline and repository produced it) to the
// object with a signature, so that the admission webhook can tell a manifest the
// pipeline produced from one somebody edited or applied by hand.
//
// The pipeline builds a Statement from the object it is about to apply and signs it
// with an ed25519 key; the encoded DSSE envelope goes into the kubetrail.io/signature
// annotation. The webhook builds the Statement the object actually carries and calls
// Verify, which checks, in this order, that the annotation decodes, that a trusted key
// signed it, that it was made for this very object (so it cannot be copied to another
// one) and that it has not expired.
//
// The envelope is DSSE (https://github.com/secure-systems-lab/dsse), produced and
// checked by go-securesystemslib, so that the signed bytes are unambiguous (PAE) and
// other tools can read the envelope. ed25519 is the only algorithm: one algorithm
// means no algorithm confusion and small keys that fit in a Secret or a CI variable.
package signing
