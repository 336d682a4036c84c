package controllers

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/lifecycle"
	"github.com/mcp-session-operator/mcp-session-operator/internal/testenv"
)

// A session walks the whole lifecycle on the fake clock: idle suspension,
// resume by activity, suspend and resume by spec, expiry, and deletion after
// retention through the finalizer.
func TestSessionLifecycle(t *testing.T) {
	h := start(t, lifecycle.Defaults{})
	const (
		idle      = 10 * time.Minute
		ttl       = 2 * time.Hour
		retention = 30 * time.Minute
	)
	h.create("chat", timing(idle, ttl, retention))

	s := h.waitPhase("chat", v1alpha1.PhaseActive, v1alpha1.ReasonActive)
	if !controllerutil.ContainsFinalizer(s, v1alpha1.StoreFinalizer) {
		t.Fatalf("finalizer missing: %v", s.Finalizers)
	}
	eff := s.Status.Effective
	if eff == nil || eff.Sources != "idleTimeout=spec,ttl=spec,retention=spec" || eff.Policy != "" ||
		eff.IdleTimeout.Duration != idle || eff.TTL.Duration != ttl || eff.Retention.Duration != retention {
		t.Fatalf("effective settings: %+v", eff)
	}
	if !sameSecond(s.Status.ExpiresAt, s.CreationTimestamp.Add(ttl)) {
		t.Fatalf("expiresAt %v, want creation + ttl = %v", s.Status.ExpiresAt, s.CreationTimestamp.Add(ttl))
	}
	if c := condition(s, v1alpha1.ConditionReady); c.Status != metav1.ConditionTrue {
		t.Fatalf("Ready: %+v", c)
	}

	// Idle deadline: Suspended (Idle).
	h.step(idle+5*time.Second, "chat")
	s = h.waitPhase("chat", v1alpha1.PhaseSuspended, v1alpha1.ReasonIdle)
	if !sameSecond(s.Status.SuspendedAt, h.clock.Now()) {
		t.Fatalf("suspendedAt %v, want %v", s.Status.SuspendedAt, h.clock.Now())
	}
	if c := condition(s, v1alpha1.ConditionReady); c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.ReasonIdle {
		t.Fatalf("Ready while suspended: %+v", c)
	}
	h.waitEvents("chat", lifecycle.EventSuspended)

	// The MCP server records activity: Active again (Resumed).
	resumeAt := h.clock.Now()
	h.recordActivity("chat", resumeAt)
	s = h.waitPhase("chat", v1alpha1.PhaseActive, v1alpha1.ReasonActive)
	if c := condition(s, v1alpha1.ConditionSuspended); c.Reason != v1alpha1.ReasonResumed {
		t.Fatalf("Suspended condition after resume: %+v", c)
	}
	if !sameSecond(s.Status.ResumedAt, resumeAt) || !sameSecond(s.Status.ExpiresAt, resumeAt.Add(ttl)) {
		t.Fatalf("resumedAt %v / expiresAt %v after activity at %v", s.Status.ResumedAt, s.Status.ExpiresAt, resumeAt)
	}
	if s.Status.LastActivityTime == nil {
		t.Fatal("controller dropped lastActivityTime")
	}
	h.waitEvents("chat", lifecycle.EventResumed)

	// spec.suspend suspends (Requested); clearing it resumes.
	h.setSpec("chat", `{"suspend":true}`)
	h.waitPhase("chat", v1alpha1.PhaseSuspended, v1alpha1.ReasonRequested)
	h.setSpec("chat", `{"suspend":false}`)
	h.waitPhase("chat", v1alpha1.PhaseActive, v1alpha1.ReasonActive)

	// ttl after the last activity: Terminated (Expired), deletion scheduled.
	h.step(ttl, "chat")
	s = h.waitPhase("chat", v1alpha1.PhaseTerminated, v1alpha1.ReasonExpired)
	if !sameSecond(s.Status.TerminatedAt, h.clock.Now()) || !sameSecond(s.Status.ExpiresAt, s.Status.TerminatedAt.Add(retention)) {
		t.Fatalf("terminatedAt %v, expiresAt %v", s.Status.TerminatedAt, s.Status.ExpiresAt)
	}
	if got := s.Annotations[v1alpha1.TerminationReasonAnnotation]; got != v1alpha1.ReasonExpired {
		t.Fatalf("termination reason annotation %q", got)
	}
	h.waitEvents("chat", lifecycle.EventExpired)

	// Terminated is sticky: spec.suspend and fresh activity change nothing.
	h.setSpec("chat", `{"suspend":true}`)
	h.recordActivity("chat", h.clock.Now())
	s = h.waitPhase("chat", v1alpha1.PhaseTerminated, v1alpha1.ReasonExpired)
	if s.Status.SuspendedAt.Time.After(resumeAt) {
		t.Fatalf("terminated session was suspended again at %v", s.Status.SuspendedAt)
	}

	// Retention runs out: deleted, and the finalizer erased the data.
	uid := string(s.UID)
	h.step(retention+time.Second, "chat")
	h.waitGone("chat")
	h.assertErased(uid)
}

// spec.terminate terminates for good (Requested) and retention deletes it;
// no annotation is needed since spec remembers.
func TestSessionTerminateRequested(t *testing.T) {
	h := start(t, lifecycle.Defaults{IdleTimeout: time.Hour, TTL: 24 * time.Hour, Retention: time.Hour})
	h.create("done")
	s := h.waitPhase("done", v1alpha1.PhaseActive, v1alpha1.ReasonActive)
	if s.Status.Effective.Sources != "idleTimeout=default,ttl=default,retention=default" {
		t.Fatalf("sources %q", s.Status.Effective.Sources)
	}
	h.setSpec("done", `{"terminate":true}`)
	s = h.waitPhase("done", v1alpha1.PhaseTerminated, v1alpha1.ReasonRequested)
	if _, ok := s.Annotations[v1alpha1.TerminationReasonAnnotation]; ok {
		t.Fatalf("unexpected annotation on a requested termination: %v", s.Annotations)
	}
	if c := condition(s, v1alpha1.ConditionReady); c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.ReasonRequested {
		t.Fatalf("Ready: %+v", c)
	}
	h.waitEvents("done", lifecycle.EventTerminated)

	h.step(time.Hour-time.Minute, "done")
	s = h.waitPhase("done", v1alpha1.PhaseTerminated, v1alpha1.ReasonRequested)
	if s.DeletionTimestamp != nil {
		t.Fatal("deleted before retention ran out")
	}
	h.step(2*time.Minute, "done")
	h.waitGone("done")
	h.assertErased(string(s.UID))
}

// Deleting a session by hand erases its data; if the store fails, the
// object waits (finalizer kept) and the erase is retried.
func TestSessionFinalizerErasesData(t *testing.T) {
	h := start(t, lifecycle.Defaults{})
	h.create("gone")
	s := h.waitPhase("gone", v1alpha1.PhaseActive, v1alpha1.ReasonActive)

	errorsBefore := testutil.ToFloat64(reconcileErrorsTotal.WithLabelValues(sessionControllerName))
	h.store.setErr(errors.New("disk on fire"))
	if err := k8s.Delete(h.ctx, s); err != nil {
		t.Fatal(err)
	}
	h.waitSession("gone", "deletion pending", func(s *v1alpha1.McpSession) string {
		if s.DeletionTimestamp == nil || !controllerutil.ContainsFinalizer(s, v1alpha1.StoreFinalizer) {
			return "not waiting on the finalizer"
		}
		return ""
	})
	if got := h.store.erasedUIDs(); len(got) != 0 {
		t.Fatalf("erased %v while the store fails", got)
	}
	testenv.Eventually(t, pollTimeout, "failed erase counted as a reconcile error", func() string {
		if testutil.ToFloat64(reconcileErrorsTotal.WithLabelValues(sessionControllerName)) <= errorsBefore {
			return MetricReconcileErrors + " did not grow"
		}
		return ""
	})
	h.store.setErr(nil)
	h.waitGone("gone")
	h.assertErased(string(s.UID))
}
