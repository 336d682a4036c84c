package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/cache"
	authnclient "k8s.io/client-go/kubernetes/typed/authentication/v1"
)

// ErrUnauthenticated means the token is missing, malformed, expired or was
// issued for another audience.
var ErrUnauthenticated = errors.New("unauthenticated")

// TokenAuthenticator checks bearer tokens with the apiserver's TokenReview
// API. Results are cached briefly (keyed by a hash of the token, never the
// token itself) so a burst of tool calls costs one review.
type TokenAuthenticator struct {
	reviews   authnclient.TokenReviewInterface
	audiences []string
	ttl       time.Duration
	negTTL    time.Duration
	cache     *cache.LRUExpireCache
}

// NewTokenAuthenticator returns an authenticator that accepts tokens issued
// for one of audiences (none: the apiserver's own audience). Successful
// reviews are cached for ttl, failures for a fifth of it.
func NewTokenAuthenticator(reviews authnclient.TokenReviewInterface, audiences []string, ttl time.Duration) *TokenAuthenticator {
	return &TokenAuthenticator{
		reviews: reviews, audiences: audiences, ttl: ttl, negTTL: ttl / 5,
		cache: cache.NewLRUExpireCache(4096),
	}
}

type authnResult struct {
	id  Identity
	err error
}

// Authenticate returns the identity behind token.
func (a *TokenAuthenticator) Authenticate(ctx context.Context, token string) (Identity, error) {
	if token == "" {
		return Identity{}, fmt.Errorf("%w: no bearer token", ErrUnauthenticated)
	}
	key := sha256.Sum256([]byte(token))
	if v, ok := a.cache.Get(key); ok {
		r := v.(authnResult)
		return r.id, r.err
	}
	review, err := a.reviews.Create(ctx, &authnv1.TokenReview{
		Spec: authnv1.TokenReviewSpec{Token: token, Audiences: a.audiences},
	}, metav1.CreateOptions{})
	if err != nil {
		// Not cached: an apiserver hiccup must not lock callers out.
		return Identity{}, fmt.Errorf("token review: %w", err)
	}
	var r authnResult
	if !review.Status.Authenticated {
		reason := review.Status.Error
		if reason == "" {
			reason = "token not accepted"
		}
		r.err = fmt.Errorf("%w: %s", ErrUnauthenticated, reason)
		a.cache.Add(key, r, a.negTTL)
		return r.id, r.err
	}
	if !audienceMatches(a.audiences, review.Status.Audiences) {
		// The apiserver's own authenticators check audiences, but a token
		// webhook may ignore them and say yes to a token minted for another
		// service; the API asks clients to verify (TokenReviewStatus).
		r.err = fmt.Errorf("%w: token is not for audience %v", ErrUnauthenticated, a.audiences)
		a.cache.Add(key, r, a.negTTL)
		return r.id, r.err
	}
	u := review.Status.User
	r.id = Identity{Username: u.Username, UID: u.UID, Groups: u.Groups}
	if len(u.Extra) > 0 {
		r.id.Extra = make(map[string][]string, len(u.Extra))
		for k, v := range u.Extra {
			r.id.Extra[k] = v
		}
	}
	a.cache.Add(key, r, a.ttl)
	return r.id, nil
}

// audienceMatches reports whether a review answered for one of the
// audiences asked for (any answer when none were asked for).
func audienceMatches(want, got []string) bool {
	if len(want) == 0 {
		return true
	}
	for _, w := range want {
		for _, g := range got {
			if w == g {
				return true
			}
		}
	}
	return false
}
