//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/mcp-session-operator/mcp-session-operator/internal/testenv"
)

// timeline samples, every interval, what the processes of a scale run are
// doing: the CPU of the apiserver, etcd, the manager and this benchmark,
// the writes the benchmark's watch sees, the manager's work queue and
// status patches, and the apiserver's reads of McpSessions from etcd (a
// relist of 100,000 sessions is seconds of work) and its watches. When
// lateness piles up in one window of the spread, the lines around it say
// which process was busy with what.
type timeline struct {
	every       time.Duration
	managerPID  func() int
	metricsAddr string
	api         rest.Interface
	obs         *testenv.Observer

	mu    sync.Mutex
	lines []string
}

func newTimeline(cfg *rest.Config, obs *testenv.Observer, metricsAddr string, managerPID func() int) (*timeline, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &timeline{every: 10 * time.Second, managerPID: managerPID, metricsAddr: metricsAddr,
		api: cs.RESTClient(), obs: obs}, nil
}

// sample is one reading of the counters.
type sample struct {
	at                            time.Time
	cpu                           map[string]float64 // seconds, by process
	modified                      int64
	etcdLists, etcdFetched        float64
	initEvents, watches, patches  float64
	queue                         float64
	managerPatches, terminatedWCH float64
}

// run samples until ctx ends.
func (t *timeline) run(ctx context.Context) {
	tick := time.NewTicker(t.every)
	defer tick.Stop()
	prev := t.read(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		cur := t.read(ctx)
		t.mu.Lock()
		t.lines = append(t.lines, describe(prev, cur))
		t.mu.Unlock()
		prev = cur
	}
}

// String is the timeline so far, a line per interval.
func (t *timeline) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}

func describe(a, b sample) string {
	secs := b.at.Sub(a.at).Seconds()
	pct := func(p string) string { return fmt.Sprintf("%s=%.0f%%", p, 100*(b.cpu[p]-a.cpu[p])/secs) }
	return fmt.Sprintf("%s cpu %s %s %s %s | watched writes %d/s | manager queue %.0f, patches %.0f/s | apiserver status patches %.0f/s, etcd lists %.0f (%.0f objects), watch init events %.0f, watches ended %.0f, watchers closed %.0f",
		b.at.Format(time.TimeOnly), pct("kube-apiserver"), pct("etcd"), pct("manager"), pct("bench"),
		int64(float64(b.modified-a.modified)/secs), b.queue, (b.managerPatches-a.managerPatches)/secs,
		(b.patches-a.patches)/secs, b.etcdLists-a.etcdLists, b.etcdFetched-a.etcdFetched,
		b.initEvents-a.initEvents, b.watches-a.watches, b.terminatedWCH-a.terminatedWCH)
}

func (t *timeline) read(ctx context.Context) sample {
	s := sample{at: time.Now(), cpu: map[string]float64{}, modified: t.obs.Modified()}
	s.cpu["bench"] = cpuSeconds(os.Getpid())
	if pid := t.managerPID(); pid > 0 {
		s.cpu["manager"] = cpuSeconds(pid)
	}
	for _, name := range []string{"kube-apiserver", "etcd"} {
		if pid := childNamed(os.Getpid(), name); pid > 0 {
			s.cpu[name] = cpuSeconds(pid)
		}
	}
	if raw, err := t.api.Get().AbsPath("/metrics").DoRaw(ctx); err == nil {
		eachMetric(raw, func(name string, l map[string]string, v float64) {
			sessions := l["resource"] == "mcpsessions"
			switch {
			case name == "apiserver_storage_list_total" && sessions && l["storage"] == "etcd":
				s.etcdLists += v
			case name == "apiserver_storage_list_fetched_objects_total" && sessions && l["storage"] == "etcd":
				s.etcdFetched += v
			case name == "apiserver_init_events_total" && sessions:
				s.initEvents += v
			case name == "apiserver_request_total" && sessions && l["verb"] == "WATCH":
				s.watches += v
			case name == "apiserver_request_total" && sessions && l["subresource"] == "status" && l["verb"] == "PATCH":
				s.patches += v
			case name == "apiserver_terminated_watchers_total":
				s.terminatedWCH += v
			}
		})
	}
	if resp, err := http.Get("http://" + t.metricsAddr + "/metrics"); err == nil {
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		resp.Body.Close()
		eachMetric(buf.Bytes(), func(name string, l map[string]string, v float64) {
			switch {
			case name == "workqueue_depth" && l["name"] == "mcpsession":
				s.queue += v
			case name == "rest_client_requests_total" && l["method"] == "PATCH":
				s.managerPatches += v
			}
		})
	}
	return s
}

// eachMetric calls fn for every counter, gauge and untyped sample of a
// Prometheus text exposition, with its labels. A sample the parser cannot
// read ends the walk: the timeline then lacks that sample's figures.
func eachMetric(raw []byte, fn func(name string, labels map[string]string, v float64)) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, _ := p.TextToMetricFamilies(bytes.NewReader(raw))
	for name, f := range families {
		for _, m := range f.GetMetric() {
			var v float64
			switch {
			case m.Counter != nil:
				v = m.GetCounter().GetValue()
			case m.Gauge != nil:
				v = m.GetGauge().GetValue()
			case m.Untyped != nil:
				v = m.GetUntyped().GetValue()
			default:
				continue
			}
			labels := make(map[string]string, len(m.GetLabel()))
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			fn(name, labels, v)
		}
	}
}

// cpuSeconds is the user and system CPU time of a process; 0 if gone.
func cpuSeconds(pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses.
	f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+2:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // USER_HZ
}

// childNamed is the PID of a child process of parent whose command is
// name; 0 if none.
func childNamed(parent int, name string) int {
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, d := range dirs {
		raw, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		open, closing := bytes.IndexByte(raw, '('), bytes.LastIndexByte(raw, ')')
		if open < 0 || closing < open || string(raw[open+1:closing]) != name {
			continue
		}
		f := strings.Fields(string(raw[closing+2:]))
		if len(f) > 1 && f[1] == strconv.Itoa(parent) {
			pid, _ := strconv.Atoi(string(bytes.TrimSpace(raw[:open])))
			return pid
		}
	}
	return 0
}
