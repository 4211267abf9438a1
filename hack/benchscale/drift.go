package main

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

const driftNamespace = nsPrefix + "drift"

type driftResult struct {
	Objects     int       `json:"objects"`
	RatePerSec  float64   `json:"ratePerSecond"`
	Drifted     int       `json:"drifted"`
	P50Seconds  float64   `json:"p50Seconds"`
	P90Seconds  float64   `json:"p90Seconds"`
	P99Seconds  float64   `json:"p99Seconds"`
	MaxSeconds  float64   `json:"maxSeconds"`
	MeanSeconds float64   `json:"meanSeconds"`
	Latencies   []float64 `json:"latencies"`
	TracedWait  float64   `json:"tracedWaitSeconds"`
	LoadAvg     string    `json:"loadavg"`
}

func sortFloats(v []float64) { sort.Float64s(v) }

func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.999999) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return sorted[i]
}

func condStatus(u *unstructured.Unstructured, typ string) string {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]interface{})
		if m["type"] == typ {
			s, _ := m["status"].(string)
			return s
		}
	}
	return ""
}

// driftBench creates m Deployments through kubetrail's webhook with provenance, waits
// until their records say Traced=True, then scales each (0 -> 1) through the /scale
// subresource, which kubetrail's webhooks do not match, at rate per second, and times
// each edit's acknowledgement to the first Drifted=True of its record seen on a watch.
func driftBench(ctx context.Context, cfg *rest.Config, m int, rate float64, timeout time.Duration) (*driftResult, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	res := &driftResult{Objects: m, RatePerSec: rate}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: driftNamespace}}, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	name := func(i int) string { return fmt.Sprintf("drift-%03d", i) }
	t0 := time.Now()
	parallel(8, m, func(i int) {
		ann := map[string]string{
			"kubetrail.io/commit":       fmt.Sprintf("%040x", i+1),
			"kubetrail.io/repository":   "https://git.example.com/team/app",
			"kubetrail.io/pipeline-run": fmt.Sprintf("run-%d", i),
			"kubetrail.io/approver":     "alice",
		}
		if err := retry(func() error {
			_, err := cs.AppsV1().Deployments(driftNamespace).Create(ctx, deployment(name(i), map[string]string{"app": name(i)}, ann), metav1.CreateOptions{})
			return err
		}); err != nil {
			logf("drift create %s: %v", name(i), err)
		}
	})
	// Wait for Traced=True on every record.
	records := dc.Resource(recordGVR).Namespace(driftNamespace)
	deadline := time.Now().Add(timeout)
	for {
		l, err := records.List(ctx, metav1.ListOptions{})
		if err == nil {
			traced := 0
			for i := range l.Items {
				if condStatus(&l.Items[i], "Traced") == "True" && condStatus(&l.Items[i], "Drifted") == "False" {
					traced++
				}
			}
			if traced >= m {
				break
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("only %d of %d drift records say Traced=True, Drifted=False", traced, m)
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	res.TracedWait = time.Since(t0).Seconds()
	logf("drift: %d records traced after %.1fs", m, res.TracedWait)

	l, err := records.List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	w, err := records.Watch(ctx, metav1.ListOptions{ResourceVersion: l.GetResourceVersion()})
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	var mu sync.Mutex
	acked := map[string]time.Time{}   // record name -> edit acknowledged
	drifted := map[string]time.Time{} // record name -> first Drifted=True seen
	all := make(chan struct{})
	go func() {
		for ev := range w.ResultChan() {
			if ev.Type != watch.Modified && ev.Type != watch.Added {
				continue
			}
			u, ok := ev.Object.(*unstructured.Unstructured)
			if !ok || condStatus(u, "Drifted") != "True" {
				continue
			}
			now := time.Now()
			mu.Lock()
			if _, seen := drifted[u.GetName()]; !seen {
				drifted[u.GetName()] = now
				if len(drifted) == m {
					close(all)
				}
			}
			mu.Unlock()
		}
	}()
	interval := time.Duration(float64(time.Second) / rate)
	next := time.Now()
	for i := 0; i < m; i++ {
		time.Sleep(time.Until(next))
		next = next.Add(interval)
		_, err := cs.AppsV1().Deployments(driftNamespace).Patch(ctx, name(i), types.MergePatchType,
			[]byte(`{"spec":{"replicas":1}}`), metav1.PatchOptions{}, "scale")
		if err != nil {
			return nil, fmt.Errorf("scaling %s: %w", name(i), err)
		}
		mu.Lock()
		acked["deployment."+name(i)] = time.Now()
		mu.Unlock()
	}
	select {
	case <-all:
	case <-time.After(2 * time.Minute):
		logf("drift: not every record drifted within 2m of the last edit")
	}
	mu.Lock()
	defer mu.Unlock()
	for rec, a := range acked {
		d, ok := drifted[rec]
		if !ok {
			continue
		}
		lat := d.Sub(a).Seconds()
		if lat < 0 {
			lat = 0 // seen before the edit's response arrived
		}
		res.Latencies = append(res.Latencies, lat)
	}
	sortFloats(res.Latencies)
	res.Drifted = len(res.Latencies)
	sum := 0.0
	for _, v := range res.Latencies {
		sum += v
	}
	if res.Drifted > 0 {
		res.MeanSeconds = sum / float64(res.Drifted)
		res.MaxSeconds = res.Latencies[res.Drifted-1]
	}
	res.P50Seconds = percentile(res.Latencies, 0.50)
	res.P90Seconds = percentile(res.Latencies, 0.90)
	res.P99Seconds = percentile(res.Latencies, 0.99)
	res.LoadAvg = loadavg()
	if res.Drifted < m {
		return res, fmt.Errorf("only %d of %d records drifted", res.Drifted, m)
	}
	return res, nil
}
