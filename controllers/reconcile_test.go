package controllers

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/lifecycle"
)

// direct is a SessionReconciler called by the test itself rather than by a
// manager: no watch, no queue, no real-time requeue. Between calls the
// test steps the fake clock, so what Reconcile returns (RequeueAfter) and
// what it writes (or does not) is checked against the clock, not a sleep.
type direct struct {
	t     *testing.T
	ns    string
	clock *clocktesting.FakeClock
	c     *countingClient
	r     *SessionReconciler
	store *recordingStore
}

func newDirect(t *testing.T, defaults lifecycle.Defaults) *direct {
	t.Helper()
	d := &direct{t: t, ns: newNamespace(t), store: &recordingStore{},
		c: &countingClient{Client: k8s, gets: map[string]int{}, writes: map[string]int{}}}
	d.clock = clocktesting.NewFakeClock(time.Now())
	d.r = &SessionReconciler{Client: d.c, Clock: d.clock, Defaults: defaults, Store: d.store, Recorder: events.NewFakeRecorder(100)}
	return d
}

// create makes a session and sets the clock to its creation time, which
// its deadlines count from.
func (d *direct) create(name string, mods ...func(*v1alpha1.McpSession)) {
	d.t.Helper()
	s := &v1alpha1.McpSession{}
	s.Name, s.Namespace = name, d.ns
	for _, m := range mods {
		m(s)
	}
	if err := k8s.Create(d.t.Context(), s); err != nil {
		d.t.Fatal(err)
	}
	d.clock.SetTime(s.CreationTimestamp.Time)
}

// reconcile calls Reconcile once and returns its result.
func (d *direct) reconcile(name string) ctrl.Result {
	d.t.Helper()
	res, err := d.r.Reconcile(d.t.Context(), ctrl.Request{NamespacedName: d.key(name)})
	if err != nil {
		d.t.Fatalf("Reconcile %s: %v", name, err)
	}
	return res
}

func (d *direct) key(name string) types.NamespacedName {
	return types.NamespacedName{Namespace: d.ns, Name: name}
}

func (d *direct) get(name string) *v1alpha1.McpSession {
	d.t.Helper()
	s := &v1alpha1.McpSession{}
	if err := k8s.Get(d.t.Context(), d.key(name), s); err != nil {
		d.t.Fatalf("get %s: %v", name, err)
	}
	return s
}

// Each reconcile asks to be called again exactly at the next deadline, and
// a deadline that has come is acted on at once: idle suspension, expiry,
// deletion after retention.
func TestReconcileRequeuesAtTheNextDeadline(t *testing.T) {
	d := newDirect(t, lifecycle.Defaults{})
	const idle, ttl, retention = 10 * time.Minute, time.Hour, 30 * time.Minute
	d.create("s", timing(idle, ttl, retention))

	steps := []struct {
		step     time.Duration
		phase    v1alpha1.Phase
		reason   string
		requeue  time.Duration
		deletion bool
	}{
		{0, v1alpha1.PhaseActive, v1alpha1.ReasonActive, idle, false},
		{time.Minute, v1alpha1.PhaseActive, v1alpha1.ReasonActive, idle - time.Minute, false},
		{idle - time.Minute, v1alpha1.PhaseSuspended, v1alpha1.ReasonIdle, ttl - idle, false},
		{ttl - idle, v1alpha1.PhaseTerminated, v1alpha1.ReasonExpired, retention, false},
		{retention - time.Second, v1alpha1.PhaseTerminated, v1alpha1.ReasonExpired, time.Second, false},
		{time.Second, "", "", 0, true},
	}
	for i, st := range steps {
		d.clock.Step(st.step)
		res := d.reconcile("s")
		if res.RequeueAfter != st.requeue {
			t.Errorf("step %d (+%s): RequeueAfter = %s, want %s", i, st.step, res.RequeueAfter, st.requeue)
		}
		s := d.get("s")
		if st.deletion {
			if s.DeletionTimestamp == nil {
				t.Errorf("step %d: metadata.deletionTimestamp unset, want the session deleted after retention", i)
			}
			continue
		}
		if s.Status.Phase != st.phase {
			t.Errorf("step %d (+%s): status.phase = %s, want %s", i, st.step, s.Status.Phase, st.phase)
		}
		if c := condition(s, map[v1alpha1.Phase]string{v1alpha1.PhaseActive: v1alpha1.ConditionReady,
			v1alpha1.PhaseSuspended: v1alpha1.ConditionSuspended, v1alpha1.PhaseTerminated: v1alpha1.ConditionTerminated}[st.phase]); c.Reason != st.reason {
			t.Errorf("step %d: condition %s reason = %q, want %q", i, c.Type, c.Reason, st.reason)
		}
	}
}

// A session left alone for an hour of fake time, reconciled every fake
// minute, is never written: no heartbeat, no condition churn. Shown by its
// resourceVersion, which any write would change.
func TestSessionUntouchedCausesNoWrites(t *testing.T) {
	d := newDirect(t, lifecycle.Defaults{IdleTimeout: 2 * time.Hour, TTL: 24 * time.Hour, Retention: time.Hour})
	d.create("quiet")
	d.reconcile("quiet") // finalizer and first status
	before := d.get("quiet")
	if before.Status.Phase != v1alpha1.PhaseActive {
		t.Fatalf("status.phase = %q after the first reconcile, want Active", before.Status.Phase)
	}
	_, writes := d.c.snapshot("quiet")
	for minute := 1; minute <= 60; minute++ {
		d.clock.Step(time.Minute)
		res := d.reconcile("quiet")
		if want := 2*time.Hour - time.Duration(minute)*time.Minute; res.RequeueAfter != want {
			t.Fatalf("minute %d: RequeueAfter = %s, want %s (the idle deadline)", minute, res.RequeueAfter, want)
		}
	}
	if _, w := d.c.snapshot("quiet"); w != writes {
		t.Errorf("the controller wrote %d times during an idle hour, want none", w-writes)
	}
	after := d.get("quiet")
	if after.ResourceVersion != before.ResourceVersion {
		t.Errorf("metadata.resourceVersion went from %s to %s: the session was written\nbefore %s\nafter  %s",
			before.ResourceVersion, after.ResourceVersion, statusJSON(before), statusJSON(after))
	}
	if gets, _ := d.c.snapshot("quiet"); gets < 60 {
		t.Errorf("60 reconciles read the session %d times, want at least 60", gets)
	}
}
