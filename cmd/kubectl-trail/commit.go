package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/fields"

	v1alpha1 "github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/report"
)

func init() { registerVerb(newCommitCmd) }

var (
	hexPrefix  = regexp.MustCompile(`^[0-9a-fA-F]{4,64}$`)
	fullCommit = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)
)

type commitOptions struct {
	*rootOptions
	out outputFlag
	all bool
}

func newCommitCmd(root *rootOptions) *cobra.Command {
	o := &commitOptions{rootOptions: root}
	cmd := &cobra.Command{
		Use:   "commit SHA",
		Short: "List every object a commit deployed, in all namespaces",
		Long: `Commit lists every object the commit deployed, in all namespaces, with its state:

  current      the object's current traced revision comes from the commit
  drifted      it does, but the live object has drifted from it since
  overwritten  a later change replaced it; the commit is only in its history
  deleted      the object was deleted; its record is kept as a tombstone

SHA is a full commit SHA or an unambiguous prefix of at least 4 hex digits.`,
		Example: `  kubectl trail commit 1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b
  kubectl trail commit 1a2b3c4 -o json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("give one commit SHA, e.g. kubectl trail commit 1a2b3c4")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd.Context(), args[0]) },
	}
	o.out.add(cmd)
	cmd.Flags().BoolVarP(&o.all, "all-namespaces", "A", true, "look in all namespaces (always the case: a commit can deploy anywhere)")
	return cmd
}

func (o *commitOptions) run(ctx context.Context, sha string) error {
	if err := o.out.validate(); err != nil {
		return err
	}
	if !hexPrefix.MatchString(sha) {
		return fmt.Errorf("invalid commit %q: give a commit SHA or a prefix of at least 4 hex digits", sha)
	}
	sha = strings.ToLower(sha)
	c, err := o.connect(ctx)
	if err != nil {
		return err
	}
	// Every record: the history is not selectable, and a short SHA must be resolved.
	all, err := c.listRecords(ctx, "", "")
	if err != nil {
		return err
	}
	commit := sha
	if !fullCommit.MatchString(sha) {
		matches := report.MatchCommits(all, sha)
		switch len(matches) {
		case 0:
			return fmt.Errorf("no object in the cluster was deployed by a commit starting with %s: check the SHA, or give it in full", sha)
		case 1:
			commit = matches[0]
		default:
			return fmt.Errorf("commit %s is ambiguous: it matches %s; give more digits", sha, strings.Join(matches, ", "))
		}
	}
	// The objects whose current revision is the commit, by the selectable field, plus
	// those whose history holds it.
	current, err := c.listRecords(ctx, "", fields.OneTermEqualSelector("spec.commit", commit).String())
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	records := make([]v1alpha1.TraceRecord, 0, len(current))
	for _, r := range current {
		seen[r.Namespace+"/"+r.Name] = true
		records = append(records, r)
	}
	for _, r := range all {
		if !seen[r.Namespace+"/"+r.Name] && r.Spec.Commit != commit {
			records = append(records, r)
		}
	}
	rows := report.CommitRows(records, commit)
	if o.out.structured() {
		return o.out.print(o.streams.Out, rows)
	}
	if len(rows) == 0 {
		fmt.Fprintf(o.streams.ErrOut, "No object in the cluster was deployed by commit %s.\n", commit)
		return nil
	}
	return report.RenderCommit(o.streams.Out, rows)
}
