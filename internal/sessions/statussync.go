package sessions

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// statusSyncer writes status.counts and status.lastActivityTime back to
// sessions. Tool calls only record activity in memory; the syncer writes a
// session at most once per its spacing (see syncSpacing), and at once when
// asked to on a lifecycle change, so a busy session costs etcd one small
// status patch every few seconds rather than one per call (the lesson of
// node heartbeats, which moved off Node status to spare etcd).
//
// With several replicas each one syncs the sessions it served: the counts
// come from the shared store, so any replica's write is right, and the
// registry keeps lastActivityTime from moving backwards when a replica
// that saw older activity writes after one that saw newer.
type statusSyncer struct {
	reg      registry
	st       store.Store
	clock    clock.WithTicker
	interval time.Duration
	log      logr.Logger

	mu      sync.Mutex
	entries map[types.NamespacedName]*syncEntry
}

// syncEntry is one session's pending status.
type syncEntry struct {
	uid     string
	spacing time.Duration
	// activity is the latest activity recorded; dirty says it (or the
	// counts) changed since the last write.
	activity  time.Time
	dirty     bool
	lastWrite time.Time
}

// forgetAfter is how long a written, quiet entry is kept: long enough for
// the cache to have caught up with the write, so observe never sees an
// older lastActivityTime than was recorded.
const forgetAfter = time.Minute

func newStatusSyncer(reg registry, st store.Store, clk clock.WithTicker, interval time.Duration, log logr.Logger) *statusSyncer {
	return &statusSyncer{reg: reg, st: st, clock: clk, interval: interval, log: log, entries: map[types.NamespacedName]*syncEntry{}}
}

func keyOf(s Session) types.NamespacedName {
	return types.NamespacedName{Namespace: s.Namespace, Name: s.Name}
}

// touch records activity at now (and that counts may have changed) for a
// session in use. Only Active sessions are touched: activity recorded on a
// suspended session would count as a resume under the lifecycle rules.
func (y *statusSyncer) touch(s Session) {
	now := y.clock.Now()
	key := keyOf(s)
	y.mu.Lock()
	defer y.mu.Unlock()
	e := y.entries[key]
	if e == nil || e.uid != s.UID {
		e = &syncEntry{uid: s.UID}
		y.entries[key] = e
	}
	e.spacing = syncSpacing(y.interval, s.Settings.IdleTimeout)
	if now.After(e.activity) {
		e.activity = now
	}
	e.dirty = true
}

// pendingActivity is the latest activity recorded for a session, written
// or not; zero when none is known here.
func (y *statusSyncer) pendingActivity(key types.NamespacedName) time.Time {
	y.mu.Lock()
	defer y.mu.Unlock()
	if e := y.entries[key]; e != nil {
		return e.activity
	}
	return time.Time{}
}

// due reports whether an entry should be written at now.
func due(e syncEntry, now time.Time) bool {
	return e.dirty && (e.lastWrite.IsZero() || now.Sub(e.lastWrite) >= e.spacing)
}

// stale reports whether a quiet entry can be dropped at now.
func stale(e syncEntry, now time.Time) bool {
	return !e.dirty && now.Sub(e.lastWrite) >= forgetAfter
}

// flushNow writes a session's status at once (a lifecycle change). With
// activity, now is recorded as activity first (resume_session).
func (y *statusSyncer) flushNow(ctx context.Context, s Session, activity bool) error {
	key := keyOf(s)
	if activity {
		y.touch(s)
	}
	y.mu.Lock()
	e := y.entries[key]
	if e == nil || e.uid != s.UID {
		e = &syncEntry{uid: s.UID, spacing: syncSpacing(y.interval, s.Settings.IdleTimeout)}
		y.entries[key] = e
	}
	e.dirty = true
	y.mu.Unlock()
	return y.write(ctx, key)
}

// write writes one entry now.
func (y *statusSyncer) write(ctx context.Context, key types.NamespacedName) error {
	y.mu.Lock()
	e := y.entries[key]
	if e == nil || !e.dirty {
		y.mu.Unlock()
		return nil
	}
	uid, act := e.uid, e.activity
	e.dirty = false
	e.lastWrite = y.clock.Now()
	y.mu.Unlock()

	err := y.writeStatus(ctx, key, uid, act)
	if err == nil {
		return nil
	}
	y.mu.Lock()
	defer y.mu.Unlock()
	if errors.Is(err, ErrNotFound) || errors.Is(err, store.ErrNotFound) {
		// Deleted (or replaced by a new session of the same name).
		if cur := y.entries[key]; cur == e {
			delete(y.entries, key)
		}
		return nil
	}
	e.dirty = true // retried on the next tick
	return err
}

func (y *statusSyncer) writeStatus(ctx context.Context, key types.NamespacedName, uid string, act time.Time) error {
	return y.reg.WriteStatus(ctx, key.Namespace, key.Name, uid, statusUpdate{
		LastActivity: act,
		Counts: func(ctx context.Context) (v1alpha1.SessionCounts, error) {
			st, err := y.st.Stats(ctx, uid)
			if err != nil {
				return v1alpha1.SessionCounts{}, err
			}
			return v1alpha1.SessionCounts{
				ContextItems: st.ContextItems, Messages: st.Messages,
				Discoveries: st.Discoveries, StoredBytes: st.StoredBytes,
			}, nil
		},
	})
}

// flushDue writes every entry that is due and drops stale ones. With all,
// every dirty entry is written (shutdown).
func (y *statusSyncer) flushDue(ctx context.Context, all bool) {
	now := y.clock.Now()
	var keys []types.NamespacedName
	y.mu.Lock()
	for k, e := range y.entries {
		switch {
		case e.dirty && (all || due(*e, now)):
			keys = append(keys, k)
		case stale(*e, now):
			delete(y.entries, k)
		}
	}
	y.mu.Unlock()
	// A few writes in flight at once: one slow patch must not hold up the
	// other sessions' status.
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for _, k := range keys {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := y.write(ctx, k); err != nil {
				y.log.Error(err, "writing session status", "session", k)
			}
		}()
	}
	wg.Wait()
}

// tickPeriod is how often the loop looks for due entries.
func tickPeriod(interval time.Duration) time.Duration {
	p := interval / 5
	if p > 250*time.Millisecond {
		p = 250 * time.Millisecond
	}
	if p < 20*time.Millisecond {
		p = 20 * time.Millisecond
	}
	return p
}

// run writes due status until ctx ends, then flushes everything pending
// with a fresh deadline so activity and counts survive a shutdown.
func (y *statusSyncer) run(ctx context.Context) {
	t := y.clock.NewTicker(tickPeriod(y.interval))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			y.flushDue(fctx, true)
			cancel()
			return
		case <-t.C():
			y.flushDue(ctx, false)
		}
	}
}
