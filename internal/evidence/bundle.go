package evidence

import (
	"sort"
	"time"

	v1alpha1 "github.com/kubetrail/kubetrail/api/v1alpha1"
)

// APIVersion identifies the bundle format.
const APIVersion = "kubetrail.io/evidence/v1"

// Bundle is an evidence bundle. Its JSON form is the exported file.
type Bundle struct {
	// APIVersion is always APIVersion.
	APIVersion string `json:"apiVersion"`
	// GeneratedAt is when the bundle was made.
	GeneratedAt time.Time `json:"generatedAt"`
	// Since is the start of the time range; null when the range is the records' whole
	// history.
	Since *time.Time `json:"since"`
	// Until is the end of the time range (the time of the export).
	Until time.Time `json:"until"`
	// Cluster is the API server URL the bundle was read from.
	Cluster string `json:"cluster"`
	// Records are the TraceRecords, sorted by namespace and name, with their history
	// cut to the revisions admitted (or observed) within the range and without
	// metadata.managedFields.
	Records []v1alpha1.TraceRecord `json:"records"`
	// Findings are the records' open findings, one entry per finding with its target,
	// sorted by record then finding id.
	Findings []Finding `json:"findings"`
	// Policies are the TracePolicies in force at export time, sorted by name.
	Policies []v1alpha1.TracePolicy `json:"policies"`
	// Digest is "sha256:<hex>" over the canonical JSON of the bundle without this
	// member (see the package documentation).
	Digest string `json:"digest,omitempty"`
}

// Finding is one open finding with the object it is about.
type Finding struct {
	// Target is the object the finding is about.
	Target v1alpha1.TraceTarget `json:"target"`
	// Record is the TraceRecord holding the finding, as namespace/name.
	Record string `json:"record"`
	// Finding is the finding itself (id, type, severity, message, introducedBy, ...).
	v1alpha1.Finding `json:",inline"`
}

// Input is what a bundle is made of.
type Input struct {
	// Cluster is the API server URL.
	Cluster string
	// Since starts the time range; nil keeps the whole history.
	Since *time.Time
	// Until ends the time range and is the bundle's generation time.
	Until time.Time
	// Records are the TraceRecords to include; they are copied, not modified.
	Records []v1alpha1.TraceRecord
	// Policies are the TracePolicies in force; they are copied, not modified.
	Policies []v1alpha1.TracePolicy
}

// New assembles an unsealed bundle from in: records and policies are copied, stripped
// of managedFields and sorted; every record's history is cut to the time range (a
// revision counts at its admission time, or when the manager observed it if it was
// never admitted; revisions with neither time are kept); open findings are
// flattened. Times are UTC, to the second, as in the records.
func New(in Input) *Bundle {
	until := in.Until.UTC().Truncate(time.Second)
	b := &Bundle{
		APIVersion:  APIVersion,
		GeneratedAt: until,
		Until:       until,
		Cluster:     in.Cluster,
		Records:     make([]v1alpha1.TraceRecord, 0, len(in.Records)),
		Findings:    []Finding{},
		Policies:    make([]v1alpha1.TracePolicy, 0, len(in.Policies)),
	}
	if in.Since != nil {
		s := in.Since.UTC().Truncate(time.Second)
		b.Since = &s
	}
	for i := range in.Records {
		r := in.Records[i].DeepCopy()
		r.APIVersion, r.Kind = v1alpha1.GroupVersion.String(), "TraceRecord"
		r.ManagedFields = nil
		r.Status.History = filterHistory(r.Status.History, b.Since, until)
		b.Records = append(b.Records, *r)
	}
	sort.SliceStable(b.Records, func(i, j int) bool {
		if b.Records[i].Namespace != b.Records[j].Namespace {
			return b.Records[i].Namespace < b.Records[j].Namespace
		}
		return b.Records[i].Name < b.Records[j].Name
	})
	for i := range b.Records {
		r := &b.Records[i]
		for _, f := range r.Status.Findings {
			b.Findings = append(b.Findings, Finding{
				Target:  r.Spec.Target,
				Record:  r.Namespace + "/" + r.Name,
				Finding: *f.DeepCopy(),
			})
		}
	}
	sort.SliceStable(b.Findings, func(i, j int) bool {
		if b.Findings[i].Record != b.Findings[j].Record {
			return b.Findings[i].Record < b.Findings[j].Record
		}
		return b.Findings[i].ID < b.Findings[j].ID
	})
	for i := range in.Policies {
		p := in.Policies[i].DeepCopy()
		p.APIVersion, p.Kind = v1alpha1.GroupVersion.String(), "TracePolicy"
		p.ManagedFields = nil
		b.Policies = append(b.Policies, *p)
	}
	sort.SliceStable(b.Policies, func(i, j int) bool { return b.Policies[i].Name < b.Policies[j].Name })
	return b
}

// RevisionTime is when a revision happened: its admission time, or when the manager
// observed it for a revision that was never admitted. ok is false when neither is known.
func RevisionTime(r *v1alpha1.Revision) (t time.Time, ok bool) {
	if r.Admission.AdmittedAt != nil && !r.Admission.AdmittedAt.IsZero() {
		return r.Admission.AdmittedAt.Time, true
	}
	if !r.ObservedAt.IsZero() {
		return r.ObservedAt.Time, true
	}
	return time.Time{}, false
}

// filterHistory keeps the revisions within [since, until] (and those without a time).
func filterHistory(h []v1alpha1.Revision, since *time.Time, until time.Time) []v1alpha1.Revision {
	if len(h) == 0 {
		return h
	}
	out := make([]v1alpha1.Revision, 0, len(h))
	for i := range h {
		t, ok := RevisionTime(&h[i])
		if ok && ((since != nil && t.Before(*since)) || t.After(until)) {
			continue
		}
		out = append(out, h[i])
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
