package controllers

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/lifecycle"
)

// ownerIndex indexes cached sessions by namespace and spec.owner
// ("<namespace>/<owner>"), so a quota check reads one owner's sessions
// instead of the namespace's. It is an index of the informer itself rather
// than a controller-runtime field index, which keeps two keys built for
// every session (one for its namespace, one across namespaces) where this
// keeps one, shared by the owner's sessions: at 100,000 sessions that is
// about 15 MB less.
const ownerIndex = "namespace/owner"

// indexOwner adds ownerIndex to the session informer; call it before the
// cache starts.
func indexOwner(informers cache.Informers) error {
	inf, err := informers.GetInformer(context.Background(), &v1alpha1.McpSession{}, cache.BlockUntilSynced(false))
	if err != nil {
		return fmt.Errorf("session informer: %w", err)
	}
	err = inf.AddIndexers(toolscache.Indexers{ownerIndex: func(obj any) ([]string, error) {
		if s, ok := obj.(*v1alpha1.McpSession); ok && s.Spec.Owner != "" {
			return []string{ownerKey(s.Namespace, s.Spec.Owner)}, nil
		}
		return nil, nil
	}})
	if err != nil {
		return fmt.Errorf("index sessions by %s: %w", ownerIndex, err)
	}
	return nil
}

func ownerKey(namespace, owner string) string { return intern(namespace + "/" + owner) }

// ownerSessions calls fn with each cached session of the owner in the
// namespace (the cache's own objects: fn only reads them), through
// ownerIndex; without the informer, it filters the namespace's sessions.
func ownerSessions(ctx context.Context, c client.Reader, informers cache.Informers, namespace, owner string, fn func(*v1alpha1.McpSession)) error {
	if informers != nil {
		inf, err := informers.GetInformer(ctx, &v1alpha1.McpSession{}, cache.BlockUntilSynced(false))
		if err != nil {
			return fmt.Errorf("session informer: %w", err)
		}
		if ix, ok := inf.(interface{ GetIndexer() toolscache.Indexer }); ok {
			objs, err := ix.GetIndexer().ByIndex(ownerIndex, ownerKey(namespace, owner))
			if err != nil {
				return fmt.Errorf("sessions of owner %q in %s: %w", owner, namespace, err)
			}
			for _, o := range objs {
				if s, ok := o.(*v1alpha1.McpSession); ok {
					fn(s)
				}
			}
			return nil
		}
	}
	return cachedSessions(ctx, c, informers, namespace, func(s *v1alpha1.McpSession) {
		if s.Spec.Owner == owner {
			fn(s)
		}
	})
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
	var peers []v1alpha1.McpSession
	err := ownerSessions(ctx, r.Client, r.informers, s.Namespace, s.Spec.Owner, func(p *v1alpha1.McpSession) {
		peers = append(peers, *p) // a shallow copy, only read
	})
	if err != nil {
		return false, fmt.Errorf("sessions of owner %q for quota of %s/%s: %w", s.Spec.Owner, s.Namespace, s.Name, err)
	}
	members := append(lifecycle.QuotaPeers(now, s.Spec.Owner, set.Policy, string(s.UID), peers, policies, r.Defaults), lifecycle.MemberOf(s))
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
	var reqs []reconcile.Request
	err := ownerSessions(ctx, r.Client, r.informers, s.Namespace, s.Spec.Owner, func(p *v1alpha1.McpSession) {
		if p.UID != s.UID {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(p)})
		}
	})
	if err != nil {
		log.FromContext(ctx).Error(err, "list quota peers", "session", client.ObjectKeyFromObject(s))
		return nil
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
