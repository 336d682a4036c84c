package mcpserver

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/lifecycle"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// Session is what the tools know about one session, whichever registry
// holds it: identity, desired state, the phase in force now and the
// settings that govern it.
type Session struct {
	Namespace, Name, UID string
	Project, Description string
	Owner                string
	Labels, Attributes   map[string]string

	// Suspend and Terminate are the desired state (spec).
	Suspend, Terminate bool

	// Phase is the phase in force now (see observe); Reason explains it.
	Phase  v1alpha1.Phase
	Reason string
	// Confirmed is true when the lifecycle controller has already reported
	// Phase in status (false: computed here ahead of the controller).
	Confirmed bool

	Created      time.Time
	LastActivity time.Time // zero: none recorded
	SuspendedAt  time.Time
	ResumedAt    time.Time
	TerminatedAt time.Time
	// ExpiresAt is the TTL expiry while live, the deletion time once
	// terminated; zero when no such deadline applies.
	ExpiresAt time.Time

	Settings lifecycle.Settings
	// Counts as last written to status (the store has the exact numbers).
	Counts v1alpha1.SessionCounts
}

// Writable reports whether the session accepts writes now.
func (s Session) Writable() bool { return s.Phase == v1alpha1.PhaseActive }

// Limits are the store limits in force for the session.
func (s Session) Limits() store.Limits { return storeLimits(s.Settings.Limits) }

// Ref is the store reference of the session.
func (s Session) Ref() store.SessionRef {
	return store.SessionRef{UID: s.UID, Namespace: s.Namespace, Name: s.Name, Project: s.Project}
}

// CreateSpec is what create_session and import_session ask a registry for.
type CreateSpec struct {
	Namespace, Name      string
	Project, Description string
	Owner                string
	Labels, Attributes   map[string]string
}

// StatusUpdate is what the status sync writes back to a session.
type StatusUpdate struct {
	// LastActivity, when not zero, is the latest recorded activity.
	LastActivity time.Time
	Counts       v1alpha1.SessionCounts
}

// Registry keeps session metadata and lifecycle. Errors wrap
// ErrSessionNotFound or ErrSessionExists where those apply.
type Registry interface {
	// Create makes a new session (no data in the store yet).
	Create(ctx context.Context, spec CreateSpec) (Session, error)
	// Get returns a session as it is now.
	Get(ctx context.Context, namespace, name string) (Session, error)
	// List returns the sessions of a namespace, sorted by name.
	List(ctx context.Context, namespace string) ([]Session, error)
	// SetSuspend sets the desired suspend state (spec.suspend).
	SetSuspend(ctx context.Context, namespace, name string, suspend bool) (Session, error)
	// Terminate sets spec.terminate (irreversible).
	Terminate(ctx context.Context, namespace, name string) (Session, error)
	// Delete deletes the session with this uid; its data is erased by the
	// controller's finalizer (Kubernetes) or at once (local).
	Delete(ctx context.Context, namespace, name, uid string) error
	// WriteStatus records counts and activity (the status sync's writer).
	WriteStatus(ctx context.Context, namespace, name, uid string, u StatusUpdate) error
	// WaitActive waits up to timeout for the lifecycle to report the
	// session Active, and returns it as last seen.
	WaitActive(ctx context.Context, namespace, name string, timeout time.Duration) (Session, error)
}

// observe computes the Session view of an McpSession at now: the phase
// comes from the same pure rules the lifecycle controller applies
// (lifecycle.Decide), so a request never acts on a status the controller
// has not caught up with yet (a spec.suspend set a moment ago, a session
// idle past its timeout, one created a moment ago with no status at all).
// activity is activity recorded here but not yet written to status.
func observe(now time.Time, obj *v1alpha1.McpSession, defaults lifecycle.Defaults, activity time.Time) Session {
	set := settingsOf(obj, defaults)
	view := obj
	if activity.After(lifecycle.LastActivity(obj)) {
		view = obj.DeepCopy()
		view.Status.LastActivityTime = &metav1.Time{Time: activity}
	}
	d := lifecycle.Decide(now, view, set, false)
	s := Session{
		Namespace: obj.Namespace, Name: obj.Name, UID: string(obj.UID),
		Project: obj.Spec.Project, Description: obj.Spec.Description, Owner: obj.Spec.Owner,
		Labels: obj.Labels, Attributes: obj.Spec.Attributes,
		Suspend: obj.Spec.Suspend, Terminate: obj.Spec.Terminate,
		Phase: d.Phase, Reason: d.Reason,
		Confirmed:    obj.Status.Phase == d.Phase,
		Created:      obj.CreationTimestamp.Time,
		SuspendedAt:  d.SuspendedAt,
		ResumedAt:    d.ResumedAt,
		TerminatedAt: d.TerminatedAt,
		ExpiresAt:    d.ExpiresAt,
		Settings:     set,
		Counts:       obj.Status.Counts,
	}
	if t := view.Status.LastActivityTime; t != nil {
		s.LastActivity = t.Time
	}
	return s
}

// settingsOf returns the settings in force: status.effective as resolved by
// the controller (policy included), or, before the controller has resolved
// them, the spec over the operator's defaults.
func settingsOf(obj *v1alpha1.McpSession, defaults lifecycle.Defaults) lifecycle.Settings {
	eff := obj.Status.Effective
	if eff == nil {
		return lifecycle.Resolve(obj.Spec, nil, defaults)
	}
	dur := func(d *metav1.Duration) time.Duration {
		if d == nil || d.Duration < 0 {
			return 0
		}
		return d.Duration
	}
	set := lifecycle.Settings{
		IdleTimeout: dur(eff.IdleTimeout),
		TTL:         dur(eff.TTL),
		Retention:   dur(eff.Retention),
		Limits:      *eff.Limits.DeepCopy(),
		Policy:      eff.Policy,
		Sources:     eff.Sources,
	}
	// A limit the effective settings leave open falls back to the spec's.
	if sl := obj.Spec.Limits; sl != nil {
		if set.Limits.MaxContextBytes == nil {
			set.Limits.MaxContextBytes = sl.MaxContextBytes
		}
		if set.Limits.MaxMessages == nil {
			set.Limits.MaxMessages = sl.MaxMessages
		}
		if set.Limits.MaxValueBytes == nil {
			set.Limits.MaxValueBytes = sl.MaxValueBytes
		}
	}
	return set
}

func storeLimits(l v1alpha1.SessionLimits) store.Limits {
	v := func(p *int64) int64 {
		if p == nil {
			return 0
		}
		return *p
	}
	return store.Limits{MaxValueBytes: v(l.MaxValueBytes), MaxContextBytes: v(l.MaxContextBytes), MaxMessages: v(l.MaxMessages)}
}

// syncSpacing is how often status may be written for a session: the
// configured interval, or idleTimeout/10 when that is shorter (design:
// min(30s, idleTimeout/10)), so idleness is judged on fresh activity
// even for short demo timeouts; never below 100ms.
func syncSpacing(interval, idleTimeout time.Duration) time.Duration {
	sp := interval
	if idleTimeout > 0 && idleTimeout/10 < sp {
		sp = idleTimeout / 10
	}
	if sp < 100*time.Millisecond {
		sp = 100 * time.Millisecond
	}
	return sp
}
