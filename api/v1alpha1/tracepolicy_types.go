package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PolicyMode says what happens to a change that does not meet the policy.
// +kubebuilder:validation:Enum=Enforce;Warn;Audit
type PolicyMode string

const (
	// ModeEnforce denies the change.
	ModeEnforce PolicyMode = "Enforce"
	// ModeWarn admits it with an admission warning the client sees.
	ModeWarn PolicyMode = "Warn"
	// ModeAudit admits it silently; the reconciler records a finding.
	ModeAudit PolicyMode = "Audit"
)

// Action is what to do when a check fires.
// +kubebuilder:validation:Enum=Deny;Warn;Ignore
type Action string

const (
	ActionDeny   Action = "Deny"
	ActionWarn   Action = "Warn"
	ActionIgnore Action = "Ignore"
)

// DeletePolicy says who may delete the objects a policy selects.
// +kubebuilder:validation:Enum=Any;Trusted
type DeletePolicy string

const (
	// DeletesAny admits every delete; the record's tombstone names who made it.
	DeletesAny DeletePolicy = "Any"
	// DeletesTrusted admits deletes by the policy's trustedSubmitters (a pipeline
	// pruning what left the repository), and by breakGlass.allowed identities when the
	// object carries a kubetrail.io/break-glass reason; anyone else's delete is judged
	// by the policy's mode.
	DeletesTrusted DeletePolicy = "Trusted"
)

// ProvenanceField names a provenance annotation a policy can require.
// +kubebuilder:validation:Enum=commit;repository;pullRequest;pipelineRun;approver;actor;source;path;signature
type ProvenanceField string

const (
	FieldCommit      ProvenanceField = "commit"
	FieldRepository  ProvenanceField = "repository"
	FieldPullRequest ProvenanceField = "pullRequest"
	FieldPipelineRun ProvenanceField = "pipelineRun"
	FieldApprover    ProvenanceField = "approver"
	FieldActor       ProvenanceField = "actor"
	FieldSource      ProvenanceField = "source"
	FieldPath        ProvenanceField = "path"
	FieldSignature   ProvenanceField = "signature"
)

// SubjectKind is the kind of an identity.
// +kubebuilder:validation:Enum=User;Group;ServiceAccount
type SubjectKind string

const (
	SubjectUser           SubjectKind = "User"
	SubjectGroup          SubjectKind = "Group"
	SubjectServiceAccount SubjectKind = "ServiceAccount"
)

// Subject is an identity that submits requests to the apiserver.
type Subject struct {
	// kind of the identity.
	// +required
	Kind SubjectKind `json:"kind"`
	// name of the user, group or service account. "*" in a ServiceAccount subject
	// matches every service account of the namespace.
	// +required
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// namespace of a service account.
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// ResourceSelector selects kinds of objects.
type ResourceSelector struct {
	// group is the API group; "" is the core group, "*" any group.
	// +optional
	Group string `json:"group,omitempty"`
	// kinds lists the kinds selected; empty selects every tracked kind of the group.
	// +optional
	Kinds []string `json:"kinds,omitempty"`
}

// PublicKey is a trusted ed25519 public key for provenance signatures.
type PublicKey struct {
	// name identifies the key in messages.
	// +required
	Name string `json:"name"`
	// pem is the PKIX PEM public key, as `kubectl trail keygen` writes it.
	// +optional
	PEM string `json:"pem,omitempty"`
	// secretRef reads the PEM from a Secret key instead.
	// +optional
	SecretRef *SecretKeyReference `json:"secretRef,omitempty"`
}

// SecretKeyReference points at a key of a Secret.
type SecretKeyReference struct {
	// namespace of the Secret.
	// +required
	Namespace string `json:"namespace"`
	// name of the Secret.
	// +required
	Name string `json:"name"`
	// key in the Secret's data.
	// +required
	Key string `json:"key"`
}

// Signing configures provenance signatures.
type Signing struct {
	// required denies (per mode) changes whose provenance is not signed by a trusted key.
	// +optional
	Required bool `json:"required,omitempty"`
	// publicKeys are the trusted keys.
	// +optional
	PublicKeys []PublicKey `json:"publicKeys,omitempty"`
	// audience names this cluster: a signature whose statement names another
	// audience (`kubectl trail stamp --audience`) is rejected, so a signature made for
	// one cluster cannot be replayed in another signed with the same key. Empty
	// accepts any audience.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Audience string `json:"audience,omitempty"`
	// maxValidity is the longest a signature may be valid, from its signing time to
	// its expiry (e.g. "24h"); a signature made to last longer is rejected. Empty
	// allows any lifetime.
	// +optional
	MaxValidity *metav1.Duration `json:"maxValidity,omitempty"`
}

// BreakGlass says who may override the policy with kubetrail.io/break-glass.
type BreakGlass struct {
	// allowed lists the identities that may use break-glass. Empty means nobody.
	// +optional
	Allowed []Subject `json:"allowed,omitempty"`
}

// WeeklyWindow is a recurring freeze, e.g. Friday 16:00 to Monday 08:00.
type WeeklyWindow struct {
	// days the freeze starts on: Monday..Sunday.
	// +required
	// +kubebuilder:validation:MinItems=1
	Days []Weekday `json:"days"`
	// start is the local time the freeze starts, HH:MM.
	// +required
	// +kubebuilder:validation:Pattern=`^([01][0-9]|2[0-3]):[0-5][0-9]$`
	Start string `json:"start"`
	// duration of the freeze, e.g. "64h".
	// +required
	Duration metav1.Duration `json:"duration"`
	// timeZone is the IANA time zone of start, e.g. Europe/Berlin. Default UTC.
	// +optional
	TimeZone string `json:"timeZone,omitempty"`
}

// Weekday names a day of the week.
// +kubebuilder:validation:Enum=Monday;Tuesday;Wednesday;Thursday;Friday;Saturday;Sunday
type Weekday string

// ChangeWindow is a freeze: a time in which changes are denied unless break-glass.
type ChangeWindow struct {
	// name of the freeze, shown in denials and findings.
	// +required
	Name string `json:"name"`
	// start and end bound a one-off freeze.
	// +optional
	Start *metav1.Time `json:"start,omitempty"`
	// +optional
	End *metav1.Time `json:"end,omitempty"`
	// weekly is a recurring freeze.
	// +optional
	Weekly *WeeklyWindow `json:"weekly,omitempty"`
}

// RBACEscalationRule is what a change that grants risky permissions needs.
type RBACEscalationRule struct {
	// action when the change does not meet the requirements.
	// +optional
	// +kubebuilder:default=Deny
	Action Action `json:"action,omitempty"`
	// minApprovers is how many distinct approvers such a change needs.
	// +optional
	// +kubebuilder:default=2
	// +kubebuilder:validation:Minimum=0
	MinApprovers int32 `json:"minApprovers,omitempty"`
	// requireSignature asks that such a change be signed by a trusted key.
	// +optional
	RequireSignature bool `json:"requireSignature,omitempty"`
}

// IgnoreRule excludes fields from drift and from what counts as a change of tracked
// content, e.g. /spec/replicas under a HorizontalPodAutoscaler.
type IgnoreRule struct {
	// kinds the rule applies to; empty means all.
	// +optional
	Kinds []string `json:"kinds,omitempty"`
	// paths are JSON pointers, e.g. /spec/replicas.
	// +required
	// +kubebuilder:validation:MinItems=1
	Paths []string `json:"paths"`
}

// TracePolicySpec says what admission requires of changes to the objects it selects.
type TracePolicySpec struct {
	// mode is Enforce (deny), Warn (admit with a warning) or Audit (admit, record a finding).
	// +required
	Mode PolicyMode `json:"mode"`
	// namespaceSelector selects the namespaces of namespaced objects; unset selects all.
	// A policy with a namespaceSelector never selects cluster-scoped objects
	// (ClusterRoles, ClusterRoleBindings): those are governed by policies without one.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
	// resources selects kinds; empty selects every tracked kind.
	// +optional
	Resources []ResourceSelector `json:"resources,omitempty"`
	// requiredFields are the provenance fields every change must carry.
	// +optional
	// +listType=set
	RequiredFields []ProvenanceField `json:"requiredFields,omitempty"`
	// trustedSubmitters are the identities that may set or change provenance. Empty
	// trusts every identity's provenance (only formats are checked).
	// +optional
	TrustedSubmitters []Subject `json:"trustedSubmitters,omitempty"`
	// allowedApprovers are the approvers whose names count in kubetrail.io/approver
	// (compared after Unicode normalisation and case folding). When set, a change that
	// must name an approver (requiredFields: approver) must name at least one of them,
	// and rbacEscalation.minApprovers counts only them; others are named in the denial.
	// The names are still written by the pipeline and bound by its signature, not
	// signed by the approvers themselves.
	// +optional
	// +listType=set
	// +kubebuilder:validation:items:MinLength=1
	AllowedApprovers []string `json:"allowedApprovers,omitempty"`
	// exempt identities are never asked for provenance (an operator's service account).
	// The control plane's exact identities (the apiserver, scheduler, kube-proxy,
	// kube-controller-manager and its controllers' service accounts, kubelets) are
	// always exempt; an ownerReference exempts nothing.
	// +optional
	Exempt []Subject `json:"exempt,omitempty"`
	// signing configures provenance signatures.
	// +optional
	Signing *Signing `json:"signing,omitempty"`
	// breakGlass says who may override the policy.
	// +optional
	BreakGlass *BreakGlass `json:"breakGlass,omitempty"`
	// changeWindows are freezes.
	// +optional
	ChangeWindows []ChangeWindow `json:"changeWindows,omitempty"`
	// secretLiterals is the action for credentials written literally into pod
	// templates or ConfigMaps.
	// +optional
	// +kubebuilder:default=Warn
	SecretLiterals Action `json:"secretLiterals,omitempty"`
	// rbacEscalation is what a change granting risky permissions needs.
	// +optional
	RBACEscalation *RBACEscalationRule `json:"rbacEscalation,omitempty"`
	// ignore excludes fields from drift and from tracked-content changes.
	// +optional
	Ignore []IgnoreRule `json:"ignore,omitempty"`
	// deletes says who may delete the selected objects: Any (the default; every
	// delete is recorded with who made it) or Trusted.
	// +optional
	// +kubebuilder:default=Any
	Deletes DeletePolicy `json:"deletes,omitempty"`
}

// TracePolicyStatus reports the policy's state.
type TracePolicyStatus struct {
	// observedGeneration is the generation last reconciled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// conditions: Ready is True when every key and window of the policy is usable.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// TracePolicy says what provenance admission requires of the objects it selects.
// With no TracePolicy installed, kubetrail records but never denies.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=tp,categories=kubetrail
// +kubebuilder:printcolumn:name="Mode",type=string,JSONPath=`.spec.mode`
// +kubebuilder:printcolumn:name="Required",type=string,JSONPath=`.spec.requiredFields`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type TracePolicy struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is what the policy requires.
	// +required
	Spec TracePolicySpec `json:"spec"`

	// status of the policy.
	// +optional
	Status TracePolicyStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// TracePolicyList contains a list of TracePolicy.
type TracePolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TracePolicy `json:"items"`
}

func init() {
	SchemeBuilder.Register(&TracePolicy{}, &TracePolicyList{})
}
