package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
)

type rssSample struct {
	T        float64 `json:"t"` // seconds since the restart began
	RSSMiB   float64 `json:"rssMiB"`
	Records  int     `json:"records"` // records of the benchmark's objects that exist
	LoadAvg1 float64 `json:"loadavg1"`
}

type coldstartResult struct {
	Objects int `json:"objects"`
	// ReadySeconds: hack/local-restart.sh manager returned (webhooks answer).
	ReadySeconds float64 `json:"readySeconds"`
	// AllRecordsSeconds: every object has a TraceRecord (it exists).
	AllRecordsSeconds float64 `json:"allRecordsSeconds"`
	// AllStatusSeconds: every one of those records also has its status written
	// (conditions set): the second write of a new record. 0 when not reached.
	AllStatusSeconds float64 `json:"allStatusSeconds"`
	// RecordsPerSecond over the cold start (objects / AllRecordsSeconds).
	RecordsPerSecond float64 `json:"recordsPerSecond"`
	// PeakRSSMiB is VmHWM at the end of the steady window; MaxSampledRSSMiB the largest
	// 1-second VmRSS sample.
	PeakRSSMiB       float64 `json:"peakRSSMiB"`
	MaxSampledRSSMiB float64 `json:"maxSampledRSSMiB"`
	// SteadyRSSMiB is the median VmRSS over the steady window after the cold start.
	SteadyRSSMiB  float64     `json:"steadyRSSMiB"`
	SteadySeconds float64     `json:"steadySeconds"`
	Samples       []rssSample `json:"samples"`
	LoadAvg       string      `json:"loadavg"`
	// Metrics are selected lines of the manager's /metrics after the steady window.
	Metrics []string `json:"metrics"`
	Pid     int      `json:"pid"`
}

func procStatus(pid int, key string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, key+":") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				kb, _ := strconv.ParseFloat(f[1], 64)
				return kb / 1024
			}
		}
	}
	return 0
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return ""
}

func loadavg1() float64 {
	f := strings.Fields(loadavg())
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

func readPid(pidfile string) int {
	b, err := os.ReadFile(pidfile)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid > 0 {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
			return 0
		}
	}
	return pid
}

// benchRecord reports whether a record name in a namespace is the record of one of the
// created objects (not of the namespace's Role or of anything else).
func benchRecord(ns, name string) bool {
	if !strings.HasPrefix(ns, nsPrefix) || ns == driftNamespace {
		return false
	}
	for _, p := range []string{"deployment.obj-", "configmap.obj-", "rolebinding.obj-"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

func coldstart(ctx context.Context, cfg *rest.Config, n int, pidfile, restart, metricsURL string, steady, timeout time.Duration) (*coldstartResult, error) {
	mc, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	oldPid := readPid(pidfile)
	if oldPid != 0 {
		return nil, fmt.Errorf("the manager (pid %d) is running; stop it before the cold start", oldPid)
	}
	res := &coldstartResult{Objects: n}
	start := time.Now()
	since := func() float64 { return time.Since(start).Seconds() }
	cmd := exec.CommandContext(ctx, "bash", restart, "manager")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	restartDone := make(chan error, 1)
	go func() { restartDone <- cmd.Wait() }()

	// The records are counted from a metadata watch, not by listing them every second:
	// a list of 10,000 records per second cost the apiserver about a fifth of its CPU,
	// which the cold start being measured needs.
	var seenMu sync.Mutex
	seen := map[string]bool{}
	watchErr := make(chan error, 1)
	go func() {
		for ctx.Err() == nil {
			w, err := mc.Resource(recordGVR).Watch(ctx, metav1.ListOptions{ResourceVersion: "0"})
			if err != nil {
				select {
				case watchErr <- err:
				default:
				}
				time.Sleep(time.Second)
				continue
			}
			for ev := range w.ResultChan() {
				m, ok := ev.Object.(*metav1.PartialObjectMetadata)
				if !ok || !benchRecord(m.Namespace, m.Name) {
					continue
				}
				seenMu.Lock()
				switch ev.Type {
				case watch.Added, watch.Modified:
					seen[m.Namespace+"/"+m.Name] = true
				case watch.Deleted:
					delete(seen, m.Namespace+"/"+m.Name)
				}
				seenMu.Unlock()
			}
		}
	}()
	countRecords := func() (int, error) {
		select {
		case err := <-watchErr:
			return 0, err
		default:
		}
		seenMu.Lock()
		defer seenMu.Unlock()
		return len(seen), nil
	}
	countWithStatus := func() (int, error) {
		l, err := dc.Resource(recordGVR).List(ctx, metav1.ListOptions{ResourceVersion: "0"})
		if err != nil {
			return 0, err
		}
		c := 0
		for _, it := range l.Items {
			if !benchRecord(it.GetNamespace(), it.GetName()) {
				continue
			}
			conds, _, _ := unstructured.NestedSlice(it.Object, "status", "conditions")
			if len(conds) > 0 {
				c++
			}
		}
		return c, nil
	}

	pid := 0
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastStatusCheck := time.Time{}
	var steadyStart time.Time
	var steadyRSS []float64
	lastLog := time.Now()
	for {
		select {
		case err := <-restartDone:
			if err != nil {
				return nil, fmt.Errorf("%s manager: %w", restart, err)
			}
			res.ReadySeconds = since()
			logf("manager ready after %.1fs", res.ReadySeconds)
			restartDone = nil
		case <-tick.C:
		case <-ctx.Done():
			return res, ctx.Err()
		}
		if restartDone != nil && pid == 0 {
			pid = readPid(pidfile)
		}
		if pid == 0 {
			pid = readPid(pidfile)
		}
		if pid == 0 {
			continue
		}
		res.Pid = pid
		s := rssSample{T: since(), RSSMiB: procStatus(pid, "VmRSS"), LoadAvg1: loadavg1()}
		if s.RSSMiB == 0 {
			return res, fmt.Errorf("the manager (pid %d) is gone", pid)
		}
		if res.AllRecordsSeconds == 0 {
			c, err := countRecords()
			if err != nil {
				logf("counting records: %v", err)
				continue
			}
			s.Records = c
			if c >= n {
				res.AllRecordsSeconds = s.T
				res.RecordsPerSecond = float64(n) / s.T
				logf("all %d records exist after %.1fs", n, s.T)
			}
		} else {
			s.Records = n
		}
		res.Samples = append(res.Samples, s)
		if s.RSSMiB > res.MaxSampledRSSMiB {
			res.MaxSampledRSSMiB = s.RSSMiB
		}
		if time.Since(lastLog) > 15*time.Second {
			logf("t=%.0fs records=%d rss=%.0fMiB load=%s", s.T, s.Records, s.RSSMiB, loadavg())
			lastLog = time.Now()
		}
		if res.AllRecordsSeconds > 0 && res.AllStatusSeconds == 0 && time.Since(lastStatusCheck) > 3*time.Second {
			lastStatusCheck = time.Now()
			c, err := countWithStatus()
			if err == nil && c >= n {
				res.AllStatusSeconds = since()
				logf("all %d records have a status after %.1fs", n, res.AllStatusSeconds)
				steadyStart = time.Now()
			}
		}
		if !steadyStart.IsZero() {
			steadyRSS = append(steadyRSS, s.RSSMiB)
			if time.Since(steadyStart) >= steady {
				break
			}
		}
		if time.Since(start) > timeout {
			logf("timed out after %s", timeout)
			break
		}
	}
	res.SteadySeconds = time.Since(steadyStart).Seconds()
	if steadyStart.IsZero() {
		res.SteadySeconds = 0
	}
	res.SteadyRSSMiB = median(steadyRSS)
	res.PeakRSSMiB = procStatus(pid, "VmHWM")
	res.LoadAvg = loadavg()
	if metricsURL != "" {
		res.Metrics = scrape(metricsURL)
	}
	if res.AllStatusSeconds == 0 {
		return res, fmt.Errorf("not every record was complete within %s", timeout)
	}
	return res, nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	c := append([]float64(nil), v...)
	sortFloats(c)
	return c[len(c)/2]
}

// scrape keeps the metric lines that tell where the time went: reconciles per
// controller and result, reconcile time, API requests and their latency, work queues,
// Go memory.
func scrape(url string) []string {
	cl := &http.Client{Timeout: 10 * time.Second}
	resp, err := cl.Get(url)
	if err != nil {
		return []string{"scrape failed: " + err.Error()}
	}
	defer resp.Body.Close()
	var out []string
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 64<<20))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "#") {
			continue
		}
		for _, p := range []string{
			"controller_runtime_reconcile_total", "controller_runtime_reconcile_errors_total",
			"controller_runtime_reconcile_time_seconds_sum", "controller_runtime_reconcile_time_seconds_count",
			"rest_client_requests_total", "rest_client_rate_limiter_duration_seconds_sum", "rest_client_rate_limiter_duration_seconds_count",
			"workqueue_adds_total", "workqueue_depth", "workqueue_queue_duration_seconds_sum", "workqueue_retries_total",
			"go_memstats_heap_inuse_bytes", "go_memstats_heap_alloc_bytes", "go_memstats_sys_bytes", "go_goroutines",
			"process_resident_memory_bytes", "process_cpu_seconds_total", "kubetrail_",
		} {
			if strings.HasPrefix(l, p) && !strings.HasSuffix(l, " 0") {
				out = append(out, l)
				break
			}
		}
	}
	return out
}
