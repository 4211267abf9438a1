package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubetrail/kubetrail/internal/evidence"
)

func init() { registerVerb(newExportCmd) }

type exportOptions struct {
	*rootOptions
	since  string
	output string
	verify string
	// now is the export time (time.Now; tests may fix it).
	now func() time.Time
}

func newExportCmd(root *rootOptions) *cobra.Command {
	o := &exportOptions{rootOptions: root, now: time.Now}
	cmd := &cobra.Command{
		Use:   "export [--since T] [-o FILE] | export --verify FILE",
		Short: "Write an evidence bundle of records, findings and policies, sealed with a digest",
		Long: `Export writes an evidence bundle (JSON, apiVersion kubetrail.io/evidence/v1): every
TraceRecord (of all namespaces, or of the namespace given with -n) with its history cut
to the time range, the open findings flattened with their target, the TracePolicies in
force, the cluster's API server URL, the time range, and a digest
("sha256:<hex>") over the canonical JSON of all of it.

--since is a duration back from now (24h, 7d, 2w) or an RFC 3339 time
(2026-05-01T00:00:00Z); without it the whole recorded history is exported.

export --verify FILE recomputes the digest of a bundle: it prints OK when the bundle is
as exported and fails (exit 1) when anything in it was edited. Re-indenting the file or
reordering its keys does not count as an edit; see internal/evidence for the
canonical form.`,
		Example: `  kubectl trail export --since 7d -o evidence.json
  kubectl trail export --verify evidence.json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("unexpected argument %q: write to a file with -o FILE, check one with --verify FILE", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context()) },
	}
	f := cmd.Flags()
	f.StringVar(&o.since, "since", "", "start of the time range: a duration (24h, 7d) or an RFC 3339 time (default: all history)")
	f.StringVarP(&o.output, "output", "o", "", "file to write the bundle to (default: standard output)")
	f.StringVar(&o.verify, "verify", "", "verify the digest of the bundle in FILE (- for standard input) instead of exporting")
	return cmd
}

func (o *exportOptions) run(ctx context.Context) error {
	if o.verify != "" {
		if o.since != "" || o.output != "" {
			return errors.New("--verify checks an existing bundle: it takes no --since or --output")
		}
		return o.runVerify()
	}
	now := o.now()
	var since *time.Time
	if o.since != "" {
		s, err := evidence.ParseSince(o.since, now)
		if err != nil {
			return err
		}
		since = &s
	}
	c, err := o.connect(ctx)
	if err != nil {
		return err
	}
	ns := ""
	if c.explicitNS {
		ns = c.namespace
	}
	records, err := c.listRecords(ctx, ns, "")
	if err != nil {
		return err
	}
	policies, err := c.listPolicies(ctx)
	if err != nil {
		return err
	}
	b := evidence.New(evidence.Input{Cluster: c.host, Since: since, Until: now, Records: records, Policies: policies})
	if err := evidence.Seal(b); err != nil {
		return err
	}
	doc, err := evidence.Marshal(b)
	if err != nil {
		return err
	}
	if o.output == "" || o.output == "-" {
		_, err := o.streams.Out.Write(doc)
		return err
	}
	if err := os.WriteFile(o.output, doc, 0o644); err != nil {
		return fmt.Errorf("cannot write the bundle: %v", err)
	}
	fmt.Fprintf(o.streams.ErrOut, "Wrote %s: %d records, %d findings, %d policies, digest %s. Check it with: kubectl trail export --verify %s\n",
		o.output, len(b.Records), len(b.Findings), len(b.Policies), b.Digest, o.output)
	return nil
}

func (o *exportOptions) runVerify() error {
	var doc []byte
	var err error
	if o.verify == "-" {
		doc, err = io.ReadAll(o.streams.In)
	} else {
		doc, err = os.ReadFile(o.verify)
	}
	if err != nil {
		return fmt.Errorf("cannot read the bundle: %v", err)
	}
	res, err := evidence.Verify(doc)
	var edited *evidence.EditedError
	switch {
	case errors.As(err, &edited):
		return fmt.Errorf("%s was EDITED after export: its content hashes to %s, not to the digest it carries (%s)",
			o.verify, edited.Computed, edited.Recorded)
	case errors.Is(err, evidence.ErrNotBundle):
		return fmt.Errorf("%s is %v", o.verify, err)
	case err != nil:
		return fmt.Errorf("cannot verify %s: %v", o.verify, err)
	}
	since := res.Since
	if since == "" {
		since = "the beginning"
	}
	fmt.Fprintf(o.streams.Out, "OK: %s is unmodified (digest %s): %d records, %d findings, %d policies from %s, %s to %s\n",
		o.verify, res.Digest, res.Records, res.Findings, res.Policies, orUnknown(res.Cluster), since, res.Until)
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown cluster"
	}
	return s
}
