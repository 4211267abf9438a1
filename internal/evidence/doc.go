// Package evidence builds, seals and verifies kubetrail evidence bundles: a JSON
// document holding the TraceRecords of a cluster (with their history cut to a time
// range), their open findings flattened with their target, and the TracePolicies in
// force, sealed with a digest so that an auditor can tell whether it was edited after
// export.
//
// # Canonical form and digest
//
// The digest is "sha256:" followed by the hex SHA-256 of the bundle's canonical JSON.
// The canonical JSON of a document is obtained by parsing it (rejecting invalid UTF-8,
// duplicate object keys and trailing data), removing the top-level "digest" member,
// and encoding the value again with encoding/json: object keys sorted by their UTF-8
// bytes, no insignificant white space, strings escaped the way encoding/json escapes
// them (without HTML escaping), numbers written exactly as they appear in the document.
//
// Because the digest is computed over the parsed value and not over the file's bytes,
// re-indenting a bundle or reordering its keys (as jq or an editor may) keeps it
// valid, while any change to a key, a string, a number, a list's order or a value's
// presence breaks it. Every member counts, including members this package does not
// know: nothing can be added to a bundle unnoticed.
//
// The package imports no client: the kubectl-trail export verb lists the objects and
// hands them over.
package evidence
