package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/lifecycle"
)

// SessionReconciler drives each McpSession through Active, Suspended and
// Terminated, deletes it when its retention runs out, and erases its stored
// data (through Store, behind StoreFinalizer) when the object is deleted.
//
// One reconcile: fetch the session; if it is being deleted, erase its data
// and release the finalizer; otherwise make sure the finalizer is on,
// resolve its settings (spec, else the winning policy, else Defaults),
// evaluate its owner's quota, let lifecycle.Decide say what it should look
// like now, patch status once if anything differs, emit an Event for a phase
// change, and requeue at the next deadline. There is no periodic resync: a
// session with no pending deadline is not looked at until something changes.
//
// Owner quotas are enforced here, one session at a time: a session lists its
// owner's live peers from the cache, computes the same deterministic verdict
// every peer computes (lifecycle.OverQuota) and terminates only itself when
// chosen. A new or relabelled session enqueues its owner's peers, so a
// TerminateOldest verdict reaches the oldest session. The MCP server refuses
// up front a create that a Reject quota would end (lifecycle.RefusedByQuota);
// a session created by other means (kubectl, GitOps) is held to the quota
// here, after the fact: refusing those outright would take an admission
// webhook.
type SessionReconciler struct {
	Client client.Client
	// Clock gives "now" for every deadline; nil means the real clock.
	// RequeueAfter durations are computed from it, so with a fake clock a
	// test that steps the clock must also trigger a reconcile (any change to
	// the object does).
	Clock    clock.PassiveClock
	Defaults lifecycle.Defaults
	Store    SessionStore
	// Recorder emits Events; nil means the manager's events.k8s.io recorder.
	Recorder events.EventRecorder
	// MaxConcurrentReconciles; 0 means DefaultMaxConcurrentReconciles.
	MaxConcurrentReconciles int

	// informers is the manager's cache, for walks over a namespace's
	// sessions (see cachedSessions).
	informers cache.Informers
	// events writes Recorder's Events within the Event budget (see
	// EventRate); made by SetupWithManager, or on first use.
	events     *eventBudget
	eventsOnce sync.Once
}

// errStale reports that the object changed since it was read; the watch
// delivers the newer version, which is reconciled then.
var errStale = errors.New("session changed since it was read")

// SetupWithManager registers the controller, its watches and the owner
// field index it lists quota peers with.
func (r *SessionReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Store == nil {
		return errors.New("SessionReconciler.Store is required: deleted sessions would keep their data")
	}
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder(EventSource)
	}
	r.informers = mgr.GetCache()
	// The budget's summaries are written by the leader, like the Events.
	if err := mgr.Add(r.eventer()); err != nil {
		return fmt.Errorf("add the event budget: %w", err)
	}
	workers := r.MaxConcurrentReconciles
	if workers <= 0 {
		workers = DefaultMaxConcurrentReconciles
	}
	if err := indexOwner(mgr.GetCache()); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named(sessionControllerName).
		For(&v1alpha1.McpSession{}).
		// A policy's selector, priority or settings changed: every session of
		// the namespace may have a new winner or new settings. Status-only
		// updates of policies do not change generation and are ignored.
		Watches(&v1alpha1.McpSessionPolicy{},
			handler.EnqueueRequestsFromMapFunc(r.sessionsOfNamespace),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		// A session that may push its owner over a quota wakes its peers.
		Watches(&v1alpha1.McpSession{},
			handler.EnqueueRequestsFromMapFunc(r.quotaPeers),
			builder.WithPredicates(quotaRelevantChange())).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(r)
}

// Reconcile brings one session's status in line with its spec, its policy
// and the clock.
func (r *SessionReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, err error) {
	defer func() {
		if err != nil {
			reconcileErrorsTotal.WithLabelValues(sessionControllerName).Inc()
		}
	}()
	logger := log.FromContext(ctx)

	s := &v1alpha1.McpSession{}
	if err := r.Client.Get(ctx, req.NamespacedName, s); err != nil {
		if apierrors.IsNotFound(err) {
			sessionPhases.forget(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("get session %s: %w", req.NamespacedName, err)
	}
	if !s.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, ignoreStale(ctx, r.finalize(ctx, s))
	}
	if err := r.ensureFinalizer(ctx, s); err != nil {
		return ctrl.Result{}, ignoreStale(ctx, err)
	}

	now := r.Clock.Now()
	policies := &v1alpha1.McpSessionPolicyList{}
	if err := r.Client.List(ctx, policies, client.InNamespace(s.Namespace)); err != nil {
		return ctrl.Result{}, fmt.Errorf("list policies for session %s: %w", req.NamespacedName, err)
	}
	set := lifecycle.SettingsFor(s.Labels, s.Spec, policies.Items, r.Defaults)
	overQuota, err := r.overQuota(ctx, now, s, set, policies.Items)
	if err != nil {
		return ctrl.Result{}, err
	}
	d := lifecycle.Decide(now, s, set, overQuota)

	if d.Delete {
		return ctrl.Result{}, ignoreStale(ctx, r.deleteAfterRetention(ctx, now, s, d))
	}
	// The termination record goes first: a status showing Terminated
	// (Expired, QuotaExceeded) then always has it, even across a crash
	// between the two writes.
	if err := r.recordTerminationReason(ctx, s, d); err != nil {
		return ctrl.Result{}, ignoreStale(ctx, err)
	}
	patched, err := r.patchStatus(ctx, s, d, set, now)
	if err != nil {
		return ctrl.Result{}, ignoreStale(ctx, err)
	}
	if patched && d.Transitioned() {
		recordTransition(d.From, d.Phase, d.Reason)
		if reason := d.Event(); reason != "" {
			eventType := corev1.EventTypeNormal
			if reason == lifecycle.EventQuotaExceeded {
				eventType = corev1.EventTypeWarning
			}
			r.eventer().eventf(s, eventType, reason, actionOf(d.Phase), transitionMessage(s, d, set))
		}
		// A new session's first phase is no news (it has no Event either);
		// at 100,000 sessions it would be 100,000 log lines at start.
		if d.From == "" {
			logger.V(1).Info("session transitioned", "from", d.From, "to", d.Phase, "reason", d.Reason)
		} else {
			logger.Info("session transitioned", "from", d.From, "to", d.Phase, "reason", d.Reason)
		}
	}
	sessionPhases.observe(req.NamespacedName, d.Phase)
	return ctrl.Result{RequeueAfter: d.RequeueAfter}, nil
}

// eventer is the reconciler's Event budget.
func (r *SessionReconciler) eventer() *eventBudget {
	r.eventsOnce.Do(func() {
		if r.events == nil {
			r.events = newEventBudget(r.Recorder, r.Clock)
		}
	})
	return r.events
}

// sessionsOfNamespace maps a policy to every session in its namespace: the
// old selector is gone by the time the event arrives, so the sessions it used
// to select cannot be told apart from the rest.
func (r *SessionReconciler) sessionsOfNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	var reqs []reconcile.Request
	err := cachedSessions(ctx, r.Client, r.informers, o.GetNamespace(), func(s *v1alpha1.McpSession) {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(s)})
	})
	if err != nil {
		log.FromContext(ctx).Error(err, "list sessions for policy", "policy", client.ObjectKeyFromObject(o))
		return nil
	}
	return reqs
}

func actionOf(p v1alpha1.Phase) string {
	switch p {
	case v1alpha1.PhaseSuspended:
		return "Suspend"
	case v1alpha1.PhaseTerminated:
		return "Terminate"
	default:
		return "Resume"
	}
}

// ignoreStale turns errStale into success: the newer version of the object
// is already on its way through the watch and will be reconciled.
func ignoreStale(ctx context.Context, err error) error {
	if errors.Is(err, errStale) {
		log.FromContext(ctx).V(1).Info("session changed while reconciling; waiting for the newer version")
		return nil
	}
	return err
}
