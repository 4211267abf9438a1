// Package testenv sets up what kubetrail's envtest suites share: a real kube-apiserver
// and etcd with kubetrail's CRDs and webhook configurations installed, and a manager
// serving the webhooks to them over TLS as main.go does. It is used by tests only.
package testenv

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/clusterpolicy"
	"github.com/kubetrail/kubetrail/internal/digest"
	"github.com/kubetrail/kubetrail/webhooks"
)

// NewScheme returns a scheme with the built-in kinds and kubetrail's.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	return s, v1alpha1.AddToScheme(s)
}

// Environment returns an envtest environment with the CRDs and the webhook
// configurations of the repository at root. Without KUBEBUILDER_ASSETS it runs the
// kube-apiserver and etcd that hack/build-control-plane.sh puts in root/bin.
func Environment(root string) *envtest.Environment {
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			Paths: []string{filepath.Join(root, "config", "webhook", "manifests.yaml")},
		},
	}
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		env.BinaryAssetsDirectory = filepath.Join(root, "bin")
	}
	return env
}

// ManagerOptions are the manager options of main.go that matter to the suites, serving
// the webhooks where env's webhook configurations point; change the rest as needed.
func ManagerOptions(env *envtest.Environment, scheme *runtime.Scheme) ctrl.Options {
	o := &env.WebhookInstallOptions
	return ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		WebhookServer: webhook.NewServer(webhook.Options{
			Host: o.LocalServingHost, Port: o.LocalServingPort, CertDir: o.LocalServingCertDir,
		}),
	}
}

// DigestKey is the suites' fixed key of the keyed hashes of Secret values, which
// main.go reads from (or creates in) the kubetrail-digest-key Secret.
const DigestKey = "kubetrail envtest digest key, 32+ bytes long"

// RegisterWebhooks registers kubetrail's admission handlers with mgr, as main.go does,
// with deletes recording admitted deletes (nil: none) and managerUsernames allowed to
// write TraceRecords, and sets DigestKey as the process's digest key (the tests then
// compute the digests the webhook stamps).
func RegisterWebhooks(mgr ctrl.Manager, policies *clusterpolicy.Source, deletes webhooks.DeleteRecorder, managerUsernames ...string) {
	if err := digest.SetSecretKey([]byte(DigestKey)); err != nil {
		panic(err)
	}
	webhooks.Handlers{
		Stamper:     &webhooks.Stamper{Policies: policies},
		Enforcer:    &webhooks.Enforcer{Policies: policies, Deletes: deletes},
		RecordGuard:    &webhooks.RecordGuard{ManagerUsernames: managerUsernames},
		NamespaceGuard: &webhooks.NamespaceGuard{Policies: policies},
	}.Register(mgr.GetWebhookServer())
}

// WaitForWebhooks waits until the webhook server env's configurations point at speaks
// TLS: the apiserver calls it from the first request on.
func WaitForWebhooks(ctx context.Context, env *envtest.Environment, timeout time.Duration) error {
	o := &env.WebhookInstallOptions
	addr := net.JoinHostPort(o.LocalServingHost, fmt.Sprint(o.LocalServingPort))
	deadline := time.Now().Add(timeout)
	for {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // a readiness probe of the local test server
		if err == nil {
			return conn.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the webhook server at %s did not answer TLS within %s: %w", addr, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// UserConfig returns a copy of cfg for an envtest user name in groups.
func UserConfig(env *envtest.Environment, name string, groups ...string) (*rest.Config, error) {
	u, err := env.AddUser(envtest.User{Name: name, Groups: groups}, nil)
	if err != nil {
		return nil, err
	}
	return rest.CopyConfig(u.Config()), nil
}
