package bridge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
)

// protocolVersionHeader is the header that carries the negotiated protocol
// revision on every request after initialize (before 2026-07-28, where
// each request names its own revision).
const protocolVersionHeader = "Mcp-Protocol-Version"

// NewHTTPClient is the HTTP client the bridge talks to the server with:
// tokens from tokens (none if nil) on every request, bounded dialing and
// waiting for response headers, so that an unreachable endpoint is an
// error and not a hang, and no overall timeout, since a listen stream
// lasts as long as the client wants. dial replaces the network dialer
// (nil: TCP).
func NewHTTPClient(tokens TokenSource, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if dial == nil {
		dial = (&net.Dialer{Timeout: 10 * time.Second}).DialContext
	}
	t.DialContext = dial
	t.ResponseHeaderTimeout = 2 * time.Minute
	return &http.Client{Transport: &bearer{tokens: tokens, next: t}}
}

// bearer sets the Authorization header from a token source.
type bearer struct {
	tokens TokenSource
	next   http.RoundTripper
}

func (b *bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	if b.tokens == nil {
		return b.next.RoundTrip(r)
	}
	token, err := b.tokens.Token(r.Context())
	if err != nil {
		return nil, &tokenError{err}
	}
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+token)
	return b.next.RoundTrip(r)
}

// tokenError is a failure to get a token: the request was never sent.
type tokenError struct{ err error }

func (e *tokenError) Error() string { return "no token for the MCP server: " + e.err.Error() }
func (e *tokenError) Unwrap() error { return e.err }

// observer sits between the go-sdk's client connection and the HTTP
// client: it adds the protocol revision negotiated by an initialize
// exchange to requests that lack it (the go-sdk only knows it inside a
// client session, and the bridge has none), and records a refused HTTP
// request (status, body) for explain.
type observer struct {
	next    http.RoundTripper
	version *atomic.Pointer[string]
}

func (o *observer) RoundTrip(r *http.Request) (*http.Response, error) {
	if v := o.version.Load(); v != nil && r.Header.Get(protocolVersionHeader) == "" {
		r = r.Clone(r.Context())
		r.Header.Set(protocolVersionHeader, *v)
	}
	resp, err := o.next.RoundTrip(r)
	if err == nil && resp.StatusCode >= 400 {
		if rec, ok := r.Context().Value(failureKey{}).(*failure); ok {
			rec.record(resp)
		}
	}
	return resp, err
}

// failure is the last refused HTTP request of one exchange.
type failure struct {
	status atomic.Int32
	detail atomic.Pointer[string]
}

type failureKey struct{}

func withFailureRecord(ctx context.Context) (context.Context, *failure) {
	f := &failure{}
	return context.WithValue(ctx, failureKey{}, f), f
}

// record keeps the status and the start of the body of a refused request;
// the body is put back for the go-sdk, which reads a JSON-RPC error from
// it.
func (f *failure) record(resp *http.Response) {
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body = readCloser{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
	detail := strings.TrimSpace(string(head))
	if !strings.HasPrefix(detail, "{") {
		// Plain text (the server's own words); JSON is the go-sdk's to
		// decode.
		f.detail.Store(&detail)
	}
	f.status.Store(int32(resp.StatusCode))
}

type readCloser struct {
	io.Reader
	io.Closer
}

// explain turns an exchange's error into what the client is told: the
// server's own JSON-RPC error when it answered with one, the refused HTTP
// status with the server's words and a hint, or why the server could not
// be reached.
func explain(err error, f *failure) error {
	if wire := serverError(err); wire != nil {
		return wire
	}
	var te *tokenError
	if errors.As(err, &te) {
		return te
	}
	status := int(f.status.Load())
	if status == 0 {
		return fmt.Errorf("cannot reach the MCP server: %w", err)
	}
	msg := fmt.Sprintf("the MCP server answered HTTP %d %s", status, http.StatusText(status))
	if d := f.detail.Load(); d != nil && *d != "" {
		msg += ": " + *d
	}
	switch status {
	case http.StatusUnauthorized:
		msg += " (the token was refused: it must be issued for the server's audience, see --token-file or --service-account)"
	case http.StatusServiceUnavailable:
		msg += " (retry shortly)"
	}
	return errors.New(msg)
}

// Direct is an Upstream at a fixed URL (--url), reached with Client.
type Direct struct {
	URL    string
	Client *http.Client
}

// Open returns the URL and the client.
func (d Direct) Open(context.Context) (string, *http.Client, error) { return d.URL, d.Client, nil }

// Codes the go-sdk's own JSON-RPC layer wraps its transport failures in;
// they are not the server's answer.
var transportCodes = []int64{-32003, -32004, -32005}

// serverError finds the JSON-RPC error the server answered with in err's
// tree, if any.
func serverError(err error) *jsonrpc.Error {
	if wire, ok := err.(*jsonrpc.Error); ok && !slices.Contains(transportCodes, wire.Code) {
		return wire
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		if inner := u.Unwrap(); inner != nil {
			return serverError(inner)
		}
	case interface{ Unwrap() []error }:
		for _, inner := range u.Unwrap() {
			if wire := serverError(inner); wire != nil {
				return wire
			}
		}
	}
	return nil
}
