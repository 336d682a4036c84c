#!/usr/bin/env bash
# Builds the real kube-apiserver and etcd that envtest, `make dev` and the
# end-to-end tests run, from Go modules (no downloads of prebuilt binaries are
# possible here). The binaries are cached per user and keyed by version, so a
# fresh clone on the same machine links them in seconds instead of rebuilding
# for ~5 minutes. Prints the asset folder (for KUBEBUILDER_ASSETS) on stdout;
# progress goes to stderr.
#
# Usage: hack/control-plane.sh [--node] [BIN_DIR]
#   --node  also builds the node's components for `make cluster`: kubelet,
#           kube-controller-manager, kube-scheduler and kube-proxy (about 3
#           more minutes with a warm build cache), and CoreDNS.
set -euo pipefail

node=false
if [ "${1:-}" = "--node" ]; then node=true; shift; fi

KUBE_VERSION="${KUBE_VERSION:-1.37.2}"
COREDNS_VERSION="${COREDNS_VERSION:-1.15.0}"
ETCD_VERSION="${ETCD_VERSION:-3.6.16}"
STAGING_VERSION="v0.${KUBE_VERSION#1.}"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin_dir="${1:-$root/bin}"
mkdir -p "$bin_dir" && bin_dir="$(cd "$bin_dir" && pwd)"
goos="$(go env GOOS)"
goarch="$(go env GOARCH)"
key="k8s-${KUBE_VERSION}-etcd-${ETCD_VERSION}-${goos}-${goarch}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/mcp-session-operator/${key}"
assets="${bin_dir}/k8s/${KUBE_VERSION}-${goos}-${goarch}"

log() { echo "control-plane: $*" >&2; }

# Throwaway build modules, removed when the script exits, also on failure.
tmpdirs=()
trap 'rm -rf "${tmpdirs[@]}"' EXIT
newtmp() { tmp="$(mktemp -d)"; tmpdirs+=("$tmp"); }

# build_kube BINARY... builds the named commands of k8s.io/kubernetes
# (kube-apiserver, kubectl) into the cache, in one throwaway build module.
build_kube() {
  newtmp; local work="$tmp"
  log "building $* ${KUBE_VERSION} from k8s.io/kubernetes (first time only, about 5 minutes on 2 cores)"
  (
    cd "$work"
    go mod init control-plane-build >/dev/null 2>&1
    go mod edit -require="k8s.io/kubernetes@v${KUBE_VERSION}"
    go mod download k8s.io/kubernetes@"v${KUBE_VERSION}"
    # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them
    # with ./staging paths that do not exist in the module zip; point each one at
    # the published release instead.
    local gomod m
    gomod="$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/v${KUBE_VERSION}.mod"
    for m in $(grep -oE '^\s*k8s\.io/[a-z0-9-]+ => \./staging' "$gomod" | awk '{print $1}'); do
      go mod edit -replace="${m}=${m}@${STAGING_VERSION}"
    done
    printf '//go:build tools\n\npackage tools\n\nimport (\n' > tools.go
    for m in "$@"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$m" >> tools.go; done
    printf ')\n' >> tools.go
    GOFLAGS=-mod=mod go mod tidy >/dev/null
    # go list -deps can look complete while the build still lacks a few
    # modules (the kubelet's cadvisor and cri pieces): fetch them all first.
    GOFLAGS=-mod=mod go mod download >/dev/null
    # Without these the binaries report v0.0.0-master; they touch only the link.
    local version_ldflags="-X k8s.io/component-base/version.gitVersion=v${KUBE_VERSION} -X k8s.io/component-base/version.gitMajor=${KUBE_VERSION%%.*} -X k8s.io/component-base/version.gitMinor=$(echo "$KUBE_VERSION" | cut -d. -f2) -X k8s.io/component-base/version.gitTreeState=clean"
    for m in "$@"; do
      CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w ${version_ldflags}" -o "$cache/$m.tmp" "k8s.io/kubernetes/cmd/$m"
      mv "$cache/$m.tmp" "$cache/$m"
    done
  )
}

# build_main NAME MODULE VERSION builds the main package read from stdin, in
# a throwaway module that requires MODULE at VERSION, into the cache as NAME.
build_main() {
  local name="$1" module="$2" version="$3"
  newtmp; local work="$tmp"
  cat > "$work/main.go"
  (
    cd "$work"
    go mod init "${name}-build" >/dev/null 2>&1
    GOFLAGS=-mod=mod go get "${module}@v${version}" >/dev/null 2>&1
    GOFLAGS=-mod=mod go mod tidy >/dev/null 2>&1
    CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$cache/$name.tmp" .
  )
  mv "$cache/$name.tmp" "$cache/$name"
}

build_etcd() {
  log "building etcd ${ETCD_VERSION} from go.etcd.io/etcd/server/v3 (about 30 seconds)"
  build_main etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION" <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
}

# build_coredns builds CoreDNS for the one-node cluster's DNS with only the
# plugins its Corefile uses (the full build pulls in every cloud SDK).
build_coredns() {
  log "building coredns ${COREDNS_VERSION} from github.com/coredns/coredns (about a minute)"
  build_main coredns github.com/coredns/coredns "$COREDNS_VERSION" <<'GO'
package main

import (
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

func main() { coremain.Run() }
GO
}

mkdir -p "$cache" "$assets"
[ -x "$cache/etcd" ] || build_etcd
# kubectl comes from PATH; only a machine without it gets one built.
missing=()
kube_bins=(kube-apiserver)
$node && kube_bins+=(kubelet kube-controller-manager kube-scheduler kube-proxy)
for b in "${kube_bins[@]}"; do
  [ -x "$cache/$b" ] || missing+=("$b")
done
if ! command -v kubectl >/dev/null 2>&1 && [ ! -x "$cache/kubectl" ]; then missing+=(kubectl); fi
[ "${#missing[@]}" -eq 0 ] || build_kube "${missing[@]}"
if $node; then
  [ -x "$cache/coredns" ] || build_coredns
  kube_bins+=(coredns)
fi

for b in etcd "${kube_bins[@]}"; do
  ln -sfn "$cache/$b" "$assets/$b"
done
if command -v kubectl >/dev/null 2>&1; then
  ln -sfn "$(command -v kubectl)" "$assets/kubectl"
else
  ln -sfn "$cache/kubectl" "$assets/kubectl"
fi
log "ready: $assets"
echo "$assets"
