#!/usr/bin/env bash
# Starts a throwaway local control plane (etcd, kube-apiserver, kube-controller-manager,
# all real, built from source by hack/build-control-plane.sh) on loopback, installs
# kubetrail into it with kustomize (config/local) and runs the manager as a local
# process with the RBAC of config/rbac. Returns when kubetrail's webhooks answer.
#
#   kubeconfig:  .local/kubeconfig      logs: .local/logs/     stop: hack/local-down.sh
#
# Idempotent: when everything is already up it only says so; a half-started state is
# torn down and started again.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

KUBECTL=$BIN/kubectl
kc() { "$KUBECTL" --kubeconfig "$KUBECONFIG_LOCAL" "$@"; }

healthy() {
  running etcd && running kube-apiserver && running kube-controller-manager && running manager &&
    kc get --raw /readyz >/dev/null 2>&1
}
if healthy; then
  say "local control plane already running (kubeconfig: $KUBECONFIG_LOCAL)"
  exit 0
fi
if [[ -d $STATE ]]; then
  say "found a half-started local control plane; cleaning it up first"
  "$ROOT/hack/local-down.sh"
fi

if [[ ! -x $BIN/kube-apiserver || ! -x $BIN/etcd || ! -x $BIN/kube-controller-manager || ! -x $KUBECTL ]]; then
  say "control-plane binaries missing: building them (first time: about 10 minutes; cached afterwards)"
  "$ROOT/hack/build-control-plane.sh"
fi
if [[ ! -x $BIN/manager || -n $(find "$ROOT" -name '*.go' -newer "$BIN/manager" -not -path '*/.local/*' -print -quit 2>/dev/null) ]]; then
  say "building the manager (bin/manager)"
  go build -o "$BIN/manager" "$ROOT"
fi

mkdir -p "$STATE"/{pki,logs,pids,etcd}
say "ports: etcd $ETCD_PORT, kube-apiserver $APISERVER_PORT, webhook $WEBHOOK_PORT (set KUBETRAIL_PORT_BASE to move them)"

# Certificates: the apiserver's serving cert, a service-account signing key, and the
# webhook serving cert whose CA goes into the webhook configurations.
go run ./hack/gencert -dir "$STATE/pki/apiserver" -host 127.0.0.1
go run ./hack/gencert -dir "$STATE/pki/sa" -host service-accounts
go run ./hack/gencert -dir "$STATE/certs" -host localhost

ADMIN_TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
KCM_TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
cat >"$STATE/pki/tokens.csv" <<CSV
$ADMIN_TOKEN,kubernetes-admin,uid-admin,"system:masters"
$KCM_TOKEN,system:kube-controller-manager,uid-kcm
CSV

write_kubeconfig() { # file user token
  cat >"$1" <<KC
apiVersion: v1
kind: Config
clusters:
- name: kubetrail-local
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority: $STATE/pki/apiserver/ca.crt
users:
- name: $2
  user:
    token: $3
contexts:
- name: kubetrail-local
  context: {cluster: kubetrail-local, user: $2}
current-context: kubetrail-local
KC
}
write_kubeconfig "$KUBECONFIG_LOCAL" kubernetes-admin "$ADMIN_TOKEN"
write_kubeconfig "$STATE/kcm.kubeconfig" system:kube-controller-manager "$KCM_TOKEN"

say "starting etcd"
start etcd "$BIN/etcd" --name default --data-dir "$STATE/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "default=http://127.0.0.1:$ETCD_PEER_PORT" --unsafe-no-fsync
wait_for "etcd" 30 alive_and etcd curl -sf "http://127.0.0.1:$ETCD_PORT/health"

say "starting kube-apiserver (ready in about 10-20 seconds)"
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
wait_for "kube-apiserver /readyz" 120 alive_and kube-apiserver kc get --raw /readyz

say "starting kube-controller-manager"
start kube-controller-manager "$BIN/kube-controller-manager" \
  --kubeconfig "$STATE/kcm.kubeconfig" \
  --authentication-kubeconfig "$STATE/kcm.kubeconfig" --authorization-kubeconfig "$STATE/kcm.kubeconfig" \
  --bind-address 127.0.0.1 --secure-port "$KCM_PORT" --leader-elect=false \
  --use-service-account-credentials \
  --service-account-private-key-file "$STATE/pki/sa/tls.key" \
  --root-ca-file "$STATE/pki/apiserver/ca.crt" \
  --cert-dir "$STATE/pki/kcm-generated"

say "installing kubetrail with kustomize (config/local)"
mkdir -p "$STATE/kustomize"
CA_BUNDLE=$(base64 -w0 <"$STATE/certs/ca.crt")
url() { printf '{"url": "https://localhost:%s%s", "caBundle": "%s"}' "$WEBHOOK_PORT" "$1" "$CA_BUNDLE"; }
cat >"$STATE/kustomize/kustomization.yaml" <<KUST
# Generated by hack/local-up.sh: config/local with the webhooks pointed at the local manager.
resources:
- ../../config/local
patches:
- target: {kind: MutatingWebhookConfiguration}
  patch: |-
    - {op: replace, path: /webhooks/0/clientConfig, value: $(url /mutate-tracked)}
- target: {kind: ValidatingWebhookConfiguration}
  patch: |-
    - {op: replace, path: /webhooks/0/clientConfig, value: $(url /validate-tracked)}
    - {op: replace, path: /webhooks/1/clientConfig, value: $(url /validate-tracerecord)}
KUST
kc apply -k "$STATE/kustomize" >"$STATE/logs/install.log"
kc wait --for condition=established --timeout 60s crd/tracerecords.kubetrail.io crd/tracepolicies.kubetrail.io >/dev/null

# The manager runs with its own service account's token and the RBAC of config/rbac,
# as it would in the cluster, so missing permissions show up here first.
say "starting the kubetrail manager as ServiceAccount kubetrail-system/kubetrail-controller-manager"
MANAGER_TOKEN=$(kc create token kubetrail-controller-manager -n kubetrail-system --duration 48h)
write_kubeconfig "$STATE/manager.kubeconfig" kubetrail-controller-manager "$MANAGER_TOKEN"
start manager "$BIN/manager" --kubeconfig "$STATE/manager.kubeconfig" \
  --webhook-port "$WEBHOOK_PORT" --webhook-cert-dir "$STATE/certs" \
  --metrics-bind-address "127.0.0.1:$METRICS_PORT" --health-probe-bind-address "127.0.0.1:$PROBE_PORT" \
  --namespace kubetrail-system ${KUBETRAIL_MANAGER_ARGS:-}

# Ready means the webhook really stamps: a server-side dry run through the mutating
# webhook comes back with kubetrail's admission annotation.
webhook_answers() {
  kc create configmap kubetrail-readiness-probe -n default --dry-run=server -o jsonpath='{.metadata.annotations.kubetrail\.io/admitted-by}' 2>/dev/null | grep -q .
}
say "waiting for kubetrail's webhooks to answer"
if ! wait_for "kubetrail's webhooks" 90 webhook_answers; then
  say "the manager did not come up; last lines of $STATE/logs/manager.log:"
  tail -n 30 "$STATE/logs/manager.log" >&2 || true
  exit 1
fi
say "ready: export KUBECONFIG=$KUBECONFIG_LOCAL  (bin/kubectl get tr -A)"
