#!/usr/bin/env bash
# Proves `make verify` catches what it must: in a throwaway clone of HEAD it
# makes the CRD stale (a marker changed, manifests not regenerated), then the
# Helm chart, then a file un-gofmt'd, and expects verify to fail each time. It reuses ./bin so
# no tool is rebuilt.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git clone -q "$root" "$work/repo"
cd "$work/repo"
run_verify() { make -s verify LOCALBIN="$root/bin" >"$work/out" 2>&1; }

run_verify || { cat "$work/out"; echo "verify-selftest: verify fails on a clean clone of HEAD (commit generated files?)" >&2; exit 1; }

sed -i 's/+kubebuilder:printcolumn:name="Owner"/+kubebuilder:printcolumn:name="Creator"/' api/v1alpha1/mcpsession_types.go
if run_verify; then echo "verify-selftest: verify passed with a stale CRD" >&2; exit 1; fi
grep -q "generated files are stale" "$work/out" || { cat "$work/out"; exit 1; }
git checkout -q -- .

# A config/ change committed without `make helm-chart` leaves the chart stale.
sed -i 's/storage: 10Gi/storage: 20Gi/' config/manager/pvc.yaml
git -c user.name=verify-selftest -c user.email=verify-selftest@localhost commit -q -am "config changed, chart not regenerated"
if run_verify; then echo "verify-selftest: verify passed with a stale Helm chart" >&2; exit 1; fi
grep -q "charts/mcp-session-operator/values.yaml" "$work/out" || { cat "$work/out"; exit 1; }
git reset -q --hard HEAD~1

printf 'package v1alpha1\nvar  badlyFormatted =1\n' > api/v1alpha1/zz_unformatted.go
if run_verify; then echo "verify-selftest: verify passed with an unformatted file" >&2; exit 1; fi
grep -q "not gofmt-clean" "$work/out" || { cat "$work/out"; exit 1; }
echo "verify-selftest: make verify rejects stale generated files, a stale chart and unformatted code"
