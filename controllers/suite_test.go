package controllers

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/internal/clusterpolicy"
	"github.com/kubetrail/kubetrail/webhooks"
)

// managerUser is the identity the manager runs as in the suite; the TraceRecord guard
// admits only it, as it admits only the manager's service account in a cluster.
const managerUser = "kubetrail-manager"

var (
	testEnv   *envtest.Environment
	k8sClient client.Client
	scheme    = runtime.NewScheme()
	mgrConfig *rest.Config

	stopManager context.CancelFunc
	managerDone chan struct{}
)

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Controllers Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(v1alpha1.AddToScheme(scheme)).To(Succeed())

	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			Paths: []string{filepath.Join("..", "config", "webhook")},
		},
	}
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		// The real kube-apiserver and etcd hack/build-control-plane.sh builds.
		testEnv.BinaryAssetsDirectory = filepath.Join("..", "bin")
	}
	cfg, err := testEnv.Start()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() {
		if stopManager != nil {
			stopManager()
			Eventually(managerDone, 30*time.Second).Should(BeClosed())
		}
		Expect(testEnv.Stop()).To(Succeed())
	})

	// The tests act as envtest's admin; the manager as a user of its own.
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	user, err := testEnv.AddUser(envtest.User{Name: managerUser, Groups: []string{"system:masters"}}, nil)
	Expect(err).NotTo(HaveOccurred())
	mgrConfig = user.Config()
	// As ctrl.GetConfig sets them for main.go.
	mgrConfig.QPS, mgrConfig.Burst = 20, 30

	ctx := context.Background()
	Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: DefaultRecordNamespace}})).To(Succeed())

	startManager()
})

// startManager starts a manager as main.go does: cache transform, webhooks served,
// reconcilers set up. It returns once the webhook server answers TLS.
func startManager() {
	o := &testEnv.WebhookInstallOptions
	mgr, err := ctrl.NewManager(mgrConfig, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		WebhookServer: webhook.NewServer(webhook.Options{
			Host: o.LocalServingHost, Port: o.LocalServingPort, CertDir: o.LocalServingCertDir,
		}),
		Cache: cache.Options{DefaultTransform: CacheTransform()},
		// The restart spec starts a second manager in this process.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	Expect(err).NotTo(HaveOccurred())

	policies := &clusterpolicy.Source{Cache: mgr.GetCache(), Secrets: mgr.GetAPIReader()}
	webhooks.Handlers{
		Stamper:     &webhooks.Stamper{Policies: policies},
		Enforcer:    &webhooks.Enforcer{Policies: policies},
		RecordGuard: &webhooks.RecordGuard{ManagerUsernames: []string{managerUser}},
	}.Register(mgr.GetWebhookServer())
	Expect(SetupWithManager(mgr, Options{
		HistoryLimit:       DefaultHistoryLimit,
		TombstoneRetention: DefaultTombstoneRetention,
		RecordNamespace:    DefaultRecordNamespace,
		Policies:           policies,
	})).To(Succeed())

	Expect((&TracePolicyReconciler{
		Client: mgr.GetClient(), Policies: policies, ValidatingWebhookConfiguration: "validating-webhook-configuration",
	}).SetupWithManager(mgr)).To(Succeed())

	ctx, cancel := context.WithCancel(context.Background())
	stopManager = cancel
	managerDone = make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(managerDone)
		Expect(mgr.Start(ctx)).To(Succeed())
	}()

	addr := net.JoinHostPort(o.LocalServingHost, fmt.Sprint(o.LocalServingPort))
	Eventually(func() error {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // test dial to the local webhook server
		if err != nil {
			return err
		}
		return conn.Close()
	}, 30*time.Second, 100*time.Millisecond).Should(Succeed())
}
