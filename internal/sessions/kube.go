package sessions

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/cache"
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
	// names orders the cached sessions of each namespace for Page; nil
	// without an informer, when Page orders one listing per call.
	names *nameIndex
}

var _ registry = (*kubeRegistry)(nil)

// policies lists the policies of a namespace from the cache, read-only.
func (r *kubeRegistry) policies(ctx context.Context, namespace string) ([]v1alpha1.McpSessionPolicy, error) {
	list := &v1alpha1.McpSessionPolicyList{}
	if err := r.c.List(ctx, list, client.InNamespace(namespace), client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("list policies in %s: %w", namespace, err)
	}
	return list.Items, nil
}

func (r *kubeRegistry) view(ctx context.Context, obj *v1alpha1.McpSession) (Session, error) {
	policies, err := r.policies(ctx, obj.Namespace)
	if err != nil {
		return Session{}, err
	}
	return observe(r.clock.Now(), obj, policies, r.defaults, r.activity(client.ObjectKeyFromObject(obj))), nil
}

// Create refuses a create the owner's quota would terminate at once (see
// lifecycle.RefusedByQuota), then creates the McpSession. Two creates
// racing may both pass the check; the controller then terminates the
// newer one, as it does for sessions created with kubectl.
func (r *kubeRegistry) Create(ctx context.Context, spec CreateSpec) (Session, error) {
	if err := r.admitQuota(ctx, spec); err != nil {
		return Session{}, err
	}
	obj := &v1alpha1.McpSession{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: spec.Namespace, Name: spec.Name, Labels: spec.Labels,
			// The finalizer is set at creation, not left to the controller's
			// first reconcile: data is written right after this call, and a
			// session deleted before the controller saw it would otherwise
			// leave that data behind.
			Finalizers: []string{v1alpha1.StoreFinalizer},
		},
		Spec: spec.spec(),
	}
	if err := r.c.Create(ctx, obj); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return Session{}, &ExistsError{Namespace: spec.Namespace, Name: spec.Name}
		}
		return Session{}, fmt.Errorf("create session %s/%s: %w", spec.Namespace, spec.Name, err)
	}
	return r.view(ctx, obj)
}

// Settings resolves spec among the namespace's policies.
func (r *kubeRegistry) Settings(ctx context.Context, spec CreateSpec) (lifecycle.Settings, error) {
	policies, err := r.policies(ctx, spec.Namespace)
	if err != nil {
		return lifecycle.Settings{}, err
	}
	return lifecycle.SettingsFor(spec.Labels, spec.spec(), policies, r.defaults), nil
}

// admitQuota returns a *QuotaError when the winning policy's owner quota
// would terminate the session spec describes as soon as it exists.
func (r *kubeRegistry) admitQuota(ctx context.Context, spec CreateSpec) error {
	if spec.Owner == "" {
		return nil
	}
	policies, err := r.policies(ctx, spec.Namespace)
	if err != nil {
		return err
	}
	set := lifecycle.SettingsFor(spec.Labels, spec.spec(), policies, r.defaults)
	if set.Quota == nil {
		return nil
	}
	// From the apiserver, not the cache: the owner's previous create may
	// have happened a moment ago.
	list := &v1alpha1.McpSessionList{}
	if err := r.reader.List(ctx, list, client.InNamespace(spec.Namespace)); err != nil {
		return fmt.Errorf("list sessions in %s for the quota of %q: %w", spec.Namespace, spec.Owner, err)
	}
	peers := lifecycle.QuotaPeers(r.clock.Now(), spec.Owner, set.Policy, "", list.Items, policies, r.defaults)
	if lifecycle.RefusedByQuota(peers, spec.Name, *set.Quota) {
		q := *set.Quota
		q.Action = lifecycle.QuotaActionOf(&q)
		return &QuotaError{Namespace: spec.Namespace, Owner: spec.Owner, Policy: set.Policy, Quota: q, Live: len(peers)}
	}
	return nil
}

// get returns the session, from the cache when it is there. The object
// may be the cache's own: callers only read it.
func (r *kubeRegistry) get(ctx context.Context, namespace, name string) (*v1alpha1.McpSession, error) {
	key := types.NamespacedName{Namespace: namespace, Name: name}
	obj := &v1alpha1.McpSession{}
	// The cache's own copy, read-only (see observeWith): a deep copy of
	// every session read cost more than the rest of a tool call's lookup.
	err := r.c.Get(ctx, key, obj, client.UnsafeDisableDeepCopy)
	if err != nil && apierrors.IsNotFound(err) {
		err = r.reader.Get(ctx, key, obj)
	}
	if apierrors.IsNotFound(err) {
		return nil, &NotFoundError{Namespace: namespace, Name: name}
	}
	if err != nil {
		return nil, fmt.Errorf("get session %s: %w", key, err)
	}
	if obj.DeletionTimestamp != nil {
		// Being deleted: its data is about to be erased.
		return nil, &NotFoundError{Namespace: namespace, Name: name}
	}
	return obj, nil
}

func (r *kubeRegistry) Get(ctx context.Context, namespace, name string) (Session, error) {
	obj, err := r.get(ctx, namespace, name)
	if err != nil {
		return Session{}, err
	}
	return r.view(ctx, obj)
}

func (r *kubeRegistry) List(ctx context.Context, namespace string) ([]Session, error) {
	list := &v1alpha1.McpSessionList{}
	if err := r.c.List(ctx, list, client.InNamespace(namespace)); err != nil {
		return nil, fmt.Errorf("list sessions in %s: %w", namespace, err)
	}
	policies, err := r.policies(ctx, namespace)
	if err != nil {
		return nil, err
	}
	now := r.clock.Now()
	out := make([]Session, 0, len(list.Items))
	for i := range list.Items {
		obj := &list.Items[i]
		if obj.DeletionTimestamp != nil {
			continue
		}
		out = append(out, observe(now, obj, policies, r.defaults, r.activity(client.ObjectKeyFromObject(obj))))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Page reads one page of the namespace's sessions from the cache, in name
// order, through the name index: the cost of a page does not grow with
// the namespace.
func (r *kubeRegistry) Page(ctx context.Context, req PageRequest) ([]Session, bool, error) {
	idx := r.names
	if idx == nil {
		idx = newNameIndex()
		list := &v1alpha1.McpSessionList{}
		if err := r.c.List(ctx, list, client.InNamespace(req.Namespace), client.UnsafeDisableDeepCopy); err != nil {
			return nil, false, fmt.Errorf("list sessions in %s: %w", req.Namespace, err)
		}
		for i := range list.Items {
			idx.add(req.Namespace, list.Items[i].Name)
		}
	}
	policies, err := r.policies(ctx, req.Namespace)
	if err != nil {
		return nil, false, err
	}
	now := r.clock.Now()
	return page(idx, req, func(name string) (Session, bool, error) {
		key := types.NamespacedName{Namespace: req.Namespace, Name: name}
		obj := &v1alpha1.McpSession{}
		if err := r.c.Get(ctx, key, obj, client.UnsafeDisableDeepCopy); err != nil {
			if apierrors.IsNotFound(err) {
				return Session{}, false, nil // deleted since the index saw it
			}
			return Session{}, false, fmt.Errorf("get session %s: %w", key, err)
		}
		if obj.DeletionTimestamp != nil {
			return Session{}, false, nil
		}
		return observe(now, obj, policies, r.defaults, r.activity(key)), true, nil
	})
}

// indexNames keeps r.names from the informer's events, for as long as
// the informer runs (the manager's lifetime).
func (r *kubeRegistry) indexNames(ctx context.Context, informers cache.Informers) error {
	inf, err := informers.GetInformer(ctx, &v1alpha1.McpSession{}, cache.BlockUntilSynced(false))
	if err != nil {
		return fmt.Errorf("informer for the session index: %w", err)
	}
	idx := newNameIndex()
	_, err = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if o, ok := obj.(client.Object); ok {
				idx.add(o.GetNamespace(), o.GetName())
			}
		},
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if o, ok := obj.(client.Object); ok {
				idx.remove(o.GetNamespace(), o.GetName())
			}
		},
	})
	if err != nil {
		return fmt.Errorf("index sessions by name: %w", err)
	}
	r.names = idx
	return nil
}

// Namespaces returns the namespaces holding sessions, sorted: from the
// name index when there is one, else from a listing.
func (r *kubeRegistry) Namespaces(ctx context.Context) ([]string, error) {
	if r.names != nil {
		return r.names.namespaces(), nil
	}
	list := &v1alpha1.McpSessionList{}
	if err := r.c.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	var out []string
	for i := range list.Items {
		if ns := list.Items[i].Namespace; !slices.Contains(out, ns) {
			out = append(out, ns)
		}
	}
	slices.Sort(out)
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
			return Session{}, &NotFoundError{Namespace: namespace, Name: name}
		}
		return Session{}, fmt.Errorf("patch session %s/%s: %w", namespace, name, err)
	}
	r.awaitCache(ctx, obj)
	return r.view(ctx, obj)
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
	case apierrors.IsNotFound(err), apierrors.IsConflict(err):
		// Gone, or another session of the same name replaced it meanwhile.
		return &NotFoundError{Namespace: namespace, Name: name}
	case err != nil:
		return fmt.Errorf("delete session %s/%s: %w", namespace, name, err)
	}
	return nil
}

// WriteStatus patches status.counts and status.lastActivityTime on the
// status subresource, with the resourceVersion of the object it read as a
// precondition: another replica's write in between is a conflict, and the
// write is made again on the fresh object. So lastActivityTime only moves
// forward (this replica's activity is written only when it is later than
// the status's), the counts, read from the store after the object, are
// never older than those of a write before, and nothing is written when
// nothing changed. The patch carries only those two fields (and the
// resourceVersion), so it never takes a field from the controller.
func (r *kubeRegistry) WriteStatus(ctx context.Context, namespace, name, uid string, u statusUpdate) error {
	key := types.NamespacedName{Namespace: namespace, Name: name}
	var reader client.Reader = r.c
	return retry.RetryOnConflict(statusRetry, func() error {
		obj := &v1alpha1.McpSession{}
		err := reader.Get(ctx, key, obj)
		// After a conflict, or a miss, ask the apiserver: the cache lags.
		reader = r.reader
		if apierrors.IsNotFound(err) {
			err = r.reader.Get(ctx, key, obj)
		}
		if apierrors.IsNotFound(err) || (err == nil && string(obj.UID) != uid) {
			// Gone, or the name now belongs to a new session.
			return &NotFoundError{Namespace: namespace, Name: name}
		}
		if err != nil {
			return fmt.Errorf("get session %s: %w", key, err)
		}
		base := obj.DeepCopy()
		advanceActivity(&obj.Status, u.LastActivity)
		counts, err := u.Counts(ctx)
		if err != nil {
			return err
		}
		obj.Status.Counts = counts
		if equality.Semantic.DeepEqual(base.Status, obj.Status) {
			return nil
		}
		if err := r.c.Status().Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
			if apierrors.IsNotFound(err) {
				return &NotFoundError{Namespace: namespace, Name: name}
			}
			return err // a conflict is retried
		}
		return nil
	})
}

// statusRetry spaces the retries of a status write that lost a race with
// another writer (a replica, the controller); jitter keeps replicas that
// collided from colliding again. A write that still loses is retried on
// the syncer's next tick.
var statusRetry = wait.Backoff{Steps: 10, Duration: 10 * time.Millisecond, Factor: 1.5, Jitter: 1}

// advanceActivity sets status.lastActivityTime to act when act, at the
// second precision status keeps, is later: activity never moves back.
func advanceActivity(status *v1alpha1.McpSessionStatus, act time.Time) {
	if act = act.Truncate(time.Second); act.IsZero() {
		return
	}
	if cur := status.LastActivityTime; cur == nil || act.After(cur.Time) {
		status.LastActivityTime = &metav1.Time{Time: act}
	}
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
		if last, err = r.view(ctx, obj); err != nil {
			return false, err
		}
		confirmed := obj.Status.Phase == v1alpha1.PhaseActive && obj.Status.ObservedGeneration >= obj.Generation
		last.Confirmed = confirmed
		return confirmed || last.Phase == v1alpha1.PhaseTerminated, nil
	})
	if err != nil && last.Name != "" && (wait.Interrupted(err)) {
		return last, nil
	}
	return last, err
}
