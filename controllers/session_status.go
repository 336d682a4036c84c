package controllers

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
	lifecycle.ApplyDecision(s, d, set, now)
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

// transitionMessage is the note of the Event emitted for a phase change.
func transitionMessage(s *v1alpha1.McpSession, d lifecycle.Decision, set lifecycle.Settings) string {
	switch d.Phase {
	case v1alpha1.PhaseSuspended:
		return "Suspended: " + lifecycle.SuspendedMessage(d, set)
	case v1alpha1.PhaseTerminated:
		msg := lifecycle.TerminatedMessage(s, d, set)
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
