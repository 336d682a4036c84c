package controllers

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/lifecycle"
)

// ownerIndex indexes cached sessions by spec.owner, so a quota check lists
// one owner's sessions instead of the whole namespace.
const ownerIndex = "spec.owner"

func indexOwner(fi client.FieldIndexer) error {
	err := fi.IndexField(context.Background(), &v1alpha1.McpSession{}, ownerIndex,
		func(o client.Object) []string {
			if owner := o.(*v1alpha1.McpSession).Spec.Owner; owner != "" {
				return []string{owner}
			}
			return nil
		})
	if err != nil {
		return fmt.Errorf("index sessions by %s: %w", ownerIndex, err)
	}
	return nil
}

// overQuota reports whether the winning policy's maxSessionsPerOwner chose
// this session for termination. The members are the session and its
// lifecycle.QuotaPeers: the owner's other live sessions in the namespace
// that the same policy wins for. Sessions without an owner are never
// counted.
func (r *SessionReconciler) overQuota(ctx context.Context, now time.Time, s *v1alpha1.McpSession, set lifecycle.Settings, policies []v1alpha1.McpSessionPolicy) (bool, error) {
	if set.Quota == nil || s.Spec.Owner == "" {
		return false, nil
	}
	if lifecycle.Decide(now, s, set, false).Phase == v1alpha1.PhaseTerminated {
		return false, nil
	}
	peers := &v1alpha1.McpSessionList{}
	// Read-only use of the cached objects: skip the deep copy.
	if err := r.Client.List(ctx, peers, client.InNamespace(s.Namespace),
		client.MatchingFields{ownerIndex: s.Spec.Owner}, client.UnsafeDisableDeepCopy); err != nil {
		return false, fmt.Errorf("list sessions of owner %q for quota of %s/%s: %w", s.Spec.Owner, s.Namespace, s.Name, err)
	}
	members := append(lifecycle.QuotaPeers(now, s.Spec.Owner, set.Policy, string(s.UID), peers.Items, policies, r.Defaults), lifecycle.MemberOf(s))
	return slices.Contains(lifecycle.OverQuota(members, *set.Quota), s.Name), nil
}

// quotaPeers maps a session that may have pushed its owner over a quota to
// the owner's other sessions, so each can decide whether it is the one to
// go. Namespaces without any quota policy cost one cached list of policies.
func (r *SessionReconciler) quotaPeers(ctx context.Context, o client.Object) []reconcile.Request {
	s, ok := o.(*v1alpha1.McpSession)
	if !ok || s.Spec.Owner == "" {
		return nil
	}
	policies := &v1alpha1.McpSessionPolicyList{}
	if err := r.Client.List(ctx, policies, client.InNamespace(s.Namespace), client.UnsafeDisableDeepCopy); err != nil {
		log.FromContext(ctx).Error(err, "list policies for quota peers", "session", client.ObjectKeyFromObject(s))
		return nil
	}
	hasQuota := false
	for i := range policies.Items {
		hasQuota = hasQuota || policies.Items[i].Spec.MaxSessionsPerOwner != nil
	}
	if !hasQuota {
		return nil
	}
	peers := &v1alpha1.McpSessionList{}
	if err := r.Client.List(ctx, peers, client.InNamespace(s.Namespace),
		client.MatchingFields{ownerIndex: s.Spec.Owner}, client.UnsafeDisableDeepCopy); err != nil {
		log.FromContext(ctx).Error(err, "list quota peers", "session", client.ObjectKeyFromObject(s))
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(peers.Items))
	for i := range peers.Items {
		if p := &peers.Items[i]; p.UID != s.UID {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(p)})
		}
	}
	return reqs
}

// quotaRelevantChange passes the events that can put an owner over a quota:
// a new owned session, an owner set on an existing one, or a label change
// that brings a session under a quota policy. Deletions and terminations
// only free room, and terminations are never undone, so they need no peer.
func quotaRelevantChange() predicate.Predicate {
	owner := func(o client.Object) string {
		if s, ok := o.(*v1alpha1.McpSession); ok {
			return s.Spec.Owner
		}
		return ""
	}
	return predicate.Funcs{
		CreateFunc: func(e event.CreateEvent) bool { return owner(e.Object) != "" },
		UpdateFunc: func(e event.UpdateEvent) bool {
			return owner(e.ObjectNew) != "" && (owner(e.ObjectOld) != owner(e.ObjectNew) ||
				!maps.Equal(e.ObjectOld.GetLabels(), e.ObjectNew.GetLabels()))
		},
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}
