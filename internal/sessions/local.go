package sessions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
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
//
// What a record decodes to is kept in memory with its settings and the
// decision its status was rendered from, so a call whose record has not
// changed decodes, resolves and renders nothing. On a store only this
// process can open (store.Exclusive: Pebble) the record is not even read
// again; on one another process may share (PostgreSQL) each call reads it
// and reuses what is in memory while the stored bytes are the same.
type localRegistry struct {
	st       store.Store
	clock    clock.PassiveClock
	defaults lifecycle.Defaults
	activity func(types.NamespacedName) time.Time

	mu      sync.Mutex
	init    bool
	records map[string]*localEntry // by localKey
	// exclusive: the store is this process's alone (store.Exclusive).
	exclusive bool
}

// localEntry is one record in memory: the stored bytes it was decoded
// from (or last written as), the settings its labels and spec resolve to,
// and the decision its status was last rendered from, so a call whose
// decision is unchanged skips rendering and comparing status.
type localEntry struct {
	raw     []byte
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

// renderedOf is what status is rendered from, times to the second as
// status keeps them: an expiry that moves with every call's activity
// changes the rendering once a second, not on every call.
func renderedOf(d lifecycle.Decision) renderedDecision {
	sec := func(t time.Time) time.Time { return t.Truncate(time.Second) }
	return renderedDecision{phase: d.Phase, reason: d.Reason, suspendedAt: sec(d.SuspendedAt),
		resumedAt: sec(d.ResumedAt), terminatedAt: sec(d.TerminatedAt), expiresAt: sec(d.ExpiresAt)}
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
	r.records = map[string]*localEntry{}
	ex, ok := r.st.(store.Exclusive)
	r.exclusive = ok && ex.Exclusive()
	r.init = true
	return nil
}

// entry turns a stored record into its entry, the one in memory while the
// bytes are the same.
func (r *localRegistry) entry(k string, raw []byte) (*localEntry, error) {
	if e := r.records[k]; e != nil && bytes.Equal(e.raw, raw) {
		return e, nil
	}
	rec := &localRecord{}
	if err := json.Unmarshal(raw, rec); err != nil {
		return nil, fmt.Errorf("decode local session %s: %w", k, err)
	}
	e := &localEntry{raw: raw, rec: rec, set: lifecycle.SettingsFor(rec.Labels, rec.Spec, nil, r.defaults)}
	r.records[k] = e
	return e, nil
}

func (r *localRegistry) load(ctx context.Context, namespace, name string) (*localEntry, error) {
	if err := r.ensure(ctx); err != nil {
		return nil, err
	}
	k, err := localKey(namespace, name)
	if err != nil {
		return nil, err
	}
	if e := r.records[k]; e != nil && r.exclusive {
		return e, nil
	}
	stored, err := r.st.GetContext(ctx, localRegistryUID, k)
	if errors.Is(err, store.ErrNotFound) {
		delete(r.records, k)
		return nil, &NotFoundError{Namespace: namespace, Name: name}
	}
	if err != nil {
		return nil, err
	}
	return r.entry(k, stored.Value)
}

// save writes a record and keeps its entry. If the write fails, what is in
// memory may be ahead of the store: it is dropped and read again.
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
		delete(r.records, k)
		return fmt.Errorf("save local session %s: %w", k, err)
	}
	if e := r.records[k]; e != nil && e.rec == rec {
		e.raw = raw
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
	delete(r.records, k)
	if err := r.st.DeleteContext(ctx, localRegistryUID, k); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("remove local session %s: %w", k, err)
	}
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
	raw, err := json.Marshal(rec)
	if err != nil {
		return Session{}, err
	}
	e, err := r.entry(k, raw)
	if err != nil {
		return Session{}, err
	}
	if err := r.save(ctx, e.rec); err != nil {
		return Session{}, err
	}
	return r.reconcile(ctx, e)
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

// Page reads one page of the namespace's sessions in name order, from the
// registry's keys as stored now.
func (r *localRegistry) Page(ctx context.Context, req PageRequest) ([]Session, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.ensure(ctx); err != nil {
		return nil, false, err
	}
	keys, err := r.st.ContextKeys(ctx, localRegistryUID, req.Namespace+"/")
	if err != nil {
		return nil, false, err
	}
	names := newNameIndex()
	for _, k := range keys {
		names.add(req.Namespace, strings.TrimPrefix(k, req.Namespace+"/"))
	}
	return page(names, req, func(name string) (Session, bool, error) {
		e, err := r.load(ctx, req.Namespace, name)
		if errors.Is(err, ErrNotFound) {
			return Session{}, false, nil // deleted meanwhile
		}
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

// Namespaces returns the namespaces holding sessions, sorted.
func (r *localRegistry) Namespaces(ctx context.Context) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.ensure(ctx); err != nil {
		return nil, err
	}
	keys, err := r.st.ContextKeys(ctx, localRegistryUID, "")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, k := range keys {
		if ns, _, ok := strings.Cut(k, "/"); ok && !slices.Contains(out, ns) {
			out = append(out, ns)
		}
	}
	slices.Sort(out)
	return out, nil
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
	before := rec.Status.DeepCopy()
	advanceActivity(&rec.Status, u.LastActivity)
	if rec.Status.Counts, err = u.Counts(ctx); err != nil {
		r.forget(namespace, name) // changed here, not in the store

		return err
	}
	if equality.Semantic.DeepEqual(before, &rec.Status) {
		return nil
	}
	return r.save(ctx, rec)
}

// forget drops a session's entry, so the next call decodes it again.
func (r *localRegistry) forget(namespace, name string) {
	if k, err := localKey(namespace, name); err == nil {
		delete(r.records, k)
	}
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
