package controllers

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
)

// Reasons of a policy's Ready condition.
const (
	// PolicyReasonValid: the selector parses; the policy applies to the
	// sessions it selects (and wins for).
	PolicyReasonValid = v1alpha1.ReasonValid
	// PolicyReasonInvalidSelector: the selector does not parse; the policy
	// selects nothing until it is fixed.
	PolicyReasonInvalidSelector = v1alpha1.ReasonInvalidSelector
)

// PolicyReconciler reports, for each McpSessionPolicy, whether its selector
// is valid and how many sessions it selects. Applying a policy's settings is
// the session controller's job; this one only keeps the policy's status
// (matchedSessions, Ready, observedGeneration) true.
type PolicyReconciler struct {
	Client client.Client
	// Informers, the manager's cache, lets a recount read the cached
	// sessions without copying them (see cachedSessions); nil lists them.
	Informers cache.Informers
	// Clock spaces recounts (RecountEvery); nil means the real clock.
	Clock clock.PassiveClock

	mu        sync.Mutex
	recounted map[types.NamespacedName]time.Time
}

// RecountEvery is the shortest time between two recounts of one policy's
// sessions while its spec is unchanged: sessions created or deleted by the
// thousand cost one recount per policy every few seconds, not one each.
const RecountEvery = 2 * time.Second

// recountWait says how long a recount of the policy must wait, 0 when it
// may happen now (and records that it does).
func (r *PolicyReconciler) recountWait(p *v1alpha1.McpSessionPolicy) time.Duration {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	now := r.Clock.Now()
	key := client.ObjectKeyFromObject(p)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.recounted == nil {
		r.recounted = map[types.NamespacedName]time.Time{}
	}
	// A new spec is reported at once.
	if last, ok := r.recounted[key]; ok && p.Status.ObservedGeneration == p.Generation {
		if wait := last.Add(RecountEvery).Sub(now); wait > 0 {
			return wait
		}
	}
	r.recounted[key] = now
	return 0
}

// SetupWithManager registers the controller. Sessions are watched so that a
// session created, deleted or relabelled updates the count of every policy
// in its namespace.
func (r *PolicyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Informers == nil {
		r.Informers = mgr.GetCache()
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named(policyControllerName).
		For(&v1alpha1.McpSessionPolicy{}).
		Watches(&v1alpha1.McpSession{},
			handler.EnqueueRequestsFromMapFunc(r.policiesOfNamespace),
			builder.WithPredicates(membershipChange())).
		Complete(r)
}

// Reconcile recounts the sessions a policy selects and patches its status
// when the count, the validity or the observed generation changed.
func (r *PolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, err error) {
	defer func() {
		if err != nil {
			reconcileErrorsTotal.WithLabelValues(policyControllerName).Inc()
		}
	}()
	p := &v1alpha1.McpSessionPolicy{}
	if err := r.Client.Get(ctx, req.NamespacedName, p); err != nil {
		if apierrors.IsNotFound(err) {
			r.mu.Lock()
			delete(r.recounted, req.NamespacedName)
			r.mu.Unlock()
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if wait := r.recountWait(p); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	orig := p.DeepCopy()

	ready := metav1.Condition{Type: v1alpha1.ConditionReady, ObservedGeneration: p.Generation}
	sel, selErr := metav1.LabelSelectorAsSelector(&p.Spec.Selector)
	if selErr != nil {
		p.Status.MatchedSessions = 0
		ready.Status, ready.Reason = metav1.ConditionFalse, PolicyReasonInvalidSelector
		ready.Message = "spec.selector is invalid, so the policy selects no session: " + selErr.Error()
	} else {
		matched := int32(0)
		err := cachedSessions(ctx, r.Client, r.Informers, p.Namespace, func(s *v1alpha1.McpSession) {
			if sel.Matches(labels.Set(s.Labels)) {
				matched++
			}
		})
		if err != nil {
			return ctrl.Result{}, fmt.Errorf("count sessions selected by policy %s: %w", req.NamespacedName, err)
		}
		p.Status.MatchedSessions = matched
		ready.Status, ready.Reason = metav1.ConditionTrue, PolicyReasonValid
		ready.Message = "The selector is valid; the policy applies to the sessions it selects where it has the highest priority."
	}
	p.Status.ObservedGeneration = p.Generation
	meta.SetStatusCondition(&p.Status.Conditions, ready)

	if equality.Semantic.DeepEqual(orig.Status, p.Status) {
		return ctrl.Result{}, nil
	}
	if err := r.Client.Status().Patch(ctx, p, client.MergeFrom(orig)); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("patch status of policy %s: %w", req.NamespacedName, err)
	}
	if selErr != nil {
		log.FromContext(ctx).Info("policy has an invalid selector", "error", selErr.Error())
	}
	return ctrl.Result{}, nil
}

// policiesOfNamespace maps a session to every policy in its namespace: any
// of them may start or stop selecting it.
func (r *PolicyReconciler) policiesOfNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	list := &v1alpha1.McpSessionPolicyList{}
	if err := r.Client.List(ctx, list, client.InNamespace(o.GetNamespace()), client.UnsafeDisableDeepCopy); err != nil {
		log.FromContext(ctx).Error(err, "list policies for session", "session", client.ObjectKeyFromObject(o))
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return reqs
}

// membershipChange passes the session events that can change which
// policies select a session; status writes (activity, counts, phases),
// which are most session events, cannot.
func membershipChange() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			return !maps.Equal(e.ObjectOld.GetLabels(), e.ObjectNew.GetLabels())
		},
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}
