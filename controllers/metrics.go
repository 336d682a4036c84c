package controllers

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
)

// Metric names, registered on controller-runtime's registry (served on the
// manager's metrics endpoint).
const (
	MetricSessions        = "mcpsession_sessions"
	MetricTransitions     = "mcpsession_transitions_total"
	MetricReconcileErrors = "mcpsession_reconcile_errors_total"
	MetricDeletionDelay   = "mcpsession_deletion_delay_seconds"
)

// Controller names, used as the "controller" label of the error counter and
// as controller-runtime controller names.
const (
	sessionControllerName = "mcpsession"
	policyControllerName  = "mcpsessionpolicy"
)

var (
	sessionsGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: MetricSessions,
		Help: "Number of McpSessions by namespace and phase, as last reconciled by this manager (the leader).",
	}, []string{"namespace", "phase"})

	transitionsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricTransitions,
		Help: "McpSession phase transitions made by the controller; from is \"New\" for a session's first phase.",
	}, []string{"from", "to", "reason"})

	// controller_runtime_reconcile_errors_total counts the same errors; this
	// one exists so dashboards about sessions need only mcpsession_* series.
	reconcileErrorsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricReconcileErrors,
		Help: "Reconcile attempts of the McpSession operator's controllers that returned an error.",
	}, []string{"controller"})

	deletionDelay = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: MetricDeletionDelay,
		Help: "How long after its retention ran out a terminated McpSession was deleted.",
		// 100 ms to ~58 h: a healthy controller is in the first buckets, a
		// manager that was down for a weekend in the last ones.
		Buckets: prometheus.ExponentialBuckets(0.1, 2, 22),
	})
)

func init() {
	metrics.Registry.MustRegister(sessionsGauge, transitionsTotal, reconcileErrorsTotal, deletionDelay)
}

// phaseCounter keeps the session gauge exact without listing: it remembers
// the phase it last counted for each session and moves the count when the
// phase changes or the session disappears. A new leader rebuilds it from the
// initial list, since every session is reconciled once at start.
type phaseCounter struct {
	mu     sync.Mutex
	phases map[types.NamespacedName]v1alpha1.Phase
}

var sessionPhases = &phaseCounter{phases: map[types.NamespacedName]v1alpha1.Phase{}}

func (c *phaseCounter) observe(key types.NamespacedName, phase v1alpha1.Phase) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.phases[key]
	if ok && old == phase {
		return
	}
	if ok {
		sessionsGauge.WithLabelValues(key.Namespace, string(old)).Dec()
	}
	c.phases[key] = phase
	sessionsGauge.WithLabelValues(key.Namespace, string(phase)).Inc()
}

func (c *phaseCounter) forget(key types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.phases[key]
	if !ok {
		return
	}
	delete(c.phases, key)
	sessionsGauge.WithLabelValues(key.Namespace, string(old)).Dec()
}

func recordTransition(from, to v1alpha1.Phase, reason string) {
	f := string(from)
	if f == "" {
		f = "New"
	}
	transitionsTotal.WithLabelValues(f, string(to), reason).Inc()
}
