package report

import (
	"fmt"
	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// RenderWhy writes the answer for one object as one screen of text.
func RenderWhy(out io.Writer, a *Why, now time.Time) error {
	w := &errWriter{w: out}
	t := a.Target
	w.printf("%s", TargetString(t))
	if t.APIVersion != "" {
		w.printf("  (%s)", t.APIVersion)
	}
	w.printf("   record %s\n", a.Record)
	if d := a.DerivedFrom; d != nil {
		by := d.By
		if by == "" {
			by = "its controller"
		}
		w.printf("Derived by %s from %s; the change that produced it: %s\n", by, TargetString(d.From), derivedChange(d))
		w.printf("  (kubectl trail why %s/%s", strings.ToLower(d.From.Kind), d.From.Name)
		if d.From.Namespace != "" {
			w.printf(" -n %s", d.From.Namespace)
		}
		w.printf(" has its history)\n")
	}
	if a.DeletedAt != nil {
		w.printf("DELETED %s: this record is a tombstone, kept for the audit trail\n", When(a.DeletedAt, now))
	}
	if dr := a.DeleteRequest; dr != nil {
		verb := "Deleted"
		if a.DeletedAt == nil {
			verb = "Delete requested (the object is still there)"
		}
		at := dr.RequestedAt.Time
		w.printf("%s by %s %s", verb, oneLine(dr.RequestedBy), When(&at, now))
		switch {
		case dr.BreakGlass != "":
			w.printf(", under break-glass: %s", oneLine(dr.BreakGlass))
		case dr.Trusted:
			w.printf(", a trusted submitter")
		default:
			w.printf(", NOT a trusted submitter")
		}
		w.printf("\n")
		for _, v := range dr.Violations {
			w.printf("  - %s\n", oneLine(v))
		}
	}
	if a.Traced != nil {
		w.printf("Traced: %s", a.Traced.Status)
		if a.Traced.Reason != "" {
			w.printf(" (%s)", a.Traced.Reason)
		}
		if a.Traced.Message != "" {
			w.printf(": %s", a.Traced.Message)
		}
		w.printf("\n")
	}

	// 1.
	w.printf("\nWHAT CHANGED  (newest first)\n")
	if len(a.WhatChanged) == 0 {
		w.printf("  no revision recorded yet\n")
	}
	for i := range a.WhatChanged {
		c := &a.WhatChanged[i]
		w.printf("  %s  %s", When(c.When(), now), changeHeadline(c))
		if c.Current {
			w.printf("  [current]")
		}
		w.printf("\n")
		var details []string
		if c.AdmittedBy != "" && c.UntracedReason == v1alpha1.UntracedProvenanceNotRenewed {
			details = append(details, "admitted by "+c.AdmittedBy+" without new provenance (kept the commit and pipeline run of the revision before; credited to neither)")
		} else if c.AdmittedBy != "" {
			details = append(details, "admitted by "+c.AdmittedBy)
		} else if !c.Traced {
			details = append(details, "not admitted by kubetrail's webhook (observed afterwards)")
		}
		if c.Traced {
			if len(c.Approvers) > 0 {
				details = append(details, "approved by "+strings.Join(c.Approvers, ", "))
			} else {
				details = append(details, "no approver")
			}
			if c.Verified {
				details = append(details, "signature verified")
			}
		}
		if c.BreakGlass != "" {
			details = append(details, "BREAK-GLASS: "+c.BreakGlass)
		}
		if len(details) > 0 {
			w.printf("      %s\n", strings.Join(details, "; "))
		}
		if len(c.ChangedPaths) > 0 {
			w.printf("      changed %s\n", strings.Join(c.ChangedPaths, ", "))
		}
	}
	if a.HistoryDropped > 0 {
		w.printf("  (%d older revision(s) fell off the bounded history)\n", a.HistoryDropped)
	}

	// 2.
	ap := &a.WhoApproved
	w.printf("\nWHO APPROVED\n")
	if ap.Commit == "" && ap.SubmittedBy == "" && len(ap.Approvers) == 0 && ap.Actor == "" {
		w.printf("  nobody: no traced revision of this object was ever admitted\n")
	} else {
		if len(ap.Approvers) > 0 {
			w.kv("approvers", strings.Join(ap.Approvers, ", "))
		} else {
			w.kv("approvers", "NONE recorded")
		}
		switch {
		case ap.Actor == "agent" || (ap.Actor == "" && ap.Agent != ""):
			agent := ap.Agent
			if agent == "" {
				agent = "unnamed agent"
			}
			ctx := "an AI agent's change"
			if len(ap.Approvers) > 0 {
				ctx += ", approved by " + strings.Join(ap.Approvers, ", ")
			} else {
				ctx += ", approved by NO human"
			}
			w.kv("actor", "agent "+agent+" ("+ctx+")")
		case ap.Actor != "":
			w.kv("actor", ap.Actor)
		default:
			w.kv("actor", "not stated")
		}
		w.kv("signature", signatureText(ap.Signature))
		sub := orDash(ap.SubmittedBy)
		if ap.SubmitterTrust != "" {
			sub += " (" + ap.SubmitterTrust + ")"
		}
		w.kv("submitted by", sub)
		if ap.Commit != "" {
			s := "commit " + ap.Commit
			if ap.Repository != "" {
				s += " in " + ap.Repository
			}
			w.kv("change", s)
		}
		if ap.PullRequest != "" {
			w.kv("pull request", ap.PullRequest)
		}
		if ap.PipelineRun != "" {
			w.kv("pipeline run", ap.PipelineRun)
		}
		if ap.BreakGlass != "" {
			w.kv("break-glass", ap.BreakGlass)
		}
	}
	if ap.Untraced {
		if ap.UntracedChange != "" {
			w.printf("  !! the current state is an %s: no approval covers it\n", ap.UntracedChange)
		} else {
			w.printf("  !! the object changed since without traced provenance: no approval covers its current state\n")
		}
	}

	// 3.
	d := &a.WhatDeployed
	w.printf("\nWHAT DEPLOYED\n")
	dg := d.Digest
	if dg == "" {
		dg = "none recorded at admission"
	}
	switch d.Live {
	case LiveMatches:
		dg += "  (the live object matches)"
	case LiveDiffers:
		dg += "  (the live object DIFFERS: " + d.LiveDigest + ")"
	case LiveDeleted:
		dg += "  (the object no longer exists)"
	default:
		if d.LiveDigest != "" {
			dg += "  (live object: " + d.LiveDigest + ")"
		}
	}
	w.kv("digest", dg)
	if len(d.Images) > 0 {
		w.kv("images", strings.Join(d.Images, ", "))
	}
	if len(d.LiveImages) > 0 {
		note := "  (differ from the admitted ones)"
		if len(d.Images) == 0 {
			note = "  (none recorded at admission)"
		}
		w.kv("live images", strings.Join(d.LiveImages, ", ")+note)
	}
	if d.AdmittedAt != nil || d.AdmittedBy != "" {
		w.kv("admitted", When(d.AdmittedAt, now)+" by "+orDash(d.AdmittedBy))
	}

	// 4.
	w.printf("\nWHAT DEPENDS ON IT\n")
	if dep := a.WhatDependsOnIt; dep == nil {
		w.printf("  not applicable to %s %s (only ServiceAccounts, RBAC objects, ConfigMaps and Secrets have dependents)\n", article(t.Kind), t.Kind)
		if a.RunsAs != "" {
			w.printf("  it runs as ServiceAccount %s/%s: kubectl trail why serviceaccount/%s -n %s\n", t.Namespace, a.RunsAs, a.RunsAs, t.Namespace)
		}
	} else {
		for _, s := range dep.Subjects {
			if s.RisksUnknown {
				w.printf("  %s: permissions unknown (RBAC could not be read)\n", s.Subject)
				continue
			}
			if len(s.Risks) == 0 {
				w.printf("  %s: no risky permission\n", s.Subject)
				continue
			}
			w.printf("  %s can: %s\n", s.Subject, strings.Join(s.Risks, "; "))
		}
		if len(dep.Workloads) == 0 {
			w.printf("  no workload depends on it\n")
		} else {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			for _, wl := range dep.Workloads {
				name := wl.Name
				if wl.Namespace != "" {
					name = wl.Namespace + "/" + wl.Name
				}
				src := ""
				if wl.Source == "finding" {
					src = "  (recorded in a finding)"
				}
				fmt.Fprintf(tw, "  %s %s\t%s%s\n", wl.Kind, name, wl.Via, src)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		}
		for _, n := range dep.Notes {
			w.printf("  note: %s\n", n)
		}
	}

	// Drift.
	dr := &a.Drift
	w.printf("\nDRIFT\n")
	switch {
	case dr.Drifted:
		s := "DRIFTED"
		if dr.Since != nil {
			s += " since " + When(dr.Since, now)
		}
		if dr.Reason != "" {
			s += " (" + dr.Reason + ")"
		}
		w.printf("  %s\n", s)
		if dr.Message != "" {
			w.printf("  %s\n", dr.Message)
		}
	case dr.Status == "False":
		w.printf("  in sync with the last traced revision\n")
	default:
		w.printf("  unknown: not checked yet\n")
	}
	if len(dr.Paths) > 0 {
		w.kv("paths", strings.Join(dr.Paths, ", "))
	}
	if len(dr.Managers) > 0 {
		w.kv("changed by", strings.Join(dr.Managers, ", "))
	}

	// Findings.
	w.printf("\nFINDINGS  (%d open)\n", len(a.Findings))
	for i := range a.Findings {
		f := &a.Findings[i]
		w.printf("  %-8s  %s: %s\n", f.Severity, f.Type, f.Message)
		w.printf("            introduced by %s\n", introducedByLong(f.IntroducedBy, now))
		var extra []string
		if f.Subject != "" {
			extra = append(extra, "subject "+f.Subject)
		}
		if len(f.Permissions) > 0 {
			extra = append(extra, "permissions "+strings.Join(f.Permissions, ", "))
		}
		if len(f.Dependents) > 0 {
			var ds []string
			for _, r := range f.Dependents {
				ds = append(ds, refString(r))
			}
			extra = append(extra, "dependents "+strings.Join(ds, ", "))
		}
		if len(f.Paths) > 0 && f.Type != "Drift" {
			extra = append(extra, "at "+strings.Join(f.Paths, ", "))
		}
		if f.Rule != "" {
			extra = append(extra, "rule "+f.Rule)
		}
		if len(extra) > 0 {
			w.printf("            %s\n", strings.Join(extra, "; "))
		}
	}
	return w.err
}

func changeHeadline(c *Change) string {
	if !c.Traced {
		if c.UntracedReason == v1alpha1.UntracedProvenanceNotRenewed || len(c.Managers) > 0 || c.OnTopOf != "" {
			return "UNTRACED " + strings.TrimPrefix(UntracedSummary(c), "untraced ")
		}
		return "UNTRACED change (no traced provenance)"
	}
	var parts []string
	if c.Commit != "" {
		parts = append(parts, "commit "+ShortCommit(c.Commit))
	} else {
		parts = append(parts, "no commit")
	}
	if c.PullRequest != "" {
		parts = append(parts, "PR "+ShortPR(c.PullRequest))
	}
	if c.PipelineRun != "" {
		parts = append(parts, "run "+ShortRun(c.PipelineRun))
	}
	if a := actorString(c.Actor, c.Agent); a != "" {
		parts = append(parts, "by "+a)
	}
	return strings.Join(parts, "  ")
}

// derivedChange says in words which change of its owner produced a derived object.
func derivedChange(d *Derived) string {
	c := d.Change
	switch {
	case c == nil:
		return "unknown (no record of the owner's change)"
	case !c.Traced:
		return strings.Replace(changeHeadline(c), "UNTRACED", "an UNTRACED", 1)
	}
	s := changeHeadline(c)
	if len(c.Approvers) > 0 {
		s += ", approved by " + strings.Join(c.Approvers, ", ")
	}
	if c.AdmittedBy != "" {
		s += ", admitted by " + c.AdmittedBy
	}
	return s
}

func signatureText(s string) string {
	switch s {
	case SignatureVerified:
		return "signed, verified against a trusted key"
	case SignatureUnverified:
		return "signed, but NOT verified against a trusted key"
	case SignatureUnsigned:
		return "NOT signed"
	}
	return "not verified (whether it was signed is unknown)"
}

// messageWithPaths is a finding's message, with the changed paths for the findings
// whose message leaves them to the paths field (drift and untraced changes).
func messageWithPaths(r FindingRow) string {
	if len(r.Paths) == 0 || r.Type != v1alpha1.FindingDrift && r.Type != v1alpha1.FindingUntracedChange ||
		strings.Contains(r.Message, r.Paths[0]) {
		return r.Message
	}
	return r.Message + " (at " + strings.Join(r.Paths, ", ") + ")"
}

// RenderFindings writes the findings table: NAMESPACE TARGET TYPE SEVERITY
// INTRODUCED-BY MESSAGE.
func RenderFindings(out io.Writer, rows []FindingRow) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tTARGET\tTYPE\tSEVERITY\tINTRODUCED-BY\tMESSAGE")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s/%s\t%s\t%s\t%s\t%s\n", orDash(r.Target.Namespace), r.Target.Kind, r.Target.Name,
			r.Type, r.Severity, r.IntroducedBySummary, oneLine(messageWithPaths(r)))
	}
	return tw.Flush()
}

// RenderCommit writes the commit table: NAMESPACE KIND NAME STATE ADMITTED-AT ADMITTED-BY.
func RenderCommit(out io.Writer, rows []CommitRow) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tKIND\tNAME\tSTATE\tADMITTED-AT\tADMITTED-BY")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", orDash(r.Target.Namespace), r.Target.Kind, r.Target.Name,
			r.State, RFC3339(r.AdmittedAt), orDash(r.AdmittedBy))
	}
	return tw.Flush()
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// errWriter keeps the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...interface{}) {
	fmt.Fprintf(e, format, args...)
}

func (e *errWriter) kv(k, v string) {
	e.printf("  %-13s %s\n", k, v)
}

// article is "an" before a kind that starts with a vowel (an Ingress), else "a".
func article(kind string) string {
	if kind != "" && strings.ContainsRune("AEIOU", rune(kind[0])) {
		return "an"
	}
	return "a"
}
