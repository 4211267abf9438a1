package e2e

import (
	"crypto/sha1" //nolint:gosec // fake commit ids for the stories
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/gomega"
)

// serviceAccountKubeconfig makes a kubeconfig that authenticates as ns/name with a
// short-lived token, as a CI job's identity would.
func serviceAccountKubeconfig(ns, name string) string {
	_, _ = kubectl("create", "namespace", ns)
	_, _ = kubectl("create", "serviceaccount", name, "-n", ns)
	token, err := kubectl("create", "token", name, "-n", ns, "--duration", "1h")
	Expect(err).NotTo(HaveOccurred(), token)
	raw, err := kubectl("config", "view", "--raw", "--minify")
	Expect(err).NotTo(HaveOccurred())
	path := filepath.Join(stateDir, "sa-"+ns+"-"+name+".kubeconfig")
	Expect(os.WriteFile(path, []byte(raw), 0o600)).To(Succeed())
	for _, args := range [][]string{
		{"config", "set-credentials", name, "--token", strings.TrimSpace(token)},
		{"config", "set-context", "--current", "--user", name},
	} {
		out, err := kubectlAs(path, "", args...)
		Expect(err).NotTo(HaveOccurred(), out)
	}
	return path
}

// fakeCommit is a stable 40-hex id for a story's commit.
func fakeCommit(seed string) string {
	sum := sha1.Sum([]byte(seed)) //nolint:gosec // not security relevant
	return hex.EncodeToString(sum[:])
}

func writeFile(name, content string) string {
	path := filepath.Join(stateDir, name)
	Expect(os.WriteFile(path, []byte(content), 0o600)).To(Succeed())
	return path
}
