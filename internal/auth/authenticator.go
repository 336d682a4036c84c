package auth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/apis/apiserver"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/client-go/kubernetes"
	authnclient "k8s.io/client-go/kubernetes/typed/authentication/v1"
	"k8s.io/client-go/rest"
)

// ErrUnauthenticated means the token is missing, malformed, expired or was
// issued for another audience: the caller has to fix it (HTTP 401).
var ErrUnauthenticated = errors.New("unauthenticated")

// ErrUnavailable means no verdict could be had: the apiserver did not
// answer the review (HTTP 503). It is never cached.
var ErrUnavailable = errors.New("authentication unavailable")

// Defaults for Options.
const (
	// DefaultCacheTTL is how long a token's verdict and an allowed access
	// review are cached: a revoked binding or token keeps working for at
	// most this long.
	DefaultCacheTTL = 10 * time.Second
	// DefaultDenyTTL is how long a denied access review is cached: a new
	// binding takes effect within this long.
	DefaultDenyTTL = 5 * time.Second
	// DefaultReviewTimeout bounds one review, retries included.
	DefaultReviewTimeout = 10 * time.Second
)

// DefaultRetryBackoff is the apiserver's default webhook retry: transient
// failures (connection reset, 429, 500, timeouts) are retried five times
// from 500 ms on. A refused connection is not retried.
func DefaultRetryBackoff() wait.Backoff {
	return wait.Backoff{Duration: 500 * time.Millisecond, Factor: 1.5, Jitter: 0.2, Steps: 5}
}

// TokenAuthenticator accepts every bearer token the cluster accepts for
// the configured audiences (service-account tokens, and OIDC or webhook
// tokens where the cluster trusts an issuer), by TokenReview. It is
// k8s.io/apiserver's delegating authenticator: answers cached by an HMAC of
// token and audiences, concurrent identical reviews made once
// (singleflight), transient failures retried with backoff, failures to get
// an answer never cached.
type TokenAuthenticator struct {
	req       authenticator.Request
	audiences authenticator.Audiences
}

// Options configure the authenticator and the authorizer.
type Options struct {
	// Audiences a token must be issued for (at least one of them).
	Audiences []string
	// CacheTTL is how long a token's verdict (accepted or refused) is
	// cached (default DefaultCacheTTL).
	CacheTTL time.Duration
	// AllowTTL and DenyTTL are how long allowed and denied access reviews
	// are cached (defaults DefaultCacheTTL and DefaultDenyTTL).
	AllowTTL, DenyTTL time.Duration
	// Timeout bounds one token review, retries included (default
	// DefaultReviewTimeout).
	Timeout time.Duration
	// RetryBackoff retries transient failures (default
	// DefaultRetryBackoff).
	RetryBackoff *wait.Backoff
}

func (o *Options) setDefaults() {
	if o.CacheTTL <= 0 {
		o.CacheTTL = DefaultCacheTTL
	}
	if o.AllowTTL <= 0 {
		o.AllowTTL = DefaultCacheTTL
	}
	if o.DenyTTL <= 0 {
		o.DenyTTL = DefaultDenyTTL
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultReviewTimeout
	}
	if o.RetryBackoff == nil {
		b := DefaultRetryBackoff()
		o.RetryBackoff = &b
	}
}

// New builds the authenticator and the authorizer on the apiserver of cfg
// (the manager's own credentials, which may create TokenReviews and
// SubjectAccessReviews).
func New(cfg *rest.Config, o Options) (*TokenAuthenticator, *Authorizer, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("auth: clientset for access reviews: %w", err)
	}
	authn, err := NewTokenAuthenticator(cs.AuthenticationV1(), o)
	if err != nil {
		return nil, nil, err
	}
	authz, err := NewAuthorizer(cs.AuthorizationV1(), o)
	if err != nil {
		return nil, nil, err
	}
	return authn, authz, nil
}

// NewTokenAuthenticator builds the authenticator on the apiserver's
// TokenReview API.
func NewTokenAuthenticator(client authnclient.AuthenticationV1Interface, o Options) (*TokenAuthenticator, error) {
	if len(o.Audiences) == 0 {
		// Without audiences the apiserver would accept its own tokens:
		// a token meant for kubectl must not open the MCP server.
		return nil, errors.New("auth: the token authenticator needs at least one audience")
	}
	o.setDefaults()
	req, _, err := authenticatorfactory.DelegatingAuthenticatorConfig{
		Anonymous:                &apiserver.AnonymousAuthConfig{Enabled: false},
		TokenAccessReviewClient:  client,
		TokenAccessReviewTimeout: o.Timeout,
		WebhookRetryBackoff:      o.RetryBackoff,
		CacheTTL:                 o.CacheTTL,
		APIAudiences:             o.Audiences,
	}.New()
	if err != nil {
		return nil, fmt.Errorf("auth: delegating authenticator: %w", err)
	}
	return &TokenAuthenticator{req: req, audiences: o.Audiences}, nil
}

// AuthenticateRequest returns the identity behind the request's bearer
// token: an error wrapping ErrUnauthenticated when the token is missing or
// refused, ErrUnavailable when no verdict could be had. On success the
// Authorization header is removed from r, so nothing behind the door sees
// the token.
func (a *TokenAuthenticator) AuthenticateRequest(r *http.Request) (Identity, error) {
	// The audiences in the request context are what TokenReview asks for
	// and what the answer is checked against. A server that set them in
	// its base context (WithAudiences) spares every request a copy.
	if !a.hasAudiences(r.Context()) {
		r = r.WithContext(a.WithAudiences(r.Context()))
	}
	resp, ok, err := a.req.AuthenticateRequest(r)
	switch {
	case ok:
		return identityOf(resp.User), nil
	case err == nil:
		return Identity{}, fmt.Errorf("%w: no bearer token", ErrUnauthenticated)
	case unavailable(err):
		return Identity{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	default:
		return Identity{}, fmt.Errorf("%w: %w", ErrUnauthenticated, err)
	}
}

// WithAudiences returns ctx carrying the audiences tokens are checked
// for; a server sets it in the base context of its requests.
func (a *TokenAuthenticator) WithAudiences(ctx context.Context) context.Context {
	return authenticator.WithAudiences(ctx, a.audiences)
}

func (a *TokenAuthenticator) hasAudiences(ctx context.Context) bool {
	auds, ok := authenticator.AudiencesFrom(ctx)
	return ok && slices.Equal(auds, a.audiences)
}

// unavailable tells an answer that could not be had (the apiserver
// unreachable, timing out, or answering with an error status) from a
// verdict: a refused token comes back as a plain error carrying the
// review's status.error, or as "invalid bearer token".
func unavailable(err error) bool {
	var agg utilerrors.Aggregate
	if errors.As(err, &agg) {
		for _, e := range agg.Errors() {
			if unavailable(e) {
				return true
			}
		}
		return false
	}
	var (
		status apierrors.APIStatus
		netErr net.Error
		urlErr *url.Error
	)
	return errors.As(err, &status) || errors.As(err, &netErr) || errors.As(err, &urlErr) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}
