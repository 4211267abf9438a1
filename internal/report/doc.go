// Package report turns TraceRecords into the answers kubectl trail prints: the four
// answers for one object (what changed, who approved it, what deployed, what depends on
// it) with its drift and findings, the objects one commit deployed, and the open
// findings of a cluster. It renders them as text for people and as Go structs with
// JSON tags for tools.
//
// It is pure: the facts only a cluster knows (the live object's digest, the workloads
// running as a ServiceAccount) are looked up by the caller and passed in, so every
// answer can be tested without a cluster. It never sees a Secret's values: records
// carry none, and the caller passes only a digest of the live object.
package report
