package testenv

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
)

// Observer follows the McpSessions of a namespace through one raw watch,
// for the benchmarks that time the lifecycle controller: it notes, per
// session, its idle deadline (creationTimestamp + spec.idleTimeout, exact),
// when it was first seen Active with a finalizer, and when first seen
// Suspended; and it counts the modifications it sees. It holds no cache,
// so the process watching adds little to the memory it may be measuring.
type Observer struct {
	mu        sync.Mutex
	deadlines map[string]time.Time
	active    map[string]bool
	suspended map[string]time.Time
	lastRV    map[string]string
	modified  int64
	rewatches []time.Time
	err       error
	changed   chan struct{}
}

// NewObserver returns an Observer; Run starts it.
func NewObserver() *Observer {
	return &Observer{deadlines: map[string]time.Time{}, active: map[string]bool{}, suspended: map[string]time.Time{},
		lastRV: map[string]string{}, changed: make(chan struct{}, 1)}
}

// Run watches the namespace until ctx ends, resuming from the last seen
// resourceVersion when the apiserver closes the watch (on busy cores it
// drops watchers that fall behind).
func (o *Observer) Run(ctx context.Context, wc client.WithWatch, ns string) {
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
			if ev.Type != watch.Bookmark {
				o.record(now, ev.Type, s)
			}
		}
		o.mu.Lock()
		o.rewatches = append(o.rewatches, time.Now())
		o.mu.Unlock()
	}
}

func (o *Observer) record(now time.Time, typ watch.EventType, s *v1alpha1.McpSession) {
	o.mu.Lock()
	if _, ok := o.deadlines[s.Name]; !ok && s.Spec.IdleTimeout != nil {
		o.deadlines[s.Name] = s.CreationTimestamp.Add(s.Spec.IdleTimeout.Duration)
	}
	if typ == watch.Modified {
		o.modified++
	}
	o.lastRV[s.Name] = s.ResourceVersion
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

// waitEvery is how often at most Wait looks again. done walks maps of up
// to 100,000 names under the lock that the watch's goroutine takes for
// every event; looking after every one of 150 changes a second would
// cost the benchmark's machine a third of a core and delay the very
// observations being timed.
const waitEvery = 100 * time.Millisecond

// Wait waits until done (called with the Observer locked) says so, or
// fails tb at until with what and the state done describes.
func (o *Observer) Wait(tb testing.TB, until time.Time, what string, done func() (bool, string)) {
	tb.Helper()
	for {
		looked := time.Now()
		o.mu.Lock()
		ok, state := done()
		err := o.err
		o.mu.Unlock()
		if ok {
			return
		}
		if err != nil {
			tb.Fatal(err)
		}
		if time.Now().After(until) {
			tb.Fatalf("timed out waiting for %s: %s", what, state)
		}
		select {
		case <-o.changed:
		case <-time.After(time.Second):
		}
		time.Sleep(time.Until(looked.Add(waitEvery)))
	}
}

// count is how many names with prefix the set holds; call locked.
func count[V any](set map[string]V, prefix string) int {
	n := 0
	for name := range set {
		if strings.HasPrefix(name, prefix) {
			n++
		}
	}
	return n
}

// WaitActive waits until n sessions whose names start with prefix are
// Active with a finalizer (reconciled at least once).
func (o *Observer) WaitActive(tb testing.TB, prefix string, n int, timeout time.Duration) {
	tb.Helper()
	o.Wait(tb, time.Now().Add(timeout), "sessions active", func() (bool, string) {
		got := count(o.active, prefix)
		return got >= n, fmt.Sprintf("%d/%d %s* active", got, n, prefix)
	})
}

// WaitSuspended waits until n sessions whose names start with prefix were
// seen Suspended.
func (o *Observer) WaitSuspended(tb testing.TB, prefix string, n int, until time.Time) {
	tb.Helper()
	o.Wait(tb, until, "sessions suspended", func() (bool, string) {
		got := count(o.suspended, prefix)
		return got >= n, fmt.Sprintf("%d/%d %s* suspended", got, n, prefix)
	})
}

// WaitRV waits until the watch has delivered resourceVersion rv of the
// named session: every change made before it has been delivered too.
func (o *Observer) WaitRV(tb testing.TB, name, rv string, timeout time.Duration) {
	tb.Helper()
	o.Wait(tb, time.Now().Add(timeout), "the watch to deliver "+name, func() (bool, string) {
		return o.lastRV[name] == rv, fmt.Sprintf("%s at resourceVersion %s, want %s", name, o.lastRV[name], rv)
	})
}

// Modified is how many modifications the watch has delivered.
func (o *Observer) Modified() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.modified
}

// Rewatches is how often the watch had to be opened again.
func (o *Observer) Rewatches() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.rewatches)
}

// RewatchTimes is when the watch had to be opened again.
func (o *Observer) RewatchTimes() []time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.rewatches)
}

// Suspension is one session's idle deadline and when it was first seen
// Suspended.
type Suspension struct {
	Deadline, Seen time.Time
}

// Late is how long after its deadline the session was seen Suspended.
func (s Suspension) Late() time.Duration { return s.Seen.Sub(s.Deadline) }

// Suspensions returns the sessions whose names start with prefix and that
// were seen Suspended, by deadline.
func (o *Observer) Suspensions(prefix string) []Suspension {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []Suspension
	for name, at := range o.suspended {
		if strings.HasPrefix(name, prefix) {
			out = append(out, Suspension{Deadline: o.deadlines[name], Seen: at})
		}
	}
	slices.SortFunc(out, func(a, b Suspension) int { return a.Deadline.Compare(b.Deadline) })
	return out
}

// Deadlines returns the first and last idle deadline of the sessions
// whose names start with prefix.
func (o *Observer) Deadlines(prefix string) (first, last time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for name, d := range o.deadlines {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		if first.IsZero() || d.Before(first) {
			first = d
		}
		if d.After(last) {
			last = d
		}
	}
	return first, last
}

// Lateness is, for each session whose name starts with prefix and that
// was seen Suspended, the time from its deadline to that moment, sorted.
// A session suspended early shows as a negative lateness.
func (o *Observer) Lateness(prefix string) []time.Duration {
	var out []time.Duration
	for _, s := range o.Suspensions(prefix) {
		out = append(out, s.Late())
	}
	slices.Sort(out)
	return out
}

// SuspendedBy is how many sessions whose names start with prefix were seen
// Suspended by t.
func (o *Observer) SuspendedBy(prefix string, t time.Time) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for name, at := range o.suspended {
		if strings.HasPrefix(name, prefix) && !at.After(t) {
			n++
		}
	}
	return n
}

// LastSuspended is when the last session whose name starts with prefix
// was seen Suspended.
func (o *Observer) LastSuspended(prefix string) time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	var last time.Time
	for name, at := range o.suspended {
		if strings.HasPrefix(name, prefix) && at.After(last) {
			last = at
		}
	}
	return last
}

// Percentile is the p-th (0..1) of sorted durations; 0 for none.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(float64(len(sorted)-1)*p)]
}

// EnvInt is the positive integer in the environment variable key, else def:
// the sizes a benchmark can be run at.
func EnvInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil && v > 0 {
		return v
	}
	return def
}

// EnvDuration is the duration in the environment variable key, else def.
func EnvDuration(key string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(key)); err == nil && v >= 0 {
		return v
	}
	return def
}

// Parallel calls fn for 0..n-1 from writers goroutines, as the benchmarks
// create and patch their sessions, and returns the first error (the
// writer that met it stops).
func Parallel(n, writers int, fn func(i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}
