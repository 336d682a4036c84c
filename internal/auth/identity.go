// Package auth authenticates MCP callers with Kubernetes TokenReview and
// authorises each call with SubjectAccessReview against mcpsessions, so the
// MCP door obeys exactly the RBAC a user has on the McpSession objects.
package auth

import (
	"context"
	"strings"
)

// Identity is an authenticated caller.
type Identity struct {
	// Username as Kubernetes knows it, e.g. system:serviceaccount:team-a:agent.
	Username string
	UID      string
	Groups   []string
	Extra    map[string][]string
	// Unrestricted is set only by --auth=none on loopback: no access review.
	Unrestricted bool
}

// DefaultNamespace is the namespace a caller works in when a tool call names
// none: its service account's namespace, or "default" for other users.
func (id Identity) DefaultNamespace() string {
	const prefix = "system:serviceaccount:"
	if rest, ok := strings.CutPrefix(id.Username, prefix); ok {
		if ns, _, ok := strings.Cut(rest, ":"); ok && ns != "" {
			return ns
		}
	}
	return "default"
}

type identityKey struct{}

// WithIdentity returns a context carrying id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// FromContext returns the caller's identity, if the request was authenticated.
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}
