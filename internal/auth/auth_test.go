package auth

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/wait"
)

// noRetry makes a failed review fail at once, so the tests need no sleep.
var noRetry = &wait.Backoff{Duration: time.Millisecond, Steps: 1}

func newAuth(t *testing.T, api *fakeAPI) (*TokenAuthenticator, *Authorizer) {
	t.Helper()
	authn, authz, err := New(api.config(), Options{Audiences: []string{testAudience}, RetryBackoff: noRetry})
	if err != nil {
		t.Fatal(err)
	}
	return authn, authz
}

func bearerRequest(token string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return r
}

func TestTokenAuthenticator(t *testing.T) {
	api := newFakeAPI(t)
	authn, _ := newAuth(t, api)

	r := bearerRequest("good")
	id, err := authn.AuthenticateRequest(r)
	if err != nil || id.Username != "system:serviceaccount:team-a:agent" || id.UID != "u1" || len(id.Groups) != 3 ||
		id.Extra["authentication.kubernetes.io/pod-name"][0] != "agent-7d9f8" {
		t.Fatalf("good token: %+v, %v", id, err)
	}
	if id.DefaultNamespace() != "team-a" {
		t.Errorf("default namespace = %q", id.DefaultNamespace())
	}
	if h := r.Header.Get("Authorization"); h != "" {
		t.Errorf("the token stays on the request after authentication: %q", h)
	}
	if _, err := authn.AuthenticateRequest(bearerRequest("good")); err != nil || api.tokenReviews.Load() != 1 {
		t.Fatalf("second call must come from the cache: %v (%d reviews)", err, api.tokenReviews.Load())
	}

	for _, c := range []struct{ name, token string }{
		{"no token", ""},
		{"garbage", "garbage"},
		{"accepted for another audience", "other-audience"},
	} {
		_, err := authn.AuthenticateRequest(bearerRequest(c.token))
		if !errors.Is(err, ErrUnauthenticated) || errors.Is(err, ErrUnavailable) {
			t.Errorf("%s: %v, want ErrUnauthenticated", c.name, err)
		}
	}
	if n := api.tokenReviews.Load(); n != 3 {
		t.Errorf("%d token reviews, want 3 (none for a request without a token)", n)
	}
}

// An apiserver that does not answer is no verdict on the token: the caller
// gets ErrUnavailable (503), and nothing is remembered, so the first call
// after it comes back succeeds.
func TestTokenAuthenticatorOutage(t *testing.T) {
	api := newFakeAPI(t)
	authn, _ := newAuth(t, api)
	api.down.Store(true)
	for i := range 2 {
		_, err := authn.AuthenticateRequest(bearerRequest("good"))
		if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("call %d while down: %v, want ErrUnavailable", i, err)
		}
	}
	if n := api.tokenReviews.Load(); n != 2 {
		t.Fatalf("%d reviews for two calls while down: an outage must not be cached", n)
	}
	api.down.Store(false)
	if _, err := authn.AuthenticateRequest(bearerRequest("good")); err != nil {
		t.Fatalf("after the outage: %v", err)
	}

	// Nothing listening at all.
	api.srv.Close()
	if _, err := authn.AuthenticateRequest(bearerRequest("fresh-token")); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("apiserver gone: %v, want ErrUnavailable", err)
	}
}

// Concurrent calls with the same token, none cached yet, cost one review
// (the delegating authenticator's singleflight).
func TestConcurrentIdenticalCallsOneReview(t *testing.T) {
	api := newFakeAPI(t)
	api.delay = 200 * time.Millisecond
	authn, _ := newAuth(t, api)
	var g errgroup.Group
	for range 20 {
		g.Go(func() error {
			_, err := authn.AuthenticateRequest(bearerRequest("good"))
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if n := api.tokenReviews.Load(); n != 1 {
		t.Fatalf("20 concurrent identical calls made %d token reviews, want 1", n)
	}
}

func TestAuthorizer(t *testing.T) {
	api := newFakeAPI(t)
	authn, authz := newAuth(t, api)
	id, err := authn.AuthenticateRequest(bearerRequest("good"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	if err := authz.Authorize(ctx, id, VerbUpdate, "team-a", "debug"); err != nil {
		t.Fatal(err)
	}
	s := api.lastAccess.Load()
	if s.User != id.Username || s.UID != "u1" || len(s.Groups) != 3 || s.Extra["authentication.kubernetes.io/pod-uid"][0] == "" ||
		s.ResourceAttributes.Group != "sessions.mcp.dev" || s.ResourceAttributes.Resource != "mcpsessions" ||
		s.ResourceAttributes.Name != "debug" || s.ResourceAttributes.Verb != VerbUpdate || s.ResourceAttributes.Namespace != "team-a" {
		t.Fatalf("review sent = %+v %+v", s, s.ResourceAttributes)
	}
	if err := authz.Authorize(ctx, id, VerbUpdate, "team-a", "debug"); err != nil || api.accessReviews.Load() != 1 {
		t.Fatalf("an allowed answer is cached: %v (%d reviews)", err, api.accessReviews.Load())
	}
	// Built by hand (stdio, tests): the same question, the same answer.
	byHand := Identity{Username: id.Username, UID: id.UID, Groups: id.Groups, Extra: id.Extra}
	if err := authz.Authorize(ctx, byHand, VerbUpdate, "team-a", "debug"); err != nil || api.accessReviews.Load() != 1 {
		t.Fatalf("an identity built by hand asks the same question: %v (%d reviews)", err, api.accessReviews.Load())
	}

	err = authz.Authorize(ctx, id, VerbGet, "team-b", "secret")
	var fb *Forbidden
	if !errors.As(err, &fb) || err.Error() != `forbidden: system:serviceaccount:team-a:agent cannot get mcpsessions/secret in namespace "team-b": no RBAC rule matched` {
		t.Fatalf("denied: %v", err)
	}
	n := api.accessReviews.Load()
	if err := authz.Authorize(ctx, id, VerbGet, "team-b", "secret"); !errors.As(err, &fb) || api.accessReviews.Load() != n {
		t.Fatalf("a denial is cached too: %v", err)
	}
	if err := authz.Authorize(ctx, id, VerbList, "team-b", ""); err == nil || !strings.Contains(err.Error(), "cannot list mcpsessions in") {
		t.Fatalf("collection denial: %v", err)
	}
	n = api.accessReviews.Load()
	for range 2 {
		if err := authz.Authorize(ctx, id, VerbGet, "broken", "x"); err == nil || errors.As(err, &fb) {
			t.Fatalf("an apiserver error must not read as a denial: %v", err)
		}
	}
	if got := api.accessReviews.Load() - n; got != 2 {
		t.Fatalf("%d reviews for two failed calls: a failure must not be cached", got)
	}
	n = api.accessReviews.Load()
	if err := authz.Authorize(ctx, LocalIdentity, VerbDelete, "anything", "x"); err != nil || api.accessReviews.Load() != n {
		t.Fatalf("unrestricted: %v", err)
	}
}

type fakeAuthn map[string]Identity

func (f fakeAuthn) AuthenticateRequest(r *http.Request) (Identity, error) {
	token, _ := bearerToken(r.Header.Get("Authorization"))
	if token == "boom" {
		return Identity{}, fmt.Errorf("%w: connection refused", ErrUnavailable)
	}
	if id, ok := f[token]; ok {
		return id, nil
	}
	return Identity{}, ErrUnauthenticated
}

func TestMiddleware(t *testing.T) {
	meta, err := NewResourceMetadata("https://mcp.example.com/mcp", []string{"https://issuer.example.com"}, "/mcp")
	if err != nil {
		t.Fatal(err)
	}
	var seen Identity
	h := Middleware(fakeAuthn{"good": {Username: "alice"}}, meta, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, _ = FromContext(r.Context())
		w.WriteHeader(http.StatusNoContent)
	}))
	const metaURL = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
	for _, c := range []struct {
		header  string
		code    int
		errCode string // the challenge's error parameter
	}{
		{"", http.StatusUnauthorized, ""},
		{"Bearer", http.StatusUnauthorized, ""},
		{"Bearer ", http.StatusUnauthorized, ""},
		{"Basic YTpi", http.StatusUnauthorized, ""},
		{"Bearer nope", http.StatusUnauthorized, "invalid_token"},
		{"Bearer boom", http.StatusServiceUnavailable, ""},
		{"Bearer good", http.StatusNoContent, ""},
		{"bearer good", http.StatusNoContent, ""},
	} {
		seen = Identity{}
		req := httptest.NewRequest(http.MethodPost, "/mcp", nil)
		if c.header != "" {
			req.Header.Set("Authorization", c.header)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.code {
			t.Errorf("%q: %d, want %d", c.header, rec.Code, c.code)
		}
		if (c.code == http.StatusNoContent) != (seen.Username == "alice") {
			t.Errorf("%q: identity passed on = %+v", c.header, seen)
		}
		switch c.code {
		case http.StatusUnauthorized:
			chs, err := oauthex.ParseWWWAuthenticate(rec.Header().Values("WWW-Authenticate"))
			if err != nil || len(chs) != 1 || chs[0].Scheme != "bearer" || chs[0].Params["resource_metadata"] != metaURL || chs[0].Params["error"] != c.errCode {
				t.Errorf("%q: challenge %q (%+v, %v)", c.header, rec.Header().Get("WWW-Authenticate"), chs, err)
			}
		case http.StatusServiceUnavailable:
			if rec.Header().Get("WWW-Authenticate") != "" || rec.Header().Get("Retry-After") == "" || strings.Contains(rec.Body.String(), "refused") {
				t.Errorf("%q: 503 with headers %v and body %q: want Retry-After, no challenge, no internals", c.header, rec.Header(), rec.Body)
			}
		}
	}
}

func TestResourceMetadata(t *testing.T) {
	derived, err := NewResourceMetadata("", nil, "/mcp")
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8090/.well-known/oauth-protected-resource/mcp", nil)
	if got := derived.URL(r); got != "http://127.0.0.1:8090/.well-known/oauth-protected-resource/mcp" {
		t.Errorf("derived metadata URL = %s", got)
	}
	r.TLS = &tlsState
	if got := derived.Resource(r).String(); got != "https://127.0.0.1:8090/mcp" {
		t.Errorf("derived resource over TLS = %s", got)
	}

	fixed, err := NewResourceMetadata("https://mcp.example.com/team/mcp", []string{"https://issuer.example.com", "https://accounts.example.org/tenant"}, "/mcp")
	if err != nil {
		t.Fatal(err)
	}
	if got := fixed.URL(r); got != "https://mcp.example.com/.well-known/oauth-protected-resource/team/mcp" {
		t.Errorf("configured metadata URL = %s", got)
	}
	rec := httptest.NewRecorder()
	fixed.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, WellKnownPath+"/mcp", nil))
	body, _ := io.ReadAll(rec.Body)
	want := `{"resource":"https://mcp.example.com/team/mcp","authorization_servers":["https://issuer.example.com","https://accounts.example.org/tenant"],"bearer_methods_supported":["header"],"resource_name":"mcp-session-operator"}`
	if rec.Code != http.StatusOK || strings.TrimSpace(string(body)) != want || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("document: %d %s\n%s", rec.Code, rec.Header(), body)
	}

	for _, c := range []struct {
		resource string
		servers  []string
	}{
		{"mcp.example.com/mcp", nil},
		{"ftp://mcp.example.com/mcp", nil},
		{"https://mcp.example.com/mcp?x=1", nil},
		{"https://mcp.example.com/mcp#frag", nil},
		{"", []string{"issuer.example.com"}},
		{"", []string{"https://"}},
	} {
		if _, err := NewResourceMetadata(c.resource, c.servers, "/mcp"); err == nil {
			t.Errorf("NewResourceMetadata(%q, %q) accepted", c.resource, c.servers)
		}
	}
}

func TestUnavailable(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{errors.New("invalid bearer token"), false},
		{utilerrors.NewAggregate([]error{errors.New("[invalid bearer token, token audiences do not match]")}), false},
		{apierrors.NewServiceUnavailable("down"), true},
		{apierrors.NewForbidden(schema.GroupResource{Group: "authentication.k8s.io", Resource: "tokenreviews"}, "", errors.New("no")), true},
		{&url.Error{Op: "Post", URL: "https://10.0.0.1/", Err: errors.New("connection refused")}, true},
		{utilerrors.NewAggregate([]error{fmt.Errorf("review: %w", context.DeadlineExceeded)}), true},
	} {
		if got := unavailable(c.err); got != c.want {
			t.Errorf("unavailable(%v) = %v", c.err, got)
		}
	}
}

func TestAnonymousAndDefaultNamespace(t *testing.T) {
	var seen Identity
	Anonymous(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen, _ = FromContext(r.Context()) })).
		ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/mcp", nil))
	if !seen.Unrestricted || seen.Username != "local-user" {
		t.Fatalf("anonymous identity = %+v", seen)
	}
	if _, ok := FromContext(context.Background()); ok {
		t.Fatal("identity from an empty context")
	}
	for user, ns := range map[string]string{
		"system:serviceaccount:team-a:agent": "team-a",
		"system:serviceaccount::agent":       "default",
		"system:serviceaccount:team-a":       "default",
		"alice@example.com":                  "default",
		"":                                   "default",
	} {
		if got := (Identity{Username: user}).DefaultNamespace(); got != ns {
			t.Errorf("DefaultNamespace(%q) = %q, want %q", user, got, ns)
		}
	}
}

func TestNewTokenAuthenticatorNeedsAnAudience(t *testing.T) {
	api := newFakeAPI(t)
	if _, _, err := New(api.config(), Options{}); err == nil {
		t.Fatal("an authenticator without audiences would accept the apiserver's own tokens")
	}
}

var tlsState = tls.ConnectionState{}

// An allowed answer is remembered no longer than the allow TTL: after it,
// the apiserver is asked again (a revoked binding takes effect).
func TestAllowedAnswerExpires(t *testing.T) {
	api := newFakeAPI(t)
	authn, authz, err := New(api.config(), Options{Audiences: []string{testAudience}, RetryBackoff: noRetry, AllowTTL: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	id, err := authn.AuthenticateRequest(bearerRequest("good"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 3 {
		if err := authz.Authorize(ctx, id, VerbUpdate, "team-a", "debug"); err != nil {
			t.Fatal(err)
		}
	}
	if n := api.accessReviews.Load(); n != 1 {
		t.Fatalf("%d reviews for three calls within the allow TTL, want 1", n)
	}
	time.Sleep(100 * time.Millisecond)
	if err := authz.Authorize(ctx, id, VerbUpdate, "team-a", "debug"); err != nil {
		t.Fatal(err)
	}
	if n := api.accessReviews.Load(); n != 2 {
		t.Fatalf("%d reviews after the allow TTL, want 2: the answer outlived it", n)
	}
}
