package controllers

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/kubetrail/kubetrail/api/v1alpha1"
)

// Object states for kubetrail_objects.
const (
	stateTraced   = "traced"
	stateUntraced = "untraced"
	stateDrifted  = "drifted"
)

var (
	objectsGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "kubetrail_objects",
		Help: "Tracked objects by state: traced (admitted with provenance, in sync), untraced, drifted.",
	}, []string{"state"})
	coverageGauge = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kubetrail_trace_coverage_ratio",
		Help: "Share of tracked objects whose live state is traced (admitted with provenance and not drifted).",
	})
	findingsGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "kubetrail_findings",
		Help: "Open findings on tracked objects by type and severity.",
	}, []string{"type", "severity"})
)

func init() {
	metrics.Registry.MustRegister(objectsGauge, coverageGauge, findingsGauge)
	for _, s := range []string{stateTraced, stateUntraced, stateDrifted} {
		objectsGauge.WithLabelValues(s).Set(0)
	}
}

// contribution is what one record adds to the gauges.
type contribution struct {
	state string
	// findings counts open findings by type and severity: a short slice, not a map,
	// because the tally holds one contribution per tracked object.
	findings []findingCount
}

type findingCount struct {
	typ      v1alpha1.FindingType
	severity v1alpha1.Severity
	n        int
}

// tally keeps each record's contribution so gauges are updated incrementally: a
// reconcile changes only its own record's share, never recounts the cluster.
type tally struct {
	mu       sync.Mutex
	byRecord map[string]contribution
	states   map[string]int
}

var gauges = &tally{byRecord: map[string]contribution{}, states: map[string]int{}}

// contributionOf computes a record's contribution.
func contributionOf(state string, fs []v1alpha1.Finding) contribution {
	c := contribution{state: state}
next:
	for _, f := range fs {
		for i := range c.findings {
			if c.findings[i].typ == f.Type && c.findings[i].severity == f.Severity {
				c.findings[i].n++
				continue next
			}
		}
		c.findings = append(c.findings, findingCount{typ: f.Type, severity: f.Severity, n: 1})
	}
	return c
}

// set replaces the contribution of record key; nil removes it (deleted target).
func (t *tally) set(key string, c *contribution) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.byRecord[key]; ok {
		t.states[old.state]--
		objectsGauge.WithLabelValues(old.state).Dec()
		for _, f := range old.findings {
			findingsGauge.WithLabelValues(string(f.typ), string(f.severity)).Sub(float64(f.n))
		}
		delete(t.byRecord, key)
	}
	if c != nil {
		t.byRecord[key] = *c
		t.states[c.state]++
		objectsGauge.WithLabelValues(c.state).Inc()
		for _, f := range c.findings {
			findingsGauge.WithLabelValues(string(f.typ), string(f.severity)).Add(float64(f.n))
		}
	}
	total := t.states[stateTraced] + t.states[stateUntraced] + t.states[stateDrifted]
	if total == 0 {
		coverageGauge.Set(0)
		return
	}
	coverageGauge.Set(float64(t.states[stateTraced]) / float64(total))
}
