package mcpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/lifecycle"
)

// kubeRegistry keeps sessions as McpSession objects. Reads come from the
// manager's cache, with a fall back to the apiserver on a miss (a session
// created a moment ago may not be cached yet). Writes are JSON merge
// patches of only the fields the MCP server owns, without resourceVersion
// preconditions, so they never conflict with the controller or a GitOps
// tool writing other fields.
type kubeRegistry struct {
	c        client.Client
	reader   client.Reader
	clock    clock.PassiveClock
	defaults lifecycle.Defaults
	// activity returns activity recorded but not yet written to status.
	activity func(types.NamespacedName) time.Time
}

var _ Registry = (*kubeRegistry)(nil)

func (r *kubeRegistry) view(obj *v1alpha1.McpSession) Session {
	return observe(r.clock.Now(), obj, r.defaults, r.activity(client.ObjectKeyFromObject(obj)))
}

func (r *kubeRegistry) Create(ctx context.Context, spec CreateSpec) (Session, error) {
	obj := &v1alpha1.McpSession{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: spec.Namespace, Name: spec.Name, Labels: spec.Labels,
			// The finalizer is set at creation, not left to the controller's
			// first reconcile: data is written right after this call, and a
			// session deleted before the controller saw it would otherwise
			// leave that data behind.
			Finalizers: []string{v1alpha1.StoreFinalizer},
		},
		Spec: v1alpha1.McpSessionSpec{
			Project: spec.Project, Description: spec.Description,
			Owner: spec.Owner, Attributes: spec.Attributes,
		},
	}
	if err := r.c.Create(ctx, obj); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return Session{}, fmt.Errorf("create session %s/%s: %w", spec.Namespace, spec.Name, ErrSessionExists)
		}
		return Session{}, fmt.Errorf("create session %s/%s: %w", spec.Namespace, spec.Name, err)
	}
	return r.view(obj), nil
}

func (r *kubeRegistry) get(ctx context.Context, namespace, name string) (*v1alpha1.McpSession, error) {
	key := types.NamespacedName{Namespace: namespace, Name: name}
	obj := &v1alpha1.McpSession{}
	err := r.c.Get(ctx, key, obj)
	if apierrors.IsNotFound(err) {
		err = r.reader.Get(ctx, key, obj)
	}
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("get session %s: %w", key, ErrSessionNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get session %s: %w", key, err)
	}
	if obj.DeletionTimestamp != nil {
		// Being deleted: its data is about to be erased.
		return nil, fmt.Errorf("get session %s (being deleted): %w", key, ErrSessionNotFound)
	}
	return obj, nil
}

func (r *kubeRegistry) Get(ctx context.Context, namespace, name string) (Session, error) {
	obj, err := r.get(ctx, namespace, name)
	if err != nil {
		return Session{}, err
	}
	return r.view(obj), nil
}

func (r *kubeRegistry) List(ctx context.Context, namespace string) ([]Session, error) {
	list := &v1alpha1.McpSessionList{}
	if err := r.c.List(ctx, list, client.InNamespace(namespace)); err != nil {
		return nil, fmt.Errorf("list sessions in %s: %w", namespace, err)
	}
	out := make([]Session, 0, len(list.Items))
	for i := range list.Items {
		if list.Items[i].DeletionTimestamp != nil {
			continue
		}
		out = append(out, r.view(&list.Items[i]))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// patchSpec merge-patches spec fields the MCP server sets on behalf of the
// caller, as kubectl patch would.
func (r *kubeRegistry) patchSpec(ctx context.Context, namespace, name string, spec map[string]any) (Session, error) {
	data, err := json.Marshal(map[string]any{"spec": spec})
	if err != nil {
		return Session{}, err
	}
	obj := &v1alpha1.McpSession{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	if err := r.c.Patch(ctx, obj, client.RawPatch(types.MergePatchType, data)); err != nil {
		if apierrors.IsNotFound(err) {
			return Session{}, fmt.Errorf("patch session %s/%s: %w", namespace, name, ErrSessionNotFound)
		}
		return Session{}, fmt.Errorf("patch session %s/%s: %w", namespace, name, err)
	}
	r.awaitCache(ctx, obj)
	return r.view(obj), nil
}

// awaitCache waits (briefly) until the cache holds obj's generation, so the
// next call on this replica reads its own write: a write refused right
// after suspend_session returned, not accepted from a stale cache.
func (r *kubeRegistry) awaitCache(ctx context.Context, obj *v1alpha1.McpSession) {
	key := client.ObjectKeyFromObject(obj)
	_ = wait.PollUntilContextTimeout(ctx, 5*time.Millisecond, 5*time.Second, true, func(ctx context.Context) (bool, error) {
		cached := &v1alpha1.McpSession{}
		if err := r.c.Get(ctx, key, cached); err != nil {
			return apierrors.IsNotFound(err) && obj.DeletionTimestamp != nil, nil
		}
		return cached.UID != obj.UID || cached.Generation >= obj.Generation, nil
	})
}

func (r *kubeRegistry) SetSuspend(ctx context.Context, namespace, name string, suspend bool) (Session, error) {
	return r.patchSpec(ctx, namespace, name, map[string]any{"suspend": suspend})
}

func (r *kubeRegistry) Terminate(ctx context.Context, namespace, name string) (Session, error) {
	return r.patchSpec(ctx, namespace, name, map[string]any{"terminate": true})
}

func (r *kubeRegistry) Delete(ctx context.Context, namespace, name, uid string) error {
	obj := &v1alpha1.McpSession{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	pre := types.UID(uid)
	err := r.c.Delete(ctx, obj, client.Preconditions{UID: &pre})
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("delete session %s/%s: %w", namespace, name, ErrSessionNotFound)
	case apierrors.IsConflict(err):
		// Another session of the same name replaced it meanwhile.
		return fmt.Errorf("delete session %s/%s uid %s: %w", namespace, name, uid, ErrSessionNotFound)
	case err != nil:
		return fmt.Errorf("delete session %s/%s: %w", namespace, name, err)
	}
	return nil
}

// WriteStatus merge-patches status.counts and status.lastActivityTime on the
// status subresource. Only those fields are sent and there is no
// resourceVersion precondition, so it never conflicts with the
// controller's status writes (which own phase, conditions and effective).
func (r *kubeRegistry) WriteStatus(ctx context.Context, namespace, name, uid string, u StatusUpdate) error {
	data, err := statusPatch(u)
	if err != nil {
		return err
	}
	obj := &v1alpha1.McpSession{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	if err := r.c.Status().Patch(ctx, obj, client.RawPatch(types.MergePatchType, data)); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("patch status of %s/%s: %w", namespace, name, ErrSessionNotFound)
		}
		return fmt.Errorf("patch status of %s/%s: %w", namespace, name, err)
	}
	if string(obj.UID) != uid {
		// The name now belongs to a new session; the patch landed on it
		// but only carried activity and counts of the old one, which the
		// next write for the new session corrects. Report it as gone.
		return fmt.Errorf("patch status of %s/%s: uid changed: %w", namespace, name, ErrSessionNotFound)
	}
	return nil
}

// statusPatch is the merge patch WriteStatus sends.
func statusPatch(u StatusUpdate) ([]byte, error) {
	status := map[string]any{"counts": u.Counts}
	if !u.LastActivity.IsZero() {
		status["lastActivityTime"] = metav1.NewTime(u.LastActivity)
	}
	return json.Marshal(map[string]any{"status": status})
}

// WaitActive polls the cache (an in-memory read) until the controller
// reports the session Active for its current generation.
func (r *kubeRegistry) WaitActive(ctx context.Context, namespace, name string, timeout time.Duration) (Session, error) {
	var last Session
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		obj, err := r.get(ctx, namespace, name)
		if err != nil {
			return false, err
		}
		last = r.view(obj)
		confirmed := obj.Status.Phase == v1alpha1.PhaseActive && obj.Status.ObservedGeneration >= obj.Generation
		last.Confirmed = confirmed
		return confirmed || last.Phase == v1alpha1.PhaseTerminated, nil
	})
	if err != nil && last.Name != "" && (wait.Interrupted(err)) {
		return last, nil
	}
	return last, err
}
