// Package drift says which fields of an object changed, without keeping a copy of
// the object.
//
// The digest (package digest) tells the reconciler that a live object no longer
// holds what was admitted, but not what changed. Keeping the admitted object to diff
// against would put a full copy of every tracked object, Secrets' neighbours
// included, into the reconciler's records, and those must stay small (a few KiB in
// etcd). So for the last traced revision the reconciler keeps fingerprints instead:
// for every leaf of the tracked content (the same content the digest covers,
// see digest.TrackedContent), its JSON pointer and a short hash of its value.
// Comparing the fingerprints of the live object with the stored ones names the
// fields that drifted; comparing two revisions' fingerprints names what a deploy
// changed.
//
// # Paths
//
// Paths are RFC 6901 JSON pointers ("~" escaped as "~0", "/" as "~1", so a
// ConfigMap key "a/b" is "/data/a~1b"), with one readability exception: in a list
// of named entries (containers, env, ports, volumes...; see digest.KeyedByName) an
// entry is addressed by its name rather than its position, so a changed image is
// "/spec/template/spec/containers/app/image" and inserting an env var reports that
// one entry rather than every entry after it. Other lists are addressed by index.
// Because order still matters in named lists (init containers run in order), a
// named list of two or more entries also has a leaf at its own path holding the
// order of the names; a pure reordering is reported as that list's path.
//
// Empty maps and lists are leaves (so that adding "securityContext: {}" shows).
// Below MaxDepth levels the remaining subtree is hashed as a single leaf: it bounds
// the record size for deeply nested custom resources at the cost of naming only the
// subtree that changed.
//
// # Hashes
//
// A fingerprint is the first 8 hex digits (32 bits) of the SHA-256 of the leaf's
// canonical JSON (digest.CanonicalValue), so numbers compare the way the digest
// compares them. 32 bits are plenty to notice a change at a given path: a change
// goes unseen only on a collision at that very path, one chance in four billion.
// The hashes do not hide values: a short value such as a replica count or a flag is
// found again from its hash by trying candidates. That is acceptable because the
// tracked content is no more than what anyone who can read the object already sees,
// and Secret values never reach this package (the tracked content of a Secret lists
// only its key names); records must still not be readable more widely than the
// objects they describe.
//
// # Storage
//
// Encode writes fingerprints as one string for a CRD status field: a version line,
// then one line per path in sorted order, each storing only what differs from the
// previous path (prefix compression), which roughly halves the size since
// neighbouring paths share most of their prefix.
package drift
