// Package policy decides what admission does with one change under the TracePolicies
// that select it: which provenance is required and in what format, who may submit it,
// whether its signature holds, whether a freeze or a break-glass applies, and whether
// it writes a credential or grants a risky RBAC permission.
//
// Several policies may select the same object. Each raises its own violations at its own
// mode; a violation denies when any policy that raised it enforces, warns when the most
// restrictive one warns, and is left to the reconciler when all that raised it audit.
// That is "most restrictive wins", per violation rather than per policy, so an Audit
// policy can never soften what an Enforce policy asks.
//
// The package imports no client: the webhook resolves Secrets, namespace labels and the
// rules of referenced roles before it calls Evaluate.
package policy
