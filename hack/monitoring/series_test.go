package main

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"sigs.k8s.io/yaml"
)

const (
	dashboardFile = "../../config/prometheus/dashboard.json"
	alertsFile    = "../../config/prometheus/alerts.yaml"
	alertTests    = "../../config/prometheus/tests/alerts_test.yaml"
)

// gathered runs ManagerSeries once for all tests.
var gathered = sync.OnceValues(ManagerSeries)

func managerSeries(t *testing.T) Families {
	t.Helper()
	fams, err := gathered()
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// Every series the dashboard queries is one the manager exports.
func TestDashboardQueriesOnlyExportedSeries(t *testing.T) {
	fams := managerSeries(t)
	queries, err := DashboardQueries(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, q := range queries {
		names, err := q.Check(fams, nil)
		if err != nil {
			t.Error(err)
		}
		for _, n := range names {
			seen[n] = true
		}
	}
	// The panels: sessions by phase, transitions, tool calls and
	// latency by tool, WAL fsync latency, disk use, reconcile errors.
	for _, want := range []string{"mcpsession_sessions", "mcpsession_transitions_total", "mcpsession_mcp_tool_calls_total",
		"mcpsession_mcp_tool_duration_seconds_bucket", "mcpsession_store_wal_fsync_duration_seconds_bucket",
		"mcpsession_store_disk_usage_bytes", "mcpsession_reconcile_errors_total"} {
		if !seen[want] {
			t.Errorf("the dashboard has no panel reading %s", want)
		}
	}
}

// Every series the alerts query is the manager's, Prometheus's or the
// kubelet's.
func TestAlertsQueryOnlyKnownSeries(t *testing.T) {
	fams := managerSeries(t)
	queries, err := RuleQueries(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(queries) == 0 {
		t.Fatal("no rules")
	}
	for _, q := range queries {
		if _, err := q.Check(fams, externalSeries); err != nil {
			t.Error(err)
		}
	}
}

// The check refuses what the manager does not serve, saying why.
func TestCheckRefusesUnexportedSeries(t *testing.T) {
	fams := managerSeries(t)
	cases := []struct{ expr, want string }{
		{`sum(mcpsession_sesions)`, "mcpsession_sesions is not a series the manager exports"},
		{`rate(mcpsession_mcp_tool_duration_seconds[5m])`, "is a histogram: select its _bucket"},
		{`mcpsession_store_disk_usage_bytes_bucket`, "mcpsession_store_disk_usage_bytes is a gauge, which has no _bucket series"},
		{`mcpsession_sessions_count`, "mcpsession_sessions has no series yet, so its type is unknown"},
		{`up == 0`, "up is not a series the manager exports"},
		{`{job="x"}`, "a selector without a metric name"},
		{`sum(rate(mcpsession_transitions_total[5m]) by (to)`, "does not parse"},
		{`vector(1)`, "selects no series"},
	}
	for _, c := range cases {
		_, err := Query{Where: "test", Expr: c.expr}.Check(fams, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.expr, err, c.want)
		}
	}
	for _, expr := range []string{
		`{__name__="mcpsession_build_info"}`,
		`histogram_quantile(0.99, sum by (le) (rate(mcpsession_deletion_delay_seconds_bucket[$__rate_interval])))`,
		`rate(mcpsession_mcp_tool_duration_seconds_count[${__interval}])`,
		`workqueue_depth{name="mcpsession"}`,
	} {
		if _, err := (Query{Where: "test", Expr: expr}).Check(fams, nil); err != nil {
			t.Errorf("%s: %v", expr, err)
		}
	}
}

// A dashboard's queries are its panels' targets and its query variables.
func TestDashboardQueriesReadsTargetsAndVariables(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "d.json")
	if err := os.WriteFile(file, []byte(`{
  "panels": [{"title": "A", "targets": [{"refId": "A", "expr": "up"}, {"refId": "B", "expr": "mcpsession_sessions"}]}],
  "templating": {"list": [
    {"name": "ds", "type": "datasource", "query": "prometheus"},
    {"name": "job", "type": "query", "query": {"query": "label_values(mcpsession_build_info, job)"}},
    {"name": "old", "type": "query", "query": "label_values(workqueue_depth{job=\"$job\"}, name)"}]}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	qs, err := DashboardQueries(file)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, q := range qs {
		got = append(got, q.Where+": "+q.Expr)
	}
	want := []string{`panel "A" query A: up`, `panel "A" query B: mcpsession_sessions`,
		`variable job: mcpsession_build_info`, `variable old: workqueue_depth{job="$job"}`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("queries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// The rule file promtool reads is the PrometheusRule's groups, unchanged.
func TestRuleFileIsThePrometheusRulesGroups(t *testing.T) {
	out := filepath.Join(t.TempDir(), "rules.yaml")
	if err := writeRuleFile(alertsFile, out); err != nil {
		t.Fatal(err)
	}
	r, err := readPrometheusRule(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var file struct{ Groups []any }
	if err := yaml.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	a, _ := yaml.Marshal(file.Groups)
	w, _ := yaml.Marshal(r.Spec.Groups)
	if string(a) != string(w) {
		t.Errorf("rule file groups:\n%s\nwant the PrometheusRule's:\n%s", a, w)
	}
}

// Every alert has tests where it fires and where it does not; the check
// says which alert lacks which.
func TestEveryAlertIsTestedBothWays(t *testing.T) {
	if err := checkCoverage(alertsFile, alertTests, &strings.Builder{}); err != nil {
		t.Error(err)
	}
	partial := filepath.Join(t.TempDir(), "tests.yaml")
	if err := os.WriteFile(partial, []byte(`tests:
- alert_rule_test:
  - {alertname: McpSessionOperatorDown, exp_alerts: [{exp_labels: {severity: critical}}]}
  - {alertname: McpSessionOperatorDown, exp_alerts: []}
  - {alertname: McpSessionStoreFsyncSlow, exp_alerts: []}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	err := checkCoverage(alertsFile, partial, &strings.Builder{})
	for _, want := range []string{"McpSessionStoreFsyncSlow never fires", "McpSessionReconcileErrors never fires", "McpSessionReconcileErrors is never shown not to fire"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("coverage of a partial test file: %v, want it to say %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "McpSessionOperatorDown") {
		t.Errorf("coverage blames McpSessionOperatorDown, which is tested both ways: %v", err)
	}
}
