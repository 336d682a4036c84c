package sessions

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/lifecycle"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// Defaults for Options.
const (
	DefaultSyncInterval   = 5 * time.Second
	DefaultLocalNamespace = "default"
)

// Options configure New.
type Options struct {
	// Client reads McpSessions and McpSessionPolicies from the manager's
	// cache and writes sessions. When nil the sessions live in a local
	// registry kept in Store (stdio mode and local development; no
	// Kubernetes at all).
	Client client.Client
	// APIReader reads straight from the apiserver, for the moments the
	// cache may lag (a session created a moment ago). Defaults to Client.
	APIReader client.Reader
	// Informers, usually the manager's cache, keeps the name index that
	// pages of a listing are read through (see Page). Without it each
	// page lists and orders the whole namespace.
	Informers cache.Informers
	// Store holds the sessions' data. Required.
	Store store.Store
	// Authorizer checks callers that are not Unrestricted; nil refuses
	// them (ErrNoAuthorizer).
	Authorizer Authorizer
	// Clock stamps activity and drives the status sync; tests pass a fake
	// clock. Defaults to the real clock.
	Clock clock.WithTicker
	// SyncInterval is the most often status (counts, lastActivityTime) is
	// written per session (default DefaultSyncInterval); shorter for
	// sessions whose idleTimeout/10 is shorter.
	SyncInterval time.Duration
	// Defaults are the operator's settings, resolved with the session's
	// spec and its namespace's policies (default
	// lifecycle.DefaultDefaults()).
	Defaults *lifecycle.Defaults
	// LocalNamespace is the namespace of sessions in the local registry
	// (default DefaultLocalNamespace).
	LocalNamespace string
	// Logger reports failed status writes; defaults to discarding.
	Logger logr.Logger
}

// Service is the MCP server's view of the sessions: who may use which
// (access decisions), where their metadata and lifecycle live (the
// registry: McpSession objects, or the store itself without Kubernetes),
// and the status sync that writes activity and counts back. It holds no
// protocol: internal/mcpserver turns tool calls into these operations.
type Service struct {
	opts  Options
	local bool
	reg   registry
	sync  *statusSyncer
	// stored holds the UIDs known to have data in the store (ensureData).
	stored sync.Map
}

// New builds the service in one step.
func New(opts Options) (*Service, error) {
	if opts.Store == nil {
		return nil, errors.New("sessions: Options.Store is required")
	}
	if opts.APIReader == nil && opts.Client != nil {
		opts.APIReader = opts.Client
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.SyncInterval <= 0 {
		opts.SyncInterval = DefaultSyncInterval
	}
	if opts.Defaults == nil {
		d := lifecycle.DefaultDefaults()
		opts.Defaults = &d
	}
	if opts.LocalNamespace == "" {
		opts.LocalNamespace = DefaultLocalNamespace
	}
	if opts.Logger.GetSink() == nil {
		opts.Logger = logr.Discard()
	}
	s := &Service{opts: opts, local: opts.Client == nil}
	// The registries decide phases on activity the syncer has recorded but
	// not written yet; the syncer writes through the registry.
	var syncer *statusSyncer
	activity := func(k types.NamespacedName) time.Time { return syncer.pendingActivity(k) }
	if s.local {
		s.reg = &localRegistry{st: opts.Store, clock: opts.Clock, defaults: *opts.Defaults, activity: activity}
	} else {
		kr := &kubeRegistry{c: opts.Client, reader: opts.APIReader, clock: opts.Clock, defaults: *opts.Defaults, activity: activity}
		if opts.Informers != nil {
			if err := kr.indexNames(context.Background(), opts.Informers); err != nil {
				return nil, err
			}
		}
		s.reg = kr
	}
	syncer = newStatusSyncer(s.reg, opts.Store, opts.Clock, opts.SyncInterval, opts.Logger)
	s.sync = syncer
	return s, nil
}

// Local reports whether the sessions live in the local registry.
func (s *Service) Local() bool { return s.local }

// Defaults are the operator's settings the service resolves with.
func (s *Service) Defaults() lifecycle.Defaults { return *s.opts.Defaults }

// Run writes due status until ctx ends, then flushes everything pending,
// so activity and counts survive a shutdown.
func (s *Service) Run(ctx context.Context) { s.sync.run(ctx) }

// Get returns a session as it is now (no access check: callers Open).
func (s *Service) Get(ctx context.Context, namespace, name string) (Session, error) {
	return s.reg.Get(ctx, namespace, name)
}

// List returns the sessions of a namespace, sorted by name.
func (s *Service) List(ctx context.Context, namespace string) ([]Session, error) {
	return s.reg.List(ctx, namespace)
}

// Page returns one page of a namespace's sessions in name order, and
// whether more follow: the sessions after req.After that req.Match
// accepts, at most req.Limit. A page starts where the previous one ended
// by name, so a walk through the pages returns every session that exists
// throughout exactly once, however many are created or deleted meanwhile,
// and costs the same at any depth of the namespace.
func (s *Service) Page(ctx context.Context, req PageRequest) ([]Session, bool, error) {
	return s.reg.Page(ctx, req)
}

// Stats reads a session's exact counters; a session whose store entry is
// missing (created a moment ago by another replica) reads as empty.
func (s *Service) Stats(ctx context.Context, sess Session) (store.Stats, error) {
	st, err := s.opts.Store.Stats(ctx, sess.UID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Stats{}, nil
	}
	return st, err
}

// Settings resolves the settings the session spec describes would have if
// it were created now, among its namespace's policies: what Create's
// session will be held to.
func (s *Service) Settings(ctx context.Context, spec CreateSpec) (lifecycle.Settings, error) {
	return s.reg.Settings(ctx, spec)
}

// Create makes the session, then its data with fill (given the session,
// whose Settings hold the limits in force); if fill fails the session is
// removed again, so none is left without data. A create the owner's quota
// would end at once is refused with a *QuotaError, an existing name with an
// *ExistsError.
func (s *Service) Create(ctx context.Context, spec CreateSpec, fill func(Session) error) (Session, error) {
	sess, err := s.reg.Create(ctx, spec)
	if err != nil {
		return Session{}, err
	}
	if err := fill(sess); err != nil {
		if derr := s.reg.Delete(context.WithoutCancel(ctx), sess.Namespace, sess.Name, sess.UID); derr != nil && !errors.Is(derr, ErrNotFound) {
			s.opts.Logger.Error(derr, "removing a session whose data could not be written", "session", keyOf(sess))
		}
		return Session{}, err
	}
	s.stored.Store(sess.UID, struct{}{})
	return sess, nil
}

// Touch records that a session was used now, for the status sync. Only
// Active sessions count: activity recorded on a suspended session would
// resume it under the lifecycle rules.
func (s *Service) Touch(sess Session) {
	if sess.Phase == v1alpha1.PhaseActive {
		s.sync.touch(sess)
	}
}

// Suspend sets spec.suspend, after writing counts and activity so the
// suspended session's status tells the truth about what it holds.
func (s *Service) Suspend(ctx context.Context, sess Session) (Session, error) {
	if sess.Phase == v1alpha1.PhaseTerminated {
		return Session{}, &PhaseError{Namespace: sess.Namespace, Name: sess.Name, Phase: sess.Phase}
	}
	if err := s.sync.flushNow(ctx, sess, false); err != nil {
		return Session{}, err
	}
	return s.reg.SetSuspend(ctx, sess.Namespace, sess.Name, true)
}

// Terminate sets spec.terminate (once; terminating again changes nothing).
func (s *Service) Terminate(ctx context.Context, sess Session) (Session, error) {
	if sess.Terminate {
		return sess, nil
	}
	if err := s.sync.flushNow(ctx, sess, false); err != nil {
		return Session{}, err
	}
	return s.reg.Terminate(ctx, sess.Namespace, sess.Name)
}

// Resume clears spec.suspend, records activity now (an idle-suspended
// session becomes Active only on activity after its suspension) and, if
// the session was suspended, waits up to wait for the lifecycle to report
// it Active. It reports whether the session was suspended. A terminated
// session cannot be resumed: the error is a *PhaseError.
func (s *Service) Resume(ctx context.Context, sess Session, wait time.Duration) (Session, bool, error) {
	if sess.Phase == v1alpha1.PhaseTerminated {
		return Session{}, false, &PhaseError{Namespace: sess.Namespace, Name: sess.Name, Phase: sess.Phase}
	}
	wasSuspended := sess.Phase == v1alpha1.PhaseSuspended || sess.Suspend
	var err error
	if sess.Suspend {
		// As kubectl patch would, on the caller's behalf.
		if sess, err = s.reg.SetSuspend(ctx, sess.Namespace, sess.Name, false); err != nil {
			return Session{}, false, err
		}
	}
	if err := s.sync.flushNow(ctx, sess, true); err != nil {
		return Session{}, false, err
	}
	if wasSuspended {
		sess, err = s.reg.WaitActive(ctx, sess.Namespace, sess.Name, wait)
	} else {
		sess, err = s.reg.Get(ctx, sess.Namespace, sess.Name)
	}
	if err != nil {
		return Session{}, false, err
	}
	if sess.Phase == v1alpha1.PhaseTerminated {
		return Session{}, false, &PhaseError{Namespace: sess.Namespace, Name: sess.Name, Phase: sess.Phase}
	}
	return sess, wasSuspended, nil
}

// Delete deletes the session (this very one: a new session of the same
// name is not touched); its data is erased with it.
func (s *Service) Delete(ctx context.Context, sess Session) error {
	if err := s.reg.Delete(ctx, sess.Namespace, sess.Name, sess.UID); err != nil {
		return err
	}
	s.stored.Delete(sess.UID)
	return nil
}
