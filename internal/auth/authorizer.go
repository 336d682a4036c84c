package auth

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	authzv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/cache"
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

// Authorizer asks the apiserver whether an identity may act on mcpsessions,
// caching answers briefly.
type Authorizer struct {
	reviews authzclient.SubjectAccessReviewInterface
	ttl     time.Duration
	cache   *cache.LRUExpireCache
}

// NewAuthorizer returns an Authorizer caching decisions for ttl.
func NewAuthorizer(reviews authzclient.SubjectAccessReviewInterface, ttl time.Duration) *Authorizer {
	return &Authorizer{reviews: reviews, ttl: ttl, cache: cache.NewLRUExpireCache(8192)}
}

// Authorize returns nil if id may perform verb on the session name (or on the
// collection, name empty) in namespace, a *Forbidden if not.
func (a *Authorizer) Authorize(ctx context.Context, id Identity, verb, namespace, name string) error {
	if id.Unrestricted {
		return nil
	}
	key := cacheKey(id, verb, namespace, name)
	if v, ok := a.cache.Get(key); ok {
		if reason, denied := v.(string); denied {
			return &Forbidden{Username: id.Username, Verb: verb, Namespace: namespace, Name: name, Reason: reason}
		}
		return nil
	}
	extra := make(map[string]authzv1.ExtraValue, len(id.Extra))
	for k, v := range id.Extra {
		extra[k] = v
	}
	sar, err := a.reviews.Create(ctx, &authzv1.SubjectAccessReview{
		Spec: authzv1.SubjectAccessReviewSpec{
			User: id.Username, UID: id.UID, Groups: id.Groups, Extra: extra,
			ResourceAttributes: &authzv1.ResourceAttributes{
				Group: "sessions.mcp.dev", Resource: "mcpsessions",
				Verb: verb, Namespace: namespace, Name: name,
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("access review for %s %s/%s: %w", verb, namespace, name, err)
	}
	if !sar.Status.Allowed || sar.Status.Denied {
		a.cache.Add(key, sar.Status.Reason, a.ttl)
		return &Forbidden{Username: id.Username, Verb: verb, Namespace: namespace, Name: name, Reason: sar.Status.Reason}
	}
	a.cache.Add(key, struct{}{}, a.ttl)
	return nil
}

// cacheKey identifies one access question. Everything the review sends
// is in it, extra included: two tokens of one user with different extra
// (e.g. scopes, or the pod a service-account token is bound to) may get
// different answers.
func cacheKey(id Identity, verb, namespace, name string) string {
	groups := slices.Clone(id.Groups)
	slices.Sort(groups)
	extraKeys := make([]string, 0, len(id.Extra))
	for k := range id.Extra {
		extraKeys = append(extraKeys, k)
	}
	slices.Sort(extraKeys)
	extra := make([]string, 0, len(extraKeys))
	for _, k := range extraKeys {
		extra = append(extra, k+"="+strings.Join(id.Extra[k], "\x01"))
	}
	return strings.Join([]string{id.Username, id.UID, strings.Join(groups, "\x01"), strings.Join(extra, "\x02"), verb, namespace, name}, "\x00")
}
