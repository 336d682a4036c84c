package main

import (
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store/pebblestore"
	"github.com/mcp-session-operator/mcp-session-operator/internal/version"
)

func TestWantsVersion(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"--version"}, true},
		{[]string{"-version"}, true},
		{[]string{"--version=true"}, true},
		{[]string{"version"}, true},
		{[]string{"--data-dir=/x", "--version", "--default-ttl=bogus"}, true},
		{nil, false},
		{[]string{"--data-dir=/x"}, false},
		{[]string{"export", "--uid", "u"}, false},
		{[]string{"--version=false"}, false},
		{[]string{"--", "--version"}, false},
		{[]string{"--data-dir", "version"}, false},
	} {
		if got := wantsVersion(tc.args); got != tc.want {
			t.Errorf("wantsVersion(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}

// TestRegisterMetrics registers what main registers on controller-runtime's
// registry, which the manager serves, and gathers it back: the build
// information and the store's series are there beside the others.
func TestRegisterMetrics(t *testing.T) {
	st, err := pebblestore.Open(t.TempDir(), pebblestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := registerMetrics(metrics.Registry, st); err != nil {
		t.Fatal(err)
	}
	mfs, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, mf := range mfs {
		found[mf.GetName()] = true
		if mf.GetName() != version.MetricBuildInfo {
			continue
		}
		if n := len(mf.GetMetric()); n != 1 {
			t.Fatalf("%s has %d series, want 1", version.MetricBuildInfo, n)
		}
		m := mf.GetMetric()[0]
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		i := version.Get()
		if m.GetGauge().GetValue() != 1 || labels["version"] != i.Version || labels["revision"] != i.Revision || labels["goversion"] != i.GoVersion {
			t.Errorf("%s = %v %v, want 1 with version %q revision %q goversion %q", version.MetricBuildInfo, m.GetGauge().GetValue(), labels, i.Version, i.Revision, i.GoVersion)
		}
	}
	for _, name := range []string{version.MetricBuildInfo, pebblestore.MetricDiskUsage} {
		if !found[name] {
			t.Errorf("%s not served by the manager's registry", name)
		}
	}
}
