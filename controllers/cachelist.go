package controllers

import (
	"context"
	"fmt"

	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
)

// cachedSessions calls fn with each cached session of a namespace: the
// cache's own objects, which fn must only read. It walks the informer's
// namespace index rather than listing: a List copies every object into
// the list it returns, even without a deep copy, which for 100,000
// sessions is 50 MB of garbage per call, and the policy controller
// recounts on every session created or deleted. Without the informer (a
// cache of another kind) it falls back to a List.
func cachedSessions(ctx context.Context, c client.Reader, informers cache.Informers, namespace string, fn func(*v1alpha1.McpSession)) error {
	if informers != nil {
		inf, err := informers.GetInformer(ctx, &v1alpha1.McpSession{}, cache.BlockUntilSynced(false))
		if err != nil {
			return fmt.Errorf("session informer: %w", err)
		}
		if ix, ok := inf.(interface{ GetIndexer() toolscache.Indexer }); ok {
			objs, err := ix.GetIndexer().ByIndex(toolscache.NamespaceIndex, namespace)
			if err != nil {
				return fmt.Errorf("sessions of namespace %s: %w", namespace, err)
			}
			for _, o := range objs {
				if s, ok := o.(*v1alpha1.McpSession); ok {
					fn(s)
				}
			}
			return nil
		}
	}
	list := &v1alpha1.McpSessionList{}
	if err := c.List(ctx, list, client.InNamespace(namespace), client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("list sessions of namespace %s: %w", namespace, err)
	}
	for i := range list.Items {
		fn(&list.Items[i])
	}
	return nil
}
