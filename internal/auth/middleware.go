package auth

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/log"
)

// Authenticator turns a request's bearer token into an identity:
// ErrUnauthenticated when there is none or it is refused, ErrUnavailable
// when no verdict could be had. *TokenAuthenticator is the real one.
type Authenticator interface {
	AuthenticateRequest(r *http.Request) (Identity, error)
}

// Middleware lets through requests whose bearer token authenticates,
// passing the caller's identity to next in the request context. The others
// get 401 with a WWW-Authenticate challenge (RFC 6750) naming the
// protected-resource metadata (RFC 9728), as the MCP authorization spec
// asks, or 503 when the apiserver could not be asked.
//
// The go-sdk's auth.RequireBearerToken would answer the second case with
// 500 and the review's error text, and takes one fixed metadata URL; this
// middleware keeps the go-sdk's challenge format and metadata document
// (see ResourceMetadata) without either.
func Middleware(authn Authenticator, meta *ResourceMetadata, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := bearerToken(r.Header.Get("Authorization")); !ok {
			meta.challenge(w, r, "")
			http.Error(w, "missing bearer token: send Authorization: Bearer <token>; see "+meta.URL(r), http.StatusUnauthorized)
			return
		}
		id, err := authn.AuthenticateRequest(r)
		switch {
		case err == nil:
			next.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), id)))
		case errors.Is(err, ErrUnauthenticated):
			meta.challenge(w, r, "invalid_token")
			http.Error(w, "invalid bearer token: not accepted for this server's audience, expired or malformed", http.StatusUnauthorized)
		default:
			// Not the caller's fault and not a verdict on the token:
			// retryable, and never remembered.
			log.FromContext(r.Context()).Error(err, "authenticating an MCP request")
			w.Header().Set("Retry-After", "1")
			http.Error(w, "authentication unavailable: the Kubernetes API did not answer the token review; retry shortly", http.StatusServiceUnavailable)
		}
	})
}

// Anonymous marks every request as the unrestricted local user; for
// --auth=none on a loopback address only.
func Anonymous(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), LocalIdentity)))
	})
}

// LocalIdentity is the caller of stdio and --auth=none servers.
var LocalIdentity = Identity{Username: "local-user", Unrestricted: true}

// bearerToken returns the token of an "Authorization: Bearer <token>"
// header, parsed as the apiserver parses it.
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return token, token != ""
}

// challenge sets the WWW-Authenticate header of a 401: where the
// protected-resource metadata is, and for a refused token the RFC 6750
// error code.
func (m *ResourceMetadata) challenge(w http.ResponseWriter, r *http.Request, errCode string) {
	v := fmt.Sprintf("Bearer resource_metadata=%q", m.URL(r))
	if errCode != "" {
		v += fmt.Sprintf(", error=%q", errCode)
	}
	w.Header().Set("WWW-Authenticate", v)
}
