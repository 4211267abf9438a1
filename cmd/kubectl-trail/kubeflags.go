package main

import (
	"sync"

	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// kubeFlags are kubectl's connection flags (--kubeconfig, --context, --namespace/-n,
// --server, --token, --as, ...). The cluster verbs get their client from here.
//
// *genericclioptions.ConfigFlags (k8s.io/cli-runtime) satisfies this interface, and
// newRootCmd should use genericclioptions.NewConfigFlags(true) once go.sum holds
// cli-runtime's dependencies: that package imports its printers and kustomize, whose
// modules (github.com/liggitt/tabwriter, github.com/moby/term, sigs.k8s.io/kustomize/api,
// github.com/go-errors/errors, github.com/peterbourgon/diskv) are not in go.sum yet.
// Until then clientFlags binds the same flags with client-go's clientcmd, as
// ConfigFlags itself does.
type kubeFlags interface {
	AddFlags(flags *pflag.FlagSet)
	ToRawKubeConfigLoader() clientcmd.ClientConfig
	ToRESTConfig() (*rest.Config, error)
}

// clientFlags is kubeFlags on clientcmd alone.
type clientFlags struct {
	rules     *clientcmd.ClientConfigLoadingRules
	overrides clientcmd.ConfigOverrides

	once   sync.Once
	loader clientcmd.ClientConfig
}

func newClientFlags() *clientFlags {
	return &clientFlags{rules: clientcmd.NewDefaultClientConfigLoadingRules()}
}

func (f *clientFlags) AddFlags(flags *pflag.FlagSet) {
	flags.StringVar(&f.rules.ExplicitPath, clientcmd.RecommendedConfigPathFlag, "", "Path to the kubeconfig file to use for CLI requests.")
	clientcmd.BindOverrideFlags(&f.overrides, flags, clientcmd.RecommendedConfigOverrideFlags(""))
}

// ToRawKubeConfigLoader returns the kubeconfig the flags select, loaded on first use
// (and never by the verbs that do not talk to a cluster, such as stamp and keygen).
func (f *clientFlags) ToRawKubeConfigLoader() clientcmd.ClientConfig {
	f.once.Do(func() {
		f.loader = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(f.rules, &f.overrides)
	})
	return f.loader
}

func (f *clientFlags) ToRESTConfig() (*rest.Config, error) {
	return f.ToRawKubeConfigLoader().ClientConfig()
}
