// Command manager runs kubetrail: the admission webhooks that stamp and enforce
// provenance, and the reconcilers that keep a TraceRecord per tracked object.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/open-policy-agent/cert-controller/pkg/rotator"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
	"github.com/kubetrail/kubetrail/controllers"
	"github.com/kubetrail/kubetrail/internal/clusterpolicy"
	"github.com/kubetrail/kubetrail/internal/secretscan"
	"github.com/kubetrail/kubetrail/internal/tracked"
	"github.com/kubetrail/kubetrail/webhooks"
)

var (
	scheme   = runtime.NewScheme()
	setupLog = ctrl.Log.WithName("setup")
)

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(v1alpha1.AddToScheme(scheme))
}

// Webhook configuration names, as in config/webhook/manifests.yaml after the
// kustomize name prefix.
const (
	mutatingWebhookName   = "kubetrail-mutating-webhook-configuration"
	validatingWebhookName = "kubetrail-validating-webhook-configuration"
)

type options struct {
	metricsAddr, probeAddr, pprofAddr  string
	leaderElect                        bool
	leaderElectionNamespace            string
	webhookPort                        int
	webhookCertDir                     string
	certRotation                       bool
	certSecret, certService, namespace string
	historyLimit                       int
	tombstoneRetention                 time.Duration
	managerUsernames                   stringList
	enableWebhooks, enableControllers  bool
	kubeAPIQPS                         float64
	kubeAPIBurst                       int
	maxConcurrentReconciles            int
	trackedKinds                       stringList
}

func main() {
	var o options
	flag.StringVar(&o.metricsAddr, "metrics-bind-address", ":8080", "Address the Prometheus metrics endpoint binds to; \"0\" disables it.")
	flag.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "Address the health and readiness probes bind to.")
	flag.BoolVar(&o.leaderElect, "leader-elect", false, "Elect a leader so that only one replica reconciles; every replica serves admission.")
	flag.StringVar(&o.leaderElectionNamespace, "leader-election-namespace", "", "Namespace of the leader election lease (default: the pod's namespace).")
	flag.IntVar(&o.webhookPort, "webhook-port", 9443, "Port the admission webhook server listens on.")
	flag.StringVar(&o.webhookCertDir, "webhook-cert-dir", "/tmp/k8s-webhook-server/serving-certs", "Directory holding tls.crt and tls.key for the webhook server.")
	flag.BoolVar(&o.certRotation, "cert-rotation", false, "Generate and rotate the webhook serving certificate in a Secret and inject its CA into the webhook configurations (in-cluster installs).")
	flag.StringVar(&o.namespace, "namespace", "kubetrail-system", "Namespace kubetrail runs in; records of cluster-scoped objects are kept here.")
	flag.StringVar(&o.certSecret, "cert-secret", "kubetrail-webhook-server-cert", "Secret holding the rotated webhook certificate.")
	flag.StringVar(&o.certService, "cert-service", "kubetrail-webhook-service", "Service the webhook certificate is issued for.")
	flag.IntVar(&o.historyLimit, "history-limit", 20, "Past revisions kept in each TraceRecord's status.history; older ones are counted in status.historyDropped.")
	flag.DurationVar(&o.tombstoneRetention, "tombstone-retention", 30*24*time.Hour, "How long the record of a deleted object is kept.")
	flag.Var(&o.managerUsernames, "manager-username", "Identity allowed to write TraceRecords (repeatable). Default: the identity this manager authenticates as.")
	flag.BoolVar(&o.enableWebhooks, "enable-webhooks", true, "Serve the admission webhooks.")
	flag.BoolVar(&o.enableControllers, "enable-controllers", true, "Run the reconcilers.")
	flag.Var(&o.trackedKinds, "tracked-kinds", "Kinds to trace, named as kubectl does (deployments, cm, clusterrolebindings.rbac.authorization.k8s.io); comma-separated or repeated. Default: every kind of the built-in table. Requests for other kinds pass both webhooks untouched and get no record: remove them from config/webhook/manifests.yaml too, or they still cost a webhook round trip.")
	flag.IntVar(&o.maxConcurrentReconciles, "max-concurrent-reconciles", controllers.DefaultMaxConcurrentReconciles, "Objects of one tracked kind reconciled at once.")
	flag.StringVar(&o.pprofAddr, "pprof-bind-address", "", "Address a net/http/pprof endpoint binds to for profiling (e.g. 127.0.0.1:8082); empty disables it.")
	// A cold start writes one record per tracked object: 10,000 objects in under a
	// minute needs ~170 writes/s, and at 200 QPS the limiter alone took 54 s
	// (docs/benchmarks-scale.md). The apiserver's priority and fairness still queues the
	// manager (a service account: workload-low) behind the control plane and users;
	// Karpenter defaults to 200 QPS, and Kyverno's docs suggest 300 for busy clusters.
	flag.Float64Var(&o.kubeAPIQPS, "kube-api-qps", 300, "Queries per second the manager may send to the apiserver (each new or changed record costs one write).")
	flag.IntVar(&o.kubeAPIBurst, "kube-api-burst", 300, "Burst of requests to the apiserver above --kube-api-qps.")
	zapOpts := zap.Options{Development: false}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))

	if err := run(ctrl.SetupSignalHandler(), o); err != nil {
		setupLog.Error(err, "Manager exited")
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	if o.historyLimit < 1 {
		return fmt.Errorf("--history-limit must be at least 1, got %d", o.historyLimit)
	}
	kinds, err := tracked.Select(o.trackedKinds)
	if err != nil {
		return err
	}
	cfg := ctrl.GetConfigOrDie()
	cfg.QPS, cfg.Burst = float32(o.kubeAPIQPS), o.kubeAPIBurst
	if len(o.managerUsernames) == 0 {
		user, err := webhooks.WhoAmI(ctx, cfg)
		if err != nil {
			return fmt.Errorf("finding the manager's own identity (pass --manager-username to skip): %w", err)
		}
		o.managerUsernames = stringList{user}
	}
	setupLog.Info("Starting kubetrail", "identity", o.managerUsernames, "historyLimit", o.historyLimit, "trackedKinds", len(kinds))

	// Secret rules are compiled once at start, so a broken rule set fails here rather
	// than silently finding nothing.
	if err := secretscan.Load(); err != nil {
		return fmt.Errorf("loading gitleaks rules: %w", err)
	}
	// Secret values enter content digests as keyed hashes, with a key all replicas share.
	if err := controllers.SetDigestKey(ctx, cfg, o.namespace); err != nil {
		return fmt.Errorf("loading the digest key: %w", err)
	}

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsserver.Options{BindAddress: o.metricsAddr},
		HealthProbeBindAddress:        o.probeAddr,
		PprofBindAddress:              o.pprofAddr,
		LeaderElection:                o.leaderElect,
		LeaderElectionID:              "kubetrail.io",
		LeaderElectionNamespace:       o.leaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		GracefulShutdownTimeout:       ptr(15 * time.Second),
		WebhookServer: webhook.NewServer(webhook.Options{
			Port:    o.webhookPort,
			CertDir: o.webhookCertDir,
			TLSOpts: []func(*tls.Config){func(c *tls.Config) { c.MinVersion = tls.VersionTLS12 }},
		}),
		Cache: cache.Options{DefaultTransform: controllers.CacheTransform()},
	})
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}

	certsReady := make(chan struct{})
	if o.certRotation {
		err := rotator.AddRotator(mgr, &rotator.CertRotator{
			SecretKey:      types.NamespacedName{Namespace: o.namespace, Name: o.certSecret},
			CertDir:        o.webhookCertDir,
			CAName:         "kubetrail-ca",
			CAOrganization: "kubetrail",
			DNSName:        fmt.Sprintf("%s.%s.svc", o.certService, o.namespace),
			ExtraDNSNames:  []string{fmt.Sprintf("%s.%s.svc.cluster.local", o.certService, o.namespace)},
			IsReady:        certsReady,
			Webhooks: []rotator.WebhookInfo{
				{Name: mutatingWebhookName, Type: rotator.Mutating},
				{Name: validatingWebhookName, Type: rotator.Validating},
			},
			// Every replica serves admission, so every replica needs the certificate.
			RequireLeaderElection: false,
		})
		if err != nil {
			return fmt.Errorf("setting up webhook certificate rotation: %w", err)
		}
	} else {
		close(certsReady)
	}

	policies := &clusterpolicy.Source{Cache: mgr.GetClient(), Secrets: mgr.GetAPIReader()}

	if o.enableControllers {
		if err := controllers.SetupWithManager(mgr, controllers.Options{
			HistoryLimit:            o.historyLimit,
			TombstoneRetention:      o.tombstoneRetention,
			RecordNamespace:         o.namespace,
			Policies:                policies,
			MaxConcurrentReconciles: o.maxConcurrentReconciles,
			Kinds:                   kinds,
		}); err != nil {
			return fmt.Errorf("setting up the reconcilers: %w", err)
		}
		if err := (&controllers.TracePolicyReconciler{
			Client: mgr.GetClient(), Policies: policies, ValidatingWebhookConfiguration: validatingWebhookName,
		}).SetupWithManager(mgr); err != nil {
			return fmt.Errorf("setting up the TracePolicy reconciler: %w", err)
		}
	}

	if o.enableWebhooks {
		if !o.enableControllers {
			// Trusted keys in Secrets are read again when their Secret changes; with the
			// reconcilers, TracePolicyReconciler sets this up.
			if err := controllers.WatchKeySecrets(mgr, policies); err != nil {
				return fmt.Errorf("watching the Secrets of trusted keys: %w", err)
			}
		}
		handlers := webhooks.Handlers{
			Stamper:     &webhooks.Stamper{Policies: policies, Kinds: kinds},
			Enforcer: &webhooks.Enforcer{Policies: policies, Kinds: kinds,
				Deletes: controllers.DeleteRecorder{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), RecordNamespace: o.namespace}},
			RecordGuard:    &webhooks.RecordGuard{ManagerUsernames: o.managerUsernames},
			NamespaceGuard: &webhooks.NamespaceGuard{Policies: policies},
		}
		// Handlers are registered once the certificate exists, so the server never
		// answers with a certificate the apiserver does not trust.
		go func() {
			<-certsReady
			handlers.Register(mgr.GetWebhookServer())
		}()
		if err := mgr.AddReadyzCheck("webhook", func(req *http.Request) error {
			select {
			case <-certsReady:
				return mgr.GetWebhookServer().StartedChecker()(req)
			default:
				return fmt.Errorf("webhook certificate not ready")
			}
		}); err != nil {
			return err
		}
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	return mgr.Start(ctx)
}
