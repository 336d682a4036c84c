#!/usr/bin/env bash
# Runs the official MCP conformance suite (npm @modelcontextprotocol/conformance,
# server scenarios) against the MCP server, on two lines of the suite: the
# stable one and the newest prerelease line, which checks protocol revision
# 2026-07-28 (stateless requests, caching hints, standard headers) and
# validates every message the server sends against that revision's schema.
# Every scenario that applies to this server must pass on both.
#
# The server under test is internal/mcpserver/cmd/conformance-server: the same
# tools, resources and prompt as in the cluster, in the go-sdk's stateless
# Streamable HTTP mode, with --auth=none on 127.0.0.1 and a throw-away local
# store (no Kubernetes needed), holding one session so that resources/list and
# resources/read have something to show.
#
# Usage: hack/conformance.sh [BIN_DIR]     (make conformance)
# Env:   CONFORMANCE_VERSION (default 0.1.16), CONFORMANCE_NEXT_VERSION
#        (default 0.2.0-alpha.12, the newest 0.2 prerelease when this was
#        written: npm view @modelcontextprotocol/conformance versions),
#        CONFORMANCE_PORT (default 18090)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin_dir="${1:-$root/bin}"
version="${CONFORMANCE_VERSION:-0.1.16}"
next_version="${CONFORMANCE_NEXT_VERSION:-0.2.0-alpha.12}"
port="${CONFORMANCE_PORT:-18090}"
url="http://127.0.0.1:${port}/mcp"

# Scenarios that apply, and must pass: the protocol itself (lifecycle, ping,
# logging level, the three listings) and the transport's DNS-rebinding
# checks. The others do not apply: they call the suite's own fixture tools,
# resources and prompts (test_simple_text, json_schema_2020_12_tool,
# test://static-text, test_prompt_with_arguments for completions, ...), need
# server-to-client requests (sampling, elicitation: impossible on a
# stateless server), or test SSE session resumption (no protocol sessions in
# stateless mode; they end with warnings only). They are run afterwards for
# information.
expected_pass=(
  server-initialize
  ping
  logging-set-level
  tools-list
  resources-list
  prompts-list
  dns-rebinding-protection
)
# On the prerelease line, also: the stateless protocol (server/discover,
# per-request _meta, version negotiation, removed methods, the listen
# stream), caching hints, the standard and custom headers, an unknown
# resource, and no input-required results on methods that cannot have one.
# A check the suite itself reports as "Not testable" (it needs one of the
# suite's fixture tools, such as test_missing_capability or a tool with
# x-mcp-header parameters) counts as not applicable; every other check must
# pass, warnings (SHOULDs about list-change notifications this server's
# fixed lists never send) allowed.
expected_pass_next=(
  "${expected_pass[@]}"
  server-stateless
  caching
  http-header-validation
  http-custom-header-server-validation
  sep-2164-resource-not-found
  input-required-result-unsupported-methods
)

log() { echo "conformance: $*" >&2; }

# install VERSION: the suite's CLI of that version, in its own folder.
install() {
  local prefix="$bin_dir/conformance/$1"
  mkdir -p "$prefix"
  if [[ ! -x "$prefix/node_modules/.bin/conformance" ]] || ! grep -q "\"version\": \"$1\"" "$prefix/node_modules/@modelcontextprotocol/conformance/package.json" 2>/dev/null; then
    log "installing @modelcontextprotocol/conformance@$1 into ${prefix}"
    npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error \
      "@modelcontextprotocol/conformance@$1" "glob@10" >&2
  fi
}
install "$version"
install "$next_version"

# The suite's CLI imports fs.globSync, which Node has from 22 on. On older
# Node, a preload adds it (from the glob package) and a resolve hook hands
# the CLI an fs module that exports it.
node_major="$(node -p 'process.versions.node.split(".")[0]')"
node_args=()
prefix="$bin_dir/conformance"
if (( node_major < 22 )); then
  cat > "$prefix/globsync-fs.mjs" <<'JS'
import fs from "node:fs";
export * from "node:fs";
export const globSync = fs.globSync;
export default fs;
JS
  cat > "$prefix/globsync-hooks.mjs" <<'JS'
const shim = new URL("./globsync-fs.mjs", import.meta.url).href;
export async function resolve(specifier, context, next) {
  if ((specifier === "fs" || specifier === "node:fs") && context.parentURL !== shim) {
    return { url: shim, shortCircuit: true };
  }
  return next(specifier, context);
}
JS
  cat > "$prefix/globsync-preload.cjs" <<'JS'
// fs.globSync for Node < 22, backed by the glob package.
const fs = require("node:fs");
const path = require("node:path");
const { register } = require("node:module");
const { pathToFileURL } = require("node:url");
if (typeof fs.globSync !== "function") {
  const { globSync } = require(path.join(__dirname, process.env.CONFORMANCE_VERSION_DIR, "node_modules", "glob"));
  fs.globSync = (pattern, options = {}) => globSync(pattern, { cwd: options.cwd, ignore: options.exclude });
  register("./globsync-hooks.mjs", pathToFileURL(__filename));
}
JS
  node_args+=(--require "$prefix/globsync-preload.cjs")
fi
# cli_of VERSION: sets cli to the command running the suite's CLI of VERSION.
cli_of() {
  cli=(env CONFORMANCE_VERSION_DIR="$1" node "${node_args[@]}" "$prefix/$1/node_modules/@modelcontextprotocol/conformance/dist/index.js")
}

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

log "building the conformance server"
(cd "$root" && go build -o "$work/conformance-server" ./internal/mcpserver/cmd/conformance-server)
"$work/conformance-server" --addr "127.0.0.1:${port}" --data-dir "$work/data" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  if curl -s -o /dev/null "$url" 2>/dev/null; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then cat "$work/server.log" >&2; log "server did not start"; exit 1; fi
  sleep 0.1
done
# One session, so that resources/list lists it and resources/read is checked.
curl -sf -o /dev/null "$url" -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
  -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_session","arguments":{"session_id":"conformance","project":"MCP conformance"}}}'

# run_scenario VERSION NAME: runs one scenario; prints its "Passed: ..." summary.
# Succeeds when the CLI exits 0 and at least one check passed, none failed.
run_scenario() {
  local out="$work/$1-$2.out" summary rc=0
  cli_of "$1"
  (cd "$work" && timeout 120 "${cli[@]}" server --url "$url" --scenario "$2") >"$out" 2>&1 || rc=$?
  summary="$(grep -E '^Passed: ' "$out" | tail -1)"
  echo "${summary:-no summary}"
  [[ $rc -eq 0 && "$summary" =~ ^Passed:\ ([1-9][0-9]*)/([0-9]+),\ 0\ failed ]] && [[ "${BASH_REMATCH[1]}" == "${BASH_REMATCH[2]}" ]]
}

# run_checks VERSION NAME: runs one scenario and judges its checks
# (checks.json): succeeds when at least one passed and every failure is one
# the suite marks "Not testable". Prints the counts.
run_checks() {
  local dir="$work/results-$1-$2" rc=0
  cli_of "$1"
  (cd "$work" && timeout 120 "${cli[@]}" server --url "$url" --scenario "$2" -o "$dir") >"$work/$1-$2.out" 2>&1 || rc=$?
  local checks
  checks="$(find "$dir" -name checks.json 2>/dev/null | head -1)"
  if [[ -z "$checks" ]]; then
    echo "no results (exit $rc)"
    return 1
  fi
  node -e '
    const checks = require(process.argv[1]);
    const n = {SUCCESS: 0, FAILURE: 0, "N/A": 0, WARNING: 0, other: 0};
    const failed = [];
    for (const c of checks) {
      if (c.status === "FAILURE" && /^Not testable/i.test(c.errorMessage || "")) n["N/A"]++;
      else if (c.status === "FAILURE") { n.FAILURE++; failed.push(c.id + ": " + (c.errorMessage || "")); }
      else if (c.status in n) n[c.status]++;
      else n.other++;
    }
    console.log(`passed ${n.SUCCESS}, failed ${n.FAILURE}, not applicable ${n["N/A"]}, warnings ${n.WARNING}, info/skipped ${n.other}` +
      (failed.length ? "\n    " + failed.join("\n    ") : ""));
    process.exit(n.FAILURE === 0 && n.SUCCESS > 0 ? 0 : 1);
  ' "$checks"
}

# check_line VERSION RUNNER SCENARIO...: runs each scenario with RUNNER
# (run_scenario or run_checks) on the suite's VERSION, recording failures.
failed=()
check_line() {
  local v="$1" runner="$2" scenario summary
  shift 2
  log "suite ${v}"
  for scenario in "$@"; do
    if summary="$("$runner" "$v" "$scenario")"; then
      log "PASS ${scenario}: ${summary}"
    else
      log "FAIL ${scenario}: ${summary}"
      cat "$work/${v}-${scenario}.out" >&2
      failed+=("${v}/${scenario}")
    fi
  done
}
check_line "$version" run_scenario "${expected_pass[@]}"
check_line "$next_version" run_checks "${expected_pass_next[@]}"

# Every other server scenario of the newest line, for information only.
cli_of "$next_version"
all="$(cd "$work" && "${cli[@]}" list 2>/dev/null | awk '/^Server scenarios/{s=1; next} /^Client scenarios/{s=0} s && $1 == "-" {print $2}')"
log "scenarios that do not apply (informational, suite ${next_version}):"
for scenario in $all; do
  [[ " ${expected_pass_next[*]} " == *" ${scenario} "* ]] && continue
  summary="$(run_checks "$next_version" "$scenario" | head -1)" || true
  log "  ${scenario}: ${summary}"
done

if ((${#failed[@]} > 0)); then
  log "FAILED: ${failed[*]}"
  exit 1
fi
log "all applicable scenarios passed: ${#expected_pass[@]} on ${version}, ${#expected_pass_next[@]} on ${next_version}"
