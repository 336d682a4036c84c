package controllers

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/lifecycle"
	"github.com/mcp-session-operator/mcp-session-operator/internal/testenv"
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
	n := testenv.EnvInt("BENCH_SESSIONS", 10000)
	spread := testenv.EnvDuration("BENCH_SPREAD", 60*time.Second)
	budget := testenv.EnvDuration("BENCH_SYNC_BUDGET", 120*time.Second)
	workers := testenv.EnvInt("BENCH_WORKERS", DefaultMaxConcurrentReconciles)
	const creators = 16

	for b.Loop() {
		ctx, cancel := context.WithCancel(context.Background())
		ns := newNamespace(b)

		// The watch that times suspensions starts before the first create.
		wc, err := client.NewWithWatch(testCfg, client.Options{Scheme: scheme})
		if err != nil {
			b.Fatal(err)
		}
		obs := testenv.NewObserver()
		go obs.Run(ctx, wc, ns)

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
		err = testenv.Parallel(n, creators, func(i int) error {
			// Aim this session's deadline; creationTimestamp (whole
			// seconds) decides the exact one, which the observer reads.
			aim := firstDeadline.Add(time.Duration(float64(spread) * float64(i) / float64(n)))
			idle := time.Until(aim).Round(time.Millisecond)
			s := &v1alpha1.McpSession{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("s-%05d", i), Namespace: ns,
					Labels: map[string]string{"bench": "suspend"}},
				Spec: v1alpha1.McpSessionSpec{Project: "bench", Owner: "bench-user-" + strconv.Itoa(i),
					Timing: v1alpha1.Timing{IdleTimeout: &metav1.Duration{Duration: idle}}},
			}
			if err := creator.Create(ctx, s); err != nil {
				return fmt.Errorf("create %s: %w", s.Name, err)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		created := time.Since(start)

		// Synced: every session reconciled once (Active, finalizer on).
		obs.WaitActive(b, "", n, 5*time.Minute)
		synced := time.Since(start)
		firstDeadline, lastDeadline := obs.Deadlines("")
		if left := time.Until(firstDeadline); left < 0 {
			b.Logf("warning: first deadline passed %v before the initial sync finished; raise BENCH_SYNC_BUDGET", -left)
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)

		// Deadlines: wait for every session to be suspended.
		obs.WaitSuspended(b, "", n, lastDeadline.Add(3*time.Minute))
		lat := obs.Lateness("")
		p50, p99, max := testenv.Percentile(lat, 0.50), testenv.Percentile(lat, 0.99), lat[len(lat)-1]

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
			lastDeadline.Sub(firstDeadline), p50.Round(time.Millisecond), p99.Round(time.Millisecond),
			max.Round(time.Millisecond), float64(ms.HeapInuse)/(1<<20), float64(ms.Sys)/(1<<20), obs.Rewatches())
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
