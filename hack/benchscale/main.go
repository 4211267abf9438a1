// Command benchscale measures the kubetrail controller at scale on the local control
// plane of hack/local-up.sh. hack/bench-scale.sh drives it; each subcommand writes one
// JSON result file:
//
//	create     N objects (1/3 Deployments with 0 replicas, 1/3 ConfigMaps, 1/3
//	           RoleBindings to a harmless Role) over N/100 namespaces, fast, with the
//	           manager stopped (so they are admitted unstamped: the cold-start case)
//	coldstart  runs hack/local-restart.sh manager and polls every second until every
//	           created object has a TraceRecord (metadata-only list), then until every
//	           record has a status; samples the manager's VmRSS/VmHWM throughout and for a
//	           steady window afterwards; scrapes the manager's metrics at the end
//	drift      M Deployments created through the webhook with provenance, then scaled
//	           through /scale (no webhook sees it): edit-acknowledged -> Drifted=True
//	           latency from a watch on their TraceRecords
//	etcdsize   value sizes of the TraceRecords in etcd (etcd's JSON gateway, exact), and
//	           the compact JSON of the same records from the apiserver with and without
//	           managedFields
//	report     renders the result files as Markdown
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/clientcmd"
)

var recordGVR = schema.GroupVersionResource{Group: "kubetrail.io", Version: "v1alpha1", Resource: "tracerecords"}

// nsPrefix is the prefix of every namespace this benchmark creates.
const nsPrefix = "bs-"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchscale create|coldstart|drift|etcdsize|report [flags]")
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the local plane (admin)")
	out := fs.String("out", "", "result JSON file")
	n := fs.Int("n", 1000, "objects (create, coldstart)")
	workers := fs.Int("workers", 24, "concurrent creates")
	pidfile := fs.String("pidfile", "", "the manager's pid file (coldstart)")
	restart := fs.String("restart", "hack/local-restart.sh", "restart script (coldstart)")
	metricsURL := fs.String("metrics-url", "", "the manager's metrics endpoint (coldstart)")
	steady := fs.Duration("steady", 30*time.Second, "steady-state RSS window after the cold start (coldstart)")
	timeout := fs.Duration("timeout", 20*time.Minute, "give up after (coldstart, drift)")
	m := fs.Int("m", 100, "drifted objects (drift)")
	rate := fs.Float64("rate", 10, "edits per second (drift)")
	etcdURL := fs.String("etcd-url", "", "etcd client URL (etcdsize)")
	dir := fs.String("dir", "", "directory of result files (report)")
	_ = fs.Parse(args)

	ctx, cancel := context.WithTimeout(context.Background(), *timeout+5*time.Minute)
	defer cancel()
	var res any
	var err error
	if cmd == "report" {
		err = report(*dir, fs.Args())
		exitOn(err)
		return
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	exitOn(err)
	cfg.QPS, cfg.Burst = 2000, 4000
	cfg.Timeout = 60 * time.Second
	switch cmd {
	case "create":
		res, err = create(ctx, cfg, *n, *workers)
	case "coldstart":
		res, err = coldstart(ctx, cfg, *n, *pidfile, *restart, *metricsURL, *steady, *timeout)
	case "drift":
		res, err = driftBench(ctx, cfg, *m, *rate, *timeout)
	case "etcdsize":
		res, err = etcdSize(ctx, cfg, *etcdURL)
	default:
		err = fmt.Errorf("unknown subcommand %q", cmd)
	}
	// Partial results are written too (a cold start that timed out still has its samples).
	if b, merr := json.MarshalIndent(res, "", "  "); merr == nil && string(b) != "null" {
		if *out != "" {
			exitOn(os.WriteFile(*out, append(b, '\n'), 0o644))
		}
		fmt.Println(string(b))
	}
	exitOn(err)
}

func exitOn(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchscale:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[benchscale %s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
