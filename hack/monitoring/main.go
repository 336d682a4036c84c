// Command monitoring checks what config/prometheus ships:
//
//	monitoring rules config/prometheus/alerts.yaml OUT.yaml
//
// writes the PrometheusRule's rule groups as a plain Prometheus rule file,
// which `promtool check rules` and `promtool test rules` read (make
// test-monitoring runs both, with config/prometheus/tests/alerts_test.yaml);
//
//	monitoring coverage config/prometheus/alerts.yaml config/prometheus/tests/alerts_test.yaml
//
// fails unless every alert has a test in which it fires and one in which it
// does not;
//
//	monitoring series config/prometheus/dashboard.json config/prometheus/alerts.yaml
//
// parses every PromQL expression of the Grafana dashboard and the alerts and
// fails unless each series it selects is one the manager exports (gathered
// from the registries the manager serves), or, for alerts only, one of
// Prometheus's or the kubelet's listed in externalSeries.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"sigs.k8s.io/yaml"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "monitoring:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: monitoring rules PROMETHEUSRULE OUT | coverage PROMETHEUSRULE TESTS | series DASHBOARD PROMETHEUSRULE")
	}
	switch args[0] {
	case "rules":
		if len(args) != 3 {
			return errors.New("usage: monitoring rules PROMETHEUSRULE OUT")
		}
		return writeRuleFile(args[1], args[2])
	case "coverage":
		if len(args) != 3 {
			return errors.New("usage: monitoring coverage PROMETHEUSRULE TESTS")
		}
		return checkCoverage(args[1], args[2], stdout)
	case "series":
		if len(args) != 3 {
			return errors.New("usage: monitoring series DASHBOARD PROMETHEUSRULE")
		}
		exported, err := ManagerSeries()
		if err != nil {
			return err
		}
		var problems []string
		for _, check := range []struct {
			file     string
			read     func(string) ([]Query, error)
			external map[string]bool
		}{{args[1], DashboardQueries, nil}, {args[2], RuleQueries, externalSeries}} {
			queries, err := check.read(check.file)
			if err != nil {
				return err
			}
			for _, q := range queries {
				names, err := q.Check(exported, check.external)
				if err != nil {
					problems = append(problems, fmt.Sprintf("%s: %v", check.file, err))
					continue
				}
				fmt.Fprintf(stdout, "ok  %s %s: %s\n", check.file, q.Where, strings.Join(names, ", "))
			}
		}
		if len(problems) > 0 {
			return fmt.Errorf("series the manager does not export:\n  %s", strings.Join(problems, "\n  "))
		}
		return nil
	}
	return fmt.Errorf("unknown subcommand %q", args[0])
}

// prometheusRule is the part of a PrometheusRule that is a rule file.
type prometheusRule struct {
	Kind string `json:"kind"`
	Spec struct {
		Groups []any `json:"groups"`
	} `json:"spec"`
}

func readPrometheusRule(file string) (prometheusRule, error) {
	var r prometheusRule
	b, err := os.ReadFile(file)
	if err != nil {
		return r, err
	}
	if err := yaml.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("%s: %w", file, err)
	}
	if r.Kind != "PrometheusRule" || len(r.Spec.Groups) == 0 {
		return r, fmt.Errorf("%s: not a PrometheusRule with rule groups", file)
	}
	return r, nil
}

// writeRuleFile writes a PrometheusRule's spec (groups), which is the rule
// file format, as it is.
func writeRuleFile(file, out string) error {
	r, err := readPrometheusRule(file)
	if err != nil {
		return err
	}
	b, err := yaml.Marshal(map[string]any{"groups": r.Spec.Groups})
	if err != nil {
		return err
	}
	return os.WriteFile(out, b, 0o644)
}

// checkCoverage fails unless every alert of the PrometheusRule has, in the
// promtool test file, an evaluation where it fires (exp_alerts lists
// alerts) and one where it does not (exp_alerts: []).
func checkCoverage(rulesFile, testsFile string, stdout io.Writer) error {
	queries, err := RuleQueries(rulesFile)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(testsFile)
	if err != nil {
		return err
	}
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `json:"alertname"`
				ExpAlerts []any  `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	if err := yaml.Unmarshal(b, &tests); err != nil {
		return fmt.Errorf("%s: %w", testsFile, err)
	}
	fires, quiet := map[string]int{}, map[string]int{}
	for _, t := range tests.Tests {
		for _, a := range t.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname]++
			} else {
				quiet[a.Alertname]++
			}
		}
	}
	var missing []string
	for _, q := range queries {
		if q.Alert == "" {
			continue
		}
		if fires[q.Alert] == 0 {
			missing = append(missing, q.Alert+" never fires")
		}
		if quiet[q.Alert] == 0 {
			missing = append(missing, q.Alert+" is never shown not to fire")
		}
		fmt.Fprintf(stdout, "%s: %d tests where it fires, %d where it does not\n", q.Alert, fires[q.Alert], quiet[q.Alert])
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s: %s", testsFile, strings.Join(missing, "; "))
	}
	return nil
}
