package report

import (
	"github.com/kubetrail/kubetrail/internal/provenance"
	"github.com/kubetrail/kubetrail/internal/revision"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/kubetrail/kubetrail/api/v1alpha1"
)

// WhyInput is what the why answer is made of: the record, and what the caller looked up
// in the cluster.
type WhyInput struct {
	// Record is the target's TraceRecord.
	Record *v1alpha1.TraceRecord
	// Live is the live target as the caller found it; nil when it was not looked up.
	Live *Live
	// DependsOn is what the caller found depending on the target (answer 4); nil when
	// the question does not apply to the target's kind.
	DependsOn *DependsOn
	// Policies are the TracePolicies in force, to tell whether the submitter is trusted;
	// nil when they could not be read.
	Policies []v1alpha1.TracePolicy
	// Now is the time ages are computed against.
	Now time.Time
	// Owner is the TraceRecord of the object named by the record's spec.derivedFrom,
	// when the caller found it; the change that produced a derived object is read from
	// it (else from the derived record's own provenance).
	Owner *v1alpha1.TraceRecord
}

// Live is what the caller read from the live target.
type Live struct {
	// Found is false when the target does not exist (any more).
	Found bool `json:"found"`
	// Digest is digest.Of(live, nil), the digest the webhook stamps at admission.
	Digest string `json:"digest,omitempty"`
	// DigestError says why the digest could not be computed.
	DigestError string `json:"digestError,omitempty"`
	// Signed is true when the live object carries a kubetrail.io/signature.
	Signed bool `json:"signed,omitempty"`
	// Images are the live object's container images (workloads only).
	Images []string `json:"images,omitempty"`
	// ServiceAccount is the ServiceAccount a live workload runs as.
	ServiceAccount string `json:"serviceAccount,omitempty"`
}

// DependsOn is answer 4: the identities concerned and the workloads depending on the
// target.
type DependsOn struct {
	// Subjects are the RBAC identities concerned: the ServiceAccount itself, or the
	// subjects a binding (or the bindings of a role) grants to, with what they may do.
	Subjects []SubjectInfo `json:"subjects,omitempty"`
	// Workloads are the workloads running as those subjects, or mounting or referencing
	// the ConfigMap or Secret.
	Workloads []Workload `json:"workloads"`
	// Notes say what could not be looked up or is implied (a group binding).
	Notes []string `json:"notes,omitempty"`
}

// SubjectInfo is an RBAC identity and its risky permissions.
type SubjectInfo struct {
	// Subject is e.g. "ServiceAccount shop/builder".
	Subject string `json:"subject"`
	// Risks are its risky permissions, e.g. "Critical cluster-admin (cluster): * *.*".
	Risks []string `json:"risks,omitempty"`
	// RisksUnknown is true when the permissions could not be read.
	RisksUnknown bool `json:"risksUnknown,omitempty"`
}

// Workload is one workload depending on the target.
type Workload struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	// Via says how it depends on the target: "runs as ServiceAccount shop/builder",
	// "volume config", "envFrom", "env DB_PASSWORD", "imagePullSecrets".
	Via string `json:"via"`
	// Source is "live" when looked up in the cluster, "finding" when taken from a
	// finding's recorded dependents.
	Source string `json:"source"`
}

func (w Workload) key() string { return w.Kind + "/" + w.Namespace + "/" + w.Name }

// Why is the whole answer for one object.
type Why struct {
	// Target is the object.
	Target v1alpha1.TraceTarget `json:"target"`
	// Record is the TraceRecord answering, as namespace/name.
	Record string `json:"record"`
	// DerivedFrom is set for an object a controller derived (a ReplicaSet of a
	// Deployment, its Pods, a CronJob's Jobs): the traced object at the top of its owner
	// chain and the change of it that produced this one.
	DerivedFrom *Derived `json:"derivedFrom,omitempty"`
	// DeletedAt is set when the target was deleted and the record is a tombstone.
	DeletedAt *time.Time `json:"deletedAt,omitempty"`
	// DeleteRequest is the last delete kubetrail admitted: who deleted a tombstone's
	// target, or a delete that did not complete.
	DeleteRequest *v1alpha1.DeleteRequest `json:"deleteRequest,omitempty"`
	// Traced is the Traced condition: whether the current state came with provenance.
	Traced *Condition `json:"traced,omitempty"`
	// WhatChanged is the revision history, newest first.
	WhatChanged []Change `json:"whatChanged"`
	// HistoryDropped counts older revisions that fell off the bounded history.
	HistoryDropped int64 `json:"historyDropped,omitempty"`
	// WhoApproved is answer 2, for the current traced revision.
	WhoApproved Approval `json:"whoApproved"`
	// WhatDeployed is answer 3.
	WhatDeployed Deployed `json:"whatDeployed"`
	// WhatDependsOnIt is answer 4; nil when it does not apply to the target's kind.
	WhatDependsOnIt *DependsOn `json:"whatDependsOnIt,omitempty"`
	// RunsAs is the ServiceAccount a workload target runs as (its own dependency).
	RunsAs string `json:"runsAs,omitempty"`
	// Drift is the Drifted condition with the drifted paths and their managers.
	Drift Drift `json:"drift"`
	// Findings are the open findings, most severe first.
	Findings []Finding `json:"findings"`
}

// Derived is where a derived object came from.
type Derived struct {
	// From is the traced object at the top of the owner chain.
	From v1alpha1.TraceTarget `json:"from"`
	// By is the controller identity that admitted the derived object.
	By string `json:"by,omitempty"`
	// Change is the change of From that produced it: the owner's revision running the
	// same images, else its newest; nil when neither record says.
	Change *Change `json:"change,omitempty"`
}

// Condition is a record condition.
type Condition struct {
	Status  string     `json:"status"`
	Reason  string     `json:"reason,omitempty"`
	Message string     `json:"message,omitempty"`
	Since   *time.Time `json:"since,omitempty"`
}

// Change is one revision of the target.
type Change struct {
	// Current marks the revision the record's spec holds (the current traced one).
	Current bool `json:"current,omitempty"`
	// Traced is false for a revision that reached the cluster without traced provenance.
	Traced bool `json:"traced"`
	// UntracedReason says why it is untraced: NotAdmitted or ProvenanceNotRenewed.
	UntracedReason v1alpha1.UntracedReason `json:"untracedReason,omitempty"`
	// Managers are the field managers that made an untraced change.
	Managers []string `json:"managers,omitempty"`
	// OnTopOf is the commit of the traced revision an untraced change was made on.
	OnTopOf string `json:"onTopOf,omitempty"`
	v1alpha1.Provenance
	// Approvers is Approver split.
	Approvers    []string   `json:"approvers,omitempty"`
	AdmittedBy   string     `json:"admittedBy,omitempty"`
	AdmittedAt   *time.Time `json:"admittedAt,omitempty"`
	ObservedAt   *time.Time `json:"observedAt,omitempty"`
	Digest       string     `json:"digest,omitempty"`
	Images       []string   `json:"images,omitempty"`
	ChangedPaths []string   `json:"changedPaths,omitempty"`
}

// When is when the change happened: admitted, else observed.
func (c *Change) When() *time.Time {
	if c.AdmittedAt != nil {
		return c.AdmittedAt
	}
	return c.ObservedAt
}

// Approval is answer 2.
type Approval struct {
	// Commit, PullRequest and PipelineRun identify the approved change.
	Commit      string `json:"commit,omitempty"`
	Repository  string `json:"repository,omitempty"`
	PullRequest string `json:"pullRequest,omitempty"`
	PipelineRun string `json:"pipelineRun,omitempty"`
	// Approvers are who approved it.
	Approvers []string `json:"approvers"`
	// Actor is human, pipeline or agent; Agent the agent and its run.
	Actor string `json:"actor,omitempty"`
	Agent string `json:"agent,omitempty"`
	// Signature is "verified", "signed-unverified", "unsigned" or "unknown".
	Signature string `json:"signature"`
	// SubmittedBy is who submitted the change to the API server (admitted-by).
	SubmittedBy string `json:"submittedBy,omitempty"`
	// SubmitterTrust says whether a TracePolicy trusts the submitter ("" when unknown).
	SubmitterTrust string `json:"submitterTrust,omitempty"`
	// BreakGlass is the reason of a manual override.
	BreakGlass string `json:"breakGlass,omitempty"`
	// Untraced is true when the current state is not the approved revision: it changed
	// since without traced provenance.
	Untraced bool `json:"untraced,omitempty"`
	// UntracedChange says who made the current untraced change, e.g. "untraced change
	// by sre1 via kubectl-set, on top of commit 1a2b3c4".
	UntracedChange string `json:"untracedChange,omitempty"`
}

// Signature states.
const (
	SignatureVerified   = "verified"
	SignatureUnverified = "signed-unverified"
	SignatureUnsigned   = "unsigned"
	SignatureUnknown    = "unknown"
)

// Deployed is answer 3.
type Deployed struct {
	// Digest is the admitted digest of the current traced revision.
	Digest string `json:"digest,omitempty"`
	// LiveDigest is the digest of the live object now.
	LiveDigest string `json:"liveDigest,omitempty"`
	// Live is "matches", "differs", "deleted" or "unknown".
	Live string `json:"live"`
	// Images are the admitted images; LiveImages the live ones when they differ.
	Images     []string   `json:"images,omitempty"`
	LiveImages []string   `json:"liveImages,omitempty"`
	AdmittedAt *time.Time `json:"admittedAt,omitempty"`
	AdmittedBy string     `json:"admittedBy,omitempty"`
}

// Live digest states.
const (
	LiveMatches = "matches"
	LiveDiffers = "differs"
	LiveDeleted = "deleted"
	LiveUnknown = "unknown"
)

// Drift is the Drifted condition with what drifted.
type Drift struct {
	Drifted bool       `json:"drifted"`
	Status  string     `json:"status"`
	Reason  string     `json:"reason,omitempty"`
	Message string     `json:"message,omitempty"`
	Since   *time.Time `json:"since,omitempty"`
	// Paths are the drifted JSON pointers; Managers the field managers that changed them.
	Paths    []string `json:"paths,omitempty"`
	Managers []string `json:"managers,omitempty"`
}

// Finding is a finding with the change that introduced it in words.
type Finding struct {
	v1alpha1.Finding
	// IntroducedBySummary is IntroducedBy in one line.
	IntroducedBySummary string `json:"introducedBySummary"`
}

// BuildWhy assembles the answer for one object.
func BuildWhy(in WhyInput) *Why {
	r := in.Record
	w := &Why{
		Target:          r.Spec.Target,
		Record:          r.Namespace + "/" + r.Name,
		DeletedAt:       timePtr(r.Status.DeletedAt),
		DeleteRequest:   r.Status.LastDeleteRequest,
		HistoryDropped:  r.Status.HistoryDropped,
		WhatChanged:     changes(r),
		WhatDependsOnIt: in.DependsOn,
		Findings:        []Finding{},
	}
	if c := conditionOf(r.Status.Conditions, v1alpha1.ConditionTraced); c != nil {
		w.Traced = &Condition{Status: string(c.Status), Reason: c.Reason, Message: c.Message, Since: timeOf(c.LastTransitionTime)}
	}
	untraced := w.Traced != nil && w.Traced.Status == string(metav1.ConditionFalse)
	untracedChange := ""
	if len(w.WhatChanged) > 0 && !w.WhatChanged[0].Traced {
		untraced = true
		if w.WhatChanged[0].UntracedReason != "" {
			untracedChange = UntracedSummary(&w.WhatChanged[0])
		}
	}
	if r.Spec.DerivedFrom != nil {
		w.DerivedFrom = derivedFrom(r, in.Owner)
	}

	// 2. Who approved: the current traced revision.
	p := r.Spec.Provenance
	w.WhoApproved = Approval{
		Commit: p.Commit, Repository: p.Repository, PullRequest: p.PullRequest, PipelineRun: p.PipelineRun,
		Approvers: provenance.SplitApprovers(p.Approver), Actor: string(p.Actor), Agent: p.Agent,
		SubmittedBy: r.Spec.Admission.AdmittedBy, BreakGlass: p.BreakGlass, Untraced: untraced,
		UntracedChange: untracedChange, Signature: SignatureUnknown,
	}
	if w.WhoApproved.Approvers == nil {
		w.WhoApproved.Approvers = []string{}
	}
	switch {
	case p.Verified:
		w.WhoApproved.Signature = SignatureVerified
	case in.Live != nil && in.Live.Found && in.Live.Signed:
		w.WhoApproved.Signature = SignatureUnverified
	case in.Live != nil && in.Live.Found:
		w.WhoApproved.Signature = SignatureUnsigned
	}
	w.WhoApproved.SubmitterTrust = SubmitterTrust(r.Spec.Admission.AdmittedBy, in.Policies)

	// 3. What deployed.
	d := Deployed{
		Digest: r.Spec.Admission.Digest, Images: r.Spec.Images,
		AdmittedAt: timePtr(r.Spec.Admission.AdmittedAt), AdmittedBy: r.Spec.Admission.AdmittedBy,
		Live: LiveUnknown,
	}
	switch {
	case in.Live != nil && !in.Live.Found:
		d.Live = LiveDeleted
	case in.Live != nil && in.Live.Digest != "":
		d.LiveDigest = in.Live.Digest
		if d.Digest != "" && d.Digest == in.Live.Digest {
			d.Live = LiveMatches
		} else if d.Digest != "" {
			d.Live = LiveDiffers
		}
		if in.Live.Images != nil && strings.Join(in.Live.Images, ",") != strings.Join(d.Images, ",") {
			d.LiveImages = in.Live.Images
		}
	case in.Live == nil && r.Status.DeletedAt != nil:
		d.Live = LiveDeleted
	}
	w.WhatDeployed = d
	if in.Live != nil && in.Live.ServiceAccount != "" {
		w.RunsAs = in.Live.ServiceAccount
	}

	// 4. What depends on it: add the dependents recorded in findings.
	if w.WhatDependsOnIt != nil {
		dep := *w.WhatDependsOnIt
		dep.Workloads = append([]Workload(nil), dep.Workloads...)
		seen := map[string]bool{}
		for _, wl := range dep.Workloads {
			seen[wl.key()] = true
		}
		for _, f := range r.Status.Findings {
			for _, ref := range f.Dependents {
				wl := Workload{Kind: ref.Kind, Namespace: ref.Namespace, Name: ref.Name, Source: "finding"}
				if f.Subject != "" {
					wl.Via = "runs as " + f.Subject
				} else {
					wl.Via = "recorded in the " + string(f.Type) + " finding"
				}
				if !seen[wl.key()] {
					seen[wl.key()] = true
					dep.Workloads = append(dep.Workloads, wl)
				}
			}
		}
		if dep.Workloads == nil {
			dep.Workloads = []Workload{}
		}
		SortWorkloads(dep.Workloads)
		w.WhatDependsOnIt = &dep
	}

	// Drift.
	w.Drift = Drift{Status: string(metav1.ConditionUnknown)}
	if c := conditionOf(r.Status.Conditions, v1alpha1.ConditionDrifted); c != nil {
		w.Drift.Status, w.Drift.Reason, w.Drift.Message = string(c.Status), c.Reason, c.Message
		w.Drift.Since = timeOf(c.LastTransitionTime)
		w.Drift.Drifted = c.Status == metav1.ConditionTrue
	}
	for _, f := range r.Status.Findings {
		if f.Type == v1alpha1.FindingDrift {
			w.Drift.Paths = appendUnique(w.Drift.Paths, f.Paths...)
			w.Drift.Managers = appendUnique(w.Drift.Managers, f.Managers...)
		}
	}

	// Findings.
	fs := append([]v1alpha1.Finding(nil), r.Status.Findings...)
	SortFindings(fs)
	for _, f := range fs {
		w.Findings = append(w.Findings, Finding{Finding: f, IntroducedBySummary: IntroducedBy(f.IntroducedBy)})
	}
	return w
}

// changes lists the revisions newest first, with the spec's revision marked current
// (and added when the history does not hold it).
func changes(r *v1alpha1.TraceRecord) []Change {
	out := make([]Change, 0, len(r.Status.History)+1)
	found := false
	for i := range r.Status.History {
		h := &r.Status.History[i]
		c := changeOf(h)
		// The spec holds the current revision: a traced one, or an admitted one credited
		// to no provenance (then its provenance is empty, as the entry's).
		if !found && (h.Traced || h.UntracedReason == v1alpha1.UntracedProvenanceNotRenewed) && sameRevision(h, &r.Spec) {
			c.Current, found = true, true
		}
		out = append(out, c)
	}
	if found || !specHasRevision(&r.Spec) {
		return out
	}
	cur := Change{
		Current: true, Traced: true, Provenance: r.Spec.Provenance, Approvers: provenance.SplitApprovers(r.Spec.Approver),
		AdmittedBy: r.Spec.Admission.AdmittedBy, AdmittedAt: timePtr(r.Spec.Admission.AdmittedAt),
		Digest: r.Spec.Admission.Digest, Images: r.Spec.Images,
	}
	// Insert it before the first older revision (at the top when its time is unknown).
	at := 0
	if t := cur.When(); t != nil {
		at = len(out)
		for i := range out {
			if ot := out[i].When(); ot != nil && ot.Before(*t) {
				at = i
				break
			}
		}
	}
	out = append(out, Change{})
	copy(out[at+1:], out[at:])
	out[at] = cur
	return out
}

func changeOf(h *v1alpha1.Revision) Change {
	return Change{
		Traced: h.Traced, UntracedReason: h.UntracedReason, Managers: h.Managers, OnTopOf: h.OnTopOf,
		Provenance: h.Provenance, Approvers: provenance.SplitApprovers(h.Approver),
		AdmittedBy: h.Admission.AdmittedBy, AdmittedAt: timePtr(h.Admission.AdmittedAt),
		ObservedAt: timeOf(h.ObservedAt), Digest: h.Admission.Digest,
		Images: h.Images, ChangedPaths: h.ChangedPaths,
	}
}

// UntracedSummary says who made an untraced change and on top of which commit, as
// internal/revision words it: "untraced change by sre1 via kubectl-set, on top of
// commit 1a2b3c4".
func UntracedSummary(c *Change) string {
	return revision.Summary(v1alpha1.Revision{
		Admission:      v1alpha1.AdmissionFacts{AdmittedBy: c.AdmittedBy},
		UntracedReason: c.UntracedReason, Managers: c.Managers, OnTopOf: c.OnTopOf,
	})
}

// derivedFrom says where a derived object came from. The change that produced it is
// the owner's revision running the derived object's images (a ReplicaSet runs the
// images of the Deployment revision it was made for), else the owner's newest; without
// the owner's record, the provenance the derived record carries.
func derivedFrom(r *v1alpha1.TraceRecord, owner *v1alpha1.TraceRecord) *Derived {
	d := &Derived{From: *r.Spec.DerivedFrom, By: controllerName(r.Spec.Admission.AdmittedBy)}
	if owner != nil {
		cs := changes(owner)
		for i := range cs {
			if len(r.Spec.Images) > 0 && strings.Join(cs[i].Images, ",") == strings.Join(r.Spec.Images, ",") {
				d.Change = &cs[i]
				return d
			}
		}
		if len(cs) > 0 {
			d.Change = &cs[0]
		}
		return d
	}
	if p := r.Spec.Provenance; p.Commit != "" || p.PipelineRun != "" || p.Approver != "" {
		d.Change = &Change{Traced: true, Provenance: p, Approvers: provenance.SplitApprovers(p.Approver)}
	}
	return d
}

// controllerName shortens a kube-controller-manager service account to the
// controller's name: system:serviceaccount:kube-system:replicaset-controller is
// replicaset-controller.
func controllerName(username string) string {
	if rest, ok := strings.CutPrefix(username, "system:serviceaccount:kube-system:"); ok {
		return rest
	}
	return username
}

func specHasRevision(s *v1alpha1.TraceRecordSpec) bool {
	return s.Commit != "" || s.Admission.AdmittedAt != nil || s.Admission.Digest != "" || s.Approver != "" ||
		s.PipelineRun != ""
}

// sameRevision reports whether a history entry is the revision the spec holds: same
// commit, and same admission time (or, when a time is missing, same digest).
func sameRevision(h *v1alpha1.Revision, s *v1alpha1.TraceRecordSpec) bool {
	if h.Commit != s.Commit {
		return false
	}
	if h.Admission.AdmittedAt != nil && s.Admission.AdmittedAt != nil {
		if !h.Admission.AdmittedAt.Time.Equal(s.Admission.AdmittedAt.Time) {
			return false
		}
		return h.Admission.Digest == "" || s.Admission.Digest == "" || h.Admission.Digest == s.Admission.Digest
	}
	return h.Admission.Digest != "" && h.Admission.Digest == s.Admission.Digest
}

// SubmitterTrust says whether the TracePolicies trust the username that submitted a
// change: "trusted submitter (TracePolicy a, b)", "NOT a trusted submitter of
// TracePolicy a", "trust unknown: ..." when a policy trusts groups the username is not
// known to belong to, or "" when no policy names trusted submitters (or policies is
// nil). Group subjects are matched for the groups a ServiceAccount username implies
// and system:authenticated; other group memberships are not recorded at admission.
func SubmitterTrust(username string, policies []v1alpha1.TracePolicy) string {
	if username == "" {
		return ""
	}
	var trusting, notTrusting, unknown []string
	for i := range policies {
		p := &policies[i]
		if len(p.Spec.TrustedSubmitters) == 0 {
			continue
		}
		matched, groups := false, false
		for _, s := range p.Spec.TrustedSubmitters {
			if subjectMatches(s, username) {
				matched = true
			} else if s.Kind == v1alpha1.SubjectGroup {
				groups = true
			}
		}
		switch {
		case matched:
			trusting = append(trusting, p.Name)
		case groups:
			unknown = append(unknown, p.Name)
		default:
			notTrusting = append(notTrusting, p.Name)
		}
	}
	sort.Strings(trusting)
	sort.Strings(notTrusting)
	sort.Strings(unknown)
	unknownText := "trust unknown: TracePolicy " + strings.Join(unknown, ", ") + " trusts groups, and group membership is not recorded"
	switch {
	case len(trusting) > 0:
		return "trusted submitter (TracePolicy " + strings.Join(trusting, ", ") + ")"
	case len(notTrusting) > 0 && len(unknown) > 0:
		return "NOT a trusted submitter of TracePolicy " + strings.Join(notTrusting, ", ") + "; " + unknownText
	case len(notTrusting) > 0:
		return "NOT a trusted submitter of TracePolicy " + strings.Join(notTrusting, ", ")
	case len(unknown) > 0:
		return unknownText
	}
	return ""
}

func subjectMatches(s v1alpha1.Subject, username string) bool {
	const saPrefix = "system:serviceaccount:"
	switch s.Kind {
	case v1alpha1.SubjectUser:
		return s.Name == username
	case v1alpha1.SubjectServiceAccount:
		return username == saPrefix+s.Namespace+":"+s.Name
	case v1alpha1.SubjectGroup:
		if !strings.HasPrefix(username, saPrefix) {
			return s.Name == "system:authenticated" && username != "system:anonymous"
		}
		ns := strings.SplitN(strings.TrimPrefix(username, saPrefix), ":", 2)[0]
		return s.Name == "system:serviceaccounts" || s.Name == "system:serviceaccounts:"+ns ||
			s.Name == "system:authenticated"
	}
	return false
}

// SortWorkloads sorts by namespace, kind, name.
func SortWorkloads(ws []Workload) {
	sort.SliceStable(ws, func(i, j int) bool {
		a, b := ws[i], ws[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Name < b.Name
	})
}

func appendUnique(list []string, items ...string) []string {
	for _, s := range items {
		dup := false
		for _, x := range list {
			if x == s {
				dup = true
				break
			}
		}
		if !dup {
			list = append(list, s)
		}
	}
	return list
}
