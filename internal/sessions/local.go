package sessions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
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
//
// Every record is read once, on first use, and kept in memory with its
// settings: this process is the store's only writer (Pebble locks its
// folder), so the copy never goes stale, and a tool call costs no read and
// no decoding of the registry. A failed write drops the copy, which is
// read again on the next call.
type localRegistry struct {
	st       *store.Store
	clock    clock.PassiveClock
	defaults lifecycle.Defaults
	activity func(types.NamespacedName) time.Time

	mu      sync.Mutex
	loaded  bool
	records map[string]*localEntry // by localKey
	names   *nameIndex
}

// localEntry is one record in memory: the settings its labels and spec
// resolve to, and the decision its status was last rendered from, so a
// call whose decision is unchanged skips rendering and comparing status.
type localEntry struct {
	rec     *localRecord
	set     lifecycle.Settings
	applied renderedDecision
}

// renderedDecision is what ApplyDecision renders status from, besides the
// settings: re-applying the same one to the status it produced changes
// nothing (see lifecycle.ApplyDecision).
type renderedDecision struct {
	phase                                           v1alpha1.Phase
	reason                                          string
	suspendedAt, resumedAt, terminatedAt, expiresAt time.Time
}

func renderedOf(d lifecycle.Decision) renderedDecision {
	return renderedDecision{phase: d.Phase, reason: d.Reason, suspendedAt: d.SuspendedAt,
		resumedAt: d.ResumedAt, terminatedAt: d.TerminatedAt, expiresAt: d.ExpiresAt}
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

// ensure creates the registry's own store session on first use and reads
// every record into memory.
func (r *localRegistry) ensure(ctx context.Context) error {
	if r.loaded {
		return nil
	}
	_, err := r.st.Create(ctx, store.SessionRef{UID: localRegistryUID, Name: localRegistryUID})
	if err != nil && !errors.Is(err, store.ErrExists) {
		return fmt.Errorf("open local registry: %w", err)
	}
	entries, err := r.st.ListContext(ctx, localRegistryUID, "")
	if err != nil {
		return fmt.Errorf("read local registry: %w", err)
	}
	r.records, r.names = make(map[string]*localEntry, len(entries)), newNameIndex()
	for _, e := range entries {
		rec := &localRecord{}
		if err := json.Unmarshal(e.Value, rec); err != nil {
			return fmt.Errorf("decode local session %s: %w", e.Key, err)
		}
		r.keep(e.Key, rec)
	}
	r.loaded = true
	return nil
}

// keep puts a record in memory under key k.
func (r *localRegistry) keep(k string, rec *localRecord) *localEntry {
	e := &localEntry{rec: rec, set: lifecycle.SettingsFor(rec.Labels, rec.Spec, nil, r.defaults)}
	r.records[k] = e
	r.names.add(rec.Namespace, rec.Name)
	return e
}

func (r *localRegistry) load(ctx context.Context, namespace, name string) (*localEntry, error) {
	if err := r.ensure(ctx); err != nil {
		return nil, err
	}
	k, err := localKey(namespace, name)
	if err != nil {
		return nil, err
	}
	e := r.records[k]
	if e == nil {
		return nil, &NotFoundError{Namespace: namespace, Name: name}
	}
	return e, nil
}

// save writes a record. If the write fails, what is in memory may be
// ahead of the store: it is dropped and read again on the next call.
func (r *localRegistry) save(ctx context.Context, rec *localRecord) error {
	k, err := localKey(rec.Namespace, rec.Name)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(rec)
	if err == nil {
		_, err = r.st.SetContext(ctx, localRegistryUID, k, raw, store.Limits{})
	}
	if err != nil {
		r.loaded = false
		return fmt.Errorf("save local session %s: %w", k, err)
	}
	return nil
}

func (r *localRegistry) remove(ctx context.Context, rec *localRecord) error {
	r.loaded = false // read again should anything below fail
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
	delete(r.records, k)
	r.names.remove(rec.Namespace, rec.Name)
	r.loaded = true
	return nil
}

// reconcile applies the lifecycle to a record at now, persisting any
// change. It returns a *NotFoundError when retention has run out (and
// erases).
func (r *localRegistry) reconcile(ctx context.Context, e *localEntry) (Session, error) {
	now := r.clock.Now()
	rec := e.rec
	key := types.NamespacedName{Namespace: rec.Namespace, Name: rec.Name}
	act := r.activity(key)
	view := rec.object()
	if act.After(lifecycle.LastActivity(view)) {
		// Decide on activity not yet written back, as observe does.
		view.Status.LastActivityTime = &metav1.Time{Time: act}
	}
	d := lifecycle.Decide(now, view, e.set, false)
	if d.Delete {
		if err := r.remove(ctx, rec); err != nil {
			return Session{}, err
		}
		return Session{}, &NotFoundError{Namespace: rec.Namespace, Name: rec.Name}
	}
	if rendered := renderedOf(d); rendered != e.applied {
		obj := rec.object()
		obj.Status = *rec.Status.DeepCopy()
		lifecycle.ApplyDecision(obj, d, e.set, now)
		if !equality.Semantic.DeepEqual(obj.Status, rec.Status) {
			rec.Status = obj.Status
			if err := r.save(ctx, rec); err != nil {
				return Session{}, err
			}
		}
		e.applied = rendered
	}
	return observeWith(now, rec.object(), e.set, act), nil
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
	k, err := localKey(spec.Namespace, spec.Name)
	if err != nil {
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
	return r.reconcile(ctx, r.keep(k, rec))
}

func (r *localRegistry) Get(ctx context.Context, namespace, name string) (Session, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, err := r.load(ctx, namespace, name)
	if err != nil {
		return Session{}, err
	}
	return r.reconcile(ctx, e)
}

func (r *localRegistry) List(ctx context.Context, namespace string) ([]Session, error) {
	out, _, err := r.Page(ctx, PageRequest{Namespace: namespace, Limit: math.MaxInt32})
	return out, err
}

// Page reads one page of the namespace's sessions in name order.
func (r *localRegistry) Page(ctx context.Context, req PageRequest) ([]Session, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.ensure(ctx); err != nil {
		return nil, false, err
	}
	return page(r.names, req, func(name string) (Session, bool, error) {
		e, err := r.load(ctx, req.Namespace, name)
		if err != nil {
			return Session{}, false, err
		}
		s, err := r.reconcile(ctx, e)
		if errors.Is(err, ErrNotFound) {
			return Session{}, false, nil // retention ran out: erased
		}
		return s, err == nil, err
	})
}

func (r *localRegistry) mutateSpec(ctx context.Context, namespace, name string, fn func(*v1alpha1.McpSessionSpec)) (Session, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, err := r.load(ctx, namespace, name)
	if err != nil {
		return Session{}, err
	}
	fn(&e.rec.Spec)
	e.set, e.applied = lifecycle.SettingsFor(e.rec.Labels, e.rec.Spec, nil, r.defaults), renderedDecision{}
	if err := r.save(ctx, e.rec); err != nil {
		return Session{}, err
	}
	return r.reconcile(ctx, e)
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
	rec.Status.Counts = u.Counts
	if !u.LastActivity.IsZero() {
		rec.Status.LastActivityTime = &metav1.Time{Time: u.LastActivity.Truncate(time.Second)}
	}
	return r.save(ctx, rec)
}

// loadUID loads a session that must still be the one with uid: a new
// session of the same name is not the one asked for.
func (r *localRegistry) loadUID(ctx context.Context, namespace, name, uid string) (*localRecord, error) {
	e, err := r.load(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	if e.rec.UID != uid {
		return nil, &NotFoundError{Namespace: namespace, Name: name}
	}
	return e.rec, nil
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
