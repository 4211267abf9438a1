#!/usr/bin/env bash
# make demo: plays kubetrail's mission on a throwaway local control plane and prints,
# for each case, what a person runs and what kubectl shows. Leaves nothing running.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

DEMO=$STATE/demo
KUBECTL=$BIN/kubectl
TRAIL=$BIN/kubectl-trail
trap '"$ROOT/hack/local-down.sh" >/dev/null 2>&1 || true' EXIT

step() { printf '\n\033[1;36m=== %s\033[0m\n' "$*"; }
# show CMD...: prints the command as a person would type it, then runs it.
show() { printf '\033[2m$ %s\033[0m\n' "$*"; "$@"; }
# as IDENTITY CMD...: runs kubectl as one of the demo's identities.
as() { local who=$1; shift; KUBECONFIG=$DEMO/$who.kubeconfig "$@"; }
expect_denied() {
  if out=$("$@" 2>&1); then echo "$out"; say "expected a denial, but it was admitted"; exit 1; fi
  echo "$out" | sed 's/^/  /'
}

"$ROOT/hack/local-up.sh"
export KUBECONFIG=$KUBECONFIG_LOCAL
mkdir -p "$DEMO"
sha() { printf '%s' "$1" | sha1sum | cut -d' ' -f1; }

step "Setting the scene: namespaces, a pipeline identity, an AI agent identity, a signing key"
$KUBECTL create namespace ci >/dev/null
$KUBECTL create namespace agents >/dev/null
$KUBECTL create serviceaccount deployer -n ci >/dev/null
$KUBECTL create serviceaccount rollout-copilot -n agents >/dev/null
$KUBECTL create clusterrolebinding ci-deployer --clusterrole cluster-admin --serviceaccount ci:deployer >/dev/null
$KUBECTL create clusterrolebinding agent-ingress --clusterrole admin --serviceaccount agents:rollout-copilot >/dev/null
for ns in shop payments checkout legacy; do $KUBECTL create namespace $ns >/dev/null; done
$KUBECTL label namespace shop payments checkout kubetrail.io/environment=production >/dev/null
mk_kubeconfig() { # name sa-namespace sa-name
  local token; token=$($KUBECTL create token "$3" -n "$2" --duration 2h)
  $KUBECTL config view --raw --minify >"$DEMO/$1.kubeconfig"
  KUBECONFIG=$DEMO/$1.kubeconfig $KUBECTL config set-credentials "$1" --token "$token" >/dev/null
  KUBECONFIG=$DEMO/$1.kubeconfig $KUBECTL config set-context --current --user "$1" >/dev/null
}
mk_kubeconfig pipeline ci deployer
mk_kubeconfig agent agents rollout-copilot
cp "$KUBECONFIG" "$DEMO/human.kubeconfig"   # kubernetes-admin, a human with cluster-admin
show $TRAIL keygen --out "$DEMO/ci" >/dev/null
$KUBECTL create secret generic kubetrail-signing -n kubetrail-system --from-file=ed25519.pub="$DEMO/ci.pub" >/dev/null

cat >"$DEMO/policies.yaml" <<YAML
apiVersion: kubetrail.io/v1alpha1
kind: TracePolicy
metadata: {name: production}
spec:
  mode: Enforce
  namespaceSelector: {matchLabels: {kubetrail.io/environment: production}}
  resources: [{group: apps}, {group: networking.k8s.io}, {group: "", kinds: [ConfigMap, Service]}]
  requiredFields: [commit, repository, pipelineRun, approver, actor]
  trustedSubmitters:
  - {kind: ServiceAccount, namespace: ci, name: deployer}
  - {kind: ServiceAccount, namespace: agents, name: rollout-copilot}
  signing:
    audience: demo
    publicKeys: [{name: ci, secretRef: {namespace: kubetrail-system, name: kubetrail-signing, key: ed25519.pub}}]
  breakGlass: {allowed: [{kind: User, name: kubernetes-admin}]}
  secretLiterals: Warn
  ignore: [{kinds: [Deployment], paths: [/spec/replicas]}]
---
apiVersion: kubetrail.io/v1alpha1
kind: TracePolicy
metadata: {name: rbac-escalations}
spec:
  mode: Enforce
  resources: [{group: rbac.authorization.k8s.io, kinds: [ClusterRoleBinding]}]
  exempt: [{kind: User, name: kubernetes-admin}]
  rbacEscalation: {action: Deny, minApprovers: 2}
---
apiVersion: kubetrail.io/v1alpha1
kind: TracePolicy
metadata: {name: checkout-freeze}
spec:
  mode: Enforce
  namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: checkout}}
  breakGlass: {allowed: [{kind: User, name: kubernetes-admin}]}
  changeWindows:
  - name: black-friday
    start: "$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)"
    end: "$(date -u -d '+1 day' +%Y-%m-%dT%H:%M:%SZ)"
---
apiVersion: kubetrail.io/v1alpha1
kind: TracePolicy
metadata: {name: audit-everything}
spec:
  mode: Audit
  requiredFields: [commit]
YAML
show $KUBECTL apply -f "$DEMO/policies.yaml"
sleep 2

# stamp_and_apply WHO FILE FLAGS...: the pipeline step, exactly as a CI job would run it.
stamp_and_apply() {
  local who=$1 file=$2; shift 2
  printf '\033[2m$ kubectl trail stamp %s -f %s | kubectl apply -f -   (as %s)\033[0m\n' "$*" "$(basename "$file")" "$who"
  local sign=()
  # Signing: for this cluster, over what the apiserver will admit (a server-side dry run as WHO).
  case " $* " in *" --key "*) sign=(--audience demo --server-dry-run --kubeconfig "$DEMO/$who.kubeconfig") ;; esac
  $TRAIL stamp --no-env "$@" "${sign[@]}" -f "$file" | as "$who" $KUBECTL apply -f -
}
REPO=https://github.com/acme/shop
C1=$(sha release-1); C2=$(sha rbac-change); C3=$(sha rotate-token); C4=$(sha ingress-canary); C5=$(sha checkout-hotfix)

step "1. A pipeline deploys a stamped, signed app; an unstamped deploy by a human is rejected"
cat >"$DEMO/web.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      serviceAccountName: builder
      containers: [{name: app, image: "ghcr.io/acme/web:1.4.0"}]
YAML
$KUBECTL create serviceaccount builder -n shop >/dev/null
stamp_and_apply pipeline "$DEMO/web.yaml" --key "$DEMO/ci.key" --commit "$C1" --repository $REPO \
  --pull-request 101 --pipeline-run https://ci.acme.dev/runs/5001 --approver alice,bob --actor pipeline --source code --path deploy/web.yaml
sed 's/{name: web,/{name: web-hotfix,/' "$DEMO/web.yaml" >"$DEMO/web-hotfix.yaml"
printf '\033[2m$ kubectl apply -f web-hotfix.yaml   (as a human, no provenance)\033[0m\n'
expect_denied as human $KUBECTL apply -f "$DEMO/web-hotfix.yaml"

step "2. A service account gains cluster-admin: once through a traced change, once by hand"
cat >"$DEMO/builder-admin.yaml" <<'YAML'
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: builder-cluster-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: builder, namespace: shop}]
YAML
printf '\033[2m# one approver is not enough for a cluster-admin grant:\033[0m\n'
expect_denied bash -c "$TRAIL stamp --no-env --commit $C2 --repository $REPO --pull-request 102 --pipeline-run https://ci.acme.dev/runs/5002 --approver alice --actor pipeline -f $DEMO/builder-admin.yaml | KUBECONFIG=$DEMO/pipeline.kubeconfig $KUBECTL apply -f -"
stamp_and_apply pipeline "$DEMO/builder-admin.yaml" --key "$DEMO/ci.key" --commit "$C2" --repository $REPO \
  --pull-request 102 --pipeline-run https://ci.acme.dev/runs/5002 --approver alice,carol --actor pipeline --source code --path rbac/builder.yaml
$KUBECTL create serviceaccount legacy-bot -n legacy >/dev/null
$KUBECTL create deployment legacy-cron --image=busybox:1.36 -n legacy >/dev/null
$KUBECTL patch deployment legacy-cron -n legacy -p '{"spec":{"template":{"spec":{"serviceAccountName":"legacy-bot"}}}}' >/dev/null
show $KUBECTL create rolebinding legacy-bot-admin -n legacy --clusterrole cluster-admin --serviceaccount legacy:legacy-bot

step "3. A rotated secret lands in a pod spec from a CI variable, through a generated manifest"
ROTATED_TOKEN="ghp_$(head -c 64 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 36)"
cat >"$DEMO/payments.yaml" <<YAML
# Source: payments/templates/deployment.yaml (helm template)
apiVersion: apps/v1
kind: Deployment
metadata: {name: payments, namespace: payments}
spec:
  selector: {matchLabels: {app: payments}}
  template:
    metadata: {labels: {app: payments}}
    spec:
      containers:
      - name: api
        image: ghcr.io/acme/payments:2.0.1
        env:
        - {name: GITHUB_TOKEN, value: "$ROTATED_TOKEN"}
YAML
stamp_and_apply pipeline "$DEMO/payments.yaml" --key "$DEMO/ci.key" --commit "$C3" --repository $REPO \
  --pull-request 103 --pipeline-run https://ci.acme.dev/runs/5003 --approver dave,erin --actor pipeline --source ci-variable --path charts/payments

step "4. An AI agent changes an Ingress rule during a rollout"
cat >"$DEMO/ingress.yaml" <<'YAML'
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop, namespace: shop}
spec:
  rules:
  - host: shop.acme.dev
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
YAML
stamp_and_apply pipeline "$DEMO/ingress.yaml" --key "$DEMO/ci.key" --commit "$C1" --repository $REPO \
  --pull-request 101 --pipeline-run https://ci.acme.dev/runs/5001 --approver alice,bob --actor pipeline --source code --path deploy/ingress.yaml
sed 's#- {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}#- {path: /, pathType: Prefix, backend: {service: {name: web-canary, port: {number: 80}}}}#' "$DEMO/ingress.yaml" >"$DEMO/ingress-canary.yaml"
stamp_and_apply agent "$DEMO/ingress-canary.yaml" --commit "$C4" --repository $REPO --pull-request 104 \
  --pipeline-run "rollout-copilot/run-88" --approver alice --actor agent --agent "rollout-copilot run 88 (canary shift approved in PR 104)" --source generated:rollout-copilot
sleep 3
show $TRAIL why ingress/shop -n shop

step "5. A change inside a freeze is rejected, then pushed through with break-glass"
cat >"$DEMO/checkout.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: checkout-flags, namespace: checkout}
data: {payments.retry: "3"}
YAML
expect_denied bash -c "$TRAIL stamp --no-env --commit $C5 --repository $REPO --pipeline-run https://ci.acme.dev/runs/5005 --approver frank --actor pipeline -f $DEMO/checkout.yaml | KUBECONFIG=$DEMO/pipeline.kubeconfig $KUBECTL apply -f -"
printf '\033[2m$ kubectl annotate -f checkout.yaml kubetrail.io/break-glass="INC-2203: ..." --local -o yaml | kubectl apply -f -   (as the on-call human)\033[0m\n'
$TRAIL stamp --no-env --commit "$C5" --repository $REPO --pipeline-run https://ci.acme.dev/runs/5005 --approver frank --actor human -f "$DEMO/checkout.yaml" |
  $KUBECTL annotate -f - --local -o yaml kubetrail.io/break-glass="INC-2203: retries exhausted, checkout failing" | as human $KUBECTL apply -f -

step "What kubectl shows"
sleep 3
show $KUBECTL get tr -A
show $TRAIL findings -A
show $TRAIL why clusterrolebinding/builder-cluster-admin
show $TRAIL why deployment/payments -n payments
show $TRAIL commit "${C1:0:8}"
show $TRAIL export --since 1h -o "$DEMO/evidence.json"
show $TRAIL export --verify "$DEMO/evidence.json"
show $TRAIL why deployment/web -n shop
step "Done: the local control plane is being removed"
