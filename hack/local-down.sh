#!/usr/bin/env bash
# Stops the local control plane and kubetrail started by hack/local-up.sh and removes
# its state. Safe to run at any time, also after a crash or twice in a row.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

for name in manager kube-controller-manager kube-apiserver etcd; do
  if [[ -f $STATE/pids/$name ]]; then
    kill "$(cat "$STATE/pids/$name")" 2>/dev/null || true
  fi
done
# Anything still running from this state directory (stale pid files after a crash).
if [[ -d $STATE ]]; then
  pkill -f -- "$STATE/" 2>/dev/null || true
  sleep 1
  pkill -9 -f -- "$STATE/" 2>/dev/null || true
fi
rm -rf "$STATE"
say "local control plane stopped; state removed"
