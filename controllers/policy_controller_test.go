package controllers

import (
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/lifecycle"
	"github.com/mcp-session-operator/mcp-session-operator/internal/testenv"
)

func (h *harness) createPolicy(name string, mod func(*v1alpha1.McpSessionPolicySpec)) {
	h.t.Helper()
	p := &v1alpha1.McpSessionPolicy{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: h.ns}}
	mod(&p.Spec)
	if err := k8s.Create(h.ctx, p); err != nil {
		h.t.Fatalf("create policy %s: %v", name, err)
	}
}

func (h *harness) getPolicy(name string) *v1alpha1.McpSessionPolicy {
	h.t.Helper()
	p := &v1alpha1.McpSessionPolicy{}
	if err := k8s.Get(h.ctx, types.NamespacedName{Namespace: h.ns, Name: name}, p); err != nil {
		h.t.Fatalf("get policy %s: %v", name, err)
	}
	return p
}

func (h *harness) patchPolicy(name, patch string) {
	h.t.Helper()
	p := &v1alpha1.McpSessionPolicy{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: h.ns}}
	if err := k8s.Patch(h.ctx, p, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		h.t.Fatalf("patch policy %s with %s: %v", name, patch, err)
	}
}

// waitPolicy waits for the policy status to reflect its generation with the
// given Ready reason and match count.
func (h *harness) waitPolicy(name, reason string, matched int32) *v1alpha1.McpSessionPolicy {
	h.t.Helper()
	var p *v1alpha1.McpSessionPolicy
	testenv.Eventually(h.t, pollTimeout, fmt.Sprintf("policy %s %s matching %d", name, reason, matched), func() string {
		p = h.getPolicy(name)
		c := meta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionReady)
		if p.Status.ObservedGeneration != p.Generation || c == nil || c.Reason != reason || p.Status.MatchedSessions != matched {
			return fmt.Sprintf("status %+v", p.Status)
		}
		return ""
	})
	return p
}

// A policy applied after the sessions exist changes the settings of the
// sessions it selects, and their next transition follows the new values.
// A higher-priority policy then takes over, alone.
func TestPolicyAppliedLater(t *testing.T) {
	h := start(t, lifecycle.Defaults{IdleTimeout: time.Hour, TTL: 24 * time.Hour, Retention: time.Hour})
	h.create("mine", labelled("team", "a"))
	h.create("theirs", labelled("team", "b"))
	for _, n := range []string{"mine", "theirs"} {
		s := h.waitPhase(n, v1alpha1.PhaseActive, v1alpha1.ReasonActive)
		if s.Status.Effective.Policy != "" || s.Status.Effective.IdleTimeout.Duration != time.Hour {
			t.Fatalf("%s before any policy: %+v", n, s.Status.Effective)
		}
	}

	h.createPolicy("short-idle", func(p *v1alpha1.McpSessionPolicySpec) {
		p.Selector = metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}}
		p.IdleTimeout = dur(5 * time.Minute)
	})
	h.waitSession("mine", "policy short-idle in force", func(s *v1alpha1.McpSession) string {
		e := s.Status.Effective
		if e.Policy != "short-idle" || e.IdleTimeout.Duration != 5*time.Minute ||
			e.Sources != "idleTimeout=policy,ttl=default,retention=default" {
			return fmt.Sprintf("effective %+v", e)
		}
		return ""
	})
	h.waitPolicy("short-idle", PolicyReasonValid, 1)

	// The new, shorter idle timeout decides the next transition.
	h.step(5*time.Minute+5*time.Second, "mine", "theirs")
	h.waitPhase("mine", v1alpha1.PhaseSuspended, v1alpha1.ReasonIdle)
	h.waitPhase("theirs", v1alpha1.PhaseActive, v1alpha1.ReasonActive)

	// A namespace-wide policy with a higher priority wins for both sessions;
	// only the winner applies, so idleTimeout falls back to the default.
	h.createPolicy("wide", func(p *v1alpha1.McpSessionPolicySpec) {
		p.Priority = 10
		p.TTL = dur(30 * time.Minute)
		p.Retention = dur(10 * time.Minute)
	})
	for _, n := range []string{"mine", "theirs"} {
		h.waitSession(n, "policy wide in force", func(s *v1alpha1.McpSession) string {
			e := s.Status.Effective
			if e.Policy != "wide" || e.TTL.Duration != 30*time.Minute || e.IdleTimeout.Duration != time.Hour ||
				e.Sources != "idleTimeout=default,ttl=policy,retention=policy" {
				return fmt.Sprintf("effective %+v", e)
			}
			return ""
		})
	}
	h.waitPolicy("wide", PolicyReasonValid, 2)
	// "mine" stays suspended: a longer idle timeout alone does not resume.
	h.waitPhase("mine", v1alpha1.PhaseSuspended, v1alpha1.ReasonIdle)

	// The policy's ttl expires both (created ~5m of fake time ago).
	h.step(26*time.Minute, "mine", "theirs")
	h.waitPhase("mine", v1alpha1.PhaseTerminated, v1alpha1.ReasonExpired)
	h.waitPhase("theirs", v1alpha1.PhaseTerminated, v1alpha1.ReasonExpired)

	// Raising the policy's retention moves the scheduled deletion.
	h.patchPolicy("wide", `{"spec":{"retention":"3h"}}`)
	s := h.waitSession("mine", "retention from updated policy", func(s *v1alpha1.McpSession) string {
		if s.Status.Effective.Retention.Duration != 3*time.Hour {
			return "retention not updated"
		}
		return ""
	})
	if !sameSecond(s.Status.ExpiresAt, s.Status.TerminatedAt.Add(3*time.Hour)) {
		t.Fatalf("expiresAt %v, terminatedAt %v", s.Status.ExpiresAt, s.Status.TerminatedAt)
	}
	h.step(time.Hour, "mine")
	h.waitPhase("mine", v1alpha1.PhaseTerminated, v1alpha1.ReasonExpired)
	h.step(2*time.Hour+time.Minute, "mine")
	h.waitGone("mine")
}

// A policy reports how many sessions it selects, follows label changes and
// reports an invalid selector.
func TestPolicyStatus(t *testing.T) {
	h := start(t, lifecycle.Defaults{})
	h.createPolicy("team-a", func(p *v1alpha1.McpSessionPolicySpec) {
		p.Selector = metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}}
	})
	h.waitPolicy("team-a", PolicyReasonValid, 0)

	h.create("one", labelled("team", "a"))
	h.create("two", labelled("team", "b"))
	h.waitPolicy("team-a", PolicyReasonValid, 1)

	// Relabelling a session re-counts.
	h.mergePatch("two", `{"metadata":{"labels":{"team":"a"}}}`, false)
	h.waitPolicy("team-a", PolicyReasonValid, 2)

	// Deleting a session re-counts.
	if err := k8s.Delete(h.ctx, h.get("one")); err != nil {
		t.Fatal(err)
	}
	h.waitGone("one")
	h.waitPolicy("team-a", PolicyReasonValid, 1)

	// An operator the API accepts but a selector cannot use: InvalidSelector.
	h.patchPolicy("team-a", `{"spec":{"selector":{"matchLabels":null,"matchExpressions":[{"key":"team","operator":"Near"}]}}}`)
	p := h.waitPolicy("team-a", PolicyReasonInvalidSelector, 0)
	if c := meta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionReady); c.Status != metav1.ConditionFalse {
		t.Fatalf("Ready %+v", c)
	}
	// Sessions no longer take settings from it.
	h.waitSession("two", "no policy", func(s *v1alpha1.McpSession) string {
		if s.Status.Effective.Policy != "" {
			return "still governed by " + s.Status.Effective.Policy
		}
		return ""
	})

	// Fixed: valid again.
	h.patchPolicy("team-a", `{"spec":{"selector":{"matchExpressions":null}}}`)
	h.waitPolicy("team-a", PolicyReasonValid, 1)
}

func TestPolicyDeletedReleasesSessions(t *testing.T) {
	h := start(t, lifecycle.Defaults{IdleTimeout: time.Hour})
	h.createPolicy("p", func(p *v1alpha1.McpSessionPolicySpec) { p.IdleTimeout = dur(time.Minute) })
	h.create("s")
	h.waitSession("s", "governed by p", func(s *v1alpha1.McpSession) string {
		if s.Status.Effective == nil || s.Status.Effective.Policy != "p" {
			return "not yet"
		}
		return ""
	})
	if err := k8s.Delete(h.ctx, h.getPolicy("p")); client.IgnoreNotFound(err) != nil {
		t.Fatal(err)
	}
	h.waitSession("s", "back on defaults", func(s *v1alpha1.McpSession) string {
		if s.Status.Effective.Policy != "" || s.Status.Effective.IdleTimeout.Duration != time.Hour {
			return fmt.Sprintf("effective %+v", s.Status.Effective)
		}
		return ""
	})
}

// A policy's sessions are recounted at most every RecountEvery while its
// spec is unchanged, and at once when it changes.
func TestRecountSpacing(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	r := &PolicyReconciler{Clock: clk}
	p := &v1alpha1.McpSessionPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", Generation: 1}}
	p.Status.ObservedGeneration = 1
	steps := []struct {
		step time.Duration
		gen  int64
		want time.Duration
	}{
		{0, 1, 0},                     // first recount
		{time.Second, 1, time.Second}, // a session created a second later waits
		{time.Second / 2, 1, time.Second / 2},
		{time.Second / 2, 1, 0},  // RecountEvery passed
		{time.Millisecond, 2, 0}, // a new spec is reported at once
		{time.Millisecond, 1, RecountEvery - time.Millisecond},
	}
	for i, s := range steps {
		clk.Step(s.step)
		p.Generation = s.gen
		if got := r.recountWait(p); got != s.want {
			t.Errorf("step %d: recountWait = %s, want %s", i, got, s.want)
		}
	}
}
