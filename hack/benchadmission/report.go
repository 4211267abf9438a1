package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
)

// Summary of a set of latencies.
type Summary struct {
	Requests   int     `json:"requests"`
	P50        float64 `json:"p50Ms"`
	P99        float64 `json:"p99Ms"`
	Mean       float64 `json:"meanMs"`
	Throughput float64 `json:"requestsPerSecond"`
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	if i < 0 {
		i = 0
	}
	return sorted[i]
}

func summarize(lat []float64, wallMs float64) Summary {
	s := append([]float64(nil), lat...)
	sort.Float64s(s)
	var sum float64
	for _, v := range s {
		sum += v
	}
	out := Summary{Requests: len(s), P50: percentile(s, 0.50), P99: percentile(s, 0.99)}
	if len(s) > 0 {
		out.Mean = sum / float64(len(s))
	}
	if wallMs > 0 {
		out.Throughput = float64(len(s)) / (wallMs / 1000)
	}
	return out
}

type key struct {
	mode string
	c    int
}

// pooled gathers the latencies and wall time of every round of a mode×concurrency.
type pooled struct {
	create, update, all []float64
	createMs, updateMs  float64
	rounds              int
	loadMin, loadMax    float64
	perRound            []roundFigures
	webhooks            map[string]WebhookTime
	cpu                 map[string]float64
	errors              int
}

type roundFigures struct {
	Round      int     `json:"round"`
	Started    string  `json:"started"`
	Load1      float64 `json:"loadavg1AtEnd"`
	All        Summary `json:"all"`
	Create     Summary `json:"create"`
	Update     Summary `json:"update"`
	SettleSecs float64 `json:"settleSeconds"`
}

func reportCmd(args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	in := fs.String("in", "", "results.jsonl written by run")
	_ = fs.Parse(args)
	f, err := os.Open(*in)
	if err != nil {
		return err
	}
	defer f.Close()
	var blocks []Block
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var b Block
		if err := json.Unmarshal(sc.Bytes(), &b); err != nil {
			return err
		}
		blocks = append(blocks, b)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(blocks) == 0 {
		return fmt.Errorf("%s holds no results", *in)
	}
	writeReport(os.Stdout, blocks)
	return nil
}

var modeOrder = []string{"none", "kubetrail", "kubetrail-admission-only", "kyverno"}

func writeReport(w io.Writer, blocks []Block) {
	data := map[key]*pooled{}
	var levels []int
	seenLevel := map[int]bool{}
	modes := map[string]bool{}
	for _, b := range blocks {
		k := key{b.Mode, b.Concurrency}
		p := data[k]
		if p == nil {
			p = &pooled{loadMin: math.Inf(1), loadMax: math.Inf(-1), webhooks: map[string]WebhookTime{}, cpu: map[string]float64{}}
			data[k] = p
		}
		p.create = append(p.create, b.Create.Latencies...)
		p.update = append(p.update, b.Update.Latencies...)
		p.all = append(append(p.all, b.Create.Latencies...), b.Update.Latencies...)
		p.createMs += b.Create.WallMs
		p.updateMs += b.Update.WallMs
		p.rounds++
		p.errors += b.Create.Errors + b.Update.Errors
		// CPU above idle: what the process used minus what it burns idle over the
		// same wall time (never below zero).
		for name, t := range b.CPUSeconds {
			p.cpu[name] += math.Max(0, t-b.IdleCPUPerSecond[name]*b.MeasuredSeconds)
		}
		for name, t := range b.Webhooks {
			w := p.webhooks[name]
			w.Calls += t.Calls
			w.Seconds += t.Seconds
			p.webhooks[name] = w
		}
		for _, l := range []float64{b.LoadBefore[0], b.LoadAfter[0]} {
			p.loadMin, p.loadMax = math.Min(p.loadMin, l), math.Max(p.loadMax, l)
		}
		allLat := append(append([]float64(nil), b.Create.Latencies...), b.Update.Latencies...)
		p.perRound = append(p.perRound, roundFigures{Round: b.Round, Started: b.Started.Format("15:04:05"), Load1: b.LoadAfter[0],
			All: summarize(allLat, b.Create.WallMs+b.Update.WallMs), Create: summarize(b.Create.Latencies, b.Create.WallMs),
			Update: summarize(b.Update.Latencies, b.Update.WallMs), SettleSecs: b.SettleSeconds})
		if !seenLevel[b.Concurrency] {
			seenLevel[b.Concurrency] = true
			levels = append(levels, b.Concurrency)
		}
		modes[b.Mode] = true
	}
	sort.Ints(levels)
	var order []string
	for _, m := range modeOrder {
		if modes[m] {
			order = append(order, m)
		}
	}
	sum := func(m string, c int) (all, create, update Summary, ok bool) {
		p := data[key{m, c}]
		if p == nil {
			return all, create, update, false
		}
		return summarize(p.all, p.createMs+p.updateMs), summarize(p.create, p.createMs), summarize(p.update, p.updateMs), true
	}

	fmt.Fprintln(w, "### Latency and throughput (all rounds pooled)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Client-side latency of each request; p50/p99 are nearest-rank percentiles of every request of the mode at that")
	fmt.Fprintln(w, "concurrency (all rounds). Throughput is requests completed per second of wall time of the measured phases.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| concurrency | mode | requests (failed) | create p50 | create p99 | update p50 | update p99 | all p50 | all p99 | throughput (req/s) | loadavg (1 min) during |")
	fmt.Fprintln(w, "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, c := range levels {
		for _, m := range order {
			all, cr, up, ok := sum(m, c)
			if !ok {
				continue
			}
			p := data[key{m, c}]
			fmt.Fprintf(w, "| %d | %s | %d (%d) | %.2f ms | %.2f ms | %.2f ms | %.2f ms | **%.2f ms** | **%.2f ms** | %.0f | %.1f–%.1f |\n",
				c, m, all.Requests, p.errors, cr.P50, cr.P99, up.P50, up.P99, all.P50, all.P99, all.Throughput, p.loadMin, p.loadMax)
		}
	}
	fmt.Fprintln(w)

	if modes["none"] {
		fmt.Fprintln(w, "### Ratios to no webhooks (all requests)")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| concurrency | mode | p50 ratio | p99 ratio | added p50 | added p99 | throughput ratio |")
		fmt.Fprintln(w, "|---:|---|---:|---:|---:|---:|---:|")
		for _, c := range levels {
			base, _, _, ok := sum("none", c)
			if !ok {
				continue
			}
			for _, m := range order {
				if m == "none" {
					continue
				}
				s, _, _, ok := sum(m, c)
				if !ok {
					continue
				}
				fmt.Fprintf(w, "| %d | %s | %.2f× | %.2f× | %+.2f ms | %+.2f ms | %.2f× |\n", c, m,
					s.P50/base.P50, s.P99/base.P99, s.P50-base.P50, s.P99-base.P99, s.Throughput/base.Throughput)
			}
		}
		fmt.Fprintln(w)
	}

	fmt.Fprintln(w, "### Time in admission webhooks, as the apiserver measured it")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "From the apiserver's `apiserver_admission_webhook_admission_duration_seconds` over the measured phases: every call")
	fmt.Fprintln(w, "the apiserver made to each webhook in that time, the bench's requests and background ones (the deployment")
	fmt.Fprintln(w, "controller's updates, kubetrail's TraceRecord writes), divided by the bench's measured requests. A call's time")
	fmt.Fprintln(w, "covers encoding, TLS, waiting for the webhook process to be scheduled, its handler, and decoding.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| concurrency | mode | webhook | calls per measured request | mean per call | per measured request |")
	fmt.Fprintln(w, "|---:|---|---|---:|---:|---:|")
	for _, c := range levels {
		for _, m := range order {
			p := data[key{m, c}]
			if p == nil || len(p.webhooks) == 0 {
				continue
			}
			reqs := float64(len(p.all))
			var names []string
			var total float64
			for name := range p.webhooks {
				names = append(names, name)
			}
			sort.Strings(names)
			for _, name := range names {
				t := p.webhooks[name]
				total += t.Seconds
				fmt.Fprintf(w, "| %d | %s | %s | %.2f | %.2f ms | %.2f ms |\n", c, m, name, t.Calls/reqs, 1000*t.Seconds/t.Calls, 1000*t.Seconds/reqs)
			}
			fmt.Fprintf(w, "| %d | %s | **all** | | | **%.2f ms** |\n", c, m, 1000*total/reqs)
		}
	}
	fmt.Fprintln(w)

	// CPU.
	procs := map[string]bool{}
	for _, p := range data {
		for name := range p.cpu {
			procs[name] = true
		}
	}
	if len(procs) > 0 {
		var names []string
		for _, n := range []string{"kube-apiserver", "etcd", "kube-controller-manager", "manager", "kyverno", "benchadmission"} {
			if procs[n] {
				names = append(names, n)
			}
		}
		fmt.Fprintln(w, "### CPU time per measured request")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "CPU time (user+system, from /proc/<pid>/stat, 10 ms resolution) each process used during the measured phases,")
		fmt.Fprintln(w, "less what it uses idle over the same wall time (measured for 4 s just before each block), divided by the")
		fmt.Fprintln(w, "measured requests. `manager` is kubetrail's. Unlike latency, CPU time hardly depends on the load other work puts")
		fmt.Fprintln(w, "on the machine, so it is the steadier measure of what each mode costs. \"added\" is the total minus that of no")
		fmt.Fprintln(w, "webhooks at the same concurrency. Raw (not idle-corrected) figures are in the JSON below.")
		fmt.Fprintln(w)
		fmt.Fprint(w, "| concurrency | mode |")
		for _, n := range names {
			fmt.Fprintf(w, " %s |", n)
		}
		fmt.Fprintln(w, " total | added |")
		fmt.Fprint(w, "|---:|---|")
		for range names {
			fmt.Fprint(w, "---:|")
		}
		fmt.Fprintln(w, "---:|---:|")
		for _, c := range levels {
			var base float64
			if p := data[key{"none", c}]; p != nil {
				for _, n := range names {
					base += p.cpu[n]
				}
				base = 1000 * base / float64(len(p.all))
			}
			for _, m := range order {
				p := data[key{m, c}]
				if p == nil {
					continue
				}
				reqs := float64(len(p.all))
				var total float64
				fmt.Fprintf(w, "| %d | %s |", c, m)
				for _, n := range names {
					v, ok := p.cpu[n]
					total += v
					if ok {
						fmt.Fprintf(w, " %.2f ms |", 1000*v/reqs)
					} else {
						fmt.Fprint(w, " – |")
					}
				}
				total = 1000 * total / reqs
				added := "–"
				if m != "none" && data[key{"none", c}] != nil {
					added = fmt.Sprintf("%+.2f ms", total-base)
				}
				fmt.Fprintf(w, " **%.2f ms** | %s |\n", total, added)
			}
		}
		fmt.Fprintln(w)
	}

	// Targets.
	if modes["none"] && modes["kubetrail"] {
		fmt.Fprintln(w, "### Targets")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Each target is checked per concurrency on all requests (creates and updates pooled).")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| target | concurrency | figure | met |")
		fmt.Fprintln(w, "|---|---:|---|---|")
		yes := func(b bool) string {
			if b {
				return "met"
			}
			return "**not met**"
		}
		for _, c := range levels {
			base, _, _, ok1 := sum("none", c)
			kt, _, _, ok2 := sum("kubetrail", c)
			if !ok1 || !ok2 {
				continue
			}
			r := kt.P50/base.P50 - 1
			fmt.Fprintf(w, "| kubetrail adds ≤ 30%% to p50 | %d | %+.1f%% (%.2f → %.2f ms) | %s |\n", c, 100*r, base.P50, kt.P50, yes(r <= 0.30))
		}
		for _, c := range levels {
			base, _, _, ok1 := sum("none", c)
			kt, _, _, ok2 := sum("kubetrail", c)
			if !ok1 || !ok2 {
				continue
			}
			r := kt.P99/base.P99 - 1
			fmt.Fprintf(w, "| kubetrail adds ≤ 50%% to p99 | %d | %+.1f%% (%.2f → %.2f ms) | %s |\n", c, 100*r, base.P99, kt.P99, yes(r <= 0.50))
		}
		if modes["kyverno"] {
			for _, q := range []string{"p50", "p99"} {
				for _, c := range levels {
					base, _, _, ok1 := sum("none", c)
					kt, _, _, ok2 := sum("kubetrail", c)
					ky, _, _, ok3 := sum("kyverno", c)
					if !ok1 || !ok2 || !ok3 {
						continue
					}
					b, k, y := base.P50, kt.P50, ky.P50
					if q == "p99" {
						b, k, y = base.P99, kt.P99, ky.P99
					}
					addK, addY := k-b, y-b
					fig := fmt.Sprintf("kubetrail %+.2f ms, Kyverno %+.2f ms", addK, addY)
					verdict := ""
					switch {
					case addY <= 0:
						fig += " (Kyverno added nothing measurable: no ratio)"
						verdict = yes(addK <= 0)
					default:
						fig += fmt.Sprintf(" → ratio %.2f", addK/addY)
						verdict = yes(addK <= 0.5*addY)
					}
					fmt.Fprintf(w, "| kubetrail's added %s latency ≤ ½ of Kyverno's | %d | %s | %s |\n", q, c, fig, verdict)
				}
			}
		}
		fmt.Fprintln(w)
	}

	fmt.Fprintln(w, "### Each round")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "The rounds ran interleaved (see the order above); a round's figures vary with the machine's load at the time.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| concurrency | mode | round | started (UTC) | requests | all p50 | all p99 | p50 / none's p50 of the round | throughput (req/s) | loadavg 1 min at end |")
	fmt.Fprintln(w, "|---:|---|---:|---|---:|---:|---:|---:|---:|---:|")
	noneP50 := map[[2]int]float64{}
	{
		for _, c := range levels {
			if p := data[key{"none", c}]; p != nil {
				for _, r := range p.perRound {
					noneP50[[2]int{c, r.Round}] = r.All.P50
				}
			}
		}
	}
	for _, c := range levels {
		for _, m := range order {
			p := data[key{m, c}]
			if p == nil {
				continue
			}
			rs := append([]roundFigures(nil), p.perRound...)
			sort.Slice(rs, func(i, j int) bool { return rs[i].Round < rs[j].Round })
			for _, r := range rs {
				rel := "–"
				if base, ok := noneP50[[2]int{c, r.Round}]; ok && m != "none" {
					rel = fmt.Sprintf("%.2f×", r.All.P50/base)
				}
				fmt.Fprintf(w, "| %d | %s | %d | %s | %d | %.2f ms | %.2f ms | %s | %.0f | %.2f |\n", c, m, r.Round, r.Started, r.All.Requests, r.All.P50, r.All.P99, rel, r.All.Throughput, r.Load1)
			}
		}
	}
	fmt.Fprintln(w)

	// Raw figures: per block summaries (the per-request latencies are in the JSONL file).
	type rawBlock struct {
		Mode        string                 `json:"mode"`
		Round       int                    `json:"round"`
		Concurrency int                    `json:"concurrency"`
		Started     string                 `json:"started"`
		LoadBefore  [3]float64             `json:"loadavgBefore"`
		LoadAfter   [3]float64             `json:"loadavgAfter"`
		Create      Summary                `json:"create"`
		Update      Summary                `json:"update"`
		ByKind      map[string]Summary     `json:"byKind"`
		Webhooks    map[string]WebhookTime `json:"webhooks,omitempty"`
		CPUSeconds  map[string]float64     `json:"cpuSeconds,omitempty"`
		IdleCPU     map[string]float64     `json:"idleCpuPerSecond,omitempty"`
		Measured    float64                `json:"measuredSeconds,omitempty"`
		Errors      []string               `json:"errors,omitempty"`
	}
	var raw []rawBlock
	for _, b := range blocks {
		byKind := map[string][]float64{}
		for i, l := range b.Create.Latencies {
			byKind["create "+b.Create.Kinds[i]] = append(byKind["create "+b.Create.Kinds[i]], l)
		}
		for i, l := range b.Update.Latencies {
			byKind["update "+b.Update.Kinds[i]] = append(byKind["update "+b.Update.Kinds[i]], l)
		}
		bk := map[string]Summary{}
		for k, v := range byKind {
			bk[k] = r3summary(summarize(v, 0))
		}
		wh := map[string]WebhookTime{}
		for k, v := range b.Webhooks {
			wh[k] = WebhookTime{Calls: v.Calls, Seconds: r3(v.Seconds)}
		}
		raw = append(raw, rawBlock{Mode: b.Mode, Round: b.Round, Concurrency: b.Concurrency, Started: b.Started.Format("2006-01-02T15:04:05Z"),
			LoadBefore: b.LoadBefore, LoadAfter: b.LoadAfter,
			Create: r3summary(summarize(b.Create.Latencies, b.Create.WallMs)), Update: r3summary(summarize(b.Update.Latencies, b.Update.WallMs)), ByKind: bk,
			Webhooks: wh, CPUSeconds: r3map(b.CPUSeconds), IdleCPU: r3map(b.IdleCPUPerSecond), Measured: r3(b.MeasuredSeconds),
			Errors: append(append([]string(nil), b.Create.ErrorSamples...), b.Update.ErrorSamples...)})
	}
	fmt.Fprintln(w, "### Raw figures")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "One line per block (mode × round × concurrency), in the order they ran; latencies in ms. `byKind` splits each")
	fmt.Fprintln(w, "block by operation and kind (its throughput field is not computed); `webhooks` is the apiserver's time in each")
	fmt.Fprintln(w, "webhook (calls, seconds); `cpuSeconds` the CPU time of each process over the measured phases, not idle-corrected;")
	fmt.Fprintln(w, "`idleCpuPerSecond` its idle rate just before; `measuredSeconds` the wall time of both phases.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "```json")
	fmt.Fprintln(w, "[")
	for i, b := range raw {
		line, _ := json.Marshal(b)
		sep := ","
		if i == len(raw)-1 {
			sep = ""
		}
		fmt.Fprintf(w, "%s%s\n", line, sep)
	}
	fmt.Fprintln(w, "]")
	fmt.Fprintln(w, "```")
}

// r3 rounds to 3 decimals (1 µs for milliseconds, 1 ms for seconds).
func r3(v float64) float64 { return math.Round(v*1000) / 1000 }

func r3map(m map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(m))
	for k, v := range m {
		out[k] = r3(v)
	}
	return out
}

func r3summary(s Summary) Summary {
	return Summary{Requests: s.Requests, P50: r3(s.P50), P99: r3(s.P99), Mean: r3(s.Mean), Throughput: r3(s.Throughput)}
}
