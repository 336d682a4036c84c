package auth

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/log"
)

// Authenticator turns a bearer token into an identity.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (Identity, error)
}

// Middleware rejects requests without a valid bearer token with 401 and a
// WWW-Authenticate challenge (RFC 6750), and passes the caller's identity to
// next in the request context.
func Middleware(authn Authenticator, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			unauthorized(w, "missing bearer token: send Authorization: Bearer <service-account token>")
			return
		}
		id, err := authn.Authenticate(r.Context(), token)
		if err != nil {
			if errors.Is(err, ErrUnauthenticated) {
				unauthorized(w, "invalid bearer token")
				return
			}
			log.FromContext(r.Context()).Error(err, "authenticating MCP request")
			http.Error(w, "authentication unavailable", http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), id)))
	})
}

// Anonymous marks every request as the unrestricted local user; for
// --auth=none on a loopback address only.
func Anonymous(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := Identity{Username: "local-user", Unrestricted: true}
		next.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), id)))
	})
}

func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

func unauthorized(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="mcp-session-operator"`)
	http.Error(w, msg, http.StatusUnauthorized)
}
