package bridge

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-session-operator/mcp-session-operator/internal/testenv"
)

// These tests put the bridge between a go-sdk client (in memory, as a
// desktop client's stdio) and a go-sdk server over real Streamable HTTP
// in stateless mode, as the operator serves it. The operator itself, the
// real manager binary and its tokens are the e2e tests' business
// (internal/e2e, internal/e2e/cluster).

// upstream is a stateless go-sdk server with a few tools, behind a check of
// the bearer token (none if want is empty).
type upstream struct {
	url     string
	started chan struct{} // a "wait" call reached its handler
	release chan struct{} // closed at the end of the test: "wait" returns
	// aborted counts the requests whose client went away before the
	// server answered.
	aborted atomic.Int64
}

type echoArgs struct {
	Text string `json:"text"`
}

func newUpstream(t *testing.T, want string) *upstream {
	t.Helper()
	u := &upstream{started: make(chan struct{}, 1), release: make(chan struct{})}
	srv := mcp.NewServer(&mcp.Implementation{Name: "upstream", Version: "v0"}, nil)
	mcp.AddTool(srv, &mcp.Tool{Name: "echo"}, func(ctx context.Context, req *mcp.CallToolRequest, in echoArgs) (*mcp.CallToolResult, any, error) {
		if tok := req.Params.GetProgressToken(); tok != nil {
			_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: 1, Total: 2, Message: "halfway"})
		}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: in.Text}}}, nil, nil
	})
	mcp.AddTool(srv, &mcp.Tool{Name: "wait"}, func(ctx context.Context, _ *mcp.CallToolRequest, _ any) (*mcp.CallToolResult, any, error) {
		u.started <- struct{}{}
		<-u.release
		return &mcp.CallToolResult{}, nil, nil
	})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, &mcp.StreamableHTTPOptions{Stateless: true})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var answered atomic.Bool
		defer answered.Store(true)
		go func() {
			// The server ends a request's context when its client goes
			// away, or else once the handler has returned.
			<-r.Context().Done()
			if !answered.Load() {
				u.aborted.Add(1)
			}
		}()
		if want != "" && r.Header.Get("Authorization") != "Bearer "+want {
			w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="http://example/.well-known/oauth-protected-resource/mcp"`)
			http.Error(w, "invalid bearer token", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	// Before the server closes, which waits for its handlers.
	t.Cleanup(func() { close(u.release) })
	u.url = hs.URL + "/mcp"
	return u
}

// through starts the bridge to up and returns a go-sdk client session on
// its stdio side (nil and the error when connecting fails), and the
// bridge's log.
func through(t *testing.T, up Upstream, copts *mcp.ClientOptions) (*mcp.ClientSession, *testenv.Buffer, error) {
	t.Helper()
	clientSide, bridgeSide := mcp.NewInMemoryTransports()
	down, err := bridgeSide.Connect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	logs := &testenv.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, down, up, slog.New(slog.NewTextHandler(logs, nil))) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	cctx, ccancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer ccancel()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "desktop", Version: "v0"}, copts).Connect(cctx, clientSide, nil)
	if err == nil {
		t.Cleanup(func() { _ = cs.Close() })
	}
	return cs, logs, err
}

func TestForwardsRequestsResponsesAndNotifications(t *testing.T) {
	u := newUpstream(t, "good")
	var progress atomic.Value
	cs, _, err := through(t, Direct{URL: u.url, Client: NewHTTPClient(staticToken("good"), nil)}, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, r *mcp.ProgressNotificationClientRequest) { progress.Store(r.Params.Message) },
	})
	if err != nil {
		t.Fatal(err)
	}
	tools, err := cs.ListTools(t.Context(), nil)
	if err != nil || len(tools.Tools) != 2 {
		t.Fatalf("tools/list through the bridge: %+v, %v", tools, err)
	}
	// Concurrent calls, each with a progress notification on its stream.
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			text := strings.Repeat("x", i+1)
			params := &mcp.CallToolParams{Name: "echo", Arguments: echoArgs{Text: text}}
			params.SetProgressToken(i + 1)
			res, err := cs.CallTool(t.Context(), params)
			if err != nil || res.IsError || res.Content[0].(*mcp.TextContent).Text != text {
				t.Errorf("echo %q: %+v, %v", text, res, err)
			}
		})
	}
	wg.Wait()
	if progress.Load() != "halfway" {
		t.Errorf("the progress notification did not reach the client: %v", progress.Load())
	}
}

// A request the client cancels ends its HTTP exchange, as a Streamable
// HTTP client does: the bridge aborts the request (the go-sdk's stateless
// server does not pass that on to the tool's handler, so the test watches
// the request). It sends no answer for the request and goes on.
func TestCancellationReachesTheServer(t *testing.T) {
	u := newUpstream(t, "")
	cs, _, err := through(t, Direct{URL: u.url, Client: NewHTTPClient(nil, nil)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "wait"})
		errc <- err
	}()
	select {
	case <-u.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the call never reached the server")
	}
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("a cancelled call succeeded")
	}
	deadline := time.Now().Add(10 * time.Second)
	for u.aborted.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the cancelled call's HTTP exchange is still open")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "echo", Arguments: echoArgs{Text: "still here"}}); err != nil || res.IsError {
		t.Fatalf("after a cancellation: %+v, %v", res, err)
	}
}

// Each way the server can be out of reach is an MCP error the client can
// read, with the reason, and a line on stderr; none waits.
func TestFailuresAreMCPErrors(t *testing.T) {
	u := newUpstream(t, "good")
	closed := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return "http://" + addr + "/mcp"
	}()
	for _, c := range []struct {
		name string
		up   Upstream
		want string
	}{
		{"endpoint down", Direct{URL: closed, Client: NewHTTPClient(nil, nil)}, "cannot reach the MCP server"},
		{"token refused", Direct{URL: u.url, Client: NewHTTPClient(staticToken("bad"), nil)}, "HTTP 401 Unauthorized: invalid bearer token"},
		{"no token", Direct{URL: u.url, Client: NewHTTPClient(FileToken("/nonexistent/token"), nil)}, "reading the token"},
		{"setup failed", failingUpstream{}, "Service x/y not found"},
	} {
		start := time.Now()
		_, logs, err := through(t, c.up, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: connect error %v, want one containing %q", c.name, err, c.want)
		}
		if !strings.Contains(logs.String(), c.want) {
			t.Errorf("%s: stderr lacks %q:\n%s", c.name, c.want, logs.String())
		}
		if d := time.Since(start); d > 15*time.Second {
			t.Errorf("%s: took %s", c.name, d)
		}
	}
}

// The client closing its end (a desktop client quitting, or a script's
// stdin at EOF) ends the bridge once the requests in flight are answered.
func TestEndOfInputDrains(t *testing.T) {
	u := newUpstream(t, "")
	r, w := io.Pipe()
	out := &testenv.Buffer{}
	done := make(chan error, 1)
	down, _ := (&mcp.IOTransport{Reader: r, Writer: nopCloser{out}}).Connect(t.Context())
	go func() {
		done <- Run(context.Background(), down, Direct{URL: u.url, Client: NewHTTPClient(nil, nil)}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"last words"}}}`+"\n")
	w.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the bridge did not end after the input did")
	}
	if !strings.Contains(out.String(), "last words") {
		t.Fatalf("the request in flight at the end of input was not answered: %q", out.String())
	}
}

type staticToken string

func (s staticToken) Token(context.Context) (string, error) { return string(s), nil }

type failingUpstream struct{}

func (failingUpstream) Open(context.Context) (string, *http.Client, error) {
	return "", nil, errString("Service x/y not found: is the operator installed in namespace x? (--namespace)")
}

type errString string

func (e errString) Error() string { return string(e) }

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
