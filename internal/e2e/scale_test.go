//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	appsv1 "k8s.io/api/apps/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	v1 "github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/controllers"
	"github.com/mcp-session-operator/mcp-session-operator/internal/memory"
	"github.com/mcp-session-operator/mcp-session-operator/internal/testenv"
)

// BenchmarkScale runs the manager binary, as deployed, against the real
// control plane with SCALE_SESSIONS McpSessions (100,000 by default), and
// measures (make bench-scale; docs/benchmarks.md):
//
//   - rss-peak-MiB: the manager's peak resident memory over the whole run
//     (both processes: it is restarted once), run with the GOMEMLIMIT the
//     Deployment's memory limit gives it;
//   - late-p99-ms: how late sessions are Suspended after their idle
//     deadline, with the deadlines of all but the burst spread evenly over
//     SCALE_SPREAD (ten minutes);
//   - idle-writes: writes to sessions while nothing happens: the manager
//     is restarted and reconciles every session again, which must change
//     none;
//   - page-p99-ms, resources-page-p99-ms: list_sessions and resources/list,
//     a page of 100 at a time through the cursor, over MCP;
//   - burst-x-bare: SCALE_BURST sessions (10,000) whose deadlines fall in
//     the same second are all Suspended within this multiple of the time
//     the same apiserver takes for as many bare status patches of the same
//     objects, from as many concurrent writers as the controller has
//     workers, measured in the same run (with the manager stopped).
//
// The deadlines must fall after the sessions are created and synced, which
// takes minutes at 100,000: a first batch of sessions without a deadline
// measures how fast this machine creates and reconciles them, and the
// deadlines are set from that (SCALE_SYNC_BUDGET overrides it).
//
//	make bench-scale                      # 100,000 sessions, about 25-35 minutes
//	SCALE_SESSIONS=10000 SCALE_SPREAD=2m make bench-scale   # a few minutes
//
// Every 10 s through the spread and the burst it samples the CPU of the
// apiserver, etcd, the manager and itself, the writes it watches, the
// manager's queue and the apiserver's reads of sessions from etcd, and
// prints that timeline (and saves it to $SCALE_PROFILE_DIR). The
// apiserver's periodic comparison of its watch cache with etcd
// (DetectCacheInconsistency, on by default) reads every session; to see
// the run without it:
//
//	TEST_APISERVER_FEATURE_GATES=DetectCacheInconsistency=false make bench-scale
func BenchmarkScale(b *testing.B) {
	c := scaleConfigFromEnv(b)
	for range b.N {
		runScale(b, c)
	}
}

type scaleConfig struct {
	sessions, burst, owners, pages int
	spread, gap, budget            time.Duration
	// memLimit is the GOMEMLIMIT the manager gets in the Deployment.
	memLimit int64
}

func scaleConfigFromEnv(b *testing.B) scaleConfig {
	c := scaleConfig{
		sessions: testenv.EnvInt("SCALE_SESSIONS", 100_000),
		owners:   testenv.EnvInt("SCALE_OWNERS", 1000),
		pages:    testenv.EnvInt("SCALE_PAGES", 200),
		spread:   testenv.EnvDuration("SCALE_SPREAD", 10*time.Minute),
		gap:      testenv.EnvDuration("SCALE_BURST_GAP", 30*time.Second),
		budget:   testenv.EnvDuration("SCALE_SYNC_BUDGET", 0),
		memLimit: deploymentMemLimit(b),
	}
	c.burst = testenv.EnvInt("SCALE_BURST", min(10_000, c.sessions/10))
	return c
}

// deploymentMemLimit is the GOMEMLIMIT the manager sets itself in the
// Deployment (memory.LimitRatio of the container's memory limit),
// read from config/manager/manager.yaml.
func deploymentMemLimit(b *testing.B) int64 {
	raw, err := os.ReadFile(filepath.Join("..", "..", "config", "manager", "manager.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		var d appsv1.Deployment
		if err := yaml.Unmarshal([]byte(doc), &d); err != nil || d.Kind != "Deployment" {
			continue
		}
		for _, ctr := range d.Spec.Template.Spec.Containers {
			if q, ok := ctr.Resources.Limits["memory"]; ok && ctr.Name == "manager" {
				return int64(float64(q.Value()) * memory.LimitRatio)
			}
		}
	}
	b.Fatal("config/manager/manager.yaml: no memory limit on the manager container")
	return 0
}

// Name prefixes: calibration sessions (no deadline), spread deadlines,
// burst deadlines, and the marker whose changes order the watch.
const (
	calibPrefix  = "c-"
	spreadPrefix = "s-"
	burstPrefix  = "b-"
	markerName   = "m-marker"
	scaleNS      = "default" // resources/list lists the caller's default namespace
)

func runScale(b *testing.B, c scaleConfig) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := rest.CopyConfig(testEnv.Config)
	cfg.QPS, cfg.Burst = -1, 0
	kc, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		b.Fatal(err)
	}
	obs := testenv.NewObserver()
	go obs.Run(ctx, kc, scaleNS)
	if err := kc.Create(ctx, &v1.McpSessionPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: scaleNS, Name: "agents"},
		Spec: v1.McpSessionPolicySpec{Limits: &v1.SessionLimits{MaxMessages: ptr.To[int64](50_000)}}}); err != nil {
		b.Fatal(err)
	}

	metricsAddr := freeAddr(b)
	m := &manager{t: b, dataDir: b.TempDir(), addr: freeAddr(b), readyTimeout: 15 * time.Minute,
		args: []string{"--default-idle-timeout=0", "--default-ttl=0", "--default-retention=0",
			"--metrics-bind-address=" + metricsAddr, "--pprof-bind-address=" + freeAddr(b)},
		env: []string{fmt.Sprintf("GOMEMLIMIT=%d", c.memLimit)}}
	m.start()
	b.Cleanup(m.stop)
	start := time.Now()
	mem := &rssSampler{}
	mem.follow(m.cmd.Process.Pid)
	go mem.run(ctx)

	// Calibration: how fast this machine creates and reconciles sessions.
	calib := max(min(c.sessions/50, 2000), min(200, c.sessions/5))
	spreadN := c.sessions - calib - c.burst
	if spreadN <= 0 {
		b.Fatalf("SCALE_SESSIONS=%d leaves no session for the spread (calibration %d, burst %d)", c.sessions, calib, c.burst)
	}
	createSessions(b, kc, calibPrefix, calib, c.owners, func(int) time.Time { return time.Time{} })
	marker := &v1.McpSession{ObjectMeta: metav1.ObjectMeta{Namespace: scaleNS, Name: markerName}}
	if err := kc.Create(ctx, marker); err != nil {
		b.Fatal(err)
	}
	obs.WaitActive(b, calibPrefix, calib, 15*time.Minute)
	rate := float64(calib) / time.Since(start).Seconds()

	// The deadlines: the spread begins once everything below is done.
	budget := c.budget
	if budget == 0 {
		rest := float64(c.sessions-calib) / rate
		budget = time.Duration((1.3*rest + 0.3*float64(c.sessions)/rate + float64(c.burst)/rate + 90) * float64(time.Second))
	}
	spreadFrom := time.Now().Add(budget)
	burstAt := spreadFrom.Add(c.spread + c.gap).Truncate(time.Second).Add(900 * time.Millisecond)
	b.Logf("calibration: %d sessions created and reconciled at %.0f/s; spread deadlines from %s (in %s), burst at %s",
		calib, rate, spreadFrom.Format(time.TimeOnly), budget.Round(time.Second), burstAt.Format(time.TimeOnly))
	createSessions(b, kc, spreadPrefix, spreadN, c.owners, func(i int) time.Time {
		return spreadFrom.Add(time.Duration(float64(c.spread) * float64(i) / float64(spreadN)))
	})
	createSessions(b, kc, burstPrefix, c.burst, c.owners, func(int) time.Time { return burstAt })
	created := time.Since(start)
	obs.WaitActive(b, "", c.sessions, 30*time.Minute)
	synced := time.Since(start)
	rssSynced := mem.current()
	heapLive, goSys := goMemory(b, m)

	// Bare status patches of the burst sessions, with the manager stopped:
	// what the apiserver alone takes for that many writes.
	mem.sample() // the high-water mark of this process
	m.stop()
	bare := barePatches(b, kc, c.burst, controllers.DefaultMaxConcurrentReconciles)
	waitMarker(b, kc, obs)

	// Nothing happens: a restarted manager reconciles every session again
	// and must write none.
	before := obs.Modified()
	restarted := time.Now()
	m.start()
	mem.follow(m.cmd.Process.Pid)
	testenv.Eventually(b, 15*time.Minute, "the restarted manager to reconcile every session", func() string {
		if n := reconciles(metricsAddr); n < float64(c.sessions+1) {
			return fmt.Sprintf("%.0f of %d sessions reconciled", n, c.sessions+1)
		}
		return ""
	})
	resynced := time.Since(restarted)
	waitMarker(b, kc, obs)
	idleWrites := obs.Modified() - before - 1 // the marker's own change

	// Pages of 100 through the cursor, over MCP.
	cs := m.client(b)
	pageLat := walkPages(b, c.pages, func(cursor string) string {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "list_sessions", Arguments: map[string]any{"namespace": scaleNS, "limit": 100, "cursor": cursor}})
		if err != nil || res.IsError {
			b.Fatalf("list_sessions: %v %v", err, res)
		}
		next, _ := res.StructuredContent.(map[string]any)["next_cursor"].(string)
		return next
	})
	resLat := walkPages(b, c.pages, func(cursor string) string {
		res, err := cs.ListResources(ctx, &mcp.ListResourcesParams{Cursor: cursor})
		if err != nil {
			b.Fatalf("resources/list: %v", err)
		}
		return res.NextCursor
	})

	// The spread, then the burst, sampled every 10 s.
	tl, err := newTimeline(cfg, obs, metricsAddr, func() int { return m.cmd.Process.Pid })
	if err != nil {
		b.Fatal(err)
	}
	tlCtx, tlStop := context.WithCancel(ctx)
	go tl.run(tlCtx)
	slack := time.Until(spreadFrom)
	if slack < 0 {
		b.Logf("warning: the first deadline passed %s before the manager was ready; lateness includes that (set SCALE_SYNC_BUDGET)", -slack)
	}
	firstSpread, lastSpread := obs.Deadlines(spreadPrefix)
	spreadProfiled := profileCPU(b, m, firstSpread.Add(c.spread/2), "scale-spread-cpu.pprof")
	// The apiserver's CPU in the same 20 s: what a status patch costs it.
	apiProfiled := make(chan struct{})
	go func() {
		defer close(apiProfiled)
		time.Sleep(time.Until(firstSpread.Add(c.spread / 2)))
		saveAPIServer(b, cfg, "/debug/pprof/profile", 20, "scale-spread-apiserver-cpu.pprof")
	}()
	obs.WaitSuspended(b, spreadPrefix, spreadN, lastSpread.Add(5*time.Minute))
	late := obs.Lateness(spreadPrefix)
	<-spreadProfiled
	<-apiProfiled
	b.Logf("spread: lateness by deadline: %s", latenessTimeline(obs.Suspensions(spreadPrefix), firstSpread, c.spread/20))
	saveMetrics(b, "http://"+metricsAddr+"/metrics", "scale-manager-metrics.txt")
	saveAPIServerMetrics(b, cfg, "scale-apiserver-metrics.txt")
	firstBurst, _ := obs.Deadlines(burstPrefix)
	profiled := profileCPU(b, m, firstBurst, "scale-burst-cpu.pprof")
	obs.WaitSuspended(b, burstPrefix, c.burst, burstAt.Add(15*time.Minute))
	<-profiled
	burst := obs.LastSuspended(burstPrefix).Sub(firstBurst)
	var timeline []string
	for at := time.Second; at < burst+time.Second; at += max(time.Second, burst/20) {
		timeline = append(timeline, fmt.Sprintf("+%s:%d", at, obs.SuspendedBy(burstPrefix, firstBurst.Add(at))))
	}
	b.Logf("burst: suspended by time after the first deadline: %s", strings.Join(timeline, " "))
	tlStop()
	// Printed, not logged: a benchmark's log keeps only its first lines.
	fmt.Printf("scale timeline, every 10 s through the spread and the burst:\n%s\n", tl)
	saveText(b, "scale-timeline.txt", tl.String())
	for _, at := range obs.RewatchTimes() {
		b.Logf("the benchmark's watch was opened again at %s", at.Format(time.TimeOnly))
	}
	events := suspendEvents(b, kc)
	peak := mem.peakMiB()
	writeHeapProfile(b, m)

	b.ReportMetric(float64(c.sessions), "sessions")
	b.ReportMetric(peak, "rss-peak-MiB")
	b.ReportMetric(rssSynced, "rss-synced-MiB")
	b.ReportMetric(heapLive, "heap-live-synced-MiB")
	b.ReportMetric(goSys, "go-sys-synced-MiB")
	b.ReportMetric(float64(c.memLimit)/(1<<20), "gomemlimit-MiB")
	b.ReportMetric(ms(testenv.Percentile(late, 0.50)), "late-p50-ms")
	b.ReportMetric(ms(testenv.Percentile(late, 0.99)), "late-p99-ms")
	b.ReportMetric(ms(late[len(late)-1]), "late-max-ms")
	b.ReportMetric(float64(idleWrites), "idle-writes")
	b.ReportMetric(ms(testenv.Percentile(pageLat, 0.50)), "page-p50-ms")
	b.ReportMetric(ms(testenv.Percentile(pageLat, 0.99)), "page-p99-ms")
	b.ReportMetric(ms(testenv.Percentile(resLat, 0.50)), "resources-page-p50-ms")
	b.ReportMetric(ms(testenv.Percentile(resLat, 0.99)), "resources-page-p99-ms")
	b.ReportMetric(float64(c.burst), "burst-sessions")
	b.ReportMetric(burst.Seconds(), "burst-s")
	b.ReportMetric(bare.Seconds(), "bare-patches-s")
	b.ReportMetric(burst.Seconds()/bare.Seconds(), "burst-x-bare")
	b.ReportMetric(float64(events), "suspend-events")
	b.ReportMetric(slack.Seconds(), "slack-s")
	b.ReportMetric(0, "ns/op")
	fmt.Printf("BenchmarkScale: sessions=%d created-in=%s synced-in=%s restart-resync=%s spread=%s burst=%d "+
		"late p50=%s p99=%s max=%s burst=%s bare=%s rss peak=%.0fMiB synced=%.0fMiB idle-writes=%d slack=%s rewatches=%d\n",
		c.sessions, created.Round(time.Second), synced.Round(time.Second), resynced.Round(time.Second), c.spread, c.burst,
		testenv.Percentile(late, 0.5).Round(time.Millisecond), testenv.Percentile(late, 0.99).Round(time.Millisecond),
		late[len(late)-1].Round(time.Millisecond), burst.Round(time.Millisecond), bare.Round(time.Millisecond),
		peak, rssSynced, idleWrites, slack.Round(time.Second), obs.Rewatches())
}

// latenessTimeline describes the lateness of suspensions by when their
// deadline fell, in windows of width from first: "+0s n=.. p50=.. p99=..
// max=..", one window after the other, so that a backlog shows where it
// began.
func latenessTimeline(sus []testenv.Suspension, first time.Time, width time.Duration) string {
	var out []string
	for i := 0; i < len(sus); {
		from := first.Add(time.Duration(sus[i].Deadline.Sub(first) / width * width))
		var late []time.Duration
		for ; i < len(sus) && sus[i].Deadline.Before(from.Add(width)); i++ {
			late = append(late, sus[i].Late())
		}
		slices.Sort(late)
		out = append(out, fmt.Sprintf("+%s n=%d p50=%s p99=%s max=%s", from.Sub(first).Round(time.Second), len(late),
			testenv.Percentile(late, 0.5).Round(time.Millisecond), testenv.Percentile(late, 0.99).Round(time.Millisecond),
			late[len(late)-1].Round(time.Millisecond)))
	}
	return strings.Join(out, "; ")
}

// createSessions creates n sessions named prefix%06d from 16 writers, as
// create_session does (finalizer included), owned round-robin by owners
// service accounts. deadline(i), when not zero, is when session i should
// go idle: its idleTimeout is set so that creationTimestamp + idleTimeout
// falls within the second before it.
func createSessions(b *testing.B, kc client.Client, prefix string, n, owners int, deadline func(i int) time.Time) {
	err := testenv.Parallel(n, 16, func(i int) error {
		s := &v1.McpSession{
			ObjectMeta: metav1.ObjectMeta{Namespace: scaleNS, Name: fmt.Sprintf("%s%06d", prefix, i),
				Labels:     map[string]string{"team": fmt.Sprintf("team-%d", i%20)},
				Finalizers: []string{v1.StoreFinalizer}},
			Spec: v1.McpSessionSpec{Project: "scale", Owner: fmt.Sprintf("system:serviceaccount:agents:agent-%d", i%owners)},
		}
		if d := deadline(i); !d.IsZero() {
			s.Spec.IdleTimeout = &metav1.Duration{Duration: time.Until(d).Round(time.Millisecond)}
		}
		if err := kc.Create(context.Background(), s); err != nil {
			return fmt.Errorf("create %s: %w", s.Name, err)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// barePatches merge-patches the status of the burst sessions from writers
// concurrent writers, and returns how long the apiserver took.
func barePatches(b *testing.B, kc client.Client, n, writers int) time.Duration {
	start := time.Now()
	err := testenv.Parallel(n, writers, func(i int) error {
		s := &v1.McpSession{ObjectMeta: metav1.ObjectMeta{Namespace: scaleNS, Name: fmt.Sprintf("%s%06d", burstPrefix, i)}}
		patch := client.RawPatch(types.MergePatchType, []byte(`{"status":{"counts":{"storedBytes":1}}}`))
		if err := kc.Status().Patch(context.Background(), s, patch); err != nil {
			return fmt.Errorf("patch status of %s: %w", s.Name, err)
		}
		return nil
	})
	took := time.Since(start)
	if err != nil {
		b.Fatal(err)
	}
	return took
}

// waitMarker changes the marker session and waits for the watch to
// deliver that change: every change made before it has been delivered.
func waitMarker(b *testing.B, kc client.Client, obs *testenv.Observer) {
	s := &v1.McpSession{ObjectMeta: metav1.ObjectMeta{Namespace: scaleNS, Name: markerName}}
	patch := client.RawPatch(types.MergePatchType, []byte(fmt.Sprintf(`{"metadata":{"labels":{"barrier":"%d"}}}`, time.Now().UnixNano())))
	if err := kc.Patch(context.Background(), s, patch); err != nil {
		b.Fatal(err)
	}
	obs.WaitRV(b, markerName, s.ResourceVersion, 5*time.Minute)
}

// reconciles is the manager's count of McpSession reconciles, from its
// metrics endpoint.
func reconciles(addr string) float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0
	}
	total := 0.0
	eachMetric(raw, func(name string, labels map[string]string, v float64) {
		if name == "controller_runtime_reconcile_total" && labels["controller"] == "mcpsession" {
			total += v
		}
	})
	return total
}

// walkPages follows a listing's cursor for up to pages pages and returns
// each page's latency, sorted.
func walkPages(b *testing.B, pages int, page func(cursor string) string) []time.Duration {
	var lat []time.Duration
	cursor := ""
	for range pages {
		t0 := time.Now()
		cursor = page(cursor)
		lat = append(lat, time.Since(t0))
		if cursor == "" {
			break
		}
	}
	slices.Sort(lat)
	return lat
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// suspendEvents counts the Suspended Events of the namespace.
func suspendEvents(b *testing.B, kc client.Client) int {
	list := &eventsv1.EventList{}
	if err := kc.List(context.Background(), list, client.InNamespace(scaleNS)); err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, e := range list.Items {
		if e.Reason == "Suspended" {
			n++
		}
	}
	return n
}

// writeHeapProfile saves the manager's heap profile to
// $SCALE_PROFILE_DIR/scale-heap.pprof, when that is set.
func writeHeapProfile(b *testing.B, m *manager) {
	saveProfile(b, m, "heap", "scale-heap.pprof")
}

// goMemory is the manager's live heap right after a garbage collection
// and all the memory its Go runtime holds, in MiB, from its pprof
// endpoint (the heap profile's MemStats); 0, 0 if unavailable.
func goMemory(b *testing.B, m *manager) (heapLive, sys float64) {
	resp, err := http.Get("http://" + pprofAddr(m) + "/debug/pprof/heap?gc=1&debug=1")
	if err != nil {
		b.Logf("heap: %v", err)
		return 0, 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "# HeapAlloc = "); ok {
			n, _ := strconv.ParseFloat(v, 64)
			heapLive = n / (1 << 20)
		}
		if v, ok := strings.CutPrefix(sc.Text(), "# Sys = "); ok {
			n, _ := strconv.ParseFloat(v, 64)
			sys = n / (1 << 20)
		}
	}
	return heapLive, sys
}

func pprofAddr(m *manager) string {
	for _, a := range m.args {
		if v, ok := strings.CutPrefix(a, "--pprof-bind-address="); ok {
			return v
		}
	}
	return ""
}

// saveMetrics saves the Prometheus text at url to
// $SCALE_PROFILE_DIR/file, when that is set.
func saveMetrics(b *testing.B, url, file string) {
	dir := os.Getenv("SCALE_PROFILE_DIR")
	if dir == "" {
		return
	}
	resp, err := http.Get(url)
	if err != nil {
		b.Logf("metrics %s: %v", url, err)
		return
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, file), raw, 0o644)
	}
	if err != nil {
		b.Logf("metrics %s: %v", url, err)
	}
}

// saveText saves text to $SCALE_PROFILE_DIR/file, when that is set.
func saveText(b *testing.B, file, text string) {
	if dir := os.Getenv("SCALE_PROFILE_DIR"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(text+"\n"), 0o644); err != nil {
			b.Logf("save %s: %v", file, err)
		}
	}
}

// saveAPIServerMetrics saves the apiserver's /metrics (request latencies,
// watch events, watchers it closed) to $SCALE_PROFILE_DIR/file, when that
// is set.
func saveAPIServerMetrics(b *testing.B, cfg *rest.Config, file string) {
	saveAPIServer(b, cfg, "/metrics", 0, file)
}

// saveAPIServer saves GET path of the apiserver (a profile of seconds
// when seconds > 0) to $SCALE_PROFILE_DIR/file, when that is set.
func saveAPIServer(b *testing.B, cfg *rest.Config, path string, seconds int, file string) {
	dir := os.Getenv("SCALE_PROFILE_DIR")
	if dir == "" {
		return
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err == nil {
		req := cs.RESTClient().Get().AbsPath(path)
		if seconds > 0 {
			req = req.Param("seconds", strconv.Itoa(seconds))
		}
		var raw []byte
		raw, err = req.DoRaw(context.Background())
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, file), raw, 0o644)
		}
	}
	if err != nil {
		b.Logf("apiserver %s: %v", path, err)
	}
}

// profileCPU saves a CPU profile of the manager from at for 20 seconds to
// $SCALE_PROFILE_DIR/file, when that is set; the channel closes when done.
func profileCPU(b *testing.B, m *manager, at time.Time, file string) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(time.Until(at))
		saveProfile(b, m, "profile?seconds=20", file)
	}()
	return done
}

// saveProfile saves /debug/pprof/<path> of the manager to
// $SCALE_PROFILE_DIR/file, when that is set.
func saveProfile(b *testing.B, m *manager, path, file string) {
	dir := os.Getenv("SCALE_PROFILE_DIR")
	if dir == "" {
		return
	}
	resp, err := http.Get("http://" + pprofAddr(m) + "/debug/pprof/" + path)
	if err != nil {
		b.Logf("profile %s: %v", path, err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(filepath.Join(dir, file))
	if err != nil {
		b.Logf("profile %s: %v", path, err)
		return
	}
	defer f.Close()
	_, _ = io.Copy(f, resp.Body)
}

// rssSampler follows the resident memory of the manager process, and of
// the next one after a restart.
type rssSampler struct {
	pid  atomic.Int64
	mu   sync.Mutex
	peak float64 // MiB
}

func (r *rssSampler) follow(pid int) { r.pid.Store(int64(pid)) }

func (r *rssSampler) run(ctx context.Context) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.sample()
		}
	}
}

func (r *rssSampler) sample() {
	hwm := procStatusMiB(int(r.pid.Load()), "VmHWM:")
	r.mu.Lock()
	r.peak = max(r.peak, hwm)
	r.mu.Unlock()
}

// current is the resident memory of the process now, in MiB.
func (r *rssSampler) current() float64 { return procStatusMiB(int(r.pid.Load()), "VmRSS:") }

// peakMiB is the highest resident memory of either process.
func (r *rssSampler) peakMiB() float64 {
	r.sample()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.peak
}

// procStatusMiB reads a kB field of /proc/PID/status, in MiB; 0 if the
// process is gone.
func procStatusMiB(pid int, field string) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}
