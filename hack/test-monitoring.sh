#!/usr/bin/env bash
# make test-monitoring: the alerts of config/prometheus/alerts.yaml checked
# and unit-tested with promtool (config/prometheus/tests/alerts_test.yaml:
# synthetic series for which each alert fires and for which it does not),
# then every series the dashboard and the alerts query checked against what
# the manager exports.
#
# Usage: hack/test-monitoring.sh PROMTOOL
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
promtool="${1:?usage: $0 PROMTOOL}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# promtool reads rule files, not PrometheusRule objects: the object's spec
# is the rule file, written next to a copy of the tests that name it.
go run ./hack/monitoring rules config/prometheus/alerts.yaml "$work/alerts.rules.yaml"
cp config/prometheus/tests/alerts_test.yaml "$work/"
"$promtool" check rules "$work/alerts.rules.yaml"
"$promtool" test rules "$work/alerts_test.yaml"

go run ./hack/monitoring coverage config/prometheus/alerts.yaml config/prometheus/tests/alerts_test.yaml
go run ./hack/monitoring series config/prometheus/dashboard.json config/prometheus/alerts.yaml
