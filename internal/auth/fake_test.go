package auth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	"k8s.io/client-go/rest"
)

// fakeAPI answers TokenReviews and SubjectAccessReviews over real HTTP as
// the apiserver does, and counts them: enough for the unit tests and the
// benchmark of this package. The real apiserver is exercised by the MCP
// server's integration tests.
//
// Tokens: benchToken and "good" belong to a service account of team-a,
// valid for the audience asked for; "other-audience" is accepted but for
// the apiserver's own audience (a webhook that ignores audiences); any
// other token is refused. Access: get and update in team-a are allowed,
// anything else denied; namespace "broken" answers 500.
type fakeAPI struct {
	tokenReviews, accessReviews atomic.Int64
	// down makes every review answer 503, as an apiserver going away.
	down atomic.Bool
	// delay holds every token review this long, so concurrent calls
	// overlap.
	delay time.Duration
	// lastAccess is the spec of the last SubjectAccessReview.
	lastAccess atomic.Pointer[authzv1.SubjectAccessReviewSpec]
	srv        *httptest.Server
}

const testAudience = "mcp-session-operator"

func newFakeAPI(tb testing.TB) *fakeAPI {
	tb.Helper()
	f := &fakeAPI{}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	tb.Cleanup(f.srv.Close)
	return f
}

// config is a client configuration for the fake (JSON, no rate limit).
func (f *fakeAPI) config() *rest.Config {
	return &rest.Config{Host: f.srv.URL, QPS: -1, ContentConfig: rest.ContentConfig{ContentType: "application/json", AcceptContentTypes: "application/json"}}
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/apis/authentication.k8s.io/v1/tokenreviews":
		f.tokenReviews.Add(1)
		time.Sleep(f.delay)
		if f.down.Load() {
			unavailableStatus(w)
			return
		}
		var tr authnv1.TokenReview
		_ = json.NewDecoder(r.Body).Decode(&tr)
		tr.APIVersion, tr.Kind = "authentication.k8s.io/v1", "TokenReview"
		switch tr.Spec.Token {
		case benchToken, "good":
			if slices.Contains(tr.Spec.Audiences, testAudience) {
				tr.Status = authnv1.TokenReviewStatus{Authenticated: true, Audiences: []string{testAudience}, User: agentUser}
			} else {
				tr.Status = authnv1.TokenReviewStatus{Error: "token audiences do not match"}
			}
		case "other-audience":
			tr.Status = authnv1.TokenReviewStatus{Authenticated: true, Audiences: []string{"https://kubernetes.default.svc"}, User: agentUser}
		default:
			tr.Status = authnv1.TokenReviewStatus{Error: "invalid bearer token"}
		}
		_ = json.NewEncoder(w).Encode(&tr)
	case "/apis/authorization.k8s.io/v1/subjectaccessreviews":
		f.accessReviews.Add(1)
		var sar authzv1.SubjectAccessReview
		_ = json.NewDecoder(r.Body).Decode(&sar)
		f.lastAccess.Store(&sar.Spec)
		ra := sar.Spec.ResourceAttributes
		if f.down.Load() || ra.Namespace == "broken" {
			unavailableStatus(w)
			return
		}
		sar.APIVersion, sar.Kind = "authorization.k8s.io/v1", "SubjectAccessReview"
		sar.Status.Allowed = ra.Namespace == "team-a" && ra.Group == "sessions.mcp.dev" && ra.Resource == "mcpsessions" &&
			(ra.Verb == VerbGet || ra.Verb == VerbUpdate)
		if !sar.Status.Allowed {
			sar.Status.Reason = "no RBAC rule matched"
		}
		_ = json.NewEncoder(w).Encode(&sar)
	default:
		http.NotFound(w, r)
	}
}

func unavailableStatus(w http.ResponseWriter) {
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"the server is currently unable to handle the request","reason":"ServiceUnavailable","code":503}`))
}

// agentUser is what TokenReview says about a projected service-account
// token of team-a's agent.
var agentUser = authnv1.UserInfo{
	Username: "system:serviceaccount:team-a:agent", UID: "u1",
	Groups: []string{"system:serviceaccounts", "system:serviceaccounts:team-a", "system:authenticated"},
	Extra: map[string]authnv1.ExtraValue{
		"authentication.kubernetes.io/credential-id": {"JTI=0f7d6b7e-7a1c-4c59-9d0e-2f1f2d4d6a11"},
		"authentication.kubernetes.io/pod-name":      {"agent-7d9f8"},
		"authentication.kubernetes.io/pod-uid":       {"5b0f1c3e-8a9d-4f2e-b6a7-1c2d3e4f5a6b"},
	},
}

// benchToken is as long as a projected service-account token (a JWT of
// about 1 KB): hashing it is part of every cached lookup.
var benchToken = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImJlbmNoIn0." + strings.Repeat("eyJhdWQiOlsibWNwLXNlc3Npb24tb3BlcmF0b3IiXX0", 18) + "." + strings.Repeat("c2lnbmF0dXJl", 29)
