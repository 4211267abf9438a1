package provenance

import "strings"

// Prefix is the annotation prefix of every kubetrail key.
const Prefix = "kubetrail.io/"

// Provenance annotations: written by the pipeline (for example by `kubectl trail stamp`).
const (
	CommitKey      = Prefix + "commit"
	RepositoryKey  = Prefix + "repository"
	PullRequestKey = Prefix + "pull-request"
	PipelineRunKey = Prefix + "pipeline-run"
	ApproverKey    = Prefix + "approver"
	ActorKey       = Prefix + "actor"
	AgentKey       = Prefix + "agent"
	SourceKey      = Prefix + "source"
	PathKey        = Prefix + "path"
	SignatureKey   = Prefix + "signature"
	BreakGlassKey  = Prefix + "break-glass"
)

// Admission annotations: written only by the mutating webhook; a client cannot forge them.
const (
	AdmittedByKey = Prefix + "admitted-by"
	AdmittedAtKey = Prefix + "admitted-at"
	DigestKey     = Prefix + "digest"
	VerifiedKey   = Prefix + "verified"
)

// SignedKeys are the provenance keys a signature binds, in a fixed order. The signature
// itself and the break-glass reason are not part of what is signed: break-glass is added
// by a human at the cluster, after the pipeline signed.
var SignedKeys = []string{
	CommitKey, RepositoryKey, PullRequestKey, PipelineRunKey, ApproverKey,
	ActorKey, AgentKey, SourceKey, PathKey,
}

// ProvenanceKeys are every key a pipeline or a person may write.
var ProvenanceKeys = append(append([]string(nil), SignedKeys...), SignatureKey, BreakGlassKey)

// AdmissionKeys are the keys only the webhook writes.
var AdmissionKeys = []string{AdmittedByKey, AdmittedAtKey, DigestKey, VerifiedKey}

// IsAdmissionKey reports whether key is one only the webhook may write.
func IsAdmissionKey(key string) bool {
	for _, k := range AdmissionKeys {
		if k == key {
			return true
		}
	}
	return false
}

// IsKubetrailKey reports whether key is in kubetrail's annotation namespace.
func IsKubetrailKey(key string) bool { return strings.HasPrefix(key, Prefix) }

// Actors a change can come from.
const (
	ActorHuman    = "human"
	ActorPipeline = "pipeline"
	ActorAgent    = "agent"
)

// Sources a manifest can come from; generated sources are "generated:<tool>".
const (
	SourceCode       = "code"
	SourceCIVariable = "ci-variable"
	SourceGenerated  = "generated"
)
