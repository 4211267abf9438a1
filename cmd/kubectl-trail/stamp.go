package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

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
	audience  string
	dryRun    bool
	manager   string
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
object and, with --key, signs each object (kubetrail.io/signature: a DSSE envelope
around an in-toto Statement v1) over its identity, the digest of its content,
its provenance, the cluster it is for (--audience) and an expiry. It writes the
manifests to standard output with nothing else changed: comments, key order and
formatting stay as they were.

The apiserver fills in defaults (and other mutating webhooks may change the
object) before kubetrail checks the signature against the object as admitted.
With --server-dry-run each object is sent to the cluster as a server-side apply
dry run (nothing is stored) and the signature binds the content the apiserver
returns; apply it with kubectl apply --server-side and the same --field-manager.
Without it the digest is of the manifest itself, which then must write out every
field the apiserver would default. A Secret's signature binds its key names, not
its values.

In GitHub Actions, GitLab CI, Jenkins and Tekton the commit, repository, pull request
and pipeline run are read from the CI environment and the actor is "pipeline"; flags
override what is detected, and --no-env ignores the environment. Tekton has no such
variables: the Task step must set TEKTON_PIPELINE_RUN=$(context.pipelineRun.name),
GIT_COMMIT and GIT_URL (and optionally TEKTON_PIPELINE_RUN_NAMESPACE,
TEKTON_DASHBOARD_URL, PULL_REQUEST_URL) from its params.

Objects without metadata.namespace are signed for the namespace given with
--namespace (-n), the one kubectl apply will put them in.`,
		Example: `  # Stamp and sign in the pipeline, then apply
  kustomize build . | kubectl trail stamp --key key.pem --audience prod-eu-1 --server-dry-run \
      | kubectl apply --server-side -f -

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
	f.StringVar(&o.audience, "audience", "", "with --key: the name of the cluster the objects are for (its TracePolicy's spec.signing.audience)")
	f.BoolVar(&o.dryRun, "server-dry-run", false, "with --key: sign the content the cluster returns for a server-side apply dry run (defaults filled in)")
	f.StringVar(&o.manager, "field-manager", "kubectl", "with --server-dry-run: the field manager of the dry run (the one kubectl apply --server-side will use)")
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
		opts.Audience = o.audience
		if o.dryRun {
			resolve, err := o.serverDryRun(cmd.Context())
			if err != nil {
				return fmt.Errorf("--server-dry-run: %w", err)
			}
			opts.Resolve = resolve
		}
	} else if o.dryRun || o.audience != "" {
		return errors.New("--audience and --server-dry-run are for signing: give --key too")
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

// serverDryRun returns a stamp.Options.Resolve that sends an object to the cluster
// as a server-side apply dry run (dryRun=All: nothing is stored; defaulting and the
// mutating webhooks run) and returns what the apiserver would store.
func (o *stampOptions) serverDryRun(ctx context.Context) (func(map[string]interface{}) (map[string]interface{}, error), error) {
	if ctx == nil {
		ctx = context.Background()
	}
	cfg, err := o.configFlags.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	// The apply that follows gets the same warnings; printed here too they would
	// only repeat them (and land among the manifests when both streams are read).
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = rest.NoWarnings{}
	defaultNS, _, err := o.configFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	force := true
	return func(obj map[string]interface{}) (map[string]interface{}, error) {
		u := &unstructured.Unstructured{Object: obj}
		gvk := u.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return nil, err
		}
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			ns := u.GetNamespace()
			if ns == "" {
				ns = defaultNS
			}
			ri = dyn.Resource(m.Resource).Namespace(ns)
		}
		body, err := json.Marshal(obj)
		if err != nil {
			return nil, err
		}
		out, err := ri.Patch(ctx, u.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{
			DryRun: []string{metav1.DryRunAll}, FieldManager: o.manager, Force: &force,
		})
		if err != nil {
			return nil, err
		}
		return out.Object, nil
	}, nil
}
