#!/usr/bin/env bash
# make test-cluster: the operator as users run it. Builds the operator's
# image (and a second tag for the upgrade) and an agent image, starts the
# one-node cluster (make cluster), loads the images into its node, runs the
# tests of internal/e2e/cluster against dist/install.yaml, and stops the
# cluster, which fails if the machine is not as it was before. The cluster is
# stopped and the machine restored also when a step fails.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bin="${LOCALBIN:-$root/bin}"
: "${IMG:?IMG must be set (make test-cluster sets it)}"
: "${VERSION:?VERSION must be set (make test-cluster sets it)}"
export CLUSTER_DIR="${CLUSTER_DIR:-$root/.cluster}"
upgrade_version="${VERSION}-upgrade"
upgrade_img="${IMG%:*}:${upgrade_version}"
agent_img="localhost/mcp-cluster/agent:test"

phases=()
started=$(date +%s)
last=$started
phase() {
  local now; now=$(date +%s)
  phases+=("$(printf '%-52s %5ss' "$1" "$((now - last))")")
  last=$now
}
report() {
  echo
  echo "make test-cluster, by phase:"
  for p in "${phases[@]}"; do echo "  $p"; done
  echo "  $(printf '%-52s %5ss' total "$(( $(date +%s) - started ))")"
}

cluster_up=false
finish() {
  status=$?
  if $cluster_up; then
    if hack/cluster.sh down; then phase "make cluster-down (machine compared: unchanged)"; else status=1; fi
  fi
  report
  exit "$status"
}
trap finish EXIT

make image IMG="$IMG" VERSION="$VERSION"
make image IMG="$upgrade_img" VERSION="$upgrade_version" IMAGE_TAR=dist/image-upgrade.tar
mkdir -p "$bin/agent"
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin/agent/demo" ./hack/demo
go build -o "$bin/image-tool" ./hack/image
"$bin/image-tool" --binary "$bin/agent/demo" --tag "$agent_img" --out "$bin/agent/image.tar" >/dev/null
phase "images: operator, upgrade tag, agent"

cluster_up=true
hack/cluster.sh up
phase "make cluster"
hack/cluster.sh load dist/image.tar dist/image-upgrade.tar "$bin/agent/image.tar"
phase "images loaded into the node"

assets="$(hack/control-plane.sh --node "$bin")"
KUBECONFIG="$CLUSTER_DIR/kubeconfig" KUBECTL="$assets/kubectl" \
  INSTALLER="$root/dist/install.yaml" IMG="$IMG" IMAGE_TAR="$root/dist/image.tar" \
  UPGRADE_IMG="$upgrade_img" UPGRADE_IMAGE_TAR="$root/dist/image-upgrade.tar" AGENT_IMG="$agent_img" AGENT_SAMPLE="$root/config/samples/agent_serviceaccount.yaml" \
  go test -tags cluster -count=1 -timeout 40m -v ./internal/e2e/cluster/
phase "tests (internal/e2e/cluster)"

cluster_up=false
hack/cluster.sh down
phase "make cluster-down (machine compared: unchanged)"
