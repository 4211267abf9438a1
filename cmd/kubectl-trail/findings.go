package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	v1alpha1 "github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/report"
)

func init() { registerVerb(newFindingsCmd) }

type findingsOptions struct {
	*rootOptions
	out      outputFlag
	all      bool
	types    []string
	severity string
}

func newFindingsCmd(root *rootOptions) *cobra.Command {
	o := &findingsOptions{rootOptions: root}
	cmd := &cobra.Command{
		Use:   "findings [-A] [--type T] [--severity S]",
		Short: "List open findings with the change that introduced each",
		Long: `Findings lists the open findings of the TraceRecords in the namespace (-n, or the
context's), or in all namespaces with -A, most severe first and, within a severity,
newest first. INTRODUCED-BY is the commit and pull request of the change that
introduced the finding, or "untraced (admitted by USER)" when it came without
provenance. Findings on cluster-scoped objects (ClusterRoleBindings, ClusterRoles)
are listed with -A, or with -n kubetrail-system where their records live.

Types: ` + strings.Join(typeNames(), ", ") + `.
Severities: Critical, High, Medium, Low, Info.`,
		Example: `  kubectl trail findings -A
  kubectl trail findings -A --type RBACEscalation --severity high
  kubectl trail findings -n shop -o json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("unexpected argument %q: filter with --type, --severity and -n", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context()) },
	}
	o.out.add(cmd)
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all-namespaces", "A", false, "list the findings of all namespaces")
	f.StringSliceVar(&o.types, "type", nil, "only findings of this type (repeatable or comma-separated)")
	f.StringVar(&o.severity, "severity", "", "only findings at least this severe (critical, high, medium, low, info)")
	return cmd
}

func typeNames() []string {
	out := make([]string, len(report.FindingTypes))
	for i, t := range report.FindingTypes {
		out[i] = string(t)
	}
	return out
}

func (o *findingsOptions) run(ctx context.Context) error {
	if err := o.out.validate(); err != nil {
		return err
	}
	var filter report.FindingFilter
	for _, t := range o.types {
		ft, err := report.ParseFindingType(strings.TrimSpace(t))
		if err != nil {
			return err
		}
		filter.Types = append(filter.Types, ft)
	}
	if o.severity != "" {
		s, err := report.ParseSeverity(o.severity)
		if err != nil {
			return err
		}
		filter.MinSeverity = s
	}
	c, err := o.connect(ctx)
	if err != nil {
		return err
	}
	ns := c.namespace
	if o.all {
		ns = ""
	}
	records, err := c.listRecords(ctx, ns, "")
	if err != nil {
		return err
	}
	rows := report.Findings(records, filter)
	if o.out.structured() {
		return o.out.print(o.streams.Out, rows)
	}
	if len(rows) == 0 {
		where := "in namespace " + ns
		if ns == "" {
			where = "in any namespace"
		}
		fmt.Fprintf(o.streams.ErrOut, "No open findings %s%s.\n", where, filterText(filter))
		return nil
	}
	return report.RenderFindings(o.streams.Out, rows)
}

func filterText(f report.FindingFilter) string {
	var parts []string
	if len(f.Types) > 0 {
		ts := make([]string, len(f.Types))
		for i, t := range f.Types {
			ts[i] = string(t)
		}
		parts = append(parts, "of type "+strings.Join(ts, " or "))
	}
	if f.MinSeverity != "" && f.MinSeverity != v1alpha1.SeverityInfo {
		parts = append(parts, "at least "+string(f.MinSeverity))
	}
	if len(parts) == 0 {
		return ""
	}
	return " " + strings.Join(parts, ", ")
}
