package test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/clusterpolicy"
	"github.com/kubetrail/kubetrail/webhooks"
)

var (
	testEnv *envtest.Environment
	scheme  = runtime.NewScheme()
	// admin is the envtest admin, which also runs the manager here.
	admin client.Client
	// users by name: a human, a pipeline service account, an on-call SRE.
	users  = map[string]*userClient{}
	cancel context.CancelFunc
)

// userClient is a client authenticated as one identity, recording the admission
// warnings the apiserver passes back, as kubectl prints them.
type userClient struct {
	client.Client
	mu       sync.Mutex
	warnings []string
}

func (u *userClient) HandleWarningHeader(_ int, _ string, text string) {
	u.mu.Lock()
	u.warnings = append(u.warnings, text)
	u.mu.Unlock()
}

// Warnings returns and clears the warnings seen so far.
func (u *userClient) Warnings() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	w := u.warnings
	u.warnings = nil
	return w
}

const (
	human    = "alice"
	pipeline = "system:serviceaccount:ci:deployer"
	sre      = "sam"
)

func TestWebhooks(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "kubetrail webhooks (envtest)")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(v1alpha1.AddToScheme(scheme)).To(Succeed())

	root := filepath.Join("..", "..")
	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			Paths: []string{filepath.Join(root, "config", "webhook", "manifests.yaml")},
		},
	}
	cfg, err := testEnv.Start()
	Expect(err).NotTo(HaveOccurred(), "starting kube-apiserver and etcd from KUBEBUILDER_ASSETS (run `make control-plane`)")

	admin, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	for name, groups := range map[string][]string{
		human:    {"system:masters", "devs"},
		pipeline: {"system:masters", "system:serviceaccounts", "system:serviceaccounts:ci"},
		sre:      {"system:masters", "sre-oncall"},
	} {
		u, err := testEnv.AddUser(envtest.User{Name: name, Groups: groups}, cfg)
		Expect(err).NotTo(HaveOccurred())
		uc := &userClient{}
		ucfg := rest.CopyConfig(u.Config())
		ucfg.WarningHandlerWithContext = nil
		ucfg.WarningHandler = uc
		uc.Client, err = client.New(ucfg, client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())
		users[name] = uc
	}

	ctx, c := context.WithCancel(context.Background())
	cancel = c
	managerUser, err := webhooks.WhoAmI(ctx, cfg)
	Expect(err).NotTo(HaveOccurred())

	wio := &testEnv.WebhookInstallOptions
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:  scheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
		WebhookServer: webhook.NewServer(webhook.Options{
			Host: wio.LocalServingHost, Port: wio.LocalServingPort, CertDir: wio.LocalServingCertDir,
		}),
	})
	Expect(err).NotTo(HaveOccurred())
	policies := &clusterpolicy.Source{Cache: mgr.GetClient(), Secrets: mgr.GetAPIReader()}
	webhooks.Handlers{
		Stamper:     &webhooks.Stamper{Policies: policies},
		Enforcer:    &webhooks.Enforcer{Policies: policies},
		RecordGuard: &webhooks.RecordGuard{ManagerUsernames: []string{managerUser}},
	}.Register(mgr.GetWebhookServer())
	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()

	// The apiserver calls the webhooks over TLS: wait until they answer.
	addr := net.JoinHostPort(wio.LocalServingHost, fmt.Sprint(wio.LocalServingPort))
	Eventually(func() error {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // readiness probe only
		if err != nil {
			return err
		}
		return conn.Close()
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	Expect(mgr.GetCache().WaitForCacheSync(ctx)).To(BeTrue())
})

var _ = AfterSuite(func() {
	if cancel != nil {
		cancel()
	}
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})
