package controllers

import (
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/lifecycle"
	"github.com/mcp-session-operator/mcp-session-operator/internal/testenv"
)

func gauge(ns string, p v1alpha1.Phase) float64 {
	return testutil.ToFloat64(sessionsGauge.WithLabelValues(ns, string(p)))
}

func deletionSamples(t *testing.T) (count uint64, sum float64) {
	t.Helper()
	m := &dto.Metric{}
	if err := deletionDelay.Write(m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()
}

func TestMetrics(t *testing.T) {
	h := start(t, lifecycle.Defaults{Retention: time.Hour})
	suspends := testutil.ToFloat64(transitionsTotal.WithLabelValues("Active", "Suspended", v1alpha1.ReasonRequested))
	count0, sum0 := deletionSamples(t)

	h.create("a")
	h.create("b", func(s *v1alpha1.McpSession) { s.Spec.Suspend = true })
	h.create("c")
	h.waitPhase("a", v1alpha1.PhaseActive, v1alpha1.ReasonActive)
	h.waitPhase("b", v1alpha1.PhaseSuspended, v1alpha1.ReasonRequested)
	h.waitPhase("c", v1alpha1.PhaseActive, v1alpha1.ReasonActive)
	waitGauges(t, h.ns, 2, 1, 0)

	h.setSpec("c", `{"suspend":true}`)
	h.waitPhase("c", v1alpha1.PhaseSuspended, v1alpha1.ReasonRequested)
	h.setSpec("a", `{"terminate":true}`)
	h.waitPhase("a", v1alpha1.PhaseTerminated, v1alpha1.ReasonRequested)
	waitGauges(t, h.ns, 0, 2, 1)
	if got := testutil.ToFloat64(transitionsTotal.WithLabelValues("Active", "Suspended", v1alpha1.ReasonRequested)) - suspends; got != 1 {
		t.Fatalf("Active->Suspended(Requested) transitions: %v, want 1", got)
	}

	// Deleted 90 s (fake) after retention ran out: the histogram says so.
	h.step(time.Hour+90*time.Second, "a")
	h.waitGone("a")
	waitGauges(t, h.ns, 0, 2, 0)
	count, sum := deletionSamples(t)
	if count != count0+1 || math.Abs(sum-sum0-90) > 2 {
		t.Fatalf("deletion delay: %d samples (+%d), sum +%.1fs; want 1 sample of ~90s", count, count-count0, sum-sum0)
	}
}

func waitGauges(t *testing.T, ns string, active, suspended, terminated float64) {
	t.Helper()
	testenv.Eventually(t, pollTimeout, "session gauges", func() string {
		a, s, x := gauge(ns, v1alpha1.PhaseActive), gauge(ns, v1alpha1.PhaseSuspended), gauge(ns, v1alpha1.PhaseTerminated)
		if a != active || s != suspended || x != terminated {
			return "gauges Active/Suspended/Terminated = " + ftoa(a) + "/" + ftoa(s) + "/" + ftoa(x)
		}
		return ""
	})
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
