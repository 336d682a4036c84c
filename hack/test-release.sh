#!/usr/bin/env bash
# make test-release: `make release VERSION=...` in a fresh clone of HEAD (its
# own bin/, so nothing untracked of this checkout is used), then checks what
# it wrote: every file listed and summed, the installer and the chart pinned
# to the digest of the image tarball, the CRDs alone, and no tracked file
# changed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="${TEST_RELEASE_VERSION:-9.8.7}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "test-release: $*" >&2; exit 1; }

git clone -q "$root" "$work/repo"
cd "$work/repo"
make release VERSION="$version"

cd dist
files="image.tar install.yaml crds.yaml monitoring.yaml mcp-session-operator-$version.tgz"
[ "$(awk '{print $2}' SHA256SUMS | sort | tr '\n' ' ')" = "$(tr ' ' '\n' <<<"$files" | sort | tr '\n' ' ')" ] ||
  fail "SHA256SUMS lists $(awk '{print $2}' SHA256SUMS | tr '\n' ' '), want $files"
sha256sum --check --quiet SHA256SUMS || fail "SHA256SUMS does not match the files"

cd ..
summary="$(go run ./hack/image inspect dist/image.tar)"
digest="$(sed -n 's/^digest: //p' <<<"$summary")"
grep -qxF "tag: mcp-session-operator:$version" <<<"$summary" || fail "dist/image.tar is not tagged mcp-session-operator:$version:
$summary"
pinned="mcp-session-operator:$version@$digest"

images="$(sed -n 's/^ *image: *//p' dist/install.yaml | sort -u)"
[ "$images" = "$pinned" ] || fail "dist/install.yaml runs '$images', want $pinned"

helm="bin/helm-$(sed -n 's/^HELM_VERSION ?= *//p' Makefile)"
chart="dist/mcp-session-operator-$version.tgz"
"$helm" show chart "$chart" | grep -qx "version: $version" || fail "$chart is not version $version"
"$helm" show chart "$chart" | grep -qx "appVersion: \"\\?$version\"\\?" || fail "$chart's appVersion is not $version"
rendered="$("$helm" template mcp-session-operator "$chart" -n mcp-session-operator-system | sed -n 's/^ *image: *//p' | tr -d '"' | sort -u)"
[ "$rendered" = "$pinned" ] || fail "$chart renders image '$rendered', want $pinned"

kinds="$(sed -n 's/^kind: //p' dist/crds.yaml | sort | uniq -c | awk '{print $1, $2}')"
[ "$kinds" = "2 CustomResourceDefinition" ] || fail "dist/crds.yaml holds $kinds, want the 2 CRDs alone"
kinds="$(sed -n 's/^kind: //p' dist/monitoring.yaml | sort | tr '\n' ' ')"
[ "$kinds" = "ClusterRoleBinding ConfigMap PrometheusRule ServiceMonitor " ] || fail "dist/monitoring.yaml holds $kinds"

changed="$(git status --porcelain --untracked-files=no)"
[ -z "$changed" ] || fail "make release changed tracked files:
$changed"
echo "test-release: make release VERSION=$version from a fresh clone wrote $files and SHA256SUMS, pinned to $digest"
