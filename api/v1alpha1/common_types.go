package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Actor is who made a change.
// +kubebuilder:validation:Enum=human;pipeline;agent
type Actor string

const (
	ActorHuman    Actor = "human"
	ActorPipeline Actor = "pipeline"
	ActorAgent    Actor = "agent"
)

// Provenance is what the change that produced an object says about itself: the
// kubetrail.io/* provenance annotations, as admitted.
type Provenance struct {
	// commit is the full SHA of the commit that produced the object.
	// +optional
	Commit string `json:"commit,omitempty"`
	// repository is the source repository URL.
	// +optional
	Repository string `json:"repository,omitempty"`
	// pullRequest is the pull or merge request, as a URL or number.
	// +optional
	PullRequest string `json:"pullRequest,omitempty"`
	// pipelineRun is the CI/CD run that applied the object, as a URL or run id.
	// +optional
	PipelineRun string `json:"pipelineRun,omitempty"`
	// approver lists who approved the change, comma-separated.
	// +optional
	Approver string `json:"approver,omitempty"`
	// actor is who authored the change: human, pipeline or agent.
	// +optional
	Actor Actor `json:"actor,omitempty"`
	// agent names the AI agent and its run when actor is agent.
	// +optional
	Agent string `json:"agent,omitempty"`
	// source is how the manifest was produced: code, ci-variable or generated:<tool>.
	// +optional
	Source string `json:"source,omitempty"`
	// path is the file in the repository.
	// +optional
	Path string `json:"path,omitempty"`
	// verified is true when the provenance carried a signature that verified against a
	// trusted key at admission.
	// +optional
	Verified bool `json:"verified,omitempty"`
	// breakGlass is the reason given for a manual override of an Enforce policy.
	// +optional
	BreakGlass string `json:"breakGlass,omitempty"`
}

// AdmissionFacts are what kubetrail's webhook saw when it admitted a revision.
type AdmissionFacts struct {
	// admittedBy is the username of the admission request.
	// +optional
	AdmittedBy string `json:"admittedBy,omitempty"`
	// admittedAt is when the webhook admitted the revision.
	// +optional
	AdmittedAt *metav1.Time `json:"admittedAt,omitempty"`
	// digest is sha256:<hex> of the admitted, canonicalised tracked content.
	// +optional
	Digest string `json:"digest,omitempty"`
}

// ObjectReference names a Kubernetes object.
type ObjectReference struct {
	// apiVersion of the object.
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`
	// kind of the object.
	// +required
	Kind string `json:"kind"`
	// namespace of the object; empty for cluster-scoped objects.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// name of the object.
	// +required
	Name string `json:"name"`
}
