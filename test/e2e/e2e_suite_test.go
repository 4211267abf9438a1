package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var (
	root       string
	stateDir   string
	kubeconfig string
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "kubetrail end to end (local control plane)")
}

var _ = SynchronizedBeforeSuite(func() []byte {
	r, err := filepath.Abs(filepath.Join("..", ".."))
	Expect(err).NotTo(HaveOccurred())
	// A state directory and ports of the suite's own, so a developer's running local
	// cluster is left alone.
	state := filepath.Join(r, ".local-e2e")
	By("building kubectl-trail")
	run(r, nil, "go", "build", "-o", filepath.Join(r, "bin", "kubectl-trail"), "./cmd/kubectl-trail")
	By("starting the local control plane with kubetrail (hack/local-up.sh)")
	run(r, env(r, state), filepath.Join(r, "hack", "local-up.sh"))
	return []byte(r)
}, func(data []byte) {
	root = string(data)
	stateDir = filepath.Join(root, ".local-e2e")
	kubeconfig = filepath.Join(stateDir, "kubeconfig")
})

var _ = SynchronizedAfterSuite(func() {}, func() {
	if os.Getenv("KUBETRAIL_E2E_KEEP") != "" {
		return
	}
	r, _ := filepath.Abs(filepath.Join("..", ".."))
	run(r, env(r, filepath.Join(r, ".local-e2e")), filepath.Join(r, "hack", "local-down.sh"))
})

func env(root, state string) []string {
	return append(os.Environ(), "KUBETRAIL_LOCAL_DIR="+state, "KUBETRAIL_PORT_BASE=24500")
}

// run runs a command to completion and fails the spec with its output if it fails.
func run(dir string, env []string, name string, args ...string) string {
	out, err := try(dir, env, "", name, args...)
	ExpectWithOffset(1, err).NotTo(HaveOccurred(), "%s %s:\n%s", name, strings.Join(args, " "), out)
	return out
}

func try(dir string, env []string, stdin string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = env
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	fmt.Fprintf(GinkgoWriter, "$ %s %s\n%s\n", name, strings.Join(args, " "), buf.String())
	return buf.String(), err
}

// kubectl runs bin/kubectl against the local cluster as the given kubeconfig.
func kubectlAs(kc string, stdin string, args ...string) (string, error) {
	return try(root, append(os.Environ(), "KUBECONFIG="+kc), stdin, filepath.Join(root, "bin", "kubectl"), args...)
}

func kubectl(args ...string) (string, error) { return kubectlAs(kubeconfig, "", args...) }

func trail(stdin string, args ...string) (string, error) {
	return try(root, append(os.Environ(), "KUBECONFIG="+kubeconfig), stdin, filepath.Join(root, "bin", "kubectl-trail"), args...)
}
