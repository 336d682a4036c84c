package auth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// reviewer fakes the apiserver's TokenReview and SubjectAccessReview APIs,
// counting calls so caching can be checked. (The real APIs are exercised by
// the MCP server's integration tests against a real apiserver.)
type reviewer struct {
	cs    *fake.Clientset
	calls atomic.Int32
}

func newReviewer(answer func(obj runtime.Object) (runtime.Object, error)) *reviewer {
	r := &reviewer{cs: fake.NewClientset()}
	r.cs.PrependReactor("create", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		r.calls.Add(1)
		obj, err := answer(a.(k8stesting.CreateAction).GetObject())
		return true, obj, err
	})
	return r
}

func tokenAnswer(tr *authnv1.TokenReview) *authnv1.TokenReview {
	switch tr.Spec.Token {
	case "good":
		tr.Status = authnv1.TokenReviewStatus{Authenticated: true, Audiences: tr.Spec.Audiences, User: authnv1.UserInfo{
			Username: "system:serviceaccount:team-a:agent", UID: "u1", Groups: []string{"system:serviceaccounts"},
			Extra: map[string]authnv1.ExtraValue{"authentication.kubernetes.io/credential-id": {"JTI=1"}},
		}}
	case "other-audience":
		tr.Status = authnv1.TokenReviewStatus{Authenticated: true, Audiences: []string{"https://kubernetes.default.svc"}, User: authnv1.UserInfo{Username: "x"}}
	default:
		tr.Status = authnv1.TokenReviewStatus{Authenticated: false, Error: "invalid bearer token"}
	}
	return tr
}

func TestTokenAuthenticator(t *testing.T) {
	var fail atomic.Bool
	r := newReviewer(func(obj runtime.Object) (runtime.Object, error) {
		if fail.Load() {
			return nil, errors.New("apiserver unavailable")
		}
		return tokenAnswer(obj.(*authnv1.TokenReview)), nil
	})
	a := NewTokenAuthenticator(r.cs.AuthenticationV1().TokenReviews(), []string{"mcp-session-operator"}, time.Minute)
	ctx := context.Background()

	if _, err := a.Authenticate(ctx, ""); !errors.Is(err, ErrUnauthenticated) || r.calls.Load() != 0 {
		t.Fatalf("empty token: %v (%d reviews)", err, r.calls.Load())
	}
	id, err := a.Authenticate(ctx, "good")
	if err != nil || id.Username != "system:serviceaccount:team-a:agent" || id.UID != "u1" || len(id.Groups) != 1 || id.Extra["authentication.kubernetes.io/credential-id"][0] != "JTI=1" {
		t.Fatalf("good token: %+v, %v", id, err)
	}
	if id.DefaultNamespace() != "team-a" {
		t.Errorf("default namespace = %q", id.DefaultNamespace())
	}
	if _, err := a.Authenticate(ctx, "good"); err != nil || r.calls.Load() != 1 {
		t.Fatalf("second call must come from the cache: %v (%d reviews)", err, r.calls.Load())
	}
	if _, err := a.Authenticate(ctx, "garbage"); !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), "invalid bearer token") {
		t.Fatalf("garbage token: %v", err)
	}
	if _, err := a.Authenticate(ctx, "garbage"); !errors.Is(err, ErrUnauthenticated) || r.calls.Load() != 2 {
		t.Fatalf("a refusal is cached too: %v (%d reviews)", err, r.calls.Load())
	}
	// Accepted, but for another audience (a webhook that ignores audiences).
	if _, err := a.Authenticate(ctx, "other-audience"); !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), "audience") {
		t.Fatalf("token for another audience: %v", err)
	}
	// An apiserver error is not a verdict: not ErrUnauthenticated, not cached.
	fail.Store(true)
	before := r.calls.Load()
	for range 2 {
		if _, err := a.Authenticate(ctx, "new-token"); err == nil || errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("apiserver error: %v", err)
		}
	}
	if r.calls.Load() != before+2 {
		t.Fatalf("errors must not be cached: %d reviews", r.calls.Load()-before)
	}
}

func TestAudienceMatches(t *testing.T) {
	for _, c := range []struct {
		want, got []string
		ok        bool
	}{
		{nil, nil, true},
		{nil, []string{"x"}, true},
		{[]string{"a"}, []string{"a"}, true},
		{[]string{"a", "b"}, []string{"c", "b"}, true},
		{[]string{"a"}, nil, false},
		{[]string{"a"}, []string{"b"}, false},
	} {
		if got := audienceMatches(c.want, c.got); got != c.ok {
			t.Errorf("audienceMatches(%v, %v) = %v", c.want, c.got, got)
		}
	}
}

func TestAuthorizer(t *testing.T) {
	var last atomic.Pointer[authzv1.SubjectAccessReviewSpec]
	r := newReviewer(func(obj runtime.Object) (runtime.Object, error) {
		sar := obj.(*authzv1.SubjectAccessReview)
		spec := sar.Spec
		last.Store(&spec)
		ra := sar.Spec.ResourceAttributes
		if ra.Namespace == "broken" {
			return nil, errors.New("apiserver unavailable")
		}
		sar.Status.Allowed = ra.Namespace == "team-a" && (ra.Verb == VerbGet || ra.Verb == VerbUpdate)
		if !sar.Status.Allowed {
			sar.Status.Reason = "no RBAC rule matched"
		}
		return sar, nil
	})
	z := NewAuthorizer(r.cs.AuthorizationV1().SubjectAccessReviews(), time.Minute)
	ctx := context.Background()
	id := Identity{Username: "system:serviceaccount:team-a:agent", UID: "u1", Groups: []string{"b", "a"}, Extra: map[string][]string{"k": {"v1"}}}

	if err := z.Authorize(ctx, id, VerbUpdate, "team-a", "debug"); err != nil {
		t.Fatal(err)
	}
	s := last.Load()
	if s.User != id.Username || s.UID != "u1" || len(s.Groups) != 2 || s.Extra["k"][0] != "v1" ||
		s.ResourceAttributes.Group != "sessions.mcp.dev" || s.ResourceAttributes.Resource != "mcpsessions" || s.ResourceAttributes.Name != "debug" {
		t.Fatalf("review sent = %+v %+v", s, s.ResourceAttributes)
	}
	// Same question, groups in another order: cached.
	id2 := id
	id2.Groups = []string{"a", "b"}
	if err := z.Authorize(ctx, id2, VerbUpdate, "team-a", "debug"); err != nil || r.calls.Load() != 1 {
		t.Fatalf("cached answer: %v (%d reviews)", err, r.calls.Load())
	}
	// Different extra: a different question.
	id3 := id
	id3.Extra = map[string][]string{"k": {"v2"}}
	if err := z.Authorize(ctx, id3, VerbUpdate, "team-a", "debug"); err != nil || r.calls.Load() != 2 {
		t.Fatalf("extra must be part of the cache key: %v (%d reviews)", err, r.calls.Load())
	}

	err := z.Authorize(ctx, id, VerbGet, "team-b", "secret")
	var fb *Forbidden
	if !errors.As(err, &fb) || err.Error() != `forbidden: system:serviceaccount:team-a:agent cannot get mcpsessions/secret in namespace "team-b": no RBAC rule matched` {
		t.Fatalf("denied: %v", err)
	}
	n := r.calls.Load()
	if err := z.Authorize(ctx, id, VerbGet, "team-b", "secret"); !errors.As(err, &fb) || r.calls.Load() != n {
		t.Fatalf("denials are cached: %v", err)
	}
	if err := z.Authorize(ctx, id, VerbList, "team-b", ""); err == nil || !strings.Contains(err.Error(), "cannot list mcpsessions in") {
		t.Fatalf("collection denial: %v", err)
	}
	if err := z.Authorize(ctx, id, VerbGet, "broken", "x"); err == nil || errors.As(err, &fb) {
		t.Fatalf("apiserver error must not read as a denial: %v", err)
	}
	n = r.calls.Load()
	if err := z.Authorize(ctx, Identity{Username: "local-user", Unrestricted: true}, VerbDelete, "anything", "x"); err != nil || r.calls.Load() != n {
		t.Fatalf("unrestricted: %v", err)
	}
}

type fakeAuthn map[string]Identity

func (f fakeAuthn) Authenticate(_ context.Context, token string) (Identity, error) {
	if token == "boom" {
		return Identity{}, errors.New("apiserver unavailable")
	}
	if id, ok := f[token]; ok {
		return id, nil
	}
	return Identity{}, ErrUnauthenticated
}

func TestMiddleware(t *testing.T) {
	var seen Identity
	h := Middleware(fakeAuthn{"good": {Username: "alice"}}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, _ = FromContext(r.Context())
		w.WriteHeader(http.StatusNoContent)
	}))
	for _, c := range []struct {
		header string
		code   int
	}{
		{"", http.StatusUnauthorized},
		{"Bearer", http.StatusUnauthorized},
		{"Bearer ", http.StatusUnauthorized},
		{"Basic YTpi", http.StatusUnauthorized},
		{"Bearer nope", http.StatusUnauthorized},
		{"Bearer boom", http.StatusServiceUnavailable},
		{"Bearer good", http.StatusNoContent},
		{"bearer good", http.StatusNoContent},
		{"Bearer  good ", http.StatusNoContent},
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
		if c.code == http.StatusUnauthorized && !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%q: no WWW-Authenticate challenge", c.header)
		}
		if (c.code == http.StatusNoContent) != (seen.Username == "alice") {
			t.Errorf("%q: identity passed on = %+v", c.header, seen)
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
