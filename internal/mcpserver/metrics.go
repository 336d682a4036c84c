package mcpserver

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Metric names, registered on controller-runtime's registry (served on the
// manager's metrics endpoint, next to the controllers' mcpsession_* series).
const (
	MetricToolCalls    = "mcpsession_mcp_tool_calls_total"
	MetricToolDuration = "mcpsession_mcp_tool_duration_seconds"
)

// Outcomes of a tool call, the "outcome" label of MetricToolCalls.
const (
	// OutcomeOK: the tool did what was asked.
	OutcomeOK = "ok"
	// OutcomeRefused: an isError result the caller can act on (bad input,
	// unknown or suspended session, access denied, a limit).
	OutcomeRefused = "refused"
	// OutcomeFailed: the server's fault (apiserver or disk trouble); these
	// are also logged.
	OutcomeFailed = "failed"
)

var (
	toolCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricToolCalls,
		Help: "MCP tool calls that reached the tool, by tool and outcome (ok; refused: the caller's to fix; failed: the server's).",
	}, []string{"tool", "outcome"})

	toolDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: MetricToolDuration,
		Help: "Time spent in an MCP tool, from decoded arguments to result, by tool.",
		// 250 us to ~8 s: a durable append is in the first buckets, a
		// resume that waits for the controller or a large import in the
		// last ones.
		Buckets: prometheus.ExponentialBuckets(0.00025, 2, 16),
	}, []string{"tool"})
)

func init() {
	metrics.Registry.MustRegister(toolCalls, toolDuration)
}

// toolMetrics are one tool's series, looked up once at registration so a
// call does not hash label values.
type toolMetrics struct {
	ok, refused, failed prometheus.Counter
	duration            prometheus.Observer
}

func newToolMetrics(tool string) toolMetrics {
	return toolMetrics{
		ok:       toolCalls.WithLabelValues(tool, OutcomeOK),
		refused:  toolCalls.WithLabelValues(tool, OutcomeRefused),
		failed:   toolCalls.WithLabelValues(tool, OutcomeFailed),
		duration: toolDuration.WithLabelValues(tool),
	}
}
