#!/usr/bin/env bash
# make release VERSION=x.y.z: writes into dist/ everything a release
# publishes, and SHA256SUMS over them:
#
#   image.tar                         the manager's image (make image), tagged IMG
#   install.yaml                      the installer, its image pinned to the digest
#   crds.yaml                         the CustomResourceDefinitions alone
#   monitoring.yaml                   config/prometheus: ServiceMonitor, alerts, dashboard, binding
#   mcp-session-operator-x.y.z.tgz    the Helm chart, its image pinned to the digest
#
# It changes no tracked file (unlike make build-installer, which edits
# config/manager's image): the pinned installer is built from an overlay in
# dist/.
#
# Usage: hack/release.sh VERSION IMG   (KUSTOMIZE and HELM: the pinned tools)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
version="${1:?usage: $0 VERSION IMG}"
img="${2:?usage: $0 VERSION IMG}"
kustomize="${KUSTOMIZE:?KUSTOMIZE must be set (make release sets it)}"
helm="${HELM:?HELM must be set (make release sets it)}"
fail() { echo "release: $*" >&2; exit 1; }

# Helm wants a SemVer 2 chart version; the image tag is the same string.
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] || fail "VERSION=$version is not x.y.z (SemVer)"
[[ "$img" == *":$version" ]] || fail "IMG=$img is not tagged with VERSION ($version)"
repo="${img%:*}"

files=(image.tar install.yaml crds.yaml monitoring.yaml "mcp-session-operator-$version.tgz")
mkdir -p dist
rm -f dist/SHA256SUMS dist/mcp-session-operator-*.tgz "${files[@]/#/dist/}"
work="$root/dist/.release"
rm -rf "$work"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"

echo "release: image $img"
digest="$(make -s --no-print-directory image IMG="$img" VERSION="$version" IMAGE_TAR=dist/image.tar | tail -n1)"
inspected="$(go run ./hack/image inspect dist/image.tar | sed -n 's/^digest: //p')"
[[ "$digest" =~ ^sha256:[0-9a-f]{64}$ && "$digest" == "$inspected" ]] ||
  fail "make image printed '$digest', the tarball holds '$inspected'"

echo "release: install.yaml pinned to $repo:$version@$digest"
# The overlay renames whatever image config/ names (make deploy may have
# changed it) to IMG, pinned.
current="$("$kustomize" build config/default | sed -n 's/^ *image: *//p' | sort -u)"
[ "$(wc -l <<<"$current")" -eq 1 ] || fail "config/default holds more than one image: $current"
cat >"$work/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ../../config/default
images:
- name: ${current%:*}
  newName: $repo
  newTag: "$version"
  digest: $digest
EOF
"$kustomize" build "$work" >dist/install.yaml
grep -qxF "        image: $repo:$version@$digest" dist/install.yaml || fail "dist/install.yaml does not pin $repo:$version@$digest"

echo "release: crds.yaml, monitoring.yaml"
"$kustomize" build config/crd >dist/crds.yaml
"$kustomize" build config/prometheus >dist/monitoring.yaml

echo "release: the Helm chart $version"
go run ./hack/chart --kustomize "$kustomize" --config config --out "$work/mcp-session-operator" \
  --version "$version" --repository "$repo" --digest "$digest"
"$helm" lint --strict "$work/mcp-session-operator"
"$helm" package "$work/mcp-session-operator" --destination dist >/dev/null

(cd dist && sha256sum "${files[@]}" >SHA256SUMS)
echo "release: $version in dist/:"
(cd dist && ls -l "${files[@]}" SHA256SUMS)
