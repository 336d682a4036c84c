package testenv

import "net/http"

// Bearer returns a RoundTripper that sends token as the Authorization
// bearer of every request through next, as an in-cluster MCP client does
// with its projected service-account token.
func Bearer(token string, next http.RoundTripper) http.RoundTripper {
	return bearer{token: token, next: next}
}

type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}
