// Package findings holds the pure parts of the TraceRecord reconciler's findings: the
// one-line summary of the change that introduced a finding, stable merging of findings
// across reconciles (FirstSeen and IntroducedBy never move once recorded), which field
// managers own a set of drifted paths (from managedFields), and where a secret sits as a
// JSON pointer. It imports no client.
package findings
