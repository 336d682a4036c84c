#!/usr/bin/env bash
# Runs every Go fuzz target in the module for a short time each. `go test
# -fuzz` takes one target in one package per run, so this finds them all.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# A count (20000x), not a duration: with Go 1.26 a duration can end in a
# spurious "context deadline exceeded" when it runs out (golang/go#75804,
# fixed in Go 1.27). Minimising a new input is capped the same way, or its
# default 60 s budget swallows the run.
fuzztime="${1:-20000x}"
minimizetime="${FUZZMINIMIZETIME:-100x}"
found=0
while IFS= read -r file; do
  pkg="./$(dirname "$file")"
  for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)' "$file" | awk '{print $2}'); do
    found=$((found+1))
    echo "fuzz: $pkg $target for $fuzztime"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimizetime" "$pkg"
  done
done < <(git ls-files '*_test.go' 2>/dev/null | xargs -r grep -l '^func Fuzz' || true)
echo "fuzz: $found target(s) ran"
