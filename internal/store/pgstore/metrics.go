package pgstore

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric names of Store.Collector.
const (
	MetricConnections    = "mcpsession_store_connections"
	MetricAcquireWait    = "mcpsession_store_connection_wait_seconds_total"
	MetricCommitDuration = "mcpsession_store_commit_duration_seconds"
)

var (
	descConnections = prometheus.NewDesc(MetricConnections,
		"Connections of the store's pool to PostgreSQL, by state (acquired: in use; idle); max is the pool's size.", []string{"state"}, nil)
	descAcquireWait = prometheus.NewDesc(MetricAcquireWait,
		"Time operations spent waiting for a free connection of the pool; growing fast means the pool (pool_max_conns) is too small for the load.", nil, nil)
)

// metrics are what the store measures itself.
type metrics struct {
	// commit is the duration of every acknowledged write, from its first
	// statement to the commit's acknowledgement (synchronous commit
	// included).
	commit prometheus.Histogram
}

func newMetrics() *metrics {
	return &metrics{commit: prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    MetricCommitDuration,
		Help:    "Duration of the store's acknowledged writes, each one transaction committed with synchronous_commit on; slow disks or a busy server show here first.",
		Buckets: prometheus.ExponentialBuckets(0.0002, 2, 14),
	})}
}

// Collector returns a Prometheus collector of the store's pool and write
// latency. It reports only the latency once the store is closed.
func (s *Store) Collector() prometheus.Collector { return collector{s} }

type collector struct{ s *Store }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descConnections
	ch <- descAcquireWait
	c.s.metrics.commit.Describe(ch)
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	c.s.metrics.commit.Collect(ch)
	done, err := c.s.begin(context.Background())
	if err != nil {
		return // closed
	}
	defer done()
	st := c.s.pool.Stat()
	ch <- prometheus.MustNewConstMetric(descConnections, prometheus.GaugeValue, float64(st.AcquiredConns()), "acquired")
	ch <- prometheus.MustNewConstMetric(descConnections, prometheus.GaugeValue, float64(st.IdleConns()), "idle")
	ch <- prometheus.MustNewConstMetric(descConnections, prometheus.GaugeValue, float64(st.MaxConns()), "max")
	ch <- prometheus.MustNewConstMetric(descAcquireWait, prometheus.CounterValue, st.AcquireDuration().Seconds())
}
