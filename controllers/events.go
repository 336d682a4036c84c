package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
)

// The Event budget. An Event is one write to the apiserver, as costly as
// the status patch it reports, so when thousands of sessions change phase
// together (deadlines that fall in the same second), an Event each would
// take a quarter or more of the apiserver's write rate from the status
// patches themselves. Each session's phase is explained where it is
// always found, its conditions (kubectl describe shows them: the
// Suspended condition's reason and message say why it was suspended); the
// Events are the history on top of that.
const (
	// EventRate and EventBurst bound the Events written one per session:
	// a steady trickle of transitions gets one Event each, a burst gets
	// EventBurst of them and then EventRate per second.
	EventRate  = 5
	EventBurst = 50
	// EventSummaryEvery is how often the transitions past the budget are
	// summed up: one Event per namespace, reason and action, regarding the
	// last session it counts, saying how many and which.
	EventSummaryEvery = 10 * time.Second
	// summaryNames is how many session names a summary lists.
	summaryNames = 10
)

// eventBudget writes each session's Event while the budget allows and
// holds the rest for a summary Event (see EventRate). It is a manager
// Runnable: Start writes the summaries every EventSummaryEvery, and once
// more on the way out.
type eventBudget struct {
	rec     events.EventRecorder
	clock   clock.PassiveClock
	limiter *rate.Limiter

	mu   sync.Mutex
	held map[heldKey]*heldEvents
}

// heldKey groups held Events into one summary.
type heldKey struct{ namespace, eventType, reason, action string }

// heldEvents are the Events of one summary.
type heldEvents struct {
	count       int
	first, last time.Time
	names       []string
	// regarding is the last session counted, by reference only.
	regarding *v1alpha1.McpSession
}

func newEventBudget(rec events.EventRecorder, clk clock.PassiveClock) *eventBudget {
	return &eventBudget{rec: rec, clock: clk, limiter: rate.NewLimiter(EventRate, EventBurst), held: map[heldKey]*heldEvents{}}
}

// eventf records an Event about session s, or holds it for the summary
// when the budget is spent.
func (b *eventBudget) eventf(s *v1alpha1.McpSession, eventType, reason, action, note string) {
	now := b.clock.Now()
	if b.limiter.AllowN(now, 1) {
		b.rec.Eventf(s, nil, eventType, reason, action, "%s", note)
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	k := heldKey{namespace: s.Namespace, eventType: eventType, reason: reason, action: action}
	h := b.held[k]
	if h == nil {
		h = &heldEvents{first: now}
		b.held[k] = h
	}
	h.count++
	h.last = now
	if len(h.names) < summaryNames {
		h.names = append(h.names, s.Name)
	}
	h.regarding = &v1alpha1.McpSession{TypeMeta: s.TypeMeta, ObjectMeta: metav1.ObjectMeta{
		Namespace: s.Namespace, Name: s.Name, UID: s.UID, ResourceVersion: s.ResourceVersion}}
}

// flush writes one summary Event for each group of held Events.
func (b *eventBudget) flush() {
	b.mu.Lock()
	held := b.held
	b.held = map[heldKey]*heldEvents{}
	b.mu.Unlock()
	keys := make([]heldKey, 0, len(held))
	for k := range held {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b heldKey) int { return strings.Compare(a.namespace+a.reason, b.namespace+b.reason) })
	for _, k := range keys {
		b.rec.Eventf(held[k].regarding, nil, k.eventType, k.reason, k.action, "%s", summaryNote(k, held[k]))
	}
}

// summaryNote is the note of a summary Event.
func summaryNote(k heldKey, h *heldEvents) string {
	sessions := "sessions"
	if h.count == 1 {
		sessions = "session"
	}
	more := ""
	if h.count > len(h.names) {
		more = fmt.Sprintf(" and %d more", h.count-len(h.names))
	}
	return fmt.Sprintf("%s: %d %s of this namespace between %s and %s, recorded in this one Event to spare the apiserver "+
		"in a burst (each session's conditions say why): %s%s.",
		k.reason, h.count, sessions, h.first.UTC().Format(time.RFC3339), h.last.UTC().Format(time.RFC3339),
		strings.Join(h.names, ", "), more)
}

// Start writes the summaries every EventSummaryEvery until ctx ends, then
// once more.
func (b *eventBudget) Start(ctx context.Context) error {
	t := time.NewTicker(EventSummaryEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			b.flush()
			return nil
		case <-t.C:
			b.flush()
		}
	}
}
