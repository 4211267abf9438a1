# Shared settings of the local control plane scripts. Sourced, not run.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$ROOT/bin
STATE=${KUBETRAIL_LOCAL_DIR:-$ROOT/.local}
export KUBECONFIG_LOCAL=$STATE/kubeconfig

# Ports: a base derived from the checkout's path, so two checkouts on one machine do not
# collide; KUBETRAIL_PORT_BASE overrides it.
if [[ -z ${KUBETRAIL_PORT_BASE:-} ]]; then
  KUBETRAIL_PORT_BASE=$(( 20000 + ($(printf '%s' "$ROOT" | cksum | cut -d' ' -f1) % 400) * 10 ))
fi
ETCD_PORT=$((KUBETRAIL_PORT_BASE + 0))
ETCD_PEER_PORT=$((KUBETRAIL_PORT_BASE + 1))
APISERVER_PORT=$((KUBETRAIL_PORT_BASE + 2))
KCM_PORT=$((KUBETRAIL_PORT_BASE + 3))
WEBHOOK_PORT=$((KUBETRAIL_PORT_BASE + 4))
METRICS_PORT=$((KUBETRAIL_PORT_BASE + 5))
PROBE_PORT=$((KUBETRAIL_PORT_BASE + 6))
# A second manager replica (hack/local-restart.sh manager-2, for leader election tests).
WEBHOOK2_PORT=$((KUBETRAIL_PORT_BASE + 7))
METRICS2_PORT=$((KUBETRAIL_PORT_BASE + 8))
PROBE2_PORT=$((KUBETRAIL_PORT_BASE + 9))

say() { printf '\033[1m[kubetrail]\033[0m %s\n' "$*" >&2; }

# wait_for DESCRIPTION SECONDS COMMAND...: retries COMMAND until it succeeds.
wait_for() {
  local what=$1 secs=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if (( SECONDS >= deadline )); then
      say "timed out after ${secs}s waiting for $what"
      return 1
    fi
    sleep 0.5
  done
}

# start NAME COMMAND...: runs COMMAND in the background, logging to $STATE/logs/NAME.log.
start() {
  local name=$1; shift
  mkdir -p "$STATE/logs" "$STATE/pids"
  nohup "$@" >"$STATE/logs/$name.log" 2>&1 &
  echo $! >"$STATE/pids/$name"
}

# alive_and NAME COMMAND...: fails loudly (and stops waiting) when NAME has died, else runs
# COMMAND. Keeps wait_for from waiting out its timeout on a process that crashed.
alive_and() {
  local name=$1; shift
  if ! running "$name"; then
    say "$name exited; last lines of $STATE/logs/$name.log:"
    tail -n 15 "$STATE/logs/$name.log" >&2
    exit 1
  fi
  "$@"
}

running() { [[ -f $STATE/pids/$1 ]] && kill -0 "$(cat "$STATE/pids/$1")" 2>/dev/null; }

# kc_local ARGS...: kubectl against the local control plane as kubernetes-admin.
kc_local() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG_LOCAL" "$@"; }

# The components' command lines, shared by hack/local-up.sh (first start) and
# hack/local-restart.sh (restart with the same flags). They expect the state local-up.sh
# writes under $STATE: certificates, tokens, kubeconfigs.

start_kube_apiserver() {
  start kube-apiserver "$BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$APISERVER_PORT" \
    --tls-cert-file "$STATE/pki/apiserver/tls.crt" --tls-private-key-file "$STATE/pki/apiserver/tls.key" \
    --token-auth-file "$STATE/pki/tokens.csv" \
    --authorization-mode RBAC \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$STATE/pki/sa/tls.key" \
    --service-account-signing-key-file "$STATE/pki/sa/tls.key" \
    --service-cluster-ip-range 10.96.0.0/24 \
    --endpoint-reconciler-type none \
    --cert-dir "$STATE/pki/apiserver-generated"
}

# kube-controller-manager's default 20 QPS per controller takes over ten minutes to
# settle thousands of new Deployments (hack/bench-scale.sh waits for that before its cold
# start); 100 keeps that wait to a minute or two.
start_kube_controller_manager() {
  start kube-controller-manager "$BIN/kube-controller-manager" \
    --kubeconfig "$STATE/kcm.kubeconfig" \
    --authentication-kubeconfig "$STATE/kcm.kubeconfig" --authorization-kubeconfig "$STATE/kcm.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$KCM_PORT" --leader-elect=false \
    --use-service-account-credentials \
    --service-account-private-key-file "$STATE/pki/sa/tls.key" \
    --root-ca-file "$STATE/pki/apiserver/ca.crt" \
    --cert-dir "$STATE/pki/kcm-generated" \
    --kube-api-qps 100 --kube-api-burst 200
}

# manifest_gomemlimit: the GOMEMLIMIT config/manager/manager.yaml gives the in-cluster
# manager, so that the local one (and what benchmarks measure of it) runs the same way.
manifest_gomemlimit() {
  awk '/- name: GOMEMLIMIT/ {getline; sub(/.*value: */, ""); print; exit}' "$ROOT/config/manager/manager.yaml"
}

# start_manager NAME WEBHOOK_PORT METRICS_PORT PROBE_PORT [ARGS...]: runs bin/manager as
# ServiceAccount kubetrail-system/kubetrail-controller-manager ($STATE/manager.kubeconfig),
# serving the webhook certificate of $STATE/certs, with ARGS appended to its flags.
start_manager() {
  local name=$1 webhook_port=$2 metrics_port=$3 probe_port=$4; shift 4
  GOMEMLIMIT=${GOMEMLIMIT:-$(manifest_gomemlimit)} start "$name" "$BIN/manager" --kubeconfig "$STATE/manager.kubeconfig" \
    --webhook-port "$webhook_port" --webhook-cert-dir "$STATE/certs" \
    --metrics-bind-address "127.0.0.1:$metrics_port" --health-probe-bind-address "127.0.0.1:$probe_port" \
    --namespace kubetrail-system "$@"
}

# webhook_answers: kubetrail's webhooks, as the webhook configurations point at them,
# really stamp: a server-side dry run through the mutating webhook comes back with
# kubetrail's admission annotation.
webhook_answers() {
  kc_local create configmap kubetrail-readiness-probe -n default --dry-run=server \
    -o jsonpath='{.metadata.annotations.kubetrail\.io/admitted-by}' 2>/dev/null | grep -q .
}
