// Package auth authenticates MCP callers with the cluster's own
// authenticators (TokenReview, for the server's audience) and authorises
// each call with SubjectAccessReview against mcpsessions, so the MCP door
// obeys exactly the RBAC a user has on the McpSession objects. Both are
// k8s.io/apiserver's delegating authenticator and authorizer, as
// aggregated apiservers and controller-runtime's secure metrics use them.
// It also describes the endpoint as an OAuth protected resource (RFC 9728)
// for clients that follow the MCP authorization spec.
package auth

import (
	"context"
	"strings"

	"k8s.io/apiserver/pkg/authentication/user"
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

	// info is the user as the authenticator returned it, handed to the
	// authorizer as it is (nil for identities built otherwise).
	info user.Info
}

// identityOf is the identity of an authenticated user. Groups and Extra
// are read-only views of the authenticator's cached answer.
func identityOf(u user.Info) Identity {
	return Identity{Username: u.GetName(), UID: u.GetUID(), Groups: u.GetGroups(), Extra: u.GetExtra(), info: u}
}

// userInfo is the identity as the authorizer takes it.
func (id Identity) userInfo() user.Info {
	if id.info != nil {
		return id.info
	}
	return &user.DefaultInfo{Name: id.Username, UID: id.UID, Groups: id.Groups, Extra: id.Extra}
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
