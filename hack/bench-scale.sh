#!/usr/bin/env bash
# Controller scale: for each object count N, on a fresh local control plane
# (hack/local-up.sh), stops the manager, creates N objects (1/3 Deployments with 0
# replicas, 1/3 ConfigMaps, 1/3 RoleBindings to a per-namespace Role, over N/100
# namespaces), waits until kube-controller-manager has observed every new Deployment (a
# settled, populated cluster), starts the manager and times the cold start until every object has its
# TraceRecord (and its status), sampling the manager's RSS; then measures drift latency
# (edit behind the webhook's back -> Drifted=True) on 100 more Deployments and the etcd
# bytes per TraceRecord. Writes docs/benchmarks-scale.md.
#
#   hack/bench-scale.sh [N...]          (default: 1000 10000)
#
# Environment: KUBETRAIL_LOCAL_DIR (default .local-scale), KUBETRAIL_PORT_BASE (default
# 26500), KUBETRAIL_MANAGER_ARGS (extra manager flags, e.g. "--kube-api-qps 200
# --kube-api-burst 400"), BENCH_SCALE_RESULTS (result directory, default a new
# /tmp/kubetrail-bench-scale.* directory, kept), BENCH_SCALE_OUT (default
# docs/benchmarks-scale.md), BENCH_SCALE_DRIFT (drifted objects, default 100),
# BENCH_SCALE_STEADY (steady RSS window, default 30s), BENCH_SCALE_TIMEOUT (cold start
# limit per N, default 20m). The plane is torn down after each N and on exit or Ctrl-C.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export KUBETRAIL_LOCAL_DIR=${KUBETRAIL_LOCAL_DIR:-$ROOT/.local-scale}
export KUBETRAIL_PORT_BASE=${KUBETRAIL_PORT_BASE:-26500}
source "$ROOT/hack/lib.sh"

COUNTS=("$@")
(( ${#COUNTS[@]} > 0 )) || COUNTS=(1000 10000)
RESULTS=${BENCH_SCALE_RESULTS:-$(mktemp -d /tmp/kubetrail-bench-scale.XXXXXX)}
OUT=${BENCH_SCALE_OUT:-docs/benchmarks-scale.md}
DRIFT=${BENCH_SCALE_DRIFT:-100}
STEADY=${BENCH_SCALE_STEADY:-30s}
TIMEOUT=${BENCH_SCALE_TIMEOUT:-20m}
mkdir -p "$RESULTS"
say "results: $RESULTS"

cleanup() { "$ROOT/hack/local-down.sh" >/dev/null 2>&1 || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM

BENCH=$RESULTS/benchscale
go build -o "$BENCH" ./hack/benchscale

{
  echo "date:     $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "kernel:   $(uname -sr)"
  echo "cpu:      $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "memory:   $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "go:       $(go version | cut -d' ' -f3)"
  echo "apiserver: $("$BIN/kube-apiserver" --version 2>/dev/null || true)"
  echo "commit:   $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo ' (+ uncommitted changes)')"
  echo "manager:  bin/manager, default flags${KUBETRAIL_MANAGER_ARGS:+ plus $KUBETRAIL_MANAGER_ARGS}"
  echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg) (shared machine: other work was running)"
} >"$RESULTS/machine.txt"
echo "hack/bench-scale.sh ${COUNTS[*]}" >"$RESULTS/command.txt"

render() {
  "$BENCH" report -dir "$RESULTS" "$ROOT/hack/benchscale/NOTES.md" >"$OUT.tmp" && mv "$OUT.tmp" "$OUT"
  say "wrote $OUT"
}

for n in "${COUNTS[@]}"; do
  d=$RESULTS/$n
  mkdir -p "$d"
  say "=== $n objects: fresh local control plane"
  "$ROOT/hack/local-down.sh" >/dev/null 2>&1 || true
  "$ROOT/hack/local-up.sh"
  export KUBECONFIG=$KUBECONFIG_LOCAL
  say "stopping the manager (pid $(cat "$STATE/pids/manager")) so the objects arrive unstamped"
  kill "$(cat "$STATE/pids/manager")"
  while running manager; do sleep 0.2; done
  rm -f "$STATE/pids/manager"
  say "creating $n objects"
  "$BENCH" create -n "$n" -out "$d/create.json" >/dev/null
  say "cold start"
  "$BENCH" coldstart -n "$n" -pidfile "$STATE/pids/manager" -restart "$ROOT/hack/local-restart.sh" \
    -metrics-url "http://127.0.0.1:$METRICS_PORT/metrics" -steady "$STEADY" -timeout "$TIMEOUT" \
    -out "$d/coldstart.json" >/dev/null || say "cold start incomplete (kept what was measured)"
  say "drift latency ($DRIFT objects)"
  "$BENCH" drift -m "$DRIFT" -out "$d/drift.json" >/dev/null || say "drift incomplete"
  say "bytes per TraceRecord"
  "$BENCH" etcdsize -etcd-url "http://127.0.0.1:$ETCD_PORT" -out "$d/etcd.json" >/dev/null || say "etcd size failed"
  cp "$STATE/logs/manager.log" "$d/manager.log" 2>/dev/null || true
  render
  "$ROOT/hack/local-down.sh"
done
render
