package controllers

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/lifecycle"
)

// patchStatus writes the decided status with one merge patch, and only when
// it differs from what is stored. The patch carries only the fields that
// changed, never lastActivityTime or counts, so it cannot undo a concurrent
// write of the MCP server. A phase change is sent with the resourceVersion it
// was decided on: if the MCP server recorded activity in the meantime (or
// the cache had not yet caught up with this controller's previous write),
// the patch fails instead of suspending an active session, terminating one
// for good, or repeating a transition and its Event; the newer version is
// decided again when the watch delivers it.
func (r *SessionReconciler) patchStatus(ctx context.Context, s *v1alpha1.McpSession, d lifecycle.Decision, set lifecycle.Settings, now time.Time) (bool, error) {
	orig := s.DeepCopy()
	applyDecision(s, d, set, now)
	if equality.Semantic.DeepEqual(orig.Status, s.Status) {
		return false, nil
	}
	patch := client.MergeFrom(orig)
	if d.Transitioned() {
		patch = client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})
	}
	if err := r.Client.Status().Patch(ctx, s, patch); err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return false, errStale
		}
		return false, fmt.Errorf("patch status of session %s/%s to %s: %w", s.Namespace, s.Name, d.Phase, err)
	}
	return true, nil
}

// applyDecision sets the status fields the controller owns. Condition
// transition times come from the injected clock and change only when a
// condition's status does (meta.SetStatusCondition), so re-applying an
// unchanged decision leaves status byte-for-byte equal.
func applyDecision(s *v1alpha1.McpSession, d lifecycle.Decision, set lifecycle.Settings, now time.Time) {
	st := &s.Status
	st.Phase = d.Phase
	st.ObservedGeneration = s.Generation
	st.SuspendedAt = timeOrNil(d.SuspendedAt)
	st.ResumedAt = timeOrNil(d.ResumedAt)
	st.TerminatedAt = timeOrNil(d.TerminatedAt)
	st.ExpiresAt = timeOrNil(d.ExpiresAt)
	st.Effective = set.Status()

	ltt := metav1.NewTime(now.Truncate(time.Second))
	cond := func(typ string, status metav1.ConditionStatus, reason, msg string) {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{
			Type: typ, Status: status, Reason: reason, Message: msg,
			ObservedGeneration: s.Generation, LastTransitionTime: ltt,
		})
	}
	notTerminated := func() {
		cond(v1alpha1.ConditionTerminated, metav1.ConditionFalse, v1alpha1.ReasonNotTerminated, "The session has not been terminated.")
	}
	switch d.Phase {
	case v1alpha1.PhaseActive:
		cond(v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonActive, "The session accepts reads and writes.")
		if d.Reason == v1alpha1.ReasonResumed {
			cond(v1alpha1.ConditionSuspended, metav1.ConditionFalse, v1alpha1.ReasonResumed, "The session was resumed.")
		} else {
			cond(v1alpha1.ConditionSuspended, metav1.ConditionFalse, v1alpha1.ReasonNotSuspended, "The session is not suspended.")
		}
		notTerminated()
	case v1alpha1.PhaseSuspended:
		msg := suspendedMessage(d, set)
		cond(v1alpha1.ConditionReady, metav1.ConditionFalse, d.Reason, msg)
		cond(v1alpha1.ConditionSuspended, metav1.ConditionTrue, d.Reason, msg)
		notTerminated()
	case v1alpha1.PhaseTerminated:
		msg := terminatedMessage(s, d, set)
		cond(v1alpha1.ConditionReady, metav1.ConditionFalse, d.Reason, msg)
		cond(v1alpha1.ConditionSuspended, metav1.ConditionFalse, v1alpha1.ReasonNotSuspended, "The session is terminated, not suspended.")
		cond(v1alpha1.ConditionTerminated, metav1.ConditionTrue, d.Reason, msg)
	}
}

func suspendedMessage(d lifecycle.Decision, set lifecycle.Settings) string {
	if d.Reason == v1alpha1.ReasonRequested {
		return "spec.suspend is true; clear it to resume the session."
	}
	return fmt.Sprintf("No activity within the idleTimeout of %s; reads still work, a client action resumes the session.", set.IdleTimeout)
}

// terminatedMessage explains a termination. Once terminated the message is
// kept as first written: the settings or quota that caused it may have
// changed since, and the condition records why it happened.
func terminatedMessage(s *v1alpha1.McpSession, d lifecycle.Decision, set lifecycle.Settings) string {
	if d.From == v1alpha1.PhaseTerminated {
		if c := meta.FindStatusCondition(s.Status.Conditions, v1alpha1.ConditionTerminated); c != nil &&
			c.Status == metav1.ConditionTrue && c.Reason == d.Reason && c.Message != "" {
			return c.Message
		}
	}
	switch d.Reason {
	case v1alpha1.ReasonRequested:
		return "spec.terminate is true; the session is read-only until retention deletes it."
	case v1alpha1.ReasonQuotaExceeded:
		if set.Quota != nil {
			return fmt.Sprintf("Owner %q went over the limit of %d live sessions of policy %s (action %s).",
				s.Spec.Owner, set.Quota.Limit, set.Policy, quotaAction(set.Quota))
		}
		return "The owner went over a policy's maxSessionsPerOwner."
	default:
		return fmt.Sprintf("No activity within the ttl of %s; the session is read-only until retention deletes it.", set.TTL)
	}
}

// transitionMessage is the note of the Event emitted for a phase change.
func transitionMessage(s *v1alpha1.McpSession, d lifecycle.Decision, set lifecycle.Settings) string {
	switch d.Phase {
	case v1alpha1.PhaseSuspended:
		return "Suspended: " + suspendedMessage(d, set)
	case v1alpha1.PhaseTerminated:
		msg := terminatedMessage(s, d, set)
		if !d.DeleteAt.IsZero() {
			msg += fmt.Sprintf(" Deletion at %s (retention %s).", d.DeleteAt.UTC().Format(time.RFC3339), set.Retention)
		}
		return msg
	default:
		return "Resumed: activity was recorded after the suspension, or spec.suspend was cleared."
	}
}

// recordTerminationReason copies an operator-decided termination reason
// (Expired, QuotaExceeded) to an annotation, so a session restored without
// its status (e.g. from a backup) stays terminated for the same reason.
// spec.terminate needs no such record.
func (r *SessionReconciler) recordTerminationReason(ctx context.Context, s *v1alpha1.McpSession, d lifecycle.Decision) error {
	if d.Phase != v1alpha1.PhaseTerminated || d.Reason == v1alpha1.ReasonRequested ||
		s.Annotations[v1alpha1.TerminationReasonAnnotation] == d.Reason {
		return nil
	}
	orig := s.DeepCopy()
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations[v1alpha1.TerminationReasonAnnotation] = d.Reason
	// Locked on the resourceVersion the decision was made on, like the
	// status patch that follows: a stale cache must not terminate.
	if err := r.Client.Patch(ctx, s, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return errStale
		}
		return fmt.Errorf("record termination reason of session %s/%s: %w", s.Namespace, s.Name, err)
	}
	return nil
}

func quotaAction(q *v1alpha1.OwnerQuota) v1alpha1.QuotaAction {
	if q.Action == "" {
		return v1alpha1.QuotaReject
	}
	return q.Action
}

// timeOrNil renders a decided time for status, truncated to the second as
// the API stores it, so comparing with the stored value finds no change.
func timeOrNil(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	mt := metav1.NewTime(t.Truncate(time.Second))
	return &mt
}
