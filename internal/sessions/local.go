package sessions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/utils/clock"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/lifecycle"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// localRegistryUID is the store session holding the local registry: one
// context entry per session, keyed "<namespace>/<name>". It cannot collide
// with a real session, whose UIDs are UUIDs.
const localRegistryUID = "mcpserver-local-registry"

// localRecord is a session's metadata in the local registry, shaped like
// the McpSession it stands in for so the same lifecycle rules apply.
type localRecord struct {
	UID         string                    `json:"uid"`
	Namespace   string                    `json:"namespace"`
	Name        string                    `json:"name"`
	Labels      map[string]string         `json:"labels,omitempty"`
	Created     time.Time                 `json:"created"`
	Spec        v1alpha1.McpSessionSpec   `json:"spec"`
	Status      v1alpha1.McpSessionStatus `json:"status"`
	Annotations map[string]string         `json:"annotations,omitempty"`
}

func (r *localRecord) object() *v1alpha1.McpSession {
	return &v1alpha1.McpSession{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: r.Namespace, Name: r.Name, UID: types.UID(r.UID),
			Labels: r.Labels, Annotations: r.Annotations,
			CreationTimestamp: metav1.NewTime(r.Created),
		},
		Spec:   r.Spec,
		Status: r.Status,
	}
}

// localRegistry keeps session metadata in the store itself, for stdio mode
// and local development without Kubernetes. It is its own lifecycle
// controller: every read applies lifecycle.Decide with the operator's
// defaults (no policies locally), records the decision with
// lifecycle.ApplyDecision as the controller does, and a terminated session
// past its retention is erased on the next read.
type localRegistry struct {
	st       store.Store
	clock    clock.PassiveClock
	defaults lifecycle.Defaults
	activity func(types.NamespacedName) time.Time

	mu   sync.Mutex
	init bool
}

var _ registry = (*localRegistry)(nil)

func localKey(namespace, name string) (string, error) {
	k := namespace + "/" + name
	if len(k) > store.MaxKeyBytes {
		return "", &NameError{Namespace: namespace, Name: name,
			Reason: fmt.Sprintf("too long for the local store: namespace and name together must stay under %d bytes", store.MaxKeyBytes)}
	}
	return k, nil
}

// ensure creates the registry's own store session on first use.
func (r *localRegistry) ensure(ctx context.Context) error {
	if r.init {
		return nil
	}
	_, err := r.st.Create(ctx, store.SessionRef{UID: localRegistryUID, Name: localRegistryUID})
	if err != nil && !errors.Is(err, store.ErrExists) {
		return fmt.Errorf("open local registry: %w", err)
	}
	r.init = true
	return nil
}

func (r *localRegistry) load(ctx context.Context, namespace, name string) (*localRecord, error) {
	if err := r.ensure(ctx); err != nil {
		return nil, err
	}
	k, err := localKey(namespace, name)
	if err != nil {
		return nil, err
	}
	e, err := r.st.GetContext(ctx, localRegistryUID, k)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &NotFoundError{Namespace: namespace, Name: name}
	}
	if err != nil {
		return nil, err
	}
	rec := &localRecord{}
	if err := json.Unmarshal(e.Value, rec); err != nil {
		return nil, fmt.Errorf("decode local session %s: %w", k, err)
	}
	return rec, nil
}

func (r *localRegistry) save(ctx context.Context, rec *localRecord) error {
	k, err := localKey(rec.Namespace, rec.Name)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if _, err := r.st.SetContext(ctx, localRegistryUID, k, raw, store.Limits{}); err != nil {
		return fmt.Errorf("save local session %s: %w", k, err)
	}
	return nil
}

func (r *localRegistry) remove(ctx context.Context, rec *localRecord) error {
	if err := r.st.Erase(ctx, rec.UID); err != nil {
		return err
	}
	k, err := localKey(rec.Namespace, rec.Name)
	if err != nil {
		return err
	}
	if err := r.st.DeleteContext(ctx, localRegistryUID, k); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("remove local session %s: %w", k, err)
	}
	return nil
}

// reconcile applies the lifecycle to rec at now, persisting any change.
// It returns a *NotFoundError when retention has run out (and erases).
func (r *localRegistry) reconcile(ctx context.Context, rec *localRecord) (Session, error) {
	now := r.clock.Now()
	key := types.NamespacedName{Namespace: rec.Namespace, Name: rec.Name}
	obj := rec.object()
	if act := r.activity(key); act.After(lifecycle.LastActivity(obj)) {
		// Decide on activity not yet written back, as observe does.
		obj.Status.LastActivityTime = &metav1.Time{Time: act}
	}
	set := lifecycle.SettingsFor(obj.Labels, obj.Spec, nil, r.defaults)
	d := lifecycle.Decide(now, obj, set, false)
	if d.Delete {
		if err := r.remove(ctx, rec); err != nil {
			return Session{}, err
		}
		return Session{}, &NotFoundError{Namespace: rec.Namespace, Name: rec.Name}
	}
	lifecycle.ApplyDecision(obj, d, set, now)
	// Pending activity stays pending: the status sync writes it.
	obj.Status.LastActivityTime = rec.Status.LastActivityTime
	if !equality.Semantic.DeepEqual(obj.Status, rec.Status) {
		rec.Status = obj.Status
		if err := r.save(ctx, rec); err != nil {
			return Session{}, err
		}
	}
	return observe(now, rec.object(), nil, r.defaults, r.activity(key)), nil
}

// Settings resolves spec over the operator's defaults: there are no
// policies locally.
func (r *localRegistry) Settings(_ context.Context, spec CreateSpec) (lifecycle.Settings, error) {
	return lifecycle.SettingsFor(spec.Labels, spec.spec(), nil, r.defaults), nil
}

func (r *localRegistry) Create(ctx context.Context, spec CreateSpec) (Session, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := r.load(ctx, spec.Namespace, spec.Name); err == nil {
		return Session{}, &ExistsError{Namespace: spec.Namespace, Name: spec.Name}
	} else if !errors.Is(err, ErrNotFound) {
		return Session{}, err
	}
	rec := &localRecord{
		UID: string(uuid.NewUUID()), Namespace: spec.Namespace, Name: spec.Name, Labels: spec.Labels,
		// Stored at second precision like a Kubernetes creationTimestamp.
		Created: r.clock.Now().Truncate(time.Second),
		Spec:    spec.spec(),
	}
	if err := r.save(ctx, rec); err != nil {
		return Session{}, err
	}
	return r.reconcile(ctx, rec)
}

func (r *localRegistry) Get(ctx context.Context, namespace, name string) (Session, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, err := r.load(ctx, namespace, name)
	if err != nil {
		return Session{}, err
	}
	return r.reconcile(ctx, rec)
}

func (r *localRegistry) Namespaces(ctx context.Context) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.ensure(ctx); err != nil {
		return nil, err
	}
	entries, err := r.st.ListContext(ctx, localRegistryUID, "")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if ns, _, ok := strings.Cut(e.Key, "/"); ok && !slices.Contains(out, ns) {
			out = append(out, ns)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (r *localRegistry) List(ctx context.Context, namespace string) ([]Session, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.ensure(ctx); err != nil {
		return nil, err
	}
	entries, err := r.st.ListContext(ctx, localRegistryUID, namespace+"/")
	if err != nil {
		return nil, err
	}
	out := make([]Session, 0, len(entries))
	for _, e := range entries {
		rec := &localRecord{}
		if err := json.Unmarshal(e.Value, rec); err != nil {
			return nil, fmt.Errorf("decode local session %s: %w", e.Key, err)
		}
		s, err := r.reconcile(ctx, rec)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (r *localRegistry) mutateSpec(ctx context.Context, namespace, name string, fn func(*v1alpha1.McpSessionSpec)) (Session, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, err := r.load(ctx, namespace, name)
	if err != nil {
		return Session{}, err
	}
	fn(&rec.Spec)
	if err := r.save(ctx, rec); err != nil {
		return Session{}, err
	}
	return r.reconcile(ctx, rec)
}

func (r *localRegistry) SetSuspend(ctx context.Context, namespace, name string, suspend bool) (Session, error) {
	return r.mutateSpec(ctx, namespace, name, func(s *v1alpha1.McpSessionSpec) { s.Suspend = suspend })
}

func (r *localRegistry) Terminate(ctx context.Context, namespace, name string) (Session, error) {
	return r.mutateSpec(ctx, namespace, name, func(s *v1alpha1.McpSessionSpec) { s.Terminate = true })
}

func (r *localRegistry) Delete(ctx context.Context, namespace, name, uid string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, err := r.loadUID(ctx, namespace, name, uid)
	if err != nil {
		return err
	}
	return r.remove(ctx, rec)
}

func (r *localRegistry) WriteStatus(ctx context.Context, namespace, name, uid string, u statusUpdate) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, err := r.loadUID(ctx, namespace, name, uid)
	if err != nil {
		return err
	}
	before := rec.Status.DeepCopy()
	advanceActivity(&rec.Status, u.LastActivity)
	if rec.Status.Counts, err = u.Counts(ctx); err != nil {
		return err
	}
	if equality.Semantic.DeepEqual(before, &rec.Status) {
		return nil
	}
	return r.save(ctx, rec)
}

// loadUID loads a session that must still be the one with uid: a new
// session of the same name is not the one asked for.
func (r *localRegistry) loadUID(ctx context.Context, namespace, name, uid string) (*localRecord, error) {
	rec, err := r.load(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	if rec.UID != uid {
		return nil, &NotFoundError{Namespace: namespace, Name: name}
	}
	return rec, nil
}

// WaitActive has nothing to wait for: the local registry decides the phase
// itself on every read.
func (r *localRegistry) WaitActive(ctx context.Context, namespace, name string, _ time.Duration) (Session, error) {
	s, err := r.Get(ctx, namespace, name)
	if err != nil {
		return Session{}, err
	}
	s.Confirmed = true
	return s, nil
}
