#!/usr/bin/env bash
# Runs every benchmark of the project with the iteration counts each one is
# designed for, keeps the output in bin/bench/raw.txt, and has
# hack/benchreport print one table (figures, targets, baseline ratios) and
# write bin/bench/report.md and report.json, with the rows of the last
# make bench-scale (bin/bench/raw-scale.txt) when there is one. Needs
# KUBEBUILDER_ASSETS (make bench sets it). The PostgreSQL benchmarks and
# their pgbench anchor run on one private server (hack/postgres.sh),
# started for the run and stopped after it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ -z "${MCP_TEST_POSTGRES_URL:-}" ]; then
  exec hack/postgres.sh run -- "$0" "$@"
fi
out="bin/bench"
mkdir -p "$out"
raw="$out/raw.txt"

bench() { # package, -bench regexp, -benchtime
  echo "bench: $1 $2 ($3)" >&2
  go test -run '^$' -bench "$2" -benchtime "$3" -count=1 -timeout 30m "$1"
}

{
  # Store: durable appends (Pebble vs one JSON file per session), append
  # latency at 1k and 100k messages, resume of a 100k-message session.
  bench ./internal/store/pebblestore 'AppendDurable|FileBaselineAppend' 2s
  bench ./internal/store/pebblestore 'AppendLatency$' 2000x
  bench ./internal/store/pebblestore 'Resume' 50x
  bench ./internal/store/pebblestore 'FileBaselineLatency' 100x
  # The same on PostgreSQL, and pgbench on the same server as the anchor:
  # a script of the same shape as one append, and simple-update.
  bench ./internal/store/pgstore 'PostgresAppendDurable' 2s
  bench ./internal/store/pgstore 'Pgbench' 1x
  bench ./internal/store/pgstore 'PostgresAppendLatency$' 2000x
  bench ./internal/store/pgstore 'PostgresResume' 20x
  # Lifecycle: 10,000 sessions against the real apiserver.
  bench ./controllers 'Suspend10k' 1x
  # Auth: what authenticating and authorising one MCP call costs, answers
  # cached (the delegating authenticator and authorizer).
  bench ./internal/auth 'AuthPath' 1s
  # MCP: add_message against the durable floor (and the no-op), over
  # Streamable HTTP with 1 and 16 clients and over stdio, N calls of each
  # server per case; then on PostgreSQL, with one replica and with two
  # sharing the database.
  bench ./internal/mcpserver 'AddMessage' 14000x
} 2>&1 | tee "$raw"
go run ./hack/benchreport -targets hack/bench-targets.tsv -out "$out" "$raw" "$out/raw-scale.txt"
