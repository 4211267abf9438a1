package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubetrail/kubetrail/internal/provenance"
	"github.com/kubetrail/kubetrail/internal/signing"
	"github.com/kubetrail/kubetrail/internal/stamp"
)

func init() { registerVerb(newStampCmd) }

type stampOptions struct {
	*rootOptions
	filenames []string
	flags     provenance.Provenance
	approvers []string
	keyFile   string
	expires   time.Duration
	noEnv     bool
}

func newStampCmd(root *rootOptions) *cobra.Command {
	o := &stampOptions{rootOptions: root}
	cmd := &cobra.Command{
		Use:   "stamp [-f FILE|-]...",
		Short: "Write provenance annotations (and a signature) into rendered manifests",
		Long: `Stamp reads rendered manifests (a stream of YAML documents, as kustomize build or
helm template write them), adds the kubetrail.io/ provenance annotations to every
object and, with --key, signs each object over its identity, provenance and container
images (kubetrail.io/signature). It writes the manifests to standard output with
nothing else changed: comments, key order and formatting stay as they were.

In GitHub Actions, GitLab CI, Jenkins and Tekton the commit, repository, pull request
and pipeline run are read from the CI environment and the actor is "pipeline"; flags
override what is detected, and --no-env ignores the environment. Tekton has no such
variables: the Task step must set TEKTON_PIPELINE_RUN=$(context.pipelineRun.name),
GIT_COMMIT and GIT_URL (and optionally TEKTON_PIPELINE_RUN_NAMESPACE,
TEKTON_DASHBOARD_URL, PULL_REQUEST_URL) from its params.

Objects without metadata.namespace are signed for the namespace given with
--namespace (-n), the one kubectl apply will put them in.`,
		Example: `  # Stamp and sign in the pipeline, then apply
  kustomize build . | kubectl trail stamp --key key.pem | kubectl apply -f -

  # Outside CI, give the provenance yourself
  helm template shop ./chart | kubectl trail stamp -n shop \
      --commit "$(git rev-parse HEAD)" --repository https://github.com/org/shop \
      --actor human --source generated:helm | kubectl apply -n shop -f -`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("unexpected argument %q: give manifest files with -f", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd) },
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.filenames, "filename", "f", nil, "manifest file to stamp, - for standard input (repeatable; default standard input)")
	f.StringVar(&o.flags.Commit, "commit", "", "full SHA of the commit the manifests were rendered from (git rev-parse HEAD)")
	f.StringVar(&o.flags.Repository, "repository", "", "URL of the repository, e.g. https://github.com/org/repo")
	f.StringVar(&o.flags.PullRequest, "pull-request", "", "number or URL of the pull request that was merged")
	f.StringVar(&o.flags.PipelineRun, "pipeline-run", "", "URL (or id) of the pipeline run that deploys")
	f.StringArrayVar(&o.approvers, "approver", nil, "who approved the change (repeatable or comma-separated)")
	f.StringVar(&o.flags.Actor, "actor", "", "who made the change: human, pipeline or agent (default pipeline in CI)")
	f.StringVar(&o.flags.Agent, "agent", "", "the agent and its run when --actor agent, e.g. \"deploy-bot run 42\"")
	f.StringVar(&o.flags.Source, "source", "", "where the manifests come from: code, ci-variable or generated:<tool> (e.g. generated:helm)")
	f.StringVar(&o.flags.Path, "path", "", "path of the manifests in the repository, e.g. deploy/overlays/prod")
	f.StringVar(&o.keyFile, "key", "", "PEM ed25519 private key to sign with (from kubectl trail keygen); without it nothing is signed")
	f.DurationVar(&o.expires, "expires", 72*time.Hour, "how long the signatures stay valid")
	f.BoolVar(&o.noEnv, "no-env", false, "do not read the provenance from the CI environment")
	return cmd
}

func (o *stampOptions) run(cmd *cobra.Command) error {
	flags := o.flags
	for _, a := range o.approvers {
		flags.Approvers = append(flags.Approvers, provenance.SplitApprovers(a)...)
	}
	p, ci := flags, ""
	if !o.noEnv {
		var detected provenance.Provenance
		detected, ci = stamp.FromEnv(o.getenv)
		p = stamp.Override(detected, flags)
	}
	if err := stamp.ValidateProvenance(p); err != nil {
		var fes stamp.FieldErrors
		if !errors.As(err, &fes) || ci == "" {
			return err
		}
		msgs := make([]string, len(fes))
		for i, fe := range fes {
			msgs[i] = fe.Error()
			if f := cmd.Flags().Lookup(strings.TrimPrefix(fe.Flag, "--")); f != nil && !f.Changed {
				msgs[i] += fmt.Sprintf(" (read from the %s environment: pass %s to set it, or --no-env)", ci, fe.Flag)
			}
		}
		return errors.New(strings.Join(msgs, "; "))
	}
	if p.IsEmpty() {
		return errors.New("nothing to stamp: no CI environment was detected and no provenance flags were given (e.g. --commit, --repository, --actor)")
	}
	if o.expires <= 0 {
		return fmt.Errorf("--expires: must be a positive duration (got %s)", o.expires)
	}

	opts := stamp.Options{
		Provenance: p,
		Expires:    o.expires,
		Warnings:   o.streams.ErrOut,
	}
	if o.keyFile != "" {
		pemBytes, err := os.ReadFile(o.keyFile)
		if err != nil {
			return fmt.Errorf("--key: %w", err)
		}
		key, err := signing.ParsePrivateKey(pemBytes)
		if err != nil {
			return fmt.Errorf("--key %s: %w", o.keyFile, err)
		}
		opts.Key = key
	}
	if cmd.Flags().Changed("namespace") {
		opts.Namespace, _ = cmd.Flags().GetString("namespace")
	}
	if ci != "" {
		fmt.Fprintf(o.streams.ErrOut, "stamp: provenance from the %s environment (--no-env to ignore it)\n", ci)
	}

	files := o.filenames
	if len(files) == 0 {
		files = []string{"-"}
	}
	var outputs []string
	stdinRead := false
	for _, name := range files {
		var in io.Reader
		opts.InputName = name
		if name == "-" {
			if stdinRead {
				return errors.New("-f -: standard input can be read only once")
			}
			stdinRead = true
			in, opts.InputName = o.streams.In, ""
		} else {
			data, err := os.ReadFile(name)
			if err != nil {
				return fmt.Errorf("-f: %w", err)
			}
			in = bytes.NewReader(data)
		}
		var out strings.Builder
		if err := stamp.Stamp(in, &out, opts); err != nil {
			return err
		}
		outputs = append(outputs, out.String())
	}
	_, err := io.WriteString(o.streams.Out, joinStreams(outputs))
	return err
}

// joinStreams concatenates YAML streams, with a document separator where one stream
// does not start with one, so that the last document of a file never runs into the
// first of the next.
func joinStreams(streams []string) string {
	var b strings.Builder
	for _, s := range streams {
		if s == "" {
			continue
		}
		if b.Len() > 0 {
			if !strings.HasSuffix(b.String(), "\n") {
				b.WriteString("\n")
			}
			if !startsWithMarker(s) {
				b.WriteString("---\n")
			}
		}
		b.WriteString(s)
	}
	return b.String()
}

// startsWithMarker reports whether the first line of s is a "---" document marker.
func startsWithMarker(s string) bool {
	first, _, _ := strings.Cut(s, "\n")
	first = strings.TrimSuffix(first, "\r")
	return first == "---" || strings.HasPrefix(first, "--- ") || strings.HasPrefix(first, "---\t")
}
