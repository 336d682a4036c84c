package controllers

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
)

// recorded is one Event a recordingRecorder saw.
type recorded struct{ regarding, reason, note string }

// recordingRecorder keeps every Event, never blocking.
type recordingRecorder struct {
	mu     sync.Mutex
	events []recorded
}

func (r *recordingRecorder) Eventf(regarding runtime.Object, _ runtime.Object, _, reason, _, note string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, recorded{regarding: regarding.(*v1alpha1.McpSession).Name, reason: reason, note: fmt.Sprintf(note, args...)})
}

func (r *recordingRecorder) take() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.events
	r.events = nil
	return out
}

var _ events.EventRecorder = (*recordingRecorder)(nil)

// Thousands of transitions in the same second cost EventBurst Events and
// one summary per namespace and reason, not one Event each; a trickle
// gets one Event each.
func TestEventBudget(t *testing.T) {
	rec := &recordingRecorder{}
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC))
	b := newEventBudget(rec, clk)
	session := func(ns string, i int) *v1alpha1.McpSession {
		return &v1alpha1.McpSession{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("s-%05d", i)}}
	}
	const burst = 10_000
	for i := range burst {
		b.eventf(session("a", i), "Normal", "Suspended", "Suspend", "Suspended: idle")
	}
	b.eventf(session("b", 0), "Normal", "Expired", "Terminate", "Expired")
	got := rec.take()
	if len(got) != EventBurst {
		t.Fatalf("a burst of %d transitions wrote %d Events at once, want the budget's %d", burst+1, len(got), EventBurst)
	}
	if got[0].regarding != "s-00000" || got[0].note != "Suspended: idle" {
		t.Errorf("first Event = %+v, want the session's own", got[0])
	}

	clk.Step(time.Second)
	b.flush()
	sums := rec.take()
	if len(sums) != 2 {
		t.Fatalf("summaries = %+v, want one per namespace and reason", sums)
	}
	a, bb := sums[0], sums[1]
	if a.reason != "Suspended" || a.regarding != "s-09999" ||
		!strings.Contains(a.note, fmt.Sprintf("%d sessions of this namespace", burst-EventBurst)) ||
		!strings.Contains(a.note, "s-00050, s-00051") || !strings.Contains(a.note, fmt.Sprintf("and %d more", burst-EventBurst-summaryNames)) {
		t.Errorf("summary of namespace a = %+v", a)
	}
	if bb.reason != "Expired" || bb.regarding != "s-00000" || !strings.Contains(bb.note, "1 session of this namespace") {
		t.Errorf("summary of namespace b = %+v", bb)
	}
	b.flush()
	if got := rec.take(); len(got) != 0 {
		t.Errorf("a second flush with nothing held wrote %+v", got)
	}

	// Once the budget has refilled, transitions a second apart get one
	// Event each.
	clk.Step(time.Minute)
	for i := range 3 * EventBurst {
		clk.Step(time.Second / EventRate)
		b.eventf(session("a", i), "Normal", "Resumed", "Resume", "Resumed")
	}
	b.flush()
	if got := rec.take(); len(got) != 3*EventBurst {
		t.Errorf("a trickle of %d transitions wrote %d Events, want one each", 3*EventBurst, len(got))
	}
}
