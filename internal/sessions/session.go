package sessions

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/lifecycle"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// Session is what the MCP server knows about one session, whichever
// registry holds it: identity, desired state, the phase in force now and
// the settings that govern it.
type Session struct {
	Namespace, Name, UID string
	Project, Description string
	Owner                string
	// Labels and Attributes may be the cached object's own maps: read
	// them, never modify them.
	Labels, Attributes map[string]string

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

	// Settings are those in force now: lifecycle.SettingsFor the session
	// among its namespace's policies, as the controller resolves them. Every
	// write passes Settings.Limits to the store, so a session created a
	// moment ago is held to its policy's limits before the controller has
	// written status.effective.
	Settings lifecycle.Settings
	// Counts as last written to status (the store has the exact numbers).
	Counts v1alpha1.SessionCounts
}

// Writable reports whether the session accepts writes now.
func (s Session) Writable() bool { return s.Phase == v1alpha1.PhaseActive }

// Ref is the store reference of the session.
func (s Session) Ref() store.SessionRef {
	return store.SessionRef{UID: s.UID, Namespace: s.Namespace, Name: s.Name, Project: s.Project}
}

// CreateSpec is what create_session and import_session ask for.
type CreateSpec struct {
	Namespace, Name      string
	Project, Description string
	Owner                string
	Labels, Attributes   map[string]string
}

func (c CreateSpec) spec() v1alpha1.McpSessionSpec {
	return v1alpha1.McpSessionSpec{Project: c.Project, Description: c.Description, Owner: c.Owner, Attributes: c.Attributes}
}

// statusUpdate is what the status sync writes back to a session.
type statusUpdate struct {
	// LastActivity, when not zero, is the latest activity this replica
	// recorded. It is written only when it is later than the status's
	// (several replicas record activity on one session).
	LastActivity time.Time
	// Counts reads the session's counts from the store. The registry calls
	// it after reading the object it will patch, so a write that wins the
	// object's resourceVersion carries counts at least as fresh as any
	// write before it.
	Counts func(context.Context) (v1alpha1.SessionCounts, error)
}

// registry keeps session metadata and lifecycle. Errors are the typed
// errors of this package (*NotFoundError, *ExistsError, *QuotaError)
// where those apply.
type registry interface {
	// Settings resolves the settings a session spec describes would have.
	Settings(ctx context.Context, spec CreateSpec) (lifecycle.Settings, error)
	// Create makes a new session (no data in the store yet).
	Create(ctx context.Context, spec CreateSpec) (Session, error)
	// Get returns a session as it is now.
	Get(ctx context.Context, namespace, name string) (Session, error)
	// List returns the sessions of a namespace, sorted by name.
	List(ctx context.Context, namespace string) ([]Session, error)
	// Page returns one page of a namespace's sessions, sorted by name,
	// and whether more follow.
	Page(ctx context.Context, req PageRequest) ([]Session, bool, error)
	// Namespaces returns the namespaces holding sessions, sorted.
	Namespaces(ctx context.Context) ([]string, error)
	// SetSuspend sets the desired suspend state (spec.suspend).
	SetSuspend(ctx context.Context, namespace, name string, suspend bool) (Session, error)
	// Terminate sets spec.terminate (irreversible).
	Terminate(ctx context.Context, namespace, name string) (Session, error)
	// Delete deletes the session with this uid; its data is erased by the
	// controller's finalizer (Kubernetes) or at once (local).
	Delete(ctx context.Context, namespace, name, uid string) error
	// WriteStatus records counts and activity (the status sync's writer),
	// never moving lastActivityTime backwards and never writing when
	// nothing changed.
	WriteStatus(ctx context.Context, namespace, name, uid string, u statusUpdate) error
	// WaitActive waits up to timeout for the lifecycle to report the
	// session Active, and returns it as last seen.
	WaitActive(ctx context.Context, namespace, name string, timeout time.Duration) (Session, error)
}

// observe computes the Session view of an McpSession at now. Its settings
// are resolved among policies (the namespace's) with the pure function the
// controller uses, and its phase comes from the same pure rules
// (lifecycle.Decide), so a request never acts on a status the controller
// has not caught up with yet (a spec.suspend set a moment ago, a session
// idle past its timeout, one created a moment ago with no status at all).
// activity is activity recorded here but not yet written to status.
func observe(now time.Time, obj *v1alpha1.McpSession, policies []v1alpha1.McpSessionPolicy, defaults lifecycle.Defaults, activity time.Time) Session {
	return observeWith(now, obj, lifecycle.SettingsFor(obj.Labels, obj.Spec, policies, defaults), activity)
}

// observeWith is observe with the settings already resolved. obj is only
// read: it may be the cache's own copy, and the Session shares its label
// and attribute maps, which nobody may modify.
func observeWith(now time.Time, obj *v1alpha1.McpSession, set lifecycle.Settings, activity time.Time) Session {
	view := obj
	if activity.After(lifecycle.LastActivity(obj)) {
		// Decide reads status.lastActivityTime: a shallow copy carrying
		// the pending activity leaves obj as it is.
		shallow := *obj
		shallow.Status.LastActivityTime = &metav1.Time{Time: activity}
		view = &shallow
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
