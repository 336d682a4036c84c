package pebblestore

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// Benchmarks for the targets. Each reports its own metrics; the
// figures in the report come from:
//
//	go test ./internal/store -run '^$' -bench 'AppendDurable|FileBaselineAppend' -benchtime 2s
//	go test ./internal/store -run '^$' -bench 'AppendLatency$' -benchtime 2000x
//	go test ./internal/store -run '^$' -bench 'Resume' -benchtime 50x
//	go test ./internal/store -run '^$' -bench 'FileBaselineLatency' -benchtime 100x

// payload1K is ~1 KiB of prose-like text, the message size of the targets.
var payload1K = func() string {
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

// openBench opens a store with production defaults (real clock, default
// cache and memtable sizes).
func openBench(b *testing.B) *Store {
	b.Helper()
	st, err := Open(b.TempDir(), Options{Logger: quietLogger{}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	return st
}

// prefill appends n messages through the bulk path: unsynced batches of
// ~16 MiB, then the header in one synced batch through write, as an import
// or migration would. It keeps the header cache coherent.
func prefill(tb testing.TB, st *Store, uid string, n int, content string) {
	tb.Helper()
	b := st.db.NewBatch()
	defer b.Close()
	err := st.write(uid, b, func(e *entry) (*Header, error) {
		cur, err := st.cachedHeader(e, uid)
		if err != nil {
			return nil, err
		}
		h := *cur
		now := st.now()
		chunk := st.db.NewBatch()
		defer func() { _ = chunk.Close() }()
		for i := 0; i < n; i++ {
			m := Message{Seq: h.NextMsgSeq, Role: []string{"user", "assistant"}[i%2], Content: content, Timestamp: now}
			enc, err := store.EncodeJSON(&m)
			if err != nil {
				return nil, err
			}
			k := msgKey(uid, m.Seq)
			if err := chunk.Set(k, enc, nil); err != nil {
				return nil, err
			}
			h.Messages++
			h.NextMsgSeq++
			h.StoredBytes += int64(len(k) + len(enc))
			if chunk.Len() > 16<<20 || i == n-1 {
				if err := chunk.Commit(pebble.NoSync); err != nil {
					return nil, err
				}
				chunk.Reset()
			}
		}
		return &h, nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// settle flushes memtables and compacts everything so measurements do not
// start in the middle of a flush or compaction triggered by the prefill.
func settle(tb testing.TB, st *Store) {
	tb.Helper()
	if err := st.db.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := st.db.Compact(bg, []byte("s/"), []byte("s0"), true); err != nil {
		tb.Fatal(err)
	}
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return sorted[i]
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// BenchmarkAppendDurable measures synced 1 KiB appends per second, sessions
// starting at 1,000 messages (the same workload as
// BenchmarkFileBaselineAppend). sessions=N runs one goroutine per session:
// throughput beyond one session comes from Pebble's group commit sharing
// each fsync. hot-session/writers=N runs N goroutines on one session, as N
// MCP clients calling add_message on it: that only scales if writers of one
// session share fsyncs too.
func BenchmarkAppendDurable(b *testing.B) {
	for _, c := range []struct {
		name              string
		sessions, writers int // writers per session
	}{
		{"sessions=1", 1, 1},
		{"sessions=16", 16, 1},
		{"sessions=64", 64, 1},
		{"hot-session/writers=16", 1, 16},
	} {
		b.Run(c.name, func(b *testing.B) {
			st := openBench(b)
			uids := make([]string, c.sessions)
			for i := range uids {
				uids[i] = fmt.Sprintf("s%d", i)
				mustCreate(b, st, uids[i])
				prefill(b, st, uids[i], 1000, payload1K)
			}
			settle(b, st)
			goroutines := c.sessions * c.writers
			per := (b.N + goroutines - 1) / goroutines
			var wg sync.WaitGroup
			errs := make(chan error, goroutines)
			b.ResetTimer()
			start := time.Now()
			for g := 0; g < goroutines; g++ {
				wg.Add(1)
				go func(uid string) {
					defer wg.Done()
					for i := 0; i < per; i++ {
						if _, err := st.AppendMessage(bg, uid, Message{Role: "user", Content: payload1K}, Limits{}); err != nil {
							errs <- err
							return
						}
					}
				}(uids[g%c.sessions])
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
			b.ReportMetric(float64(per*goroutines)/elapsed.Seconds(), "appends/s")
		})
	}
}

// BenchmarkAppendLatency measures single synced 1 KiB appends to a session
// of 1,000 messages and to one of 100,000 in the same database, alternating
// between them so both see the same disk and background work. Each
// iteration appends once to each, so the sessions grow by b.N during the run.
func BenchmarkAppendLatency(b *testing.B) {
	st := openBench(b)
	mustCreate(b, st, "small")
	mustCreate(b, st, "big")
	prefill(b, st, "small", 1_000, payload1K)
	prefill(b, st, "big", 100_000, payload1K)
	settle(b, st)
	small := make([]time.Duration, 0, b.N)
	big := make([]time.Duration, 0, b.N)
	appendTimed := func(uid string, into *[]time.Duration) {
		t := time.Now()
		if _, err := st.AppendMessage(bg, uid, Message{Role: "user", Content: payload1K}, Limits{}); err != nil {
			b.Fatal(err)
		}
		*into = append(*into, time.Since(t))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%2 == 0 {
			appendTimed("small", &small)
			appendTimed("big", &big)
		} else {
			appendTimed("big", &big)
			appendTimed("small", &small)
		}
	}
	b.StopTimer()
	slices.Sort(small)
	slices.Sort(big)
	p50s, p99s := percentile(small, 0.50), percentile(small, 0.99)
	p50b, p99b := percentile(big, 0.50), percentile(big, 0.99)
	b.ReportMetric(us(p50s), "p50-us-1k")
	b.ReportMetric(us(p99s), "p99-us-1k")
	b.ReportMetric(us(p50b), "p50-us-100k")
	b.ReportMetric(us(p99b), "p99-us-100k")
	b.ReportMetric(float64(p50b)/float64(p50s), "p50-ratio")
	b.ReportMetric(float64(p99b)/float64(p99s), "p99-ratio")
}

// BenchmarkResume measures the first read of a session after the store is
// opened (cold block cache, as after a manager restart): header, last 20
// messages and the list of context keys, for a session of 100,000 messages
// and 10 MiB of context (1,000 keys of ~10.5 KB).
func BenchmarkResume(b *testing.B) {
	dir := b.TempDir()
	st, err := Open(dir, Options{Logger: quietLogger{}})
	if err != nil {
		b.Fatal(err)
	}
	mustCreate(b, st, "big")
	prefill(b, st, "big", 100_000, payload1K)
	value, _ := json.Marshal(strings.Repeat(payload1K, 11)[:10500])
	for i := 0; i < 1000; i++ {
		if _, err := st.SetContext(bg, "big", fmt.Sprintf("context/%04d", i), value, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
	settle(b, st)
	stats, _ := st.Stats(bg, "big")
	if stats.Messages != 100_000 || stats.ContextBytes < 10<<20 {
		b.Fatalf("fixture: %+v", stats)
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		st, err := Open(dir, Options{Logger: quietLogger{}})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t := time.Now()
		h, err1 := st.Get(bg, "big")
		tail, err2 := st.Tail(bg, "big", 20)
		keys, err3 := st.ContextKeys(bg, "big", "")
		total += time.Since(t)
		b.StopTimer()
		if err1 != nil || err2 != nil || err3 != nil || h.Messages != 100_000 || len(tail) != 20 || tail[19].Seq != 100_000 || len(keys) != 1000 {
			b.Fatalf("resume read wrong data: %v %v %v, %d messages, %d tail, %d keys", err1, err2, err3, h.Messages, len(tail), len(keys))
		}
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(total)/float64(b.N)/float64(time.Millisecond), "resume-ms")
}
