package test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/kubetrail/kubetrail/internal/clusterpolicy"
	"github.com/kubetrail/kubetrail/internal/testenv"
	"github.com/kubetrail/kubetrail/webhooks"
)

var (
	testEnv *envtest.Environment
	scheme  *runtime.Scheme
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
	var err error
	scheme, err = testenv.NewScheme()
	Expect(err).NotTo(HaveOccurred())

	testEnv = testenv.Environment(filepath.Join("..", ".."))
	cfg, err := testEnv.Start()
	Expect(err).NotTo(HaveOccurred(), "starting kube-apiserver and etcd from KUBEBUILDER_ASSETS (run `make control-plane`)")

	admin, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	for name, groups := range map[string][]string{
		human:    {"system:masters", "devs"},
		pipeline: {"system:masters", "system:serviceaccounts", "system:serviceaccounts:ci"},
		sre:      {"system:masters", "sre-oncall"},
	} {
		ucfg, err := testenv.UserConfig(testEnv, name, groups...)
		Expect(err).NotTo(HaveOccurred())
		uc := &userClient{}
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

	mgr, err := ctrl.NewManager(cfg, testenv.ManagerOptions(testEnv, scheme))
	Expect(err).NotTo(HaveOccurred())
	policies := &clusterpolicy.Source{Cache: mgr.GetClient(), Secrets: mgr.GetAPIReader()}
	testenv.RegisterWebhooks(mgr, policies, nil, managerUser)
	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()

	// The apiserver calls the webhooks over TLS: wait until they answer.
	Expect(testenv.WaitForWebhooks(ctx, testEnv, 30*time.Second)).To(Succeed())
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
