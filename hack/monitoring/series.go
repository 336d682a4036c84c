package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	// Registered on controller-runtime's registry when imported, as in the
	// manager.
	_ "github.com/mcp-session-operator/mcp-session-operator/controllers"
	"github.com/mcp-session-operator/mcp-session-operator/internal/lifecycle"
	"github.com/mcp-session-operator/mcp-session-operator/internal/mcpserver"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store/pebblestore"
	"github.com/mcp-session-operator/mcp-session-operator/internal/version"
)

// externalSeries are the series alerts may read that the manager does not
// export: Prometheus's own scrape health and the kubelet's volume usage.
var externalSeries = map[string]bool{
	"up":                                  true,
	"kubelet_volume_stats_used_bytes":     true,
	"kubelet_volume_stats_capacity_bytes": true,
}

// Families are the metric families the manager serves, by name, with their
// type where a series showed it (a vector with no series yet has none).
type Families map[string]*dto.MetricType

// ManagerSeries gathers the families the manager serves: those its packages
// register on controller-runtime's registry (the controllers', the MCP
// server's, controller-runtime's and client-go's), and those
// cmd/manager.go's registerMetrics adds (the store's collector and
// build_info). An MCP server and an open store are made so that the
// histograms dashboards read have a series, and so a type.
func ManagerSeries() (Families, error) {
	dir, err := os.MkdirTemp("", "monitoring-store-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	st, err := pebblestore.Open(dir, pebblestore.Options{})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	defaults := lifecycle.DefaultDefaults()
	if _, err := mcpserver.New(mcpserver.Options{Store: st, Defaults: &defaults}); err != nil {
		return nil, err
	}
	own := prometheus.NewRegistry()
	if err := own.Register(st.Collector()); err != nil {
		return nil, err
	}
	if err := own.Register(version.Collector()); err != nil {
		return nil, err
	}
	fams := Families{}
	for _, reg := range []interface {
		prometheus.Gatherer
		Describe(chan<- *prometheus.Desc)
	}{metrics.Registry.(*prometheus.Registry), own} {
		if err := fams.add(reg, reg); err != nil {
			return nil, err
		}
	}
	return fams, nil
}

var fqNameRE = regexp.MustCompile(`fqName: "([^"]+)"`)

// add records every family reg describes (vectors too, series or not) and
// the type of every family it gathers.
func (f Families) add(reg interface{ Describe(chan<- *prometheus.Desc) }, g prometheus.Gatherer) error {
	ch := make(chan *prometheus.Desc)
	go func() { reg.Describe(ch); close(ch) }()
	for d := range ch {
		// A Desc shows its name only in its String.
		m := fqNameRE.FindStringSubmatch(d.String())
		if m == nil {
			return fmt.Errorf("no fqName in %s", d)
		}
		if _, ok := f[m[1]]; !ok {
			f[m[1]] = nil
		}
	}
	gathered, err := g.Gather()
	if err != nil {
		return err
	}
	for _, mf := range gathered {
		f[mf.GetName()] = mf.Type
	}
	return nil
}

// Query is one PromQL expression and where it was found.
type Query struct {
	Where string
	Expr  string
	Alert string // the alert it is the expression of, if any
}

// grafanaVars are Grafana's interval variables, which stand where PromQL
// wants a duration; other variables stand inside label values.
var grafanaVars = regexp.MustCompile(`\$\{?__(rate_interval|interval|range)(_ms|_s)?\}?`)

// Check parses the expression and returns the series names it selects,
// or an error naming each one the manager does not export (external:
// others that are allowed).
func (q Query) Check(fams Families, external map[string]bool) ([]string, error) {
	expr, err := parser.NewParser(parser.Options{}).ParseExpr(grafanaVars.ReplaceAllString(q.Expr, "5m"))
	if err != nil {
		return nil, fmt.Errorf("%s: %q does not parse: %w", q.Where, q.Expr, err)
	}
	var names, problems []string
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		if name == "" {
			for _, m := range vs.LabelMatchers {
				if m.Name == "__name__" {
					name = m.Value
				}
			}
		}
		names = append(names, name)
		if external[name] {
			return nil
		}
		if why := fams.explain(name); why != "" {
			problems = append(problems, why)
		}
		return nil
	})
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s: %s", q.Where, strings.Join(problems, "; "))
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: %q selects no series", q.Where, q.Expr)
	}
	return names, nil
}

// explain says why name is not a series the manager exports, or "". A
// classic histogram is read through its _bucket, _sum and _count series
// (a summary through _sum and _count), never by its own name.
func (f Families) explain(name string) string {
	if name == "" {
		return "a selector without a metric name"
	}
	if t, ok := f[name]; ok {
		if t != nil && (*t == dto.MetricType_HISTOGRAM || *t == dto.MetricType_SUMMARY) {
			return fmt.Sprintf("%s is a %s: select its _bucket, _sum or _count series", name, strings.ToLower(t.String()))
		}
		return ""
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if !ok {
			continue
		}
		t, known := f[base]
		switch {
		case !known:
		case t == nil:
			return fmt.Sprintf("%s: %s has no series yet, so its type is unknown (make one in ManagerSeries)", name, base)
		case *t == dto.MetricType_HISTOGRAM, *t == dto.MetricType_SUMMARY && suffix != "_bucket":
			return ""
		default:
			return fmt.Sprintf("%s: %s is a %s, which has no %s series", name, base, strings.ToLower(t.String()), suffix)
		}
	}
	return fmt.Sprintf("%s is not a series the manager exports", name)
}

// dashboard is the part of a Grafana dashboard that holds queries.
type dashboard struct {
	Panels []struct {
		Title   string `json:"title"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
		Panels json.RawMessage `json:"panels"` // rows' panels: refused below
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

// labelValuesRE matches Grafana's label_values(metric, label) variable query.
var labelValuesRE = regexp.MustCompile(`^label_values\((.+),\s*\w+\)$`)

// DashboardQueries reads every query of a Grafana dashboard: its panels'
// targets and its query variables.
func DashboardQueries(file string) ([]Query, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var qs []Query
	for _, p := range d.Panels {
		if len(p.Panels) > 0 && string(p.Panels) != "null" && string(p.Panels) != "[]" {
			return nil, fmt.Errorf("%s: panel %q nests panels (a collapsed row), which this check does not read", file, p.Title)
		}
		for _, t := range p.Targets {
			if t.Expr == "" {
				return nil, fmt.Errorf("%s: panel %q, query %s has no expr", file, p.Title, t.RefID)
			}
			qs = append(qs, Query{Where: fmt.Sprintf("panel %q query %s", p.Title, t.RefID), Expr: t.Expr})
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			// An older dashboard has the query as a plain string.
			if err := json.Unmarshal(v.Query, &q.Query); err != nil {
				return nil, fmt.Errorf("%s: variable %s: %w", file, v.Name, err)
			}
		}
		expr := q.Query
		if m := labelValuesRE.FindStringSubmatch(expr); m != nil {
			expr = m[1]
		}
		qs = append(qs, Query{Where: "variable " + v.Name, Expr: expr})
	}
	if len(qs) == 0 {
		return nil, fmt.Errorf("%s: no queries", file)
	}
	return qs, nil
}

// RuleQueries reads every rule's expression of a PrometheusRule.
func RuleQueries(file string) ([]Query, error) {
	r, err := readPrometheusRule(file)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(r.Spec.Groups)
	if err != nil {
		return nil, err
	}
	var groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Alert  string `json:"alert"`
			Record string `json:"record"`
			Expr   string `json:"expr"`
		} `json:"rules"`
	}
	if err := json.Unmarshal(b, &groups); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var qs []Query
	for _, g := range groups {
		for _, rule := range g.Rules {
			qs = append(qs, Query{Where: "rule " + rule.Alert + rule.Record, Expr: rule.Expr, Alert: rule.Alert})
		}
	}
	return qs, nil
}
