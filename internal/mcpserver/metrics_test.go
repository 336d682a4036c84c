package mcpserver

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store/pebblestore"
)

// TestToolMetrics checks that every call that reaches a tool is counted
// once under the right outcome and timed.
func TestToolMetrics(t *testing.T) {
	ns := newNamespace(t)
	calls := func(tool, outcome string) float64 {
		return testutil.ToFloat64(toolCalls.WithLabelValues(tool, outcome))
	}
	type counts struct{ ok, refused, failed float64 }
	snapshot := func(tool string) counts {
		return counts{calls(tool, OutcomeOK), calls(tool, OutcomeRefused), calls(tool, OutcomeFailed)}
	}

	_, url := startServer(t, Options{})
	cs := connect(t, url, clientOpts{})
	a := map[string]any{"session_id": "metered", "namespace": ns}
	ok[SessionResult](t, cs, "create_session", a)

	before := snapshot("add_message")
	ok[AddMessageResult](t, cs, "add_message", map[string]any{"session_id": "metered", "namespace": ns, "role": "user", "content": "hi"})
	ok[AddMessageResult](t, cs, "add_message", map[string]any{"session_id": "metered", "namespace": ns, "role": "user", "content": "again"})
	fails(t, cs, "add_message", map[string]any{"session_id": "nope", "namespace": ns, "role": "user", "content": "hi"}, "not found")
	got := snapshot("add_message")
	if d := (counts{got.ok - before.ok, got.refused - before.refused, got.failed - before.failed}); d != (counts{2, 1, 0}) {
		t.Errorf("add_message calls by outcome changed by %+v, want 2 ok, 1 refused, 0 failed", d)
	}

	// A server whose store is gone fails on its side: counted as failed,
	// not as the caller's mistake.
	broken, err := pebblestore.Open(t.TempDir(), pebblestore.Options{Clock: testClock, Logger: quietPebble{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := broken.Close(); err != nil {
		t.Fatal(err)
	}
	_, burl := startServer(t, Options{Store: broken})
	bcs := connect(t, burl, clientOpts{})
	before = snapshot("add_message")
	fails(t, bcs, "add_message", map[string]any{"session_id": "metered", "namespace": ns, "role": "user", "content": "hi"}, "failed on the server side")
	got = snapshot("add_message")
	if got.failed-before.failed != 1 || got.refused != before.refused {
		t.Errorf("failed went %v -> %v, refused %v -> %v; want one more failed", before.failed, got.failed, before.refused, got.refused)
	}

	// Duration: every counted call was observed.
	var total float64
	for _, o := range []string{OutcomeOK, OutcomeRefused, OutcomeFailed} {
		total += calls("add_message", o)
	}
	if n := histogramCount(t, "add_message"); float64(n) != total {
		t.Errorf("%s{tool=add_message} has %d observations, want %v (one per counted call)", MetricToolDuration, n, total)
	}
}

// histogramCount is the number of observations of tool's duration series.
func histogramCount(t *testing.T, tool string) uint64 {
	t.Helper()
	var m dto.Metric
	if err := toolDuration.WithLabelValues(tool).(prometheus.Metric).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}
