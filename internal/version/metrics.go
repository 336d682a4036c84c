package version

import "github.com/prometheus/client_golang/prometheus"

// MetricBuildInfo is the name of the build information gauge.
const MetricBuildInfo = "mcpsession_build_info"

// Collector returns the build information as a gauge that is always 1, the
// Prometheus convention for labels that describe a process: join it on
// other series to see which version produced them, or count versions
// during an upgrade. The manager registers it on controller-runtime's
// registry beside the other mcpsession_* metrics.
func Collector() prometheus.Collector {
	i := Get()
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        MetricBuildInfo,
		Help:        "Build information of the running manager; always 1.",
		ConstLabels: prometheus.Labels{"version": i.Version, "revision": i.Revision, "goversion": i.GoVersion},
	})
	g.Set(1)
	return g
}
