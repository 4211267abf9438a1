package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kubetrail/kubetrail/internal/signing"
)

func init() { registerVerb(newKeygenCmd) }

type keygenOptions struct {
	*rootOptions
	prefix string
	force  bool
}

func newKeygenCmd(root *rootOptions) *cobra.Command {
	o := &keygenOptions{rootOptions: root}
	cmd := &cobra.Command{
		Use:   "keygen [--out PREFIX]",
		Short: "Make an ed25519 key pair for signing provenance",
		Long: `Keygen writes a new ed25519 signing key to PREFIX.key (mode 0600) and its public key
to PREFIX.pub. Give the private key only to the pipeline (kubectl trail stamp --key);
put the public key into a TracePolicy (spec.signing.publicKeys) or a Secret so that
the webhook trusts the signatures.`,
		Example: `  kubectl trail keygen --out ci/kubetrail
  kubectl create secret generic kubetrail-signing -n kubetrail-system --from-file=ed25519.pub=ci/kubetrail.pub`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return o.run() },
	}
	cmd.Flags().StringVar(&o.prefix, "out", "kubetrail", "path prefix of the key files: writes PREFIX.key and PREFIX.pub")
	cmd.Flags().BoolVar(&o.force, "force", false, "overwrite existing key files")
	return cmd
}

func (o *keygenOptions) run() error {
	if o.prefix == "" {
		return errors.New("--out: must not be empty")
	}
	keyFile, pubFile := o.prefix+".key", o.prefix+".pub"
	if !o.force {
		for _, f := range []string{keyFile, pubFile} {
			if _, err := os.Lstat(f); err == nil {
				return fmt.Errorf("%s already exists: pass --force to overwrite it, or choose another --out", f)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	privPEM, pubPEM, err := signing.GenerateKey()
	if err != nil {
		return err
	}
	pub, err := signing.ParsePublicKey(pubPEM)
	if err != nil {
		return err
	}
	if err := writeNew(keyFile, privPEM, 0o600, o.force); err != nil {
		return err
	}
	if err := writeNew(pubFile, pubPEM, 0o644, o.force); err != nil {
		return err
	}

	name := filepath.Base(o.prefix)
	indented := "          " + strings.ReplaceAll(strings.TrimSpace(string(pubPEM)), "\n", "\n          ")
	fmt.Fprintf(o.streams.Out, `Wrote the signing key to %[1]s (keep it secret: give it only to the pipeline).
Wrote the public key to %[2]s.
Key id: %[3]s

Sign in the pipeline (for this cluster, over what the apiserver will admit):
  kustomize build . | kubectl trail stamp --key %[1]s --audience CLUSTER --server-dry-run \
    | kubectl apply --server-side -f -

Trust the key in a TracePolicy:
  spec:
    signing:
      required: true
      audience: CLUSTER
      maxValidity: 72h
      publicKeys:
      - name: %[4]s
        pem: |
%[5]s

or keep it in a Secret and refer to it:
  kubectl create secret generic kubetrail-signing -n kubetrail-system --from-file=ed25519.pub=%[2]s
  spec:
    signing:
      publicKeys:
      - name: %[4]s
        secretRef: {namespace: kubetrail-system, name: kubetrail-signing, key: ed25519.pub}
`, keyFile, pubFile, signing.KeyID(pub), name, indented)
	return nil
}

// writeNew writes data to a new file with perm. With force it replaces an existing
// file rather than truncating it, so that the new file gets perm and not the old
// file's mode.
func writeNew(name string, data []byte, perm os.FileMode, force bool) error {
	if force {
		if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s already exists: pass --force to overwrite it, or choose another --out", name)
		}
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
