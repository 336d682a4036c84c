package bridge

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
)

// TokenSource gives the bearer token for the next request.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// FileToken reads the token from a file for every request, as a projected
// service-account token is rotated in place by the kubelet.
type FileToken string

// Token reads the file.
func (f FileToken) Token(context.Context) (string, error) {
	data, err := os.ReadFile(string(f))
	if err != nil {
		return "", fmt.Errorf("reading the token: %w", err)
	}
	token := strings.TrimSpace(string(data))
	if token == "" {
		return "", fmt.Errorf("the token file %s is empty", f)
	}
	return token, nil
}

// DefaultTokenExpiration is how long a token minted by TokenRequest is
// asked to live (the apiserver may shorten or lengthen it).
const DefaultTokenExpiration = time.Hour

// TokenRequest mints tokens for a service account with the TokenRequest
// API, with the credentials of the user's kubeconfig, and refreshes them
// ahead of expiry: once 80% of a token's life has passed, the next request
// mints a new one. Requests in flight keep the token they started with,
// which is still valid, so no call is dropped; and if minting fails while
// the current token is still valid, the current one is used and the
// failure logged.
type TokenRequest struct {
	// ServiceAccounts is the user's client for service accounts.
	ServiceAccounts corev1client.ServiceAccountsGetter
	// Namespace and Name of the service account.
	Namespace, Name string
	// Audience the token is issued for (the server's).
	Audience string
	// Expiration asked for (default DefaultTokenExpiration).
	Expiration time.Duration
	// Clock decides when to refresh (default: the real clock).
	Clock clock.PassiveClock
	// Log reports a failed refresh that did not stop the call.
	Log *slog.Logger

	mu        sync.Mutex
	token     string
	expiry    time.Time
	refreshAt time.Time
}

// Token returns a valid token, minting one when none is held or the held
// one is due for refresh.
func (t *TokenRequest) Token(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.clock().Now()
	if t.token != "" && now.Before(t.refreshAt) {
		return t.token, nil
	}
	token, expiry, err := t.mint(ctx)
	if err != nil {
		if t.token != "" && now.Before(t.expiry) {
			if t.Log != nil {
				t.Log.Warn("refreshing the token failed; using the current one until it expires", "expires", t.expiry, "error", err.Error())
			}
			return t.token, nil
		}
		return "", err
	}
	t.token, t.expiry = token, expiry
	t.refreshAt = now.Add(expiry.Sub(now) * 4 / 5)
	return token, nil
}

func (t *TokenRequest) clock() clock.PassiveClock {
	if t.Clock == nil {
		return clock.RealClock{}
	}
	return t.Clock
}

// mint asks for a new token.
func (t *TokenRequest) mint(ctx context.Context) (string, time.Time, error) {
	exp := t.Expiration
	if exp <= 0 {
		exp = DefaultTokenExpiration
	}
	tr, err := t.ServiceAccounts.ServiceAccounts(t.Namespace).CreateToken(ctx, t.Name, &authnv1.TokenRequest{
		Spec: authnv1.TokenRequestSpec{Audiences: []string{t.Audience}, ExpirationSeconds: ptr.To(int64(exp / time.Second))},
	}, metav1.CreateOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return "", time.Time{}, fmt.Errorf("service account %s/%s not found (--service-account NAMESPACE/NAME)", t.Namespace, t.Name)
	case apierrors.IsForbidden(err):
		return "", time.Time{}, fmt.Errorf("your kubeconfig's credentials may not mint tokens for service account %s/%s (RBAC: create serviceaccounts/token in %s): %w",
			t.Namespace, t.Name, t.Namespace, err)
	case err != nil:
		return "", time.Time{}, fmt.Errorf("minting a token for service account %s/%s: %w", t.Namespace, t.Name, err)
	}
	return tr.Status.Token, tr.Status.ExpirationTimestamp.Time, nil
}
