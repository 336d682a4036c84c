package auth

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkAuthPath measures what the auth path costs per MCP call in the
// steady state of an agent calling tools: one call's authentication (the
// HTTP middleware) and authorisation (one access review), both answers
// cached, serial and from many goroutines at once.
//
//	go test ./internal/auth -run '^$' -bench BenchmarkAuthPath -benchmem
func BenchmarkAuthPath(b *testing.B) {
	api := newFakeAPI(b)
	authn, authz, err := New(api.config(), Options{Audiences: []string{testAudience}})
	if err != nil {
		b.Fatal(err)
	}
	meta, err := NewResourceMetadata("", nil, "/mcp")
	if err != nil {
		b.Fatal(err)
	}
	h := Middleware(authn, meta, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	// As the MCP server serves them: the audiences in the base context.
	newReq := func() *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
		return r.WithContext(authn.WithAudiences(r.Context()))
	}
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
	b.ReportMetric(float64(api.tokenReviews.Load()+api.accessReviews.Load()), "reviews")
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
