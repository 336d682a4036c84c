#!/usr/bin/env bash
# Runs the official MCP conformance suite (npm @modelcontextprotocol/conformance,
# server scenarios) against the MCP server, and requires every scenario that
# applies to this server to pass.
#
# The server under test is internal/mcpserver/cmd/conformance-server: the same
# tools, resources and prompt as in the cluster, in the go-sdk's stateless
# Streamable HTTP mode, with --auth=none on 127.0.0.1 and a throw-away local
# store (no Kubernetes needed).
#
# Usage: hack/conformance.sh [BIN_DIR]     (make conformance)
# Env:   CONFORMANCE_VERSION (default 0.1.16), CONFORMANCE_PORT (default 18090)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin_dir="${1:-$root/bin}"
version="${CONFORMANCE_VERSION:-0.1.16}"
port="${CONFORMANCE_PORT:-18090}"
prefix="$bin_dir/conformance"
url="http://127.0.0.1:${port}/mcp"

# Scenarios that apply, and must pass: the protocol itself (lifecycle, ping,
# logging level, the three listings) and the transport's DNS-rebinding
# checks. The others do not apply: they call the suite's own fixture tools,
# resources and prompts (test_simple_text, json_schema_2020_12_tool,
# test://static-text, test://template/{id}/data, ...), need
# server-to-client requests (sampling, elicitation: impossible on a
# stateless server), completions (not offered), or test SSE session
# resumption (no protocol sessions in stateless mode; they end with
# warnings only). They are run afterwards for information.
expected_pass=(
  server-initialize
  ping
  logging-set-level
  tools-list
  resources-list
  prompts-list
  dns-rebinding-protection
)

log() { echo "conformance: $*" >&2; }

mkdir -p "$prefix"
if [[ ! -x "$prefix/node_modules/.bin/conformance" ]] || ! grep -q "\"version\": \"${version}\"" "$prefix/node_modules/@modelcontextprotocol/conformance/package.json" 2>/dev/null; then
  log "installing @modelcontextprotocol/conformance@${version} into ${prefix}"
  npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error \
    "@modelcontextprotocol/conformance@${version}" "glob@10" >&2
fi

# The suite's CLI imports fs.globSync, which Node has from 22 on. On older
# Node, a preload adds it (from the glob package) and a resolve hook hands
# the CLI an fs module that exports it.
node_major="$(node -p 'process.versions.node.split(".")[0]')"
node_args=()
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
  const { globSync } = require(path.join(__dirname, "node_modules", "glob"));
  fs.globSync = (pattern, options = {}) => globSync(pattern, { cwd: options.cwd, ignore: options.exclude });
  register("./globsync-hooks.mjs", pathToFileURL(__filename));
}
JS
  node_args+=(--require "$prefix/globsync-preload.cjs")
fi
cli=(node "${node_args[@]}" "$prefix/node_modules/@modelcontextprotocol/conformance/dist/index.js")

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

# run_scenario NAME: runs one scenario; prints its "Passed: ..." summary.
# Succeeds when the CLI exits 0 and at least one check passed, none failed.
run_scenario() {
  local out="$work/$1.out" summary
  (cd "$work" && timeout 120 "${cli[@]}" server --url "$url" --scenario "$1") >"$out" 2>&1
  local rc=$?
  summary="$(grep -E '^Passed: ' "$out" | tail -1)"
  echo "${summary:-no summary}"
  [[ $rc -eq 0 && "$summary" =~ ^Passed:\ ([1-9][0-9]*)/([0-9]+),\ 0\ failed ]] && [[ "${BASH_REMATCH[1]}" == "${BASH_REMATCH[2]}" ]]
}

failed=()
for scenario in "${expected_pass[@]}"; do
  if summary="$(run_scenario "$scenario")"; then
    log "PASS ${scenario}: ${summary}"
  else
    log "FAIL ${scenario}: ${summary}"
    cat "$work/${scenario}.out" >&2
    failed+=("$scenario")
  fi
done

# Every other server scenario, for information only.
all="$(cd "$work" && "${cli[@]}" list 2>/dev/null | awk '/^Server scenarios/{s=1; next} /^Client scenarios/{s=0} s && $1 == "-" {print $2}')"
log "scenarios that do not apply (informational):"
for scenario in $all; do
  [[ " ${expected_pass[*]} " == *" ${scenario} "* ]] && continue
  summary="$(run_scenario "$scenario")" || true
  log "  ${scenario}: ${summary}"
done

if ((${#failed[@]} > 0)); then
  log "FAILED: ${failed[*]}"
  exit 1
fi
log "all ${#expected_pass[@]} applicable scenarios passed: ${expected_pass[*]}"
