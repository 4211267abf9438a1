package controllers

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/kubetrail/kubetrail/internal/clusterpolicy"
	"github.com/kubetrail/kubetrail/internal/testenv"
)

// managerUser is the identity the manager runs as in the suite; the TraceRecord guard
// admits only it, as it admits only the manager's service account in a cluster.
const managerUser = "kubetrail-manager"

var (
	testEnv   *envtest.Environment
	k8sClient client.Client
	scheme    *runtime.Scheme
	mgrConfig *rest.Config

	stopManager context.CancelFunc
	managerDone chan struct{}
)

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Controllers Suite")
}

var _ = BeforeSuite(func() {
	// One default for every story, whatever order Ginkgo runs them in: the reconciler
	// answers in well under a second on a quiet machine, not on a loaded 2-core one.
	SetDefaultEventuallyTimeout(45 * time.Second)
	SetDefaultEventuallyPollingInterval(250 * time.Millisecond)
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	var err error
	scheme, err = testenv.NewScheme()
	Expect(err).NotTo(HaveOccurred())

	testEnv = testenv.Environment("..")
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
	mgrConfig, err = testenv.UserConfig(testEnv, managerUser, "system:masters")
	Expect(err).NotTo(HaveOccurred())
	// As ctrl.GetConfig sets them for main.go.
	mgrConfig.QPS, mgrConfig.Burst = 20, 30

	ctx := context.Background()
	Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: DefaultRecordNamespace}})).To(Succeed())

	startManager()
})

// startManager starts a manager as main.go does: cache transform, webhooks served,
// reconcilers set up. It returns once the webhook server answers TLS.
func startManager() {
	opts := testenv.ManagerOptions(testEnv, scheme)
	opts.Cache = cache.Options{DefaultTransform: CacheTransform()}
	// The restart spec starts a second manager in this process.
	opts.Controller = config.Controller{SkipNameValidation: ptr.To(true)}
	mgr, err := ctrl.NewManager(mgrConfig, opts)
	Expect(err).NotTo(HaveOccurred())

	policies := &clusterpolicy.Source{Cache: mgr.GetCache(), Secrets: mgr.GetAPIReader()}
	testenv.RegisterWebhooks(mgr, policies, DeleteRecorder{Client: mgr.GetClient(), Reader: mgr.GetAPIReader()}, managerUser)
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
	Expect(testenv.WaitForWebhooks(ctx, testEnv, 30*time.Second)).To(Succeed())
}
