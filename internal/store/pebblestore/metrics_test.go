package pebblestore

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestCollector scrapes a real store through a pedantic registry: the
// series are well-formed, the fsync histogram counts the synced writes in
// seconds, and a closed store reports nothing instead of panicking.
func TestCollector(t *testing.T) {
	st := openTest(t)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(st.Collector())

	ctx := context.Background()
	mustCreate(t, st, "u1")
	for i := range 3 {
		if _, err := st.AppendMessage(ctx, "u1", Message{Role: "user", Content: strings.Repeat("x", 100+i)}, Limits{}); err != nil {
			t.Fatal(err)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		m := mf.GetMetric()[0]
		switch {
		case m.GetHistogram() != nil:
			got[mf.GetName()] = float64(m.GetHistogram().GetSampleCount())
			if mean := m.GetHistogram().GetSampleSum() / float64(m.GetHistogram().GetSampleCount()); mean < 1e-7 || mean > 10 {
				t.Errorf("%s: mean fsync %v s, want seconds, in [100ns, 10s]", mf.GetName(), mean)
			}
		case m.GetGauge() != nil:
			got[mf.GetName()] = m.GetGauge().GetValue()
		case m.GetCounter() != nil:
			got[mf.GetName()] = m.GetCounter().GetValue()
		}
	}
	if got[MetricWALFsync] < 4 { // create + 3 appends, each acknowledged after its own fsync
		t.Errorf("%s counted %v fsyncs, want >= 4", MetricWALFsync, got[MetricWALFsync])
	}
	if got[MetricWALBytesWritten] < 300 {
		t.Errorf("%s = %v, want at least the 300 bytes appended", MetricWALBytesWritten, got[MetricWALBytesWritten])
	}
	if got[MetricDiskUsage] <= 0 {
		t.Errorf("%s = %v, want > 0", MetricDiskUsage, got[MetricDiskUsage])
	}
	for _, name := range []string{MetricCompactions, MetricReadAmp} {
		if _, ok := got[name]; !ok {
			t.Errorf("%s missing from the scrape", name)
		}
	}

	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(st.Collector()); n != 0 {
		t.Errorf("closed store reported %d series, want none", n)
	}
}
