#!/usr/bin/env bash
# make test-cluster: the operator as users run it. Builds the operator's
# image (and a second tag for the upgrade), an agent image and a metrics
# scraper image, packages the Helm chart, starts the one-node cluster (make
# cluster), loads the images into its node, starts a private PostgreSQL on
# this host listening on the node's address (hack/postgres.sh), runs the
# tests of internal/e2e/cluster against dist/install.yaml, the chart and
# dist/install-postgres.yaml, and stops PostgreSQL and the cluster, which
# fails if the machine is not as it was before. Both are
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
scraper_img="localhost/mcp-cluster/scraper:test"
: "${HELM:?HELM must be set (make test-cluster sets it)}"
: "${KUSTOMIZE:?KUSTOMIZE must be set (make test-cluster sets it)}"
chart_dir="${CHART_DIR:-charts/mcp-session-operator}"
# The Prometheus Operator's CRDs (ServiceMonitor, PrometheusRule), from its
# Go module: the newest version the module proxy serves.
prometheus_operator="github.com/prometheus-operator/prometheus-operator@${PROMETHEUS_OPERATOR_VERSION:-v0.85.0}"

# begin NAME starts a phase; the previous one ends with it.
# One cluster per machine: wait for another test-cluster run (from another
# clone) to finish. The lock is on /run itself, so nothing is left behind.
exec 9</run
if ! flock -n 9; then
  echo "test-cluster: another make test-cluster runs on this machine; waiting for it" >&2
  flock 9
fi

phases=()
started=$(date +%s)
current=""
since=$started
begin() {
  local now; now=$(date +%s)
  [ -z "$current" ] || phases+=("$(printf '%-56s %5ss' "$current" "$((now - since))")")
  current="$1"
  since=$now
}
report() {
  echo
  echo "make test-cluster, by phase:"
  for p in "${phases[@]}"; do echo "  $p"; done
  echo "  $(printf '%-56s %5ss' total "$(( $(date +%s) - started ))")"
}

cluster_up=false
pg_dir=""
finish() {
  status=$?
  [ "$status" -eq 0 ] || current="$current (FAILED)"
  if [ -n "$pg_dir" ]; then
    begin "PostgreSQL stopped, its folder removed"
    hack/postgres.sh stop "$pg_dir" || { status=1; current="$current (FAILED)"; }
  fi
  if $cluster_up; then
    begin "make cluster-down (stops it, restores the machine, compares)"
    hack/cluster.sh down || { status=1; current="$current (FAILED)"; }
  fi
  begin ""
  report
  exit "$status"
}
trap finish EXIT

begin "images: the operator, an upgrade version, the agent, the scraper"
make image IMG="$IMG" VERSION="$VERSION"
make image IMG="$upgrade_img" VERSION="$upgrade_version" IMAGE_TAR=dist/image-upgrade.tar
mkdir -p "$bin/agent"
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin/agent/demo" ./hack/demo
go build -o "$bin/image-tool" ./hack/image
"$bin/image-tool" --binary "$bin/agent/demo" --tag "$agent_img" --out "$bin/agent/image.tar" >/dev/null
mkdir -p "$bin/scraper"
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin/scraper/scraper" ./internal/e2e/cluster/scraper
"$bin/image-tool" --binary "$bin/scraper/scraper" --tag "$scraper_img" --out "$bin/scraper/image.tar" >/dev/null

begin "the Helm chart packaged, the monitoring component, the Prometheus Operator's CRDs"
rm -rf "$bin/chart" && mkdir -p "$bin/chart"
"$HELM" package "$chart_dir" --destination "$bin/chart" >/dev/null
chart="$(ls "$bin"/chart/*.tgz)"
"$KUSTOMIZE" build config/prometheus >dist/monitoring.yaml
prometheus_crds="$(go mod download -json "$prometheus_operator" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')/example/prometheus-operator-crd"
[ -f "$prometheus_crds/monitoring.coreos.com_servicemonitors.yaml" ] || { echo "test-cluster: no CRDs in $prometheus_crds" >&2; exit 1; }

begin "make cluster"
hack/cluster.sh up   # tears itself down if it fails
cluster_up=true
begin "images loaded into the node"
hack/cluster.sh load dist/image.tar dist/image-upgrade.tar "$bin/agent/image.tar" "$bin/scraper/image.tar"
assets="$(hack/control-plane.sh --node "$bin")"
begin "PostgreSQL on the node's address (hack/postgres.sh)"
node_ip="$("$assets/kubectl" --kubeconfig "$CLUSTER_DIR/kubeconfig" get nodes \
  -o jsonpath='{.items[0].status.addresses[?(@.type=="InternalIP")].address}')"
[ -n "$node_ip" ] || { echo "test-cluster: the node has no InternalIP" >&2; exit 1; }
pg_url="$(hack/postgres.sh start --listen "$node_ip" 2>"$bin/postgres-start.log")" \
  || { cat "$bin/postgres-start.log" >&2; exit 1; }
cat "$bin/postgres-start.log" >&2
pg_dir="$(hack/postgres.sh dir "$pg_url")"
begin "tests (internal/e2e/cluster)"

KUBECONFIG="$CLUSTER_DIR/kubeconfig" KUBECTL="$assets/kubectl" \
  INSTALLER="$root/dist/install.yaml" INSTALLER_POSTGRES="$root/dist/install-postgres.yaml" POSTGRES_URL="$pg_url" \
  IMG="$IMG" IMAGE_TAR="$root/dist/image.tar" \
  UPGRADE_IMG="$upgrade_img" UPGRADE_IMAGE_TAR="$root/dist/image-upgrade.tar" AGENT_IMG="$agent_img" AGENT_SAMPLE="$root/config/samples/agent_serviceaccount.yaml" \
  HELM="$HELM" CHART="$chart" SCRAPER_IMG="$scraper_img" MONITORING="$root/dist/monitoring.yaml" PROMETHEUS_CRDS="$prometheus_crds" \
  MANAGER_BINARY="$bin/image/manager" \
  go test -tags cluster -count=1 -timeout 40m -v ./internal/e2e/cluster/
