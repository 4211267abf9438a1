#!/usr/bin/env bash
# Restarts one component of the local control plane started by hack/local-up.sh, with
# the flags local-up.sh gave it, and returns when the component is ready again. Used by
# the reliability specs (test/e2e/reliability_test.go) and handy by hand.
#
#   hack/local-restart.sh COMPONENT [ARGS...]
#
# COMPONENT
#   manager                  the kubetrail manager. Ready: kubetrail's webhooks stamp a
#                            server-side dry run again (as local-up.sh checks).
#   manager-2                a second manager replica on ports base+7 (webhook), base+8
#                            (metrics), base+9 (probes), for leader election: give both
#                            --leader-elect --leader-election-namespace kubetrail-system,
#                            or both reconcile. The webhook configurations keep pointing
#                            at the first one. Ready: its /readyz answers and its webhook
#                            port speaks TLS with the local webhook CA.
#   kube-apiserver           Ready: /readyz answers.
#   kube-controller-manager  Ready: its /healthz answers.
#
# ARGS are appended to the manager's flags for this start only, e.g.
#   hack/local-restart.sh manager --leader-elect --leader-election-namespace kubetrail-system
# The manager always gets the flags local-up.sh gave it, including the
# KUBETRAIL_MANAGER_ARGS local-up.sh was started with (kept in $STATE/manager.args);
# a later restart without ARGS goes back to exactly those. ARGS are refused for the
# other components.
#
# The old process, when still alive, is stopped first: SIGTERM, then SIGKILL after a
# grace period (manager 20s, kube-apiserver 20s, kube-controller-manager 15s). Its log
# is kept as $STATE/logs/COMPONENT.log.N; the new one logs to $STATE/logs/COMPONENT.log.
# bin/manager is not rebuilt: the restart runs the binary local-up.sh (or make build)
# left. Same environment as local-up.sh: KUBETRAIL_LOCAL_DIR (default .local) and
# KUBETRAIL_PORT_BASE select the plane. hack/local-down.sh stops everything, manager-2
# included.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit "${1:-2}"
}
(( $# >= 1 )) || usage
component=$1; shift
case $component in
  manager | manager-2) ;;
  kube-apiserver | kube-controller-manager)
    (( $# == 0 )) || { say "$component takes no extra flags (got: $*)"; exit 2; } ;;
  -h | --help) usage 0 ;;
  *) say "unknown component '$component' (manager, manager-2, kube-apiserver, kube-controller-manager)"; exit 2 ;;
esac
if [[ ! -f $KUBECONFIG_LOCAL || ! -f $STATE/manager.kubeconfig ]]; then
  say "no local control plane in $STATE: start it with hack/local-up.sh first"
  exit 1
fi

# alive PID: the process exists and is not a zombie waiting to be reaped.
alive() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $state && $state != Z && $state != X ]]
}

# stop NAME GRACE: stops the process of $STATE/pids/NAME, if alive: SIGTERM, then SIGKILL
# once GRACE seconds have passed. Returns when it is gone.
stop() {
  local name=$1 grace=$2 pid
  [[ -f $STATE/pids/$name ]] || return 0
  pid=$(cat "$STATE/pids/$name")
  if alive "$pid"; then
    say "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + grace))
    while alive "$pid" && (( SECONDS < deadline )); do sleep 0.2; done
    if alive "$pid"; then
      say "$name did not stop within ${grace}s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      deadline=$((SECONDS + 10))
      while alive "$pid" && (( SECONDS < deadline )); do sleep 0.2; done
      if alive "$pid"; then
        say "$name (pid $pid) survived SIGKILL"
        exit 1
      fi
    fi
  fi
  rm -f "$STATE/pids/$name"
}

# keep_log NAME: moves the old log aside as NAME.log.N.
keep_log() {
  local log=$STATE/logs/$1.log n=1
  [[ -f $log ]] || return 0
  while [[ -e $log.$n ]]; do n=$((n + 1)); done
  mv "$log" "$log.$n"
}

# alive_and_z NAME COMMAND...: alive_and (hack/lib.sh) that also takes a zombie for dead.
alive_and_z() {
  local name=$1; shift
  if ! alive "$(cat "$STATE/pids/$name")"; then
    say "$name exited; last lines of $STATE/logs/$name.log:"
    tail -n 30 "$STATE/logs/$name.log" >&2
    exit 1
  fi
  "$@"
}

fail_with_log() {
  say "last lines of $STATE/logs/$1.log:"
  tail -n 30 "$STATE/logs/$1.log" >&2 || true
  exit 1
}

apiserver_ready() { kc_local get --raw /readyz; }
kcm_healthy() { curl -sfk --max-time 2 "https://127.0.0.1:$KCM_PORT/healthz"; }
manager_ready() { # PROBE_PORT WEBHOOK_PORT
  curl -sf --max-time 2 "http://127.0.0.1:$1/readyz" &&
    curl -s --max-time 2 -o /dev/null --cacert "$STATE/certs/ca.crt" "https://localhost:$2/readyz"
}

started=$SECONDS
case $component in
  kube-apiserver)
    stop kube-apiserver 20
    keep_log kube-apiserver
    say "starting kube-apiserver (ready in about 10-20 seconds)"
    start_kube_apiserver
    wait_for "kube-apiserver /readyz" 120 alive_and_z kube-apiserver apiserver_ready || fail_with_log kube-apiserver
    ;;
  kube-controller-manager)
    stop kube-controller-manager 15
    keep_log kube-controller-manager
    say "starting kube-controller-manager"
    start_kube_controller_manager
    wait_for "kube-controller-manager /healthz" 60 alive_and_z kube-controller-manager kcm_healthy || fail_with_log kube-controller-manager
    ;;
  manager | manager-2)
    if ! apiserver_ready >/dev/null 2>&1; then
      say "kube-apiserver is not ready; restart it first (hack/local-restart.sh kube-apiserver)"
      exit 1
    fi
    saved=()
    if [[ -f $STATE/manager.args ]]; then
      read -r -a saved <"$STATE/manager.args" || true
    fi
    stop "$component" 20
    keep_log "$component"
    if [[ $component == manager ]]; then
      say "starting the kubetrail manager${*:+ with extra flags: $*}"
      start_manager manager "$WEBHOOK_PORT" "$METRICS_PORT" "$PROBE_PORT" ${saved[@]+"${saved[@]}"} "$@"
      say "waiting for kubetrail's webhooks to answer"
      wait_for "kubetrail's webhooks" 90 alive_and_z manager webhook_answers || fail_with_log manager
    else
      say "starting a second kubetrail manager on webhook port $WEBHOOK2_PORT${*:+ with extra flags: $*}"
      start_manager manager-2 "$WEBHOOK2_PORT" "$METRICS2_PORT" "$PROBE2_PORT" ${saved[@]+"${saved[@]}"} "$@"
      wait_for "manager-2 /readyz and its webhook port" 90 alive_and_z manager-2 manager_ready "$PROBE2_PORT" "$WEBHOOK2_PORT" ||
        fail_with_log manager-2
    fi
    ;;
esac
say "$component ready after $((SECONDS - started))s (pid $(cat "$STATE/pids/$component"))"
