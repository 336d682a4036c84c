package pebblestore

import (
	"context"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// TestWALMinSyncInterval: with a group-commit window, concurrent writers
// share fsyncs and every acknowledged write is still durable; without one,
// a lone writer's fsyncs are not held back.
func TestWALMinSyncInterval(t *testing.T) {
	const window = 100 * time.Millisecond
	ctx := context.Background()
	msg := Message{Role: "user", Content: "x"}

	t.Run("window shares fsyncs", func(t *testing.T) {
		const writers, rounds = 8, 3
		dir := t.TempDir()
		st, err := Open(dir, Options{Clock: newStepClock(), Logger: quietLogger{}, WALMinSyncInterval: window})
		if err != nil {
			t.Fatal(err)
		}
		mustCreate(t, st, "u1")
		before := fsyncs(t, st)
		start := time.Now()
		var wg sync.WaitGroup
		for range writers {
			wg.Go(func() {
				for range rounds {
					if _, err := st.AppendMessage(ctx, "u1", msg, Limits{}); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		elapsed, n := time.Since(start), fsyncs(t, st)-before
		if n > rounds+2 {
			t.Errorf("%d writers x %d appends took %d fsyncs; with a %s window they should share about one a round", writers, rounds, n, window)
		}
		if elapsed < (rounds-1)*window {
			t.Errorf("%d rounds took %s: the %s window did not hold fsyncs back", rounds, elapsed, window)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		st = openAt(t, dir)
		if h, err := st.Stats(ctx, "u1"); err != nil || h.Messages != writers*rounds {
			t.Fatalf("after reopening: %d messages (err %v), want all %d acknowledged", h.Messages, err, writers*rounds)
		}
	})

	t.Run("no window, no wait", func(t *testing.T) {
		st := openTest(t)
		mustCreate(t, st, "u1")
		start := time.Now()
		for range 3 {
			if _, err := st.AppendMessage(ctx, "u1", msg, Limits{}); err != nil {
				t.Fatal(err)
			}
		}
		if elapsed := time.Since(start); elapsed >= window {
			t.Errorf("3 appends by a lone writer took %s without a window", elapsed)
		}
	})
}

// fsyncs is how many WAL fsyncs the store's Pebble has made.
func fsyncs(t *testing.T, st *Store) uint64 {
	t.Helper()
	var m dto.Metric
	if err := st.db.Metrics().LogWriter.FsyncLatency.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}
