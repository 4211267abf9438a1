// Package revision decides which revision of a traced object is credited to which
// provenance, and words what the record says about the ones credited to none.
//
// A revision is traced only when its provenance came with it: a change of tracked
// content admitted with the commit and pipeline run of the traced revision before it
// (a `kubectl set image` that kept the pipeline's annotations) is an untraced revision,
// attributed to its submitter and the field managers that made it, never to the old
// commit's approvers. The package also evaluates, at reconcile time, the TracePolicies
// that select an object from the facts stamped at its admission (Audit), with the same
// decision code the validating webhook uses (internal/policy.Evaluate).
//
// It imports no client: the reconciler (controllers/) reads, this package decides.
package revision
