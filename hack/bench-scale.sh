#!/usr/bin/env bash
# Runs BenchmarkScale (internal/e2e/scale_test.go): the manager binary
# ($MANAGER_BINARY) as a separate process against the real control plane
# with SCALE_SESSIONS McpSessions (default 100,000; about half an hour on
# two quiet cores), keeps the output in bin/bench/raw-scale.txt and the
# manager's heap profile in bin/bench/scale-heap.pprof, and has
# hack/benchreport write bin/bench/report.{md,json} with these rows and
# those of the last make bench. Needs KUBEBUILDER_ASSETS and
# MANAGER_BINARY (make bench-scale sets them). Smaller runs for
# development: SCALE_SESSIONS=10000 SCALE_SPREAD=2m (see the benchmark's
# doc for every knob). TEST_APISERVER_FEATURE_GATES sets the test
# apiserver's --feature-gates, to measure what an apiserver feature costs
# (DetectCacheInconsistency=false, docs/benchmarks.md); such a run is not
# one of record, and its raw output says so in its first line.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out="bin/bench"
mkdir -p "$out"
raw="$out/raw-scale.txt"
echo "bench-scale: ${SCALE_SESSIONS:-100000} sessions" >&2
{
  if [ -n "${TEST_APISERVER_FEATURE_GATES:-}" ]; then
    echo "bench-scale: the test apiserver runs with --feature-gates=$TEST_APISERVER_FEATURE_GATES, not its defaults"
  fi
  SCALE_PROFILE_DIR="$PWD/$out" go test -tags e2e -run '^$' -bench '^BenchmarkScale$' -benchtime 1x -count=1 -timeout 120m \
    ./internal/e2e/ 2>&1
} | tee "$raw"
go run ./hack/benchreport -targets hack/bench-targets.tsv -out "$out" "$out/raw.txt" "$raw"
