#!/usr/bin/env bash
# The one-node cluster with real pods: `make cluster`, `make cluster-down`,
# `make cluster-load`. Installs what the node needs from Debian's packages
# (containerd, runc, the CNI plugins, iptables, nftables, nfacct) when it is
# missing, builds the node's binaries once per user (hack/control-plane.sh
# --node), then hands over to hack/cluster, which starts the cluster and
# restores the machine when it stops. Needs root.
#
# Usage: hack/cluster.sh up | down | check | load IMAGE.tar...
# CLUSTER_DIR (default .cluster) holds the cluster's state, data and logs.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${LOCALBIN:-$root/bin}"
dir="${CLUSTER_DIR:-$root/.cluster}"
cmd="${1:-}"
[ $# -gt 0 ] && shift

log() { echo "cluster: $*" >&2; }

packages() {
  local need=()
  command -v containerd >/dev/null 2>&1 || need+=(containerd)
  command -v runc >/dev/null 2>&1 || need+=(runc)
  [ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
  command -v iptables >/dev/null 2>&1 || need+=(iptables)
  command -v nft >/dev/null 2>&1 || need+=(nftables)
  command -v nfacct >/dev/null 2>&1 || need+=(nfacct)
  command -v ip >/dev/null 2>&1 || need+=(iproute2)
  if [ "${#need[@]}" -gt 0 ]; then
    log "installing Debian packages: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
}

tools() {
  cd "$root"
  go build -o "$bin/cluster" ./hack/cluster
  go build -o "$bin/image-tool" ./hack/image
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin/pause" ./hack/cluster/pause
}

case "$cmd" in
  up)
    [ "$(id -u)" -eq 0 ] || { log "needs root (the kubelet and containerd do)"; exit 1; }
    packages
    assets="$("$root/hack/control-plane.sh" --node "$bin")"
    tools
    exec "$bin/cluster" up --dir "$dir" --assets "$assets" --image-tool "$bin/image-tool" --pause "$bin/pause" "$@"
    ;;
  down | check | load)
    [ -x "$bin/cluster" ] || (cd "$root" && go build -o "$bin/cluster" ./hack/cluster)
    exec "$bin/cluster" "$cmd" --dir "$dir" "$@"
    ;;
  *)
    echo "usage: $0 up|down|check|load IMAGE.tar..." >&2
    exit 2
    ;;
esac
