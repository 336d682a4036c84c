package auth

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/cache"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	authzclient "k8s.io/client-go/kubernetes/typed/authorization/v1"
)

// Verbs the MCP tools need on mcpsessions: reads get/list, writes update.
const (
	VerbGet    = "get"
	VerbList   = "list"
	VerbCreate = "create"
	VerbUpdate = "update"
	VerbDelete = "delete"
)

// Forbidden is returned when RBAC denies a call. Its message names what was
// denied and never includes any data.
type Forbidden struct {
	Username, Verb, Namespace, Name, Reason string
}

func (f *Forbidden) Error() string {
	target := "mcpsessions"
	if f.Name != "" {
		target += "/" + f.Name
	}
	msg := fmt.Sprintf("forbidden: %s cannot %s %s in namespace %q", f.Username, f.Verb, target, f.Namespace)
	if f.Reason != "" {
		msg += ": " + f.Reason
	}
	return msg
}

// Authorizer asks the apiserver whether an identity may act on
// mcpsessions, by SubjectAccessReview. It is k8s.io/apiserver's delegating
// authorizer: allowed and denied answers cached for their own TTLs,
// transient failures retried with backoff, failures never cached.
type Authorizer struct {
	authz authorizer.Authorizer
	// allowed remembers, for the allow TTL, that the authenticator's cached
	// user may do what it was allowed: the delegating authorizer keys its
	// own cache by the JSON encoding of the whole review, which doubled the
	// auth path's cost per call (docs/benchmarks.md). The key is the user
	// object itself (the token cache hands out the same one until its TTL)
	// and the request's verb, namespace and name, so nothing is encoded.
	// Denials and failures are never remembered here: they always reach the
	// delegating authorizer, with its deny TTL and its retries.
	allowed  *cache.LRUExpireCache
	allowTTL time.Duration
}

// allowKey is a remembered allowed answer.
type allowKey struct {
	user                  user.Info
	verb, namespace, name string
}

// NewAuthorizer builds the authorizer on the apiserver's
// SubjectAccessReview API, caching answers for o.AllowTTL and o.DenyTTL.
func NewAuthorizer(client authzclient.AuthorizationV1Interface, o Options) (*Authorizer, error) {
	o.setDefaults()
	authz, err := authorizerfactory.DelegatingAuthorizerConfig{
		SubjectAccessReviewClient: client,
		AllowCacheTTL:             o.AllowTTL,
		DenyCacheTTL:              o.DenyTTL,
		WebhookRetryBackoff:       o.RetryBackoff,
	}.New()
	if err != nil {
		return nil, fmt.Errorf("auth: delegating authorizer: %w", err)
	}
	return &Authorizer{authz: authz, allowed: cache.NewLRUExpireCache(allowedEntries), allowTTL: o.AllowTTL}, nil
}

// allowedEntries bounds the remembered answers: a few per active agent.
const allowedEntries = 4096

// Authorize returns nil if id may perform verb on the session name (or on the
// collection, name empty) in namespace, a *Forbidden if not, another error
// if the apiserver could not be asked.
func (a *Authorizer) Authorize(ctx context.Context, id Identity, verb, namespace, name string) error {
	if id.Unrestricted {
		return nil
	}
	var key allowKey
	if id.info != nil {
		key = allowKey{user: id.info, verb: verb, namespace: namespace, name: name}
		if _, ok := a.allowed.Get(key); ok {
			return nil
		}
	}
	decision, reason, err := a.authz.Authorize(ctx, authorizer.AttributesRecord{
		User: id.userInfo(),
		Verb: verb, Namespace: namespace, Name: name,
		APIGroup: "sessions.mcp.dev", Resource: "mcpsessions", ResourceRequest: true,
	})
	if err != nil {
		return fmt.Errorf("access review for %s %s/%s: %w", verb, namespace, name, err)
	}
	if decision != authorizer.DecisionAllow {
		return &Forbidden{Username: id.Username, Verb: verb, Namespace: namespace, Name: name, Reason: reason}
	}
	if id.info != nil {
		a.allowed.Add(key, struct{}{}, a.allowTTL)
	}
	return nil
}
