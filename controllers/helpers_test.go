package controllers

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/testenv"
)

const pollTimeout = 30 * time.Second

func dur(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

func (h *harness) key(name string) types.NamespacedName {
	return types.NamespacedName{Namespace: h.ns, Name: name}
}

// create makes a session the way a user or GitOps tool would.
func (h *harness) create(name string, mods ...func(*v1alpha1.McpSession)) *v1alpha1.McpSession {
	h.t.Helper()
	s := &v1alpha1.McpSession{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: h.ns}}
	for _, m := range mods {
		m(s)
	}
	if err := k8s.Create(h.ctx, s); err != nil {
		h.t.Fatalf("create session %s: %v", name, err)
	}
	return s
}

func timing(idle, ttl, retention time.Duration) func(*v1alpha1.McpSession) {
	return func(s *v1alpha1.McpSession) {
		if idle > 0 {
			s.Spec.IdleTimeout = dur(idle)
		}
		if ttl > 0 {
			s.Spec.TTL = dur(ttl)
		}
		if retention > 0 {
			s.Spec.Retention = dur(retention)
		}
	}
}

func owner(o string) func(*v1alpha1.McpSession) {
	return func(s *v1alpha1.McpSession) { s.Spec.Owner = o }
}

func labelled(kv ...string) func(*v1alpha1.McpSession) {
	return func(s *v1alpha1.McpSession) {
		s.Labels = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			s.Labels[kv[i]] = kv[i+1]
		}
	}
}

// get reads a session from the API server (not from a cache); nil if gone.
func (h *harness) get(name string) *v1alpha1.McpSession {
	h.t.Helper()
	s := &v1alpha1.McpSession{}
	if err := k8s.Get(h.ctx, h.key(name), s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		h.t.Fatalf("get session %s: %v", name, err)
	}
	return s
}

// waitSession waits until check(session) returns "".
func (h *harness) waitSession(name, what string, check func(*v1alpha1.McpSession) string) *v1alpha1.McpSession {
	h.t.Helper()
	var s *v1alpha1.McpSession
	testenv.Eventually(h.t, pollTimeout, name+": "+what, func() string {
		if s = h.get(name); s == nil {
			return "session is gone"
		}
		if msg := check(s); msg != "" {
			return msg + "\nstatus: " + statusJSON(s)
		}
		return ""
	})
	return s
}

// waitPhase waits for phase and condition reason, and for status to reflect
// the latest generation.
func (h *harness) waitPhase(name string, phase v1alpha1.Phase, reason string) *v1alpha1.McpSession {
	h.t.Helper()
	return h.waitSession(name, fmt.Sprintf("phase %s (%s)", phase, reason), func(s *v1alpha1.McpSession) string {
		if s.Status.ObservedGeneration != s.Generation {
			return fmt.Sprintf("observedGeneration %d != generation %d", s.Status.ObservedGeneration, s.Generation)
		}
		if s.Status.Phase != phase {
			return "phase is " + string(s.Status.Phase)
		}
		condType := map[v1alpha1.Phase]string{
			v1alpha1.PhaseActive: v1alpha1.ConditionReady, v1alpha1.PhaseSuspended: v1alpha1.ConditionSuspended,
			v1alpha1.PhaseTerminated: v1alpha1.ConditionTerminated,
		}[phase]
		c := meta.FindStatusCondition(s.Status.Conditions, condType)
		if c == nil || c.Status != metav1.ConditionTrue || c.Reason != reason {
			return fmt.Sprintf("condition %s is %+v", condType, c)
		}
		return ""
	})
}

func (h *harness) waitGone(name string) {
	h.t.Helper()
	testenv.Eventually(h.t, pollTimeout, name+" deleted", func() string {
		if s := h.get(name); s != nil {
			return "still there: " + statusJSON(s)
		}
		return ""
	})
}

// poke makes the controller reconcile the session now, after the test
// stepped the fake clock (RequeueAfter waits in real time).
func (h *harness) poke(name string) {
	h.t.Helper()
	pokeMu.Lock()
	pokeCount++
	n := pokeCount
	pokeMu.Unlock()
	h.mergePatch(name, fmt.Sprintf(`{"metadata":{"annotations":{%q:"%d"}}}`, pokeAnnotation, n), false)
}

// step moves the fake clock forward and pokes the named sessions.
func (h *harness) step(d time.Duration, names ...string) {
	h.t.Helper()
	h.clock.Step(d)
	for _, n := range names {
		h.poke(n)
	}
}

func (h *harness) mergePatch(name, patch string, status bool) {
	h.t.Helper()
	s := &v1alpha1.McpSession{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: h.ns}}
	var err error
	if status {
		err = k8s.Status().Patch(h.ctx, s, client.RawPatch(types.MergePatchType, []byte(patch)))
	} else {
		err = k8s.Patch(h.ctx, s, client.RawPatch(types.MergePatchType, []byte(patch)))
	}
	if err != nil {
		h.t.Fatalf("patch %s with %s: %v", name, patch, err)
	}
}

// recordActivity writes status.lastActivityTime the way the MCP server does:
// a merge patch of that one field.
func (h *harness) recordActivity(name string, at time.Time) {
	h.t.Helper()
	h.mergePatch(name, fmt.Sprintf(`{"status":{"lastActivityTime":%q}}`, at.UTC().Format(time.RFC3339)), true)
}

func (h *harness) setSpec(name, fields string) {
	h.t.Helper()
	h.mergePatch(name, `{"spec":`+fields+`}`, false)
}

// events returns the reasons of the Events about a session, oldest first.
func (h *harness) events(name string) []string {
	h.t.Helper()
	list := &eventsv1.EventList{}
	if err := k8s.List(h.ctx, list, client.InNamespace(h.ns)); err != nil {
		h.t.Fatalf("list events: %v", err)
	}
	slices.SortFunc(list.Items, func(a, b eventsv1.Event) int { return a.EventTime.Compare(b.EventTime.Time) })
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Name == name && e.Regarding.Kind == "McpSession" {
			out = append(out, e.Reason)
		}
	}
	return out
}

func (h *harness) waitEvents(name string, want ...string) {
	h.t.Helper()
	testenv.Eventually(h.t, pollTimeout, fmt.Sprintf("events %v on %s", want, name), func() string {
		got := h.events(name)
		for _, w := range want {
			if !slices.Contains(got, w) {
				return fmt.Sprintf("events are %v", got)
			}
		}
		return ""
	})
}

func statusJSON(s *v1alpha1.McpSession) string {
	b, _ := json.Marshal(s.Status)
	return string(b)
}

func condition(s *v1alpha1.McpSession, typ string) metav1.Condition {
	if c := meta.FindStatusCondition(s.Status.Conditions, typ); c != nil {
		return *c
	}
	return metav1.Condition{}
}

func sameSecond(a *metav1.Time, b time.Time) bool {
	return a != nil && a.Time.Unix() == b.Unix()
}

func mustContain(t *testing.T, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Fatalf("%q does not contain %q", s, sub)
	}
}

// assertErased checks that the store erased exactly this session's data.
// Erase may run more than once for one UID (a reconcile on a cache that has
// not seen the finalizer go yet), which its contract allows.
func (h *harness) assertErased(uid string) {
	h.t.Helper()
	got := h.store.erasedUIDs()
	if len(got) == 0 || slices.ContainsFunc(got, func(u string) bool { return u != uid }) {
		h.t.Fatalf("erased %v, want only %s", got, uid)
	}
}
