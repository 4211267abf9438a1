#!/usr/bin/env bash
# Admission overhead through the real apiserver: creates and then updates Deployments
# (80%), ConfigMaps (10%) and RoleBindings (10%) on the local control plane at several
# concurrencies, in three modes, and writes the figures to docs/benchmarks-admission.md:
#
#   none       no admission webhooks at all (kubetrail's manager and Kyverno stopped,
#              their webhook configurations deleted)
#   kubetrail  kubetrail's webhooks and manager, with an Enforce TracePolicy that requires
#              commit, repository, pipelineRun and approver, a signature by a trusted key,
#              and denies secret literals (Kyverno stopped, its webhooks deleted)
#   kyverno    Kyverno's admission controller (built from its Go module, run out of
#              cluster with --serverIP) with a ClusterPolicy that requires the same four
#              annotations (Enforce) and records who created/changed the object
#              (kubetrail stopped, its webhooks deleted)
#
# Modes run interleaved: for each concurrency level of each round, every mode in turn,
# in mirrored order (none kubetrail kyverno | kyverno kubetrail none | ...), so that a
# change in the machine's load hits every mode alike. Every object is pre-stamped and pre-signed in memory (hack/benchadmission), so
# signing is outside the measured path.
#
#   hack/bench-admission.sh [--objects N] [--rounds R] [--concurrency 1,10,50]
#                           [--modes none,kubetrail,kyverno] [--out FILE] [--keep-up]
#
#   --objects N        objects per mode and concurrency over all rounds (default 300);
#                      each is created, then updated: 2N measured requests
#   --rounds R         interleaved rounds the objects are split into (default 2)
#   --concurrency L    concurrent clients, comma-separated (default 1,10,50)
#   --modes L          modes to run (default none,kubetrail,kyverno); also
#                      kubetrail-admission-only: kubetrail's webhooks with the manager's
#                      reconcilers off (--enable-controllers=false), to tell the admission
#                      path's cost from the TraceRecord writes that follow each change
#   --out FILE         the report (default docs/benchmarks-admission.md)
#   --keep-up          leave the control plane running afterwards (stop it with
#                      KUBETRAIL_LOCAL_DIR=.local-bench hack/local-down.sh)
#
# Environment: KUBETRAIL_LOCAL_DIR (default .local-bench) and KUBETRAIL_PORT_BASE (default
# 25500) choose the control plane's state and ports (Kyverno uses base+10 and base+11);
# KYVERNO_VERSION (default v1.19.1); KUBETRAIL_TOOLS_CACHE (where the Kyverno binary is
# cached, default ~/.local/share/kubetrail-tools); BENCH_RESULTS (directory for the raw
# per-request JSONL, default a new /tmp/kubetrail-bench-admission.* directory, kept).
#
# Kyverno is built the first time (a throwaway module in a temp dir that requires
# github.com/kyverno/kyverno and repeats the replace directives of its go.mod; about
# 20-40 minutes on 2 cores: 38 minutes on the shared machine of docs/benchmarks-admission.md)
# and cached by version. Nothing is left running, also on
# failure or Ctrl-C, unless --keep-up.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export KUBETRAIL_LOCAL_DIR=${KUBETRAIL_LOCAL_DIR:-$ROOT/.local-bench}
export KUBETRAIL_PORT_BASE=${KUBETRAIL_PORT_BASE:-25500}
source "$ROOT/hack/lib.sh"

OBJECTS=300
ROUNDS=2
CONCURRENCY=1,10,50
MODES=none,kubetrail,kyverno
OUT=docs/benchmarks-admission.md
KEEP_UP=0
ARGS_GIVEN="$*"
while (( $# > 0 )); do
  case $1 in
    --objects) OBJECTS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --concurrency) CONCURRENCY=$2; shift 2 ;;
    --modes) MODES=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --keep-up) KEEP_UP=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown flag $1 (see --help)" >&2; exit 2 ;;
  esac
done
PER_BLOCK=$(( (OBJECTS + ROUNDS - 1) / ROUNDS ))
IFS=, read -r -a MODE_LIST <<<"$MODES"
want_mode() { [[ ,$MODES, == *,$1,* ]]; }

KYVERNO_VERSION=${KYVERNO_VERSION:-v1.19.1}
KYVERNO_PORT=$((KUBETRAIL_PORT_BASE + 10))
KYVERNO_METRICS_PORT=$((KUBETRAIL_PORT_BASE + 11))
CACHE_ROOT=${KUBETRAIL_TOOLS_CACHE:-${XDG_DATA_HOME:-$HOME/.local/share}/kubetrail-tools}
KYVERNO_BIN=$CACHE_ROOT/kyverno/$KYVERNO_VERSION-$(go env GOOS)-$(go env GOARCH)/kyverno
RESULTS=${BENCH_RESULTS:-$(mktemp -d /tmp/kubetrail-bench-admission.XXXXXX)}
mkdir -p "$RESULTS"
BENCH=$RESULTS/benchadmission
JSONL=$RESULTS/results.jsonl
: >"$JSONL"

log() { printf '\033[1m[bench-admission]\033[0m %s\n' "$*" >&2; }
T0=$SECONDS
STEP_START=$SECONDS
step() { STEP_START=$SECONDS; log "$*"; }
took() { log "  ... took $((SECONDS - STEP_START))s (total $((SECONDS - T0))s)"; }
kc() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG_LOCAL" "$@"; }

# stop_pid NAME: stops a process this script (or local-up.sh, for it) started, by the pid
# in $STATE/pids/NAME: SIGTERM, SIGKILL after 20 seconds.
stop_pid() {
  local f=$STATE/pids/$1 pid
  [[ -f $f ]] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

finish() {
  local rc=$?
  trap - EXIT INT TERM
  if (( KEEP_UP )); then
    log "leaving the control plane up (--keep-up): KUBETRAIL_LOCAL_DIR=$KUBETRAIL_LOCAL_DIR hack/local-down.sh"
  else
    stop_pid kyverno
    [[ -d $STATE/logs ]] && cp -r "$STATE/logs" "$RESULTS/" 2>/dev/null
    "$ROOT/hack/local-down.sh" >/dev/null 2>&1 || true
    log "control plane stopped"
  fi
  (( rc == 0 )) || log "FAILED (exit $rc); raw results and the components' logs: $RESULTS"
  exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
START_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
log "loadavg before: $LOAD_BEFORE ($(nproc) cores); raw results: $RESULTS"

# ---------------------------------------------------------------------------------------
# Builds

step "building the load generator (hack/benchadmission)"
go build -o "$BENCH" ./hack/benchadmission
took

build_kyverno() {
  if [[ -x $KYVERNO_BIN ]]; then
    log "Kyverno $KYVERNO_VERSION: cached at $KYVERNO_BIN"
    return
  fi
  step "building Kyverno $KYVERNO_VERSION (cmd/kyverno) from its Go module (20-40 minutes on 2 cores the first time)"
  local work modfile args=() goversion
  work=$(mktemp -d)
  (
    trap 'rm -rf "$work"' EXIT
    cd "$work"
    go mod init kubetrail.local/kyverno-build >/dev/null 2>&1
    modfile=$(go mod download -json "github.com/kyverno/kyverno@$KYVERNO_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    [[ -f $modfile ]] || { log "github.com/kyverno/kyverno@$KYVERNO_VERSION is not on the module proxy"; exit 1; }
    goversion=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$modfile")
    # Kyverno's go.mod replaces k8s.io/pod-security-admission with its fork; replace
    # directives only apply in the main module, so repeat every single-line one.
    while read -r from to ver; do
      args+=("-replace=$from=$to@$ver")
    done < <(sed -n 's/^replace \([^ ]*\) => \([^ ]*\) \([^ ]*\)$/\1 \2 \3/p' "$modfile")
    go mod edit -go="$goversion" -require="github.com/kyverno/kyverno@$KYVERNO_VERSION" "${args[@]}"
    mkdir -p "$(dirname "$KYVERNO_BIN")"
    GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/kyverno/kyverno/pkg/version.BuildVersion=$KYVERNO_VERSION" \
      -o "$KYVERNO_BIN.tmp" github.com/kyverno/kyverno/cmd/kyverno
  )
  mv "$KYVERNO_BIN.tmp" "$KYVERNO_BIN"
  took
}
if want_mode kyverno; then
  build_kyverno
  KYVERNO_DIR=$(cd "$(mktemp -d)" && go mod download -json "github.com/kyverno/kyverno@$KYVERNO_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
fi

# ---------------------------------------------------------------------------------------
# Control plane

if [[ -d $STATE ]]; then
  log "stopping a control plane left in $STATE"
  stop_pid kyverno
  "$ROOT/hack/local-down.sh" >/dev/null 2>&1 || true
fi
step "starting the local control plane ($STATE, ports from $KUBETRAIL_PORT_BASE) with kubetrail"
"$ROOT/hack/local-up.sh"
took
K8S_VERSION=$(kc version -o json 2>/dev/null | jq -r .serverVersion.gitVersion)
# The manager binary of this run: local-up.sh may rebuild bin/manager for someone else
# while the bench restarts the manager round after round.
MANAGER_BIN=$RESULTS/manager
cp "$BIN/manager" "$MANAGER_BIN"

step "installing the policies"
"$BENCH" keygen -out "$RESULTS/keys"
if want_mode kyverno; then
  # Kyverno's namespace and configuration, as its Helm chart's defaults make them; written
  # before the TracePolicy, which would deny unstamped ConfigMaps.
  kc apply --server-side -f "$KYVERNO_DIR/config/crds/kyverno/" -f "$KYVERNO_DIR/config/crds/policies.kyverno.io/" \
    -f "$KYVERNO_DIR/config/crds/reports/" -f "$KYVERNO_DIR/config/crds/policyreport/" >"$STATE/logs/kyverno-crds.log"
  kc wait --for condition=established --timeout 120s crd/clusterpolicies.kyverno.io crd/policies.kyverno.io \
    crd/ephemeralreports.reports.kyverno.io crd/clusterephemeralreports.reports.kyverno.io >/dev/null
  kc apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Namespace
metadata: {name: kyverno}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: kyverno, namespace: kyverno}
data:
  enableDefaultRegistryMutation: "true"
  defaultRegistry: docker.io
  generateSuccessEvents: "false"
  excludeGroups: system:nodes
  resourceFilters: >-
    [Event,*,*][*/*,kube-system,*][*/*,kube-public,*][*/*,kube-node-lease,*][Node,*,*][Node/?*,*,*][APIService,*,*][APIService/?*,*,*][TokenReview,*,*][SubjectAccessReview,*,*][SelfSubjectAccessReview,*,*][Binding,*,*][Pod/binding,*,*][ReplicaSet,*,*][ReplicaSet/?*,*,*][EphemeralReport,*,*][ClusterEphemeralReport,*,*]
  updateRequestThreshold: "1000"
  webhooks: '{"namespaceSelector":{"matchExpressions":[{"key":"kubernetes.io/metadata.name","operator":"NotIn","values":["kube-system","kyverno"]}]}}'
  webhookAnnotations: '{"admissions.enforcer/disabled":"true"}'
---
apiVersion: v1
kind: ConfigMap
metadata: {name: kyverno-metrics, namespace: kyverno}
data:
  namespaces: '{"exclude":[],"include":[]}'
  bucketBoundaries: "0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 20, 25, 30"
  metricsExposure: '{"kyverno_policy_execution_duration_seconds":{"disabledLabelDimensions":["resource_namespace","resource_request_operation"]}}'
YAML
  cat >"$RESULTS/kyverno-policy.yaml" <<'YAML'
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: kubetrail-bench-provenance
spec:
  background: false
  rules:
  # require-annotations: the provenance kubetrail's TracePolicy requires.
  - name: require-provenance
    match:
      any:
      - resources:
          kinds: [Deployment, ConfigMap, RoleBinding]
          operations: [CREATE, UPDATE]
    exclude:
      any:
      - subjects:
        - {kind: Group, name: "system:serviceaccounts:kube-system"}
        - {kind: User, name: "system:kube-controller-manager"}
    validate:
      failureAction: Enforce
      message: "kubetrail.io/commit, repository, pipeline-run and approver annotations are required"
      pattern:
        metadata:
          annotations:
            kubetrail.io/commit: "?*"
            kubetrail.io/repository: "?*"
            kubetrail.io/pipeline-run: "?*"
            kubetrail.io/approver: "?*"
  # record-creation-details: who created the object, and who changed it last and when
  # (what kubetrail's mutating webhook records on every create and update).
  - name: record-admission
    match:
      any:
      - resources:
          kinds: [Deployment, ConfigMap, RoleBinding]
          operations: [CREATE, UPDATE]
    exclude:
      any:
      - subjects:
        - {kind: Group, name: "system:serviceaccounts:kube-system"}
        - {kind: User, name: "system:kube-controller-manager"}
    mutate:
      patchStrategicMerge:
        metadata:
          annotations:
            +(kyverno.io/created-by): "{{ request.userInfo.username }}"
            kyverno.io/last-admitted-by: "{{ request.userInfo.username }}"
            kyverno.io/last-admitted-at: "{{ time_now_utc() }}"
YAML
  kc apply -f "$RESULTS/kyverno-policy.yaml" >/dev/null
fi

{
  cat <<'YAML'
apiVersion: kubetrail.io/v1alpha1
kind: TracePolicy
metadata:
  name: bench-enforce
spec:
  mode: Enforce
  requiredFields: [commit, repository, pipelineRun, approver]
  signing:
    required: true
    publicKeys:
    - name: bench
      pem: |
YAML
  sed 's/^/        /' "$RESULTS/keys/signing.pub"
  echo "  secretLiterals: Deny"
} >"$RESULTS/tracepolicy.yaml"
kc apply -f "$RESULTS/tracepolicy.yaml" >/dev/null
policy_ready() {
  [[ $(kc get tracepolicy bench-enforce -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}') == True ]] &&
    [[ $(kc get validatingwebhookconfiguration kubetrail-validating-webhook-configuration \
      -o jsonpath='{.webhooks[?(@.name=="enforce.kubetrail.io")].failurePolicy}') == Fail ]]
}
wait_for "the TracePolicy to be Ready and the validating webhook to fail closed" 60 policy_ready
# kubetrail's webhook configurations as the manager left them (failurePolicy Fail), to
# put back each time the kubetrail mode starts.
webhook_name() { case $1 in mutating*) echo kubetrail-mutating-webhook-configuration ;; *) echo kubetrail-validating-webhook-configuration ;; esac; }
for kind in mutatingwebhookconfiguration validatingwebhookconfiguration; do
  kc get "$kind" "$(webhook_name "$kind")" -o json |
    jq 'del(.metadata.resourceVersion, .metadata.uid, .metadata.creationTimestamp, .metadata.generation, .metadata.managedFields)' \
      >"$RESULTS/kubetrail-$kind.json"
done
took

# ---------------------------------------------------------------------------------------
# Switching modes

MANAGER_RUNS=0
MANAGER_VARIANT=""
kubetrail_off() {
  kc delete mutatingwebhookconfiguration kubetrail-mutating-webhook-configuration --ignore-not-found >/dev/null
  kc delete validatingwebhookconfiguration kubetrail-validating-webhook-configuration --ignore-not-found >/dev/null
  stop_pid manager
}
# kubetrail_on [ARGS...]: kubetrail's webhook configurations and the manager with ARGS
# (restarted when it runs with other ones).
kubetrail_on() {
  for kind in mutatingwebhookconfiguration validatingwebhookconfiguration; do
    kc get "$kind" "$(webhook_name "$kind")" >/dev/null 2>&1 || kc create -f "$RESULTS/kubetrail-$kind.json" >/dev/null
  done
  if running manager && [[ $MANAGER_VARIANT != "$*" ]]; then stop_pid manager; fi
  if ! running manager; then
    MANAGER_RUNS=$((MANAGER_RUNS + 1))
    MANAGER_VARIANT="$*"
    [[ -f $STATE/logs/manager.log ]] && mv "$STATE/logs/manager.log" "$STATE/logs/manager.log.$MANAGER_RUNS"
    start manager "$MANAGER_BIN" --kubeconfig "$STATE/manager.kubeconfig" \
      --webhook-port "$WEBHOOK_PORT" --webhook-cert-dir "$STATE/certs" \
      --metrics-bind-address "127.0.0.1:$METRICS_PORT" --health-probe-bind-address "127.0.0.1:$PROBE_PORT" \
      --namespace kubetrail-system "$@"
  fi
}
KYVERNO_RUNS=0
kyverno_off() {
  stop_pid kyverno
  # Out of cluster (--serverIP) Kyverno leaves its webhook configurations behind.
  kc delete mutatingwebhookconfiguration,validatingwebhookconfiguration -l webhook.kyverno.io/managed-by --ignore-not-found >/dev/null
}
kyverno_on() {
  running kyverno && return 0
  KYVERNO_RUNS=$((KYVERNO_RUNS + 1))
  [[ -f $STATE/logs/kyverno.log ]] && mv "$STATE/logs/kyverno.log" "$STATE/logs/kyverno.log.$KYVERNO_RUNS"
  # The environment and flags of the Helm chart's admission controller (its defaults:
  # -v=2, admission reports on, PolicyApplied/PolicySkipped events omitted, VAP
  # generation on), with the out-of-cluster development flags: --kubeconfig, --serverIP
  # (the webhook configurations point at https://<serverIP>/...), and local ports.
  KYVERNO_NAMESPACE=kyverno KYVERNO_SERVICEACCOUNT_NAME=kyverno-admission-controller \
    KYVERNO_DEPLOYMENT=kyverno-admission-controller KYVERNO_POD_NAME=kyverno-admission-controller-bench \
    KYVERNO_SVC=kyverno-svc INIT_CONFIG=kyverno METRICS_CONFIG=kyverno-metrics \
    start kyverno "$KYVERNO_BIN" --kubeconfig "$KUBECONFIG_LOCAL" \
    --serverIP "127.0.0.1:$KYVERNO_PORT" --webhookServerHost 127.0.0.1 --webhookServerPort "$KYVERNO_PORT" \
    --caSecretName kyverno-svc.kyverno.svc.kyverno-tls-ca --tlsSecretName kyverno-svc.kyverno.svc.kyverno-tls-pair \
    --metricsHost 127.0.0.1 --metricsPort "$KYVERNO_METRICS_PORT" --controllerRuntimeMetricsAddress 0 \
    --resyncPeriod 15m --omitEvents PolicyApplied,PolicySkipped --generateValidatingAdmissionPolicy=true \
    --disableLogColor
}

# use_mode MODE: makes MODE the only admission setup in effect and checks it with
# server-side dry runs (benchadmission probe).
use_mode() {
  step "switching to mode $1"
  case $1 in
    none) kubetrail_off; want_mode kyverno && kyverno_off ;;
    kubetrail) want_mode kyverno && kyverno_off; kubetrail_on ;;
    kubetrail-admission-only) want_mode kyverno && kyverno_off; kubetrail_on --enable-controllers=false ;;
    kyverno) kubetrail_off; kyverno_on ;;
  esac
  local comp=""
  case $1 in kubetrail*) comp=manager ;; kyverno) comp=kyverno ;; esac
  if ! "$BENCH" probe -kubeconfig "$KUBECONFIG_LOCAL" -key "$RESULTS/keys/signing.key" -mode "$1" -timeout 4m 2>"$RESULTS/probe.err"; then
    cat "$RESULTS/probe.err" >&2
    [[ -n $comp ]] && { log "last lines of $STATE/logs/$comp.log:"; tail -n 30 "$STATE/logs/$comp.log" >&2; }
    exit 1
  fi
  "$BENCH" settle -kubeconfig "$KUBECONFIG_LOCAL"
  took
}

# ---------------------------------------------------------------------------------------
# Rounds

# Every concurrency level of a round runs all modes back to back, so that the blocks a
# ratio compares are minutes apart at most; the order of the modes mirrors from one
# group to the next (A B C, C B A, A B C, ...), which balances their positions and
# saves a switch at each boundary, and the order of the levels mirrors between rounds.
IFS=, read -r -a LEVELS <<<"$CONCURRENCY"
reverse() { local out=() i; for (( i=$#; i>0; i-- )); do out+=("${!i}"); done; echo "${out[*]}"; }
ORDER_LOG=()
group=0
CURRENT_MODE=""
for (( r=1; r<=ROUNDS; r++ )); do
  if (( r % 2 )); then levels=("${LEVELS[@]}"); else read -r -a levels <<<"$(reverse "${LEVELS[@]}")"; fi
  for c in "${levels[@]}"; do
    if (( group % 2 == 0 )); then modes=("${MODE_LIST[@]}"); else read -r -a modes <<<"$(reverse "${MODE_LIST[@]}")"; fi
    group=$((group + 1))
    ORDER_LOG+=("round $r, concurrency $c: ${modes[*]}")
    for m in "${modes[@]}"; do
      [[ $m == "$CURRENT_MODE" ]] || use_mode "$m"
      CURRENT_MODE=$m
      step "round $r/$ROUNDS, concurrency $c, mode $m: $PER_BLOCK objects (create, then update)"
      "$BENCH" run -kubeconfig "$KUBECONFIG_LOCAL" -key "$RESULTS/keys/signing.key" -mode "$m" -round "$r" \
        -objects "$PER_BLOCK" -concurrency "$c" -pids "$STATE/pids" -out "$JSONL"
      took
    done
  done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
log "loadavg after: $LOAD_AFTER"

# ---------------------------------------------------------------------------------------
# Report

step "writing $OUT"
CMD="hack/bench-admission.sh${ARGS_GIVEN:+ $ARGS_GIVEN}"
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]] && COMMIT="$COMMIT (with uncommitted changes)"
{
  cat <<MD
# Admission benchmark: through the real apiserver

Written by \`$CMD\` (hack/bench-admission.sh) on $START_DATE.

- Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, $(uname -sr), $(go version | cut -d' ' -f3). Shared with other work:
  **loadavg $LOAD_BEFORE before, $LOAD_AFTER after** (1, 5, 15 min), on $(nproc) cores. Absolute times
  are therefore noisy; the modes ran interleaved so that their ratios are comparable.
- Control plane: hack/local-up.sh — etcd, kube-apiserver and kube-controller-manager $K8S_VERSION built
  from source, all on this machine, and the load generator too (everything competes for the same cores).
- kubetrail: commit $COMMIT; manager as a local process (hack/local-up.sh), webhooks at https://localhost.
- Kyverno: $(want_mode kyverno && echo "$KYVERNO_VERSION admission controller (cmd/kyverno) built from its Go module, run out of cluster with
  \`--serverIP 127.0.0.1:<port>\` as the cluster admin, with the Helm chart's defaults otherwise (-v=2, admission
  reports on, PolicyApplied/PolicySkipped events omitted); Kyverno's reports and background controllers not running.
  The policy is a kyverno.io/v1 ClusterPolicy, which 1.19 deprecates in favour of the CEL-based ValidatingPolicy and
  MutatingPolicy (not measured)" || echo "not run")
- Reproduce: \`$CMD\`. Raw per-request latencies of this run were in \`$JSONL\` (not kept in the repository).

## What is measured

Each mode × concurrency × round is a block: a fresh namespace, ${PER_BLOCK} objects (80% Deployments with two
containers and ten env vars, 10% ConfigMaps, 10% RoleBindings to a read-only Role), each **created** (POST) and then
**updated** (PATCH, a JSON merge patch: new image or data, new commit and pipeline-run annotations, a new
signature). All objects are stamped and signed in memory before the clock starts. Latency is per request, from the
client (client-go, no client-side rate limit, one HTTP/2 connection); throughput is requests per second of wall time of
the measured phases. Before each measured block: 20 unmeasured creates and updates (warm-up), then a wait until the
apiserver sees under 5 writes/s (the controllers' follow-up work of earlier blocks is done). After it the objects are
deleted. Deployments have \`replicas: 0\` (there is no scheduler or kubelet), so the deployment controller still
creates a ReplicaSet per revision but no Pods.

| mode | admission in effect |
|---|---|
| none | no webhook configurations at all; kubetrail's manager and Kyverno stopped |
| kubetrail | kubetrail's mutating and validating webhooks and its manager (reconcilers writing TraceRecords included); TracePolicy below |
| kyverno | Kyverno's admission controller and its webhooks; ClusterPolicy below |
$(want_mode kubetrail-admission-only && echo "| kubetrail-admission-only | diagnostic: as kubetrail, but the manager runs with --enable-controllers=false (webhooks only, no TraceRecords written) |" || true)

Switching modes deletes the other tools' webhook configurations and stops their processes, then checks with
server-side dry runs that exactly the intended webhooks answer (a stamped Deployment carries the tool's annotation,
an unstamped ConfigMap is denied; with none, neither). Order of the blocks (each concurrency level runs every
mode back to back, in mirrored order, so that compared blocks ran minutes apart at most):

$(printf -- '- %s\n' "${ORDER_LOG[@]}")

kubetrail's policy (the key is generated per run):

\`\`\`yaml
$(sed '/BEGIN PUBLIC KEY/,/END PUBLIC KEY/c\        <ed25519 public key generated for the run>' "$RESULTS/tracepolicy.yaml")
\`\`\`

MD
  if want_mode kyverno; then
    cat <<MD
Kyverno's policy — what kubetrail's does minus what Kyverno has no equivalent for (verifying kubetrail's DSSE
signature, secret scanning, format checks of the values):

\`\`\`yaml
$(cat "$RESULTS/kyverno-policy.yaml")
\`\`\`

MD
  fi
  cat <<'MD'
How to read the figures: every admission webhook is one more round trip through another process, and on a shared
2-core machine each hop waits for a CPU, so the latency ratios here are larger than on a machine with idle cores.
A p99 of 600 requests is the 6th slowest request; on this machine one noisy block can move it 2-3× (see "Each
round"). CPU time per request (below) does not grow with the machine's load and is the steadier measure of what each
mode costs.

MD
  echo "## Results"
  echo
  "$BENCH" report -in "$JSONL"
} >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
took
log "wrote $OUT; raw per-request results in $JSONL"
