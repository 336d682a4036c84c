package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/lifecycle"
)

// EventDeleted is the reason of the Event emitted when retention deletes a
// terminated session.
const EventDeleted = "Deleted"

// ensureFinalizer puts StoreFinalizer on a live session, so that deleting it
// waits until its data is erased. The patch is pinned to the version read so
// it cannot drop another controller's finalizer added concurrently.
func (r *SessionReconciler) ensureFinalizer(ctx context.Context, s *v1alpha1.McpSession) error {
	if controllerutil.ContainsFinalizer(s, v1alpha1.StoreFinalizer) {
		return nil
	}
	orig := s.DeepCopy()
	controllerutil.AddFinalizer(s, v1alpha1.StoreFinalizer)
	if err := r.Client.Patch(ctx, s, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return errStale
		}
		return fmt.Errorf("add finalizer to session %s/%s: %w", s.Namespace, s.Name, err)
	}
	return nil
}

// finalize erases a deleted session's data, then releases the object. The
// store is keyed by UID, so a session re-created under the same name never
// sees (or loses) the old one's data. Erase is idempotent: if releasing the
// finalizer fails after the erase, the retry erases nothing and releases.
func (r *SessionReconciler) finalize(ctx context.Context, s *v1alpha1.McpSession) error {
	if !controllerutil.ContainsFinalizer(s, v1alpha1.StoreFinalizer) {
		return nil
	}
	if err := r.Store.Erase(ctx, string(s.UID)); err != nil {
		return fmt.Errorf("erase data of session %s/%s (uid %s): %w", s.Namespace, s.Name, s.UID, err)
	}
	orig := s.DeepCopy()
	controllerutil.RemoveFinalizer(s, v1alpha1.StoreFinalizer)
	if err := r.Client.Patch(ctx, s, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return errStale
		}
		return fmt.Errorf("remove finalizer from session %s/%s: %w", s.Namespace, s.Name, err)
	}
	log.FromContext(ctx).Info("erased session data", "uid", s.UID)
	return nil
}

// deleteAfterRetention deletes a terminated session whose retention ran
// out. Like the Job TTL controller, the delete is guarded by preconditions:
// the UID (a re-created session of the same name is never deleted by
// mistake) and the resourceVersion the decision was made on (if the session
// changed since, e.g. a longer spec.retention or fresh activity, the newer
// version is decided again). The finalizer then erases the data.
func (r *SessionReconciler) deleteAfterRetention(ctx context.Context, now time.Time, s *v1alpha1.McpSession, d lifecycle.Decision) error {
	uid, rv := s.UID, s.ResourceVersion
	if err := r.Client.Delete(ctx, s, client.Preconditions{UID: &uid, ResourceVersion: &rv}); err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return errStale
		}
		return fmt.Errorf("delete session %s/%s after retention: %w", s.Namespace, s.Name, err)
	}
	late := now.Sub(d.DeleteAt)
	deletionDelay.Observe(late.Seconds())
	r.eventer().eventf(s, corev1.EventTypeNormal, EventDeleted, "Delete",
		fmt.Sprintf("Retention of %s after termination ran out; deleting the session and its data.", d.DeleteAt.Sub(d.TerminatedAt)))
	log.FromContext(ctx).Info("deleted session after retention", "terminatedAt", d.TerminatedAt, "late", late)
	return nil
}
