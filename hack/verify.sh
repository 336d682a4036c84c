#!/usr/bin/env bash
# Fails when `make generate manifests helm-chart` changed tracked files (they
# were stale) or when any Go file is not gofmt-clean. Run by `make verify`
# after generating.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

status=0
stale="$(git status --porcelain -- api config charts | grep -v '^??' || true)"
untracked="$(git status --porcelain -- api/v1alpha1/zz_generated.deepcopy.go config/crd/bases config/rbac/role.yaml charts | grep '^??' || true)"
if [ -n "$stale$untracked" ]; then
  echo "verify: generated files are stale; run 'make generate manifests helm-chart' and commit:" >&2
  printf '%s\n%s\n' "$stale" "$untracked" | sed '/^$/d;s/^/  /' >&2
  git --no-pager diff --stat -- api config charts >&2 || true
  status=1
fi
unformatted="$(git ls-files --cached --others --exclude-standard '*.go' | xargs -r gofmt -l 2>/dev/null || true)"
if [ -n "$unformatted" ]; then
  echo "verify: not gofmt-clean (run 'make fmt'):" >&2
  echo "$unformatted" | sed 's/^/  /' >&2
  status=1
fi
[ "$status" -eq 0 ] && echo "verify: generated files up to date, gofmt clean"
exit "$status"
