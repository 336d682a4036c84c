package pebblestore

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store/storetest"
)

// Benchmarks for the targets. Each reports its own metrics; the
// figures in the report come from:
//
//	go test ./internal/store -run '^$' -bench 'AppendDurable|FileBaselineAppend' -benchtime 2s
//	go test ./internal/store -run '^$' -bench 'AppendLatency$' -benchtime 2000x
//	go test ./internal/store -run '^$' -bench 'Resume' -benchtime 50x
//	go test ./internal/store -run '^$' -bench 'FileBaselineLatency' -benchtime 100x

// payload1K is ~1 KiB of prose-like text, the message size of the targets.
var payload1K = storetest.Payload1K

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
			storetest.AppendDurable(b, st, uids, c.writers)
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
	storetest.AppendLatency(b, st, "small", "big")
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
	storetest.Resume(b, func() store.Store {
		st, err := Open(dir, Options{Logger: quietLogger{}})
		if err != nil {
			b.Fatal(err)
		}
		return st
	}, "big", 100_000, 1000)
}
