package report

import (
	"sort"
	"strings"
	"time"

	v1alpha1 "github.com/kubetrail/kubetrail/api/v1alpha1"
)

// Commit states of an object.
const (
	// StateCurrent: the object's current traced revision is from the commit.
	StateCurrent = "current"
	// StateDrifted: it is, but the live object drifted from it since (also when an
	// untraced revision was made on top of it: the record's spec then names no commit).
	StateDrifted = "drifted"
	// StateOverwritten: the commit is only in the object's history; a later change
	// replaced it.
	StateOverwritten = "overwritten"
	// StateDeleted: the object was deleted; its record is a tombstone.
	StateDeleted = "deleted"
)

// CommitRow is one object a commit deployed.
type CommitRow struct {
	Target     v1alpha1.TraceTarget `json:"target"`
	Record     string               `json:"record"`
	Commit     string               `json:"commit"`
	State      string               `json:"state"`
	AdmittedAt *time.Time           `json:"admittedAt,omitempty"`
	AdmittedBy string               `json:"admittedBy,omitempty"`
}

// MatchCommits returns the distinct full commits, current or in the history of any
// record, that start with prefix (compared in lower case), sorted.
func MatchCommits(records []v1alpha1.TraceRecord, prefix string) []string {
	prefix = strings.ToLower(prefix)
	seen := map[string]bool{}
	var out []string
	add := func(c string) {
		if c != "" && strings.HasPrefix(c, prefix) && !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	for i := range records {
		add(records[i].Spec.Commit)
		for j := range records[i].Status.History {
			add(records[i].Status.History[j].Commit)
		}
	}
	sort.Strings(out)
	return out
}

// CommitRows lists the objects commit deployed: those whose spec holds it (current,
// drifted or deleted) and those whose history holds it (overwritten), sorted by
// namespace, kind and name.
func CommitRows(records []v1alpha1.TraceRecord, commit string) []CommitRow {
	rows := []CommitRow{}
	for i := range records {
		r := &records[i]
		row := CommitRow{Target: r.Spec.Target, Record: r.Namespace + "/" + r.Name, Commit: commit}
		switch {
		case r.Spec.Commit == commit:
			row.State = StateCurrent
			if Drifted(r) {
				row.State = StateDrifted
			}
			row.AdmittedAt, row.AdmittedBy = timePtr(r.Spec.Admission.AdmittedAt), r.Spec.Admission.AdmittedBy
		default:
			// The newest revision untraced on top of the commit (a hotfix that kept it):
			// the commit's revision is still the current traced one, drifted from.
			onTop := len(r.Status.History) > 0 && !r.Status.History[0].Traced && r.Status.History[0].OnTopOf == commit
			for j := range r.Status.History {
				if h := &r.Status.History[j]; h.Commit == commit {
					row.State = StateOverwritten
					if onTop {
						row.State = StateDrifted
					}
					row.AdmittedAt, row.AdmittedBy = timePtr(h.Admission.AdmittedAt), h.Admission.AdmittedBy
					break
				}
			}
		}
		if row.State == "" {
			continue
		}
		if r.Status.DeletedAt != nil {
			row.State = StateDeleted
		}
		rows = append(rows, row)
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i].Target, rows[j].Target
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Name < b.Name
	})
	return rows
}
