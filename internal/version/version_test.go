package version

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestGet(t *testing.T) {
	buildInfo := func(mainVersion, revision string) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) {
			bi := &debug.BuildInfo{GoVersion: "go1.99.1", Main: debug.Module{Version: mainVersion}}
			if revision != "" {
				bi.Settings = []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: revision}}
			}
			return bi, true
		}
	}
	noBuildInfo := func() (*debug.BuildInfo, bool) { return nil, false }
	for _, tc := range []struct {
		name              string
		version, revision string
		read              func() (*debug.BuildInfo, bool)
		wantVer, wantRev  string
		wantGo            string
	}{
		{"ldflags win", "0.1.0", "abc123", buildInfo("v9.9.9", "fff"), "0.1.0", "abc123", "go1.99.1"},
		{"local build without ldflags", DefaultVersion, "", buildInfo("(devel)", "deadbeef"), DefaultVersion, "deadbeef", "go1.99.1"},
		{"go install module@version", DefaultVersion, "", buildInfo("v1.2.3", ""), "1.2.3", Unknown, "go1.99.1"},
		{"-buildvcs=false, no ldflags", DefaultVersion, "", buildInfo("(devel)", ""), DefaultVersion, Unknown, "go1.99.1"},
		{"no build info", "", "", noBuildInfo, DefaultVersion, Unknown, runtime.Version()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := get(tc.version, tc.revision, tc.read)
			if got.Version != tc.wantVer || got.Revision != tc.wantRev || got.GoVersion != tc.wantGo {
				t.Errorf("got %+v, want version %q revision %q go %q", got, tc.wantVer, tc.wantRev, tc.wantGo)
			}
			if want := runtime.GOOS + "/" + runtime.GOARCH; got.Platform != want {
				t.Errorf("platform %q, want %q", got.Platform, want)
			}
		})
	}
}

func TestString(t *testing.T) {
	s := Info{Version: "0.1.0", Revision: "abc123", GoVersion: "go1.26.8", Platform: "linux/arm64"}.String()
	if want := "mcp-session-operator 0.1.0 (revision abc123, go1.26.8, linux/arm64)"; s != want {
		t.Errorf("String() = %q, want %q", s, want)
	}
	if strings.Contains(String(), "\n") {
		t.Errorf("String() spans lines: %q", String())
	}
}

// TestCollector gathers the build_info gauge from a registry: one series,
// value 1, labelled with what Get reports.
func TestCollector(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(Collector()); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != 1 || mfs[0].GetName() != MetricBuildInfo || len(mfs[0].GetMetric()) != 1 {
		t.Fatalf("gathered %v, want one %s series", mfs, MetricBuildInfo)
	}
	m := mfs[0].GetMetric()[0]
	if v := m.GetGauge().GetValue(); v != 1 {
		t.Errorf("%s = %v, want 1", MetricBuildInfo, v)
	}
	labels := map[string]string{}
	for _, l := range m.GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	i := Get()
	want := map[string]string{"version": i.Version, "revision": i.Revision, "goversion": i.GoVersion}
	if len(labels) != len(want) {
		t.Errorf("labels %v, want %v", labels, want)
	}
	for k, v := range want {
		if labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, labels[k], v)
		}
	}
}
