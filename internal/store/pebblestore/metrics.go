package pebblestore

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Metric names of Store.Collector.
const (
	MetricDiskUsage       = "mcpsession_store_disk_usage_bytes"
	MetricWALFsync        = "mcpsession_store_wal_fsync_duration_seconds"
	MetricWALBytesWritten = "mcpsession_store_wal_bytes_written_total"
	MetricCompactions     = "mcpsession_store_compactions_total"
	MetricReadAmp         = "mcpsession_store_read_amplification"
)

var (
	descDiskUsage = prometheus.NewDesc(MetricDiskUsage,
		"Bytes the store's Pebble database occupies on the data volume (sstables, WAL, manifests); compare with the PVC's size.", nil, nil)
	descWALFsync = prometheus.NewDesc(MetricWALFsync,
		"Duration of the WAL fsyncs that every acknowledged write waits for; slow disks show here first.", nil, nil)
	descWALBytes = prometheus.NewDesc(MetricWALBytesWritten,
		"Bytes written to the store's write-ahead log.", nil, nil)
	descCompactions = prometheus.NewDesc(MetricCompactions,
		"Compactions the store's Pebble database has run.", nil, nil)
	descReadAmp = prometheus.NewDesc(MetricReadAmp,
		"Pebble read amplification (sstable levels a read may visit); a value that keeps growing means compactions are falling behind.", nil, nil)
)

// Collector returns a Prometheus collector of the store's health, read from
// Pebble at each scrape. It reports nothing once the store is closed.
func (s *Store) Collector() prometheus.Collector { return collector{s} }

type collector struct{ s *Store }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDiskUsage, descWALFsync, descWALBytes, descCompactions, descReadAmp} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	done, err := c.s.begin(context.Background())
	if err != nil {
		return // closed
	}
	defer done()
	m := c.s.db.Metrics()
	ch <- prometheus.MustNewConstMetric(descDiskUsage, prometheus.GaugeValue, float64(m.DiskSpaceUsage()))
	ch <- prometheus.MustNewConstMetric(descWALBytes, prometheus.CounterValue, float64(m.WAL.BytesWritten))
	ch <- prometheus.MustNewConstMetric(descCompactions, prometheus.CounterValue, float64(m.Compact.Count))
	ch <- prometheus.MustNewConstMetric(descReadAmp, prometheus.GaugeValue, float64(m.ReadAmp()))
	if h := m.LogWriter.FsyncLatency; h != nil {
		if hm, err := secondsHistogram(h); err == nil {
			ch <- hm
		}
	}
}

// secondsHistogram re-labels Pebble's unnamed fsync histogram, which counts
// nanoseconds, as ours in seconds.
func secondsHistogram(h prometheus.Histogram) (prometheus.Metric, error) {
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		return nil, err
	}
	ph := m.GetHistogram()
	buckets := make(map[float64]uint64, len(ph.GetBucket()))
	for _, b := range ph.GetBucket() {
		buckets[b.GetUpperBound()/1e9] = b.GetCumulativeCount()
	}
	return prometheus.NewConstHistogram(descWALFsync, ph.GetSampleCount(), ph.GetSampleSum()/1e9, buckets)
}
