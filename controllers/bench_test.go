package controllers

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/lifecycle"
)

// BenchmarkSuspend10k measures, against the real API server with 10,000
// sessions, how late sessions are suspended after their idle deadline, and
// how much memory the manager holds once it has synced them.
//
// Each session's idleTimeout is chosen at creation so that the deadlines
// (creationTimestamp + idleTimeout, exact for every session) fall after the
// manager's initial sync, spread evenly over BENCH_SPREAD: 10,000 sessions
// going idle within one minute by default. BENCH_SPREAD=0s puts every
// deadline in the same second, which measures raw suspend throughput
// instead. A watch in this process notes when each Suspended status
// arrives; lateness is that moment minus the deadline. The manager runs on
// the real clock with DefaultMaxConcurrentReconciles workers. The whole run
// is one iteration:
//
//	go test ./controllers -run '^$' -bench BenchmarkSuspend10k -benchtime 1x
//
// Environment overrides: BENCH_SESSIONS (10000), BENCH_SPREAD (60s),
// BENCH_SYNC_BUDGET (time allowed for creation and initial sync before the
// first deadline, 120s), BENCH_WORKERS (reconcile workers).
func BenchmarkSuspend10k(b *testing.B) {
	n := envInt("BENCH_SESSIONS", 10000)
	spread := envDuration("BENCH_SPREAD", 60*time.Second)
	budget := envDuration("BENCH_SYNC_BUDGET", 120*time.Second)
	workers := envInt("BENCH_WORKERS", DefaultMaxConcurrentReconciles)
	const creators = 16

	for b.Loop() {
		ctx, cancel := context.WithCancel(context.Background())
		ns := newNamespace(b)

		// The watch that times suspensions starts before the first create.
		wc, err := client.NewWithWatch(testCfg, client.Options{Scheme: scheme})
		if err != nil {
			b.Fatal(err)
		}
		obs := newObserver(n)
		go obs.run(ctx, wc, ns)

		mgr := benchManager(b, ns, workers)
		mgrDone := make(chan error, 1)
		go func() { mgrDone <- mgr.Start(ctx) }()

		// Create the sessions from 16 workers with their own client.
		cfg := rest.CopyConfig(testCfg)
		cfg.QPS, cfg.Burst = -1, 0
		creator, err := client.New(cfg, client.Options{Scheme: scheme})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		firstDeadline := start.Add(budget)
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, creators)
		for range creators {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1) - 1
					if i >= int64(n) {
						return
					}
					// Aim this session's deadline; creationTimestamp (whole
					// seconds) decides the exact one, which the observer reads.
					aim := firstDeadline.Add(time.Duration(float64(spread) * float64(i) / float64(n)))
					idle := time.Until(aim).Round(time.Millisecond)
					s := &v1alpha1.McpSession{
						ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("s-%05d", i), Namespace: ns,
							Labels: map[string]string{"bench": "suspend"}},
						Spec: v1alpha1.McpSessionSpec{Project: "bench", Owner: "bench-user-" + strconv.Itoa(int(i)),
							Timing: v1alpha1.Timing{IdleTimeout: &metav1.Duration{Duration: idle}}},
					}
					if err := creator.Create(ctx, s); err != nil {
						errs <- fmt.Errorf("create %s: %w", s.Name, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
		created := time.Since(start)

		// Synced: every session reconciled once (Active, finalizer on).
		obs.waitActive(b, 5*time.Minute)
		synced := time.Since(start)
		if left := obs.firstDeadline().Sub(time.Now()); left < 0 {
			b.Logf("warning: first deadline passed %v before the initial sync finished; raise BENCH_SYNC_BUDGET", -left)
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)

		// Deadlines: wait for every session to be suspended.
		obs.waitSuspended(b, obs.lastDeadline().Add(3*time.Minute))
		lat := obs.latencies()
		p50, p99, max := percentile(lat, 0.50), percentile(lat, 0.99), lat[len(lat)-1]

		cancel()
		if err := <-mgrDone; err != nil {
			b.Fatal(err)
		}

		b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
		b.ReportMetric(float64(ms.Sys)/(1<<20), "sys-MiB")
		fmt.Printf("BenchmarkSuspend10k: sessions=%d workers=%d created-in=%v synced-in=%v "+
			"deadline-spread=%v suspend-late p50=%v p99=%v max=%v heap-inuse=%.1fMiB sys=%.1fMiB rewatches=%d\n",
			n, workers, created.Round(time.Millisecond), synced.Round(time.Millisecond),
			obs.lastDeadline().Sub(obs.firstDeadline()), p50.Round(time.Millisecond), p99.Round(time.Millisecond),
			max.Round(time.Millisecond), float64(ms.HeapInuse)/(1<<20), float64(ms.Sys)/(1<<20), obs.rewatches)
	}
}

func benchManager(b *testing.B, ns string, workers int) ctrl.Manager {
	b.Helper()
	mgr, err := ctrl.NewManager(testCfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  cacheFor(ns),
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		b.Fatal(err)
	}
	// Only the session's own idleTimeout applies: no ttl, no retention.
	if err := Setup(mgr, Options{Defaults: lifecycle.Defaults{}, Store: &recordingStore{}, MaxConcurrentReconciles: workers}); err != nil {
		b.Fatal(err)
	}
	return mgr
}

// observer follows the sessions through one watch and notes when each one
// is first seen Active and first seen Suspended.
type observer struct {
	mu        sync.Mutex
	n         int
	deadlines map[string]time.Time
	active    map[string]bool
	suspended map[string]time.Time
	changed   chan struct{}
	rewatches int
	err       error
}

func newObserver(n int) *observer {
	return &observer{n: n, deadlines: map[string]time.Time{}, active: map[string]bool{},
		suspended: map[string]time.Time{}, changed: make(chan struct{}, 1)}
}

// run follows the namespace with a raw watch (no cache, so the benchmark
// adds little to the memory it measures), resuming from the last seen
// resourceVersion when the API server closes it: on 2 busy cores the
// server drops watchers that fall behind.
func (o *observer) run(ctx context.Context, wc client.WithWatch, ns string) {
	rv := ""
	for ctx.Err() == nil {
		w, err := wc.Watch(ctx, &v1alpha1.McpSessionList{}, client.InNamespace(ns),
			&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true}})
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		for ev := range w.ResultChan() {
			now := time.Now()
			if ev.Type == watch.Error {
				o.mu.Lock()
				o.err = fmt.Errorf("watch: %v", ev.Object)
				o.mu.Unlock()
				w.Stop()
				return
			}
			s, ok := ev.Object.(*v1alpha1.McpSession)
			if !ok {
				continue
			}
			rv = s.ResourceVersion
			if ev.Type == watch.Bookmark {
				continue
			}
			o.record(now, s)
		}
		o.mu.Lock()
		o.rewatches++
		o.mu.Unlock()
	}
}

func (o *observer) record(now time.Time, s *v1alpha1.McpSession) {
	o.mu.Lock()
	if _, ok := o.deadlines[s.Name]; !ok && s.Spec.IdleTimeout != nil {
		o.deadlines[s.Name] = s.CreationTimestamp.Add(s.Spec.IdleTimeout.Duration)
	}
	switch s.Status.Phase {
	case v1alpha1.PhaseActive:
		if len(s.Finalizers) > 0 {
			o.active[s.Name] = true
		}
	case v1alpha1.PhaseSuspended:
		if _, seen := o.suspended[s.Name]; !seen {
			o.suspended[s.Name] = now
		}
	}
	o.mu.Unlock()
	select {
	case o.changed <- struct{}{}:
	default:
	}
}

func (o *observer) wait(b *testing.B, until time.Time, what string, done func() (bool, string)) {
	b.Helper()
	for {
		o.mu.Lock()
		ok, state := done()
		err := o.err
		o.mu.Unlock()
		if ok {
			return
		}
		if err != nil {
			b.Fatal(err)
		}
		if time.Now().After(until) {
			b.Fatalf("timed out waiting for %s: %s", what, state)
		}
		select {
		case <-o.changed:
		case <-time.After(time.Second):
		}
	}
}

func (o *observer) waitActive(b *testing.B, timeout time.Duration) {
	o.wait(b, time.Now().Add(timeout), "all sessions active", func() (bool, string) {
		return len(o.active) >= o.n, fmt.Sprintf("%d/%d active", len(o.active), o.n)
	})
}

func (o *observer) waitSuspended(b *testing.B, until time.Time) {
	o.wait(b, until, "all sessions suspended", func() (bool, string) {
		return len(o.suspended) >= o.n, fmt.Sprintf("%d/%d suspended", len(o.suspended), o.n)
	})
}

func (o *observer) firstDeadline() time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	var first time.Time
	for _, d := range o.deadlines {
		if first.IsZero() || d.Before(first) {
			first = d
		}
	}
	return first
}

func (o *observer) lastDeadline() time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	var last time.Time
	for _, d := range o.deadlines {
		if d.After(last) {
			last = d
		}
	}
	return last
}

// latencies are, per session, the time from its deadline to its Suspended
// status arriving, sorted. A session suspended early would show as a
// negative latency.
func (o *observer) latencies() []time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]time.Duration, 0, len(o.suspended))
	for name, at := range o.suspended {
		out = append(out, at.Sub(o.deadlines[name]))
	}
	slices.Sort(out)
	return out
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return sorted[i]
}

func envInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil && v > 0 {
		return v
	}
	return def
}

func envDuration(key string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(key)); err == nil && v >= 0 {
		return v
	}
	return def
}
