#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-controller-manager and kubectl from Go modules
# (this machine cannot download release binaries) and links them into bin/.
#
# The binaries are cached by version outside the clone, the way setup-envtest keeps
# its downloads, so a fresh clone on the same machine (CI's case) reuses them:
#   ${KUBETRAIL_TOOLS_CACHE:-$HOME/.local/share/kubetrail-tools}/k8s/<version>-<os>-<arch>/
#
# Kubernetes is built in a throwaway module that requires k8s.io/kubernetes and replaces
# each staging module (the list in k8s.io/kubernetes's own go.mod) with the published
# v0.x.y of the same module. The version is stamped in with -ldflags so that
# `kubectl version` and the apiserver report it.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-1.37.2}
ETCD_VERSION=${ETCD_VERSION:-3.6.16}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN_DIR=${BIN_DIR:-$ROOT/bin}
GOOS=$(go env GOOS)
GOARCH=$(go env GOARCH)
CACHE_ROOT=${KUBETRAIL_TOOLS_CACHE:-${XDG_DATA_HOME:-$HOME/.local/share}/kubetrail-tools}
K8S_CACHE=$CACHE_ROOT/k8s/$K8S_VERSION-$GOOS-$GOARCH

log() { printf '[build-control-plane] %s\n' "$*" >&2; }

build_etcd() {
  if [[ -x $K8S_CACHE/etcd ]]; then return; fi
  log "building etcd v$ETCD_VERSION from Go modules (under a minute the first time)"
  local work; work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  (
    cd "$work"
    go mod init kubetrail.local/etcd-build >/dev/null 2>&1
    go mod edit -go=1.26
    go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" >/dev/null 2>&1
    # etcd's main package lives in server/v3 (the etcdmain entry point).
    cat > main.go <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
    go mod tidy >/dev/null 2>&1
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$K8S_CACHE/etcd.tmp" .
  )
  mv "$K8S_CACHE/etcd.tmp" "$K8S_CACHE/etcd"
}

build_kubernetes() {
  local missing=()
  for b in kube-apiserver kube-controller-manager kubectl; do
    [[ -x $K8S_CACHE/$b ]] || missing+=("$b")
  done
  if [[ ${#missing[@]} -eq 0 ]]; then return; fi
  log "building ${missing[*]} v$K8S_VERSION from Go modules (about 6-10 minutes on 2 cores the first time)"
  local work; work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  (
    cd "$work"
    go mod init kubetrail.local/k8s-build >/dev/null 2>&1
    go mod edit -go=1.26 -require="k8s.io/kubernetes@v$K8S_VERSION"
    local modfile
    modfile=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    # Every staging module k8s.io/kubernetes replaces with ./staging/src/... is published
    # as v0.<minor>.<patch>; point our replace at that release.
    local staging_version=v0.${K8S_VERSION#*.}
    local args=()
    while read -r mod; do
      args+=("-replace=$mod=$mod@$staging_version")
    done < <(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\1#p' "$modfile")
    go mod edit "${args[@]}"
    cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
    go mod tidy -e >/dev/null 2>&1 || true
    local minor=${K8S_VERSION#*.}; minor=${minor%%.*}
    local now; now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    local ld=""
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ld+=" -X $pkg.gitVersion=v$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
      ld+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$now -X $pkg.gitCommit=v$K8S_VERSION"
    done
    for b in "${missing[@]}"; do
      log "  go build k8s.io/kubernetes/cmd/$b"
      CGO_ENABLED=0 go build -trimpath -tags tools -ldflags "-s -w $ld" -o "$K8S_CACHE/$b.tmp" "k8s.io/kubernetes/cmd/$b"
      mv "$K8S_CACHE/$b.tmp" "$K8S_CACHE/$b"
    done
  )
}

mkdir -p "$K8S_CACHE" "$BIN_DIR"
build_etcd
build_kubernetes
for b in etcd kube-apiserver kube-controller-manager kubectl; do
  ln -sf "$K8S_CACHE/$b" "$BIN_DIR/$b"
done
log "control plane v$K8S_VERSION (etcd v$ETCD_VERSION) ready in $BIN_DIR (cache: $K8S_CACHE)"
