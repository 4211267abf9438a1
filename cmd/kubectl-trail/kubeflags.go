package main

import (
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// kubeFlags are kubectl's connection flags (--kubeconfig, --context, --namespace/-n,
// --server, --token, --as, ...). The cluster verbs get their client from here.
// *genericclioptions.ConfigFlags satisfies it; tests may substitute their own.
type kubeFlags interface {
	AddFlags(flags *pflag.FlagSet)
	ToRawKubeConfigLoader() clientcmd.ClientConfig
	ToRESTConfig() (*rest.Config, error)
}

// newClientFlags returns kubectl's own connection flags. The kubeconfig is only
// loaded when a verb asks for a client, never by stamp or keygen.
func newClientFlags() kubeFlags {
	return genericclioptions.NewConfigFlags(true)
}
