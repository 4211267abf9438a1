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
