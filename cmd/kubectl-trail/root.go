package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// rootOptions is what every verb shares: the I/O streams, the kubectl connection flags
// (--kubeconfig, --context, --namespace, ...) for the verbs that talk to a cluster, and
// the environment.
type rootOptions struct {
	streams     genericiooptions.IOStreams
	configFlags kubeFlags
	// getenv reads the environment (os.Getenv; tests replace it).
	getenv func(string) string
}

// verbs are the constructors of the subcommands. A verb lives in its own file and
// registers itself from an init function:
//
//	func init() { registerVerb(newWhyCmd) }
var verbs []func(*rootOptions) *cobra.Command

func registerVerb(newCmd func(*rootOptions) *cobra.Command) { verbs = append(verbs, newCmd) }

func newRootCmd(streams genericiooptions.IOStreams) *cobra.Command {
	return newRootCmdWith(&rootOptions{
		streams:     streams,
		configFlags: newClientFlags(), // genericclioptions.ConfigFlags: see kubeflags.go
		getenv:      os.Getenv,
	})
}

func newRootCmdWith(o *rootOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "kubectl-trail",
		Short: "Trace Kubernetes objects back to the commit, pull request and pipeline run that produced them",
		Long: `kubectl trail links every object in a cluster to the change that produced it.

In the pipeline, stamp the rendered manifests with their provenance (and sign them)
before applying them; kubetrail's admission webhook checks and records it.

On the cluster, ask: why KIND/NAME (what changed, who approved it, what deployed,
what depends on it), commit SHA (what a commit deployed), findings (open findings
with the change that introduced each) and export (a sealed evidence bundle).
They take kubectl's connection flags (--kubeconfig, --context, -n, ...).`,
		Annotations: map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl trail"},
		// main prints the error once, as one line; usage is for --help.
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	cmd.SetIn(o.streams.In)
	cmd.SetOut(o.streams.Out)
	cmd.SetErr(o.streams.ErrOut)
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%v (see '%s --help')", err, c.CommandPath())
	})
	o.configFlags.AddFlags(cmd.PersistentFlags())
	for _, newVerb := range verbs {
		cmd.AddCommand(newVerb(o))
	}
	return cmd
}
