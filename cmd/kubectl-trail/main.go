// Command kubectl-trail is kubetrail's command line tool. Installed on the PATH it is
// also a kubectl plugin: `kubectl trail stamp ...`.
package main

import (
	"fmt"
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func main() {
	os.Exit(run(os.Args[1:], genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}))
}

// run executes the command line and returns the exit code: errors are printed as one
// "error: ..." line, never with a stack trace or the usage text.
func run(args []string, streams genericiooptions.IOStreams) int {
	cmd := newRootCmd(streams)
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		fmt.Fprintf(streams.ErrOut, "error: %v\n", err)
		return 1
	}
	return 0
}
