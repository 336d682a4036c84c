package sessions

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/lifecycle"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store/pebblestore"
)

// openStore opens a store of the test's own on a fake clock.
func openStore(t *testing.T) (*testingclock.FakeClock, store.Store) {
	t.Helper()
	clk := testingclock.NewFakeClock(time.Date(2025, 9, 2, 10, 0, 0, 0, time.UTC))
	st, err := pebblestore.Open(t.TempDir(), pebblestore.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return clk, st
}

// recordingRegistry records the status writes of the syncer. The syncer
// is driven by hand (flushDue at a stepped clock), so a write that does not
// happen is seen not to happen, without waiting.
type recordingRegistry struct {
	registry
	mu     sync.Mutex
	writes []written
}

// written is one status write: the activity and the counts it carried.
type written struct {
	LastActivity time.Time
	Counts       v1alpha1.SessionCounts
}

func (r *recordingRegistry) WriteStatus(ctx context.Context, _, _, _ string, u statusUpdate) error {
	c, err := u.Counts(ctx)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = append(r.writes, written{u.LastActivity, c})
	return nil
}

func (r *recordingRegistry) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.writes)
}

func (r *recordingRegistry) last() written {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.writes[len(r.writes)-1]
}

// TestStatusSyncIsCoarse: a burst of calls costs one status write per
// interval, not one per call; the write carries the store's counts and
// the latest activity; pending status is written on shutdown.
func TestStatusSyncIsCoarse(t *testing.T) {
	ctx := context.Background()
	clk, st := openStore(t)
	reg := &recordingRegistry{}
	y := newStatusSyncer(reg, st, clk, DefaultSyncInterval, logr.Discard())
	sess := Session{Namespace: "ns", Name: "busy", UID: "u1", Phase: "Active",
		Settings: lifecycle.Settings{IdleTimeout: time.Hour}}
	if _, err := st.Create(ctx, sess.Ref()); err != nil {
		t.Fatal(err)
	}
	send := func(n int) {
		for range n {
			if _, err := st.AppendMessage(ctx, "u1", store.Message{Role: "user", Content: "x"}, store.Limits{}); err != nil {
				t.Fatal(err)
			}
			y.touch(sess)
		}
	}

	send(50)
	y.flushDue(ctx, false)
	if n := reg.count(); n != 1 {
		t.Fatalf("status writes after a burst of 50 = %d, want 1", n)
	}
	if u := reg.last(); u.Counts.Messages != 50 || !u.LastActivity.Equal(clk.Now()) {
		t.Fatalf("first write = %+v, want counts.messages 50 and lastActivity %v", u, clk.Now())
	}

	send(50)
	clk.Step(DefaultSyncInterval - time.Millisecond) // within the interval
	y.flushDue(ctx, false)
	if n := reg.count(); n != 1 {
		t.Fatalf("status writes within the interval = %d, want still 1", n)
	}
	clk.Step(time.Millisecond)
	y.flushDue(ctx, false)
	if n := reg.count(); n != 2 || reg.last().Counts.Messages != 100 {
		t.Fatalf("status writes once the interval passed = %d (last %+v), want 2 with counts.messages 100", n, reg.last())
	}
	y.flushDue(ctx, false)
	if n := reg.count(); n != 2 {
		t.Fatalf("status writes with nothing new = %d, want still 2", n)
	}

	// Shutdown writes what is pending at once, interval or not.
	send(1)
	runCtx, stop := context.WithCancel(ctx)
	stop()
	y.run(runCtx)
	if n := reg.count(); n != 3 || reg.last().Counts.Messages != 101 {
		t.Fatalf("after the shutdown flush: %d writes (last %+v), want 3 with counts.messages 101", n, reg.last())
	}
}
