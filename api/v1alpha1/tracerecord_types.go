package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TraceTarget identifies the traced object.
type TraceTarget struct {
	// apiVersion of the traced object.
	// +required
	APIVersion string `json:"apiVersion"`
	// kind of the traced object.
	// +required
	Kind string `json:"kind"`
	// namespace of the traced object; empty for cluster-scoped objects.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// name of the traced object.
	// +required
	Name string `json:"name"`
	// uid of the traced object, so a record is never confused with a later object of
	// the same name.
	// +optional
	UID types.UID `json:"uid,omitempty"`
}

// TraceRecordSpec is the current traced state of one object. It is written by
// kubetrail's manager only; the admission webhook denies everyone else.
type TraceRecordSpec struct {
	// target is the object this record traces.
	// +required
	Target TraceTarget `json:"target"`

	// Provenance is the current traced provenance (spec.commit, spec.approver, ...).
	Provenance `json:",inline"`

	// admission holds the facts of the current traced revision's admission.
	// +optional
	Admission AdmissionFacts `json:"admission,omitempty"`

	// derivedFrom is the traced object a controller derived this one from, resolved
	// through the owner chain (a Pod of a ReplicaSet of a Deployment names the
	// Deployment); the provenance fields are then that object's. Set only when the
	// object was admitted from the identity of the controller that derives it, never
	// because of an ownerReference alone.
	// +optional
	DerivedFrom *TraceTarget `json:"derivedFrom,omitempty"`

	// images are the container images the object runs, for workloads. Atomic: only the
	// manager writes it, and per-item field ownership would cost every record bytes.
	// +optional
	// +listType=atomic
	Images []string `json:"images,omitempty"`
}

// Revision is one past traced revision of the target.
type Revision struct {
	// Provenance of the revision.
	Provenance `json:",inline"`
	// admission facts of the revision.
	// +optional
	Admission AdmissionFacts `json:"admission,omitempty"`
	// images the revision ran.
	// +optional
	Images []string `json:"images,omitempty"`
	// changedPaths are the JSON pointers whose content differs from the revision before.
	// +optional
	ChangedPaths []string `json:"changedPaths,omitempty"`
	// traced is false for a revision that is credited to no provenance: it reached the
	// cluster without passing kubetrail's admission (webhook down, object older than
	// kubetrail), or it changed tracked content without new provenance (untracedReason
	// says which). An untraced revision's provenance fields are empty: nothing credits
	// it to the commit or the approvers of the revision it was made on top of.
	// +optional
	Traced bool `json:"traced,omitempty"`
	// untracedReason says why an untraced revision is untraced: NotAdmitted (it did not
	// pass kubetrail's admission) or ProvenanceNotRenewed (admitted, but with the commit
	// and pipeline run of the traced revision before it, e.g. a `kubectl set image` that
	// kept the pipeline's annotations). Empty for traced revisions.
	// +optional
	UntracedReason UntracedReason `json:"untracedReason,omitempty"`
	// managers are the field managers that made an untraced revision's changes, from the
	// object's managedFields; its submitter, when it was admitted, is admission.admittedBy.
	// +optional
	// +listType=atomic
	Managers []string `json:"managers,omitempty"`
	// onTopOf is the commit of the traced revision an untraced revision changed, when it
	// had one (so `kubectl trail why` can say "on top of commit X" without crediting it).
	// +optional
	OnTopOf string `json:"onTopOf,omitempty"`
	// observedAt is when the reconciler recorded the revision.
	// +optional
	ObservedAt metav1.Time `json:"observedAt,omitempty"`
}

// UntracedReason says why a revision is credited to no provenance.
// +kubebuilder:validation:Enum=NotAdmitted;ProvenanceNotRenewed
type UntracedReason string

const (
	// UntracedNotAdmitted: the revision did not pass kubetrail's admission.
	UntracedNotAdmitted UntracedReason = "NotAdmitted"
	// UntracedProvenanceNotRenewed: the revision passed admission and changed tracked
	// content, but its commit and pipeline run are those of the traced revision before.
	UntracedProvenanceNotRenewed UntracedReason = "ProvenanceNotRenewed"
)

// FindingType is the kind of a finding.
// +kubebuilder:validation:Enum=RBACEscalation;SecretExposure;Drift;UntracedChange;ManualOverride;ChangeWindowViolation;InvalidProvenance
type FindingType string

const (
	FindingRBACEscalation        FindingType = "RBACEscalation"
	FindingSecretExposure        FindingType = "SecretExposure"
	FindingDrift                 FindingType = "Drift"
	FindingUntracedChange        FindingType = "UntracedChange"
	FindingManualOverride        FindingType = "ManualOverride"
	FindingChangeWindowViolation FindingType = "ChangeWindowViolation"
	FindingInvalidProvenance     FindingType = "InvalidProvenance"
)

// Severity ranks findings.
// +kubebuilder:validation:Enum=Critical;High;Medium;Low;Info
type Severity string

const (
	SeverityCritical Severity = "Critical"
	SeverityHigh     Severity = "High"
	SeverityMedium   Severity = "Medium"
	SeverityLow      Severity = "Low"
	SeverityInfo     Severity = "Info"
)

// ChangeOrigin is the change that introduced a finding.
type ChangeOrigin struct {
	// Provenance of the change, when it was traced.
	Provenance `json:",inline"`
	// Admission facts of the change.
	// +optional
	Admission AdmissionFacts `json:"admission,omitempty"`
	// traced is false when the change reached the cluster without traced provenance.
	// +optional
	Traced bool `json:"traced,omitempty"`
	// summary says in one line who made the change, e.g. "commit 1a2b3c4 (PR 42) approved
	// by alice,bob" or "untraced, admitted by kubernetes-admin".
	// +optional
	Summary string `json:"summary,omitempty"`
}

// Finding is a misconfiguration, security finding or traceability gap on the target.
type Finding struct {
	// id identifies the finding stably, so re-reconciling never duplicates it.
	// +required
	ID string `json:"id"`
	// type of the finding.
	// +required
	Type FindingType `json:"type"`
	// severity of the finding.
	// +required
	Severity Severity `json:"severity"`
	// message says what was found, in words.
	// +required
	Message string `json:"message"`
	// paths are the JSON pointers concerned (drifted fields, the location of a secret).
	// +optional
	Paths []string `json:"paths,omitempty"`
	// subject is the RBAC subject concerned, e.g. "ServiceAccount shop/builder".
	// +optional
	Subject string `json:"subject,omitempty"`
	// permissions are the risky permissions gained.
	// +optional
	Permissions []string `json:"permissions,omitempty"`
	// dependents are the workloads running as the subject.
	// +optional
	Dependents []ObjectReference `json:"dependents,omitempty"`
	// rule is the detection rule that fired (a gitleaks or RBAC risk rule id).
	// +optional
	Rule string `json:"rule,omitempty"`
	// fingerprint is a redacted fingerprint of a secret value; never the value.
	// +optional
	Fingerprint string `json:"fingerprint,omitempty"`
	// managers are the field managers that changed the paths, from managedFields.
	// +optional
	Managers []string `json:"managers,omitempty"`
	// introducedBy is the change that introduced the finding.
	// +optional
	IntroducedBy ChangeOrigin `json:"introducedBy,omitempty"`
	// firstSeen is when the finding was first recorded.
	// +optional
	FirstSeen metav1.Time `json:"firstSeen,omitempty"`
}

// Condition types of a TraceRecord.
const (
	// ConditionDrifted is True when the live object no longer matches its last traced
	// revision (abnormal-true polarity: True is the state to act on).
	ConditionDrifted = "Drifted"
	// ConditionTraced is True when the current state of the target came through
	// kubetrail's admission with provenance (normal-true polarity).
	ConditionTraced = "Traced"
)

// Condition reasons.
const (
	ReasonInSync         = "InSync"
	ReasonFieldsChanged  = "FieldsChanged"
	ReasonAdmitted       = "Admitted"
	ReasonNoProvenance   = "NoProvenance"
	ReasonUntracedChange = "UntracedChange"
	ReasonTargetDeleted  = "TargetDeleted"
	ReasonNotYetObserved = "NotYetObserved"
)

// TraceRecordStatus is what the reconciler remembers and found about the target.
type TraceRecordStatus struct {
	// observedGeneration is the record's generation as of the manager's last write
	// (that write included); a generation ahead of it means someone else wrote the record.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// conditions: Drifted, Traced.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// history holds past traced revisions, newest first, bounded by the manager's
	// --history-limit.
	// +optional
	History []Revision `json:"history,omitempty"`
	// historyDropped counts revisions that fell off the bounded history, so none is
	// lost silently.
	// +optional
	HistoryDropped int64 `json:"historyDropped,omitempty"`
	// findings are the open findings on the target.
	// +optional
	Findings []Finding `json:"findings,omitempty"`
	// findingCount is len(findings), for kubectl's FINDINGS column.
	// +optional
	FindingCount int32 `json:"findingCount,omitempty"`
	// liveDigest is the digest of the live object at the last reconcile.
	// +optional
	LiveDigest string `json:"liveDigest,omitempty"`
	// baseline holds compact per-path fingerprints of the last traced revision, from
	// which drift names its fields. It is never a copy of the object.
	// +optional
	Baseline string `json:"baseline,omitempty"`
	// deletedAt is set when the target was deleted: the record stays as a tombstone
	// until the retention runs out.
	// +optional
	DeletedAt *metav1.Time `json:"deletedAt,omitempty"`
	// lastDeleteRequest is the last delete of the target kubetrail's validating webhook
	// admitted: who asked, when, and under what. On a tombstone it says who deleted the
	// target; on a live record, a delete that did not complete (a finalizer, another
	// webhook). Deletes by the control plane (garbage collector, namespace controller)
	// are not sent to the webhook and leave it unset.
	// +optional
	LastDeleteRequest *DeleteRequest `json:"lastDeleteRequest,omitempty"`
}

// DeleteRequest is one admitted delete of a tracked object.
type DeleteRequest struct {
	// requestedBy is the authenticated user who sent the delete.
	RequestedBy string `json:"requestedBy"`
	// requestedAt is when the webhook admitted it.
	RequestedAt metav1.Time `json:"requestedAt"`
	// trusted is true when the deleter is a trusted submitter of every policy
	// selecting the object (or no policy selects it).
	Trusted bool `json:"trusted"`
	// breakGlass is the object's kubetrail.io/break-glass reason when the delete was
	// admitted by it.
	// +optional
	BreakGlass string `json:"breakGlass,omitempty"`
	// violations are what the selecting policies hold against the delete, admitted
	// because their mode is Warn or Audit (or break-glass overrode them).
	// +optional
	Violations []string `json:"violations,omitempty"`
}

// TraceRecord traces one Kubernetes object to the changes that produced it.
// Namespaced targets have theirs in their namespace; cluster-scoped targets in
// kubetrail-system.
//
// A TraceRecord has no status subresource on purpose: spec and status are both written
// by kubetrail's manager alone (its validating webhook denies everyone else), so the
// split that protects a user's spec from a controller's status buys nothing here, and
// it would cost every new record two writes (create, then status) instead of one. The
// manager stamps status.observedGeneration with the generation its own write produces,
// so any other write (spec or status) leaves the generation ahead of it and is found.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=tr,categories=kubetrail
// +kubebuilder:printcolumn:name="Kind",type=string,JSONPath=`.spec.target.kind`
// +kubebuilder:printcolumn:name="Target",type=string,JSONPath=`.spec.target.name`
// +kubebuilder:printcolumn:name="Commit",type=string,JSONPath=`.spec.commit`
// +kubebuilder:printcolumn:name="Approver",type=string,JSONPath=`.spec.approver`
// +kubebuilder:printcolumn:name="Drifted",type=string,JSONPath=`.status.conditions[?(@.type=="Drifted")].status`
// +kubebuilder:printcolumn:name="Findings",type=integer,JSONPath=`.status.findingCount`
// +kubebuilder:printcolumn:name="Actor",type=string,JSONPath=`.spec.actor`,priority=1
// +kubebuilder:printcolumn:name="Admitted-By",type=string,JSONPath=`.spec.admission.admittedBy`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:selectablefield:JSONPath=`.spec.commit`
// +kubebuilder:selectablefield:JSONPath=`.spec.target.kind`
// +kubebuilder:selectablefield:JSONPath=`.spec.target.name`
type TraceRecord struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the current traced state of the target.
	// +required
	Spec TraceRecordSpec `json:"spec"`

	// status is the history and the findings.
	// +optional
	Status TraceRecordStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// TraceRecordList contains a list of TraceRecord.
type TraceRecordList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TraceRecord `json:"items"`
}

func init() {
	SchemeBuilder.Register(&TraceRecord{}, &TraceRecordList{})
}
