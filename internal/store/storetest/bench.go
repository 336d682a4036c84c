package storetest

import (
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// What the benchmarks of both backends share, so their figures compare.

// Payload1K is ~1 KiB of prose-like text, the message size of the
// benchmarks' targets.
var Payload1K = func() string {
	words := []string{"cache", "memory", "leak", "eviction", "webhook", "queue", "analytics", "deployment",
		"the", "is", "growing", "entries", "instance", "production", "profile", "heap", "retry", "policy"}
	r := rand.New(rand.NewPCG(1, 2))
	var sb strings.Builder
	for sb.Len() < 1100 {
		sb.WriteString(words[r.IntN(len(words))])
		sb.WriteByte(' ')
	}
	return sb.String()[:1024]
}()

// Percentile is the p-quantile (0..1) of sorted durations.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(float64(len(sorted)-1)*p)]
}

// Latencies are append latencies of two sessions, a small one and a large
// one, measured alternately.
type Latencies struct{ Small, Large []time.Duration }

// Report reports the p50 and p99 of each and their ratios, in
// microseconds, the metrics BenchmarkAppendLatency has always reported.
func (l Latencies) Report(report func(float64, string)) {
	slices.Sort(l.Small)
	slices.Sort(l.Large)
	p50s, p99s := Percentile(l.Small, 0.50), Percentile(l.Small, 0.99)
	p50b, p99b := Percentile(l.Large, 0.50), Percentile(l.Large, 0.99)
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	report(us(p50s), "p50-us-1k")
	report(us(p99s), "p99-us-1k")
	report(us(p50b), "p50-us-100k")
	report(us(p99b), "p99-us-100k")
	report(float64(p50b)/float64(p50s), "p50-ratio")
	report(float64(p99b)/float64(p99s), "p99-ratio")
}

// AppendDurable appends 1 KiB messages from writers goroutines per
// session to uids, b.N in all, and reports appends/s: every append is
// acknowledged, so durable. The goroutines take appends from one count, so
// all of them write until the end (as pgbench's clients do for its
// duration) instead of the early finishers leaving the last ones alone.
func AppendDurable(b *testing.B, st store.Store, uids []string, writers int) {
	goroutines := len(uids) * writers
	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	b.ResetTimer()
	start := time.Now()
	for g := range goroutines {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				if _, err := st.AppendMessage(bg, uids[g%len(uids)], Message{Role: "user", Content: Payload1K}, Limits{}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "appends/s")
}

// AppendLatency appends b.N times to each of the sessions small and
// large, alternating which goes first, and reports the latencies (see
// Latencies.Report).
func AppendLatency(b *testing.B, st store.Store, small, large string) {
	l := Latencies{Small: make([]time.Duration, 0, b.N), Large: make([]time.Duration, 0, b.N)}
	appendTimed := func(uid string, into *[]time.Duration) {
		t := time.Now()
		if _, err := st.AppendMessage(bg, uid, Message{Role: "user", Content: Payload1K}, Limits{}); err != nil {
			b.Fatal(err)
		}
		*into = append(*into, time.Since(t))
	}
	b.ResetTimer()
	for i := range b.N {
		if i%2 == 0 {
			appendTimed(small, &l.Small)
			appendTimed(large, &l.Large)
		} else {
			appendTimed(large, &l.Large)
			appendTimed(small, &l.Small)
		}
	}
	b.StopTimer()
	l.Report(b.ReportMetric)
}

// ResumeRead is what resuming a session reads first (header, last 20
// messages, context keys), timed; it fails b unless the session holds
// messages messages and keys context keys.
func ResumeRead(b *testing.B, st store.Store, uid string, messages int64, keys int) time.Duration {
	t := time.Now()
	h, err1 := st.Get(bg, uid)
	tail, err2 := st.Tail(bg, uid, 20)
	ks, err3 := st.ContextKeys(bg, uid, "")
	took := time.Since(t)
	if err1 != nil || err2 != nil || err3 != nil || h.Messages != messages || len(tail) != 20 || tail[19].Seq != uint64(messages) || len(ks) != keys {
		b.Fatalf("resume read wrong data: %v %v %v, %d messages, %d tail, %d keys", err1, err2, err3, h.Messages, len(tail), len(ks))
	}
	return took
}

// Resume opens a store with open b.N times (outside the timer: as after a
// manager restart, nothing of the session is cached in the store), times
// ResumeRead of uid on it, closes it, and reports the mean as resume-ms.
func Resume(b *testing.B, open func() store.Store, uid string, messages int64, keys int) {
	b.ResetTimer()
	var total time.Duration
	for range b.N {
		b.StopTimer()
		st := open()
		b.StartTimer()
		total += ResumeRead(b, st, uid, messages, keys)
		b.StopTimer()
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(total)/float64(b.N)/float64(time.Millisecond), "resume-ms")
}
