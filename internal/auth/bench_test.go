package auth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// reviewServer answers TokenReviews and SubjectAccessReviews over real
// HTTP, as the apiserver would for a bound service account, and counts
// them. The benchmark measures what the auth path costs per MCP call once
// the answers are cached (the steady state of an agent calling tools).
func reviewServer(tb testing.TB) (*kubernetes.Clientset, *atomic.Int64) {
	tb.Helper()
	var reviews atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reviews.Add(1)
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/apis/authentication.k8s.io/v1/tokenreviews":
			var tr authnv1.TokenReview
			_ = json.NewDecoder(r.Body).Decode(&tr)
			tr.APIVersion, tr.Kind = "authentication.k8s.io/v1", "TokenReview"
			tr.Status = authnv1.TokenReviewStatus{Authenticated: tr.Spec.Token == benchToken, Audiences: tr.Spec.Audiences, User: authnv1.UserInfo{
				Username: "system:serviceaccount:team-a:agent", UID: "u1",
				Groups: []string{"system:serviceaccounts", "system:serviceaccounts:team-a", "system:authenticated"},
				Extra: map[string]authnv1.ExtraValue{
					"authentication.kubernetes.io/credential-id": {"JTI=0f7d6b7e-7a1c-4c59-9d0e-2f1f2d4d6a11"},
					"authentication.kubernetes.io/pod-name":      {"agent-7d9f8"},
					"authentication.kubernetes.io/pod-uid":       {"5b0f1c3e-8a9d-4f2e-b6a7-1c2d3e4f5a6b"},
				},
			}}
			_ = json.NewEncoder(w).Encode(&tr)
		case "/apis/authorization.k8s.io/v1/subjectaccessreviews":
			var sar authzv1.SubjectAccessReview
			_ = json.NewDecoder(r.Body).Decode(&sar)
			sar.APIVersion, sar.Kind = "authorization.k8s.io/v1", "SubjectAccessReview"
			sar.Status.Allowed = true
			_ = json.NewEncoder(w).Encode(&sar)
		default:
			http.NotFound(w, r)
		}
	}))
	tb.Cleanup(srv.Close)
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL, QPS: -1, ContentConfig: rest.ContentConfig{ContentType: "application/json", AcceptContentTypes: "application/json"}})
	if err != nil {
		tb.Fatal(err)
	}
	return cs, &reviews
}

// benchToken is as long as a projected service-account token (a JWT of
// about 1 KB): hashing it is part of every cached lookup.
var benchToken = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImJlbmNoIn0." + strings.Repeat("eyJhdWQiOlsibWNwLXNlc3Npb24tb3BlcmF0b3IiXX0", 18) + "." + strings.Repeat("c2lnbmF0dXJl", 29)

// BenchmarkAuthPath is one MCP call's authentication (the HTTP middleware)
// and authorisation (one access review) with both answers cached, serial
// and from many goroutines at once.
//
//	go test ./internal/auth -run '^$' -bench BenchmarkAuthPath -benchmem
func BenchmarkAuthPath(b *testing.B) {
	cs, reviews := reviewServer(b)
	authn := NewTokenAuthenticator(cs.AuthenticationV1().TokenReviews(), []string{"mcp-session-operator"}, 10*time.Second)
	authz := NewAuthorizer(cs.AuthorizationV1().SubjectAccessReviews(), 10*time.Second)
	h := Middleware(authn, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := FromContext(r.Context())
		if err := authz.Authorize(r.Context(), id, VerbUpdate, "team-a", "debug-memory-leak"); err != nil {
			b.Error(err)
		}
	}))
	call := func(w *discard, req *http.Request) {
		req.Header.Set("Authorization", "Bearer "+benchToken)
		w.code = http.StatusOK
		h.ServeHTTP(w, req)
		if w.code != http.StatusOK {
			b.Fatalf("status %d", w.code)
		}
	}
	newReq := func() *http.Request { return httptest.NewRequest(http.MethodPost, "/mcp", nil) }
	call(&discard{header: http.Header{}}, newReq()) // fill the caches
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		w, req := &discard{header: http.Header{}}, newReq()
		for b.Loop() {
			call(w, req)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			w, req := &discard{header: http.Header{}}, newReq()
			for pb.Next() {
				call(w, req)
			}
		})
	})
	b.ReportMetric(float64(reviews.Load()), "reviews")
}

// discard is a ResponseWriter that keeps only the status, so the benchmark
// measures the auth path rather than a recorder's buffers.
type discard struct {
	header http.Header
	code   int
}

func (d *discard) Header() http.Header         { return d.header }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(code int)        { d.code = code }
