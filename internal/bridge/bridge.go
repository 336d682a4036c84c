// Package bridge lets an MCP client that speaks only stdio (a desktop
// client launching one command) reach the operator's MCP server over
// Streamable HTTP: `manager connect`. It is a transparent JSON-RPC
// forwarder over the go-sdk's transports: every message the client writes
// to stdin goes to the server as it is, and every message the server
// sends back (responses, notifications, requests) comes out on stdout, so
// the client talks to the server itself, under its user's own RBAC.
//
// The server is stateless (protocol 2026-07-28 has no protocol sessions),
// so each of the client's requests travels on its own Streamable HTTP
// exchange, and the requests of one client proceed concurrently. Where the
// server is and which token to send is an Upstream's business: a URL and a
// token file, or a port-forward through the user's kubeconfig with a token
// minted by TokenRequest (see Kube). When the server cannot be reached,
// each request gets a JSON-RPC error saying why, and the reason goes to
// stderr; nothing waits forever.
package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// CodeUnreachable is the JSON-RPC error code of a request the bridge could
// not deliver or get an answer to (the server unreachable, a token
// refused, the Kubernetes API saying no); the message says which. Errors
// the server itself answered with are passed on with their own code.
const CodeUnreachable = -32000

// notifyTimeout bounds the delivery of a notification or a response from
// the client, which nobody waits for.
const notifyTimeout = 30 * time.Second

// Upstream is where the server is: Open returns the endpoint URL and the
// HTTP client to reach it with (which sets the token). It is called for
// every message, so it may connect lazily and reconnect after a failure;
// its error is what the client is told.
type Upstream interface {
	Open(ctx context.Context) (url string, hc *http.Client, err error)
}

// drainTimeout is how long requests in flight may still finish once the
// client has closed its end (a listen stream never would).
const drainTimeout = time.Minute

// Run forwards between the client on down (the stdio side) and the server
// behind up until the client closes its end or ctx ends. When the client
// closes its end, the requests in flight get up to drainTimeout to be
// answered; when ctx ends, they are cancelled. Problems are logged to log
// (stderr).
func Run(ctx context.Context, down mcp.Connection, up Upstream, log *slog.Logger) error {
	ctx, cancel := context.WithCancel(ctx)
	b := &bridge{down: down, up: up, log: log, calls: map[jsonrpc.ID]context.CancelFunc{}}
	defer func() {
		cancel()
		b.wg.Wait()
	}()
	for {
		msg, err := down.Read(ctx)
		if err != nil {
			if errors.Is(err, io.EOF) {
				b.drain(ctx)
				return nil
			}
			if ctx.Err() != nil {
				return nil
			}
			// The go-sdk's stdio reader stops at a frame that is not JSON:
			// nothing more can be read, so stop rather than hang.
			return fmt.Errorf("reading from the client: %w", err)
		}
		switch m := msg.(type) {
		case *jsonrpc.Request:
			if m.IsCall() {
				b.call(ctx, m)
			} else {
				b.notify(ctx, m)
			}
		case *jsonrpc.Response:
			b.deliver(ctx, m, "response #"+fmt.Sprint(m.ID.Raw()))
		}
	}
}

// drain waits for the requests in flight, up to drainTimeout.
func (b *bridge) drain(ctx context.Context) {
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	case <-time.After(drainTimeout):
		b.log.Warn("the client closed its end; cancelling the requests still in flight")
	}
}

type bridge struct {
	down mcp.Connection
	up   Upstream
	log  *slog.Logger
	wg   sync.WaitGroup
	// version is the protocol revision an initialize exchange negotiated.
	version atomic.Pointer[string]

	mu    sync.Mutex
	calls map[jsonrpc.ID]context.CancelFunc
}

// call forwards one request and sends its answer, and everything the
// server sends on its stream before it, back to the client.
func (b *bridge) call(ctx context.Context, req *jsonrpc.Request) {
	ctx, cancel := context.WithCancel(ctx)
	b.mu.Lock()
	b.calls[req.ID] = cancel
	b.mu.Unlock()
	b.wg.Go(func() {
		defer func() {
			b.mu.Lock()
			delete(b.calls, req.ID)
			b.mu.Unlock()
			cancel()
		}()
		if err := b.exchange(ctx, req); err != nil {
			if ctx.Err() != nil {
				return // cancelled by the client: it expects no answer
			}
			b.log.Error("request failed", "method", req.Method, "id", req.ID.Raw(), "error", err.Error())
			b.reply(req.ID, err)
		}
	})
}

// exchange sends req on a connection of its own and copies what comes back
// to the client until req's response has.
func (b *bridge) exchange(ctx context.Context, req *jsonrpc.Request) error {
	ctx, failure := withFailureRecord(ctx)
	conn, err := b.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.Write(ctx, req); err != nil {
		return explain(err, failure)
	}
	for {
		msg, err := conn.Read(ctx)
		if err != nil {
			return explain(err, failure)
		}
		resp, done := msg.(*jsonrpc.Response)
		done = done && resp.ID == req.ID
		if done {
			b.settled(req, resp)
		}
		if err := b.down.Write(ctx, msg); err != nil {
			return fmt.Errorf("writing to the client: %w", err)
		}
		if done {
			return nil
		}
	}
}

// settled looks at the response to req before it goes to the client: an
// initialize result's protocol revision is remembered for later requests,
// and an error the go-sdk made up (a stream that ended without an answer)
// becomes a JSON-RPC error the client can read.
func (b *bridge) settled(req *jsonrpc.Request, resp *jsonrpc.Response) {
	if resp.Error != nil {
		if serverError(resp.Error) == nil {
			resp.Error = &jsonrpc.Error{Code: CodeUnreachable, Message: resp.Error.Error()}
		}
		return
	}
	if req.Method == "initialize" {
		var r struct {
			ProtocolVersion string `json:"protocolVersion"`
		}
		if json.Unmarshal(resp.Result, &r) == nil && r.ProtocolVersion != "" {
			b.version.Store(&r.ProtocolVersion)
		}
	}
}

// notify forwards a notification. A cancellation also ends the cancelled
// request's exchange here, as closing its HTTP request tells the server.
func (b *bridge) notify(ctx context.Context, n *jsonrpc.Request) {
	if n.Method == "notifications/cancelled" {
		var p struct {
			RequestID any `json:"requestId"`
		}
		if json.Unmarshal(n.Params, &p) == nil {
			// MakeID takes the id as JSON decodes it (a number is float64).
			if id, err := jsonrpc.MakeID(p.RequestID); err == nil {
				b.mu.Lock()
				if cancel, ok := b.calls[id]; ok {
					cancel()
				}
				b.mu.Unlock()
			}
		}
	}
	b.deliver(ctx, n, n.Method)
}

// deliver sends a message nobody waits an answer to (a notification, the
// client's response to a server request), in the background.
func (b *bridge) deliver(ctx context.Context, msg jsonrpc.Message, what string) {
	b.wg.Go(func() {
		ctx, cancel := context.WithTimeout(ctx, notifyTimeout)
		defer cancel()
		ctx, failure := withFailureRecord(ctx)
		conn, err := b.connect(ctx)
		if err == nil {
			err = conn.Write(ctx, msg)
			conn.Close()
		}
		if err != nil && ctx.Err() == nil {
			b.log.Warn("could not deliver "+what, "error", explain(err, failure).Error())
		}
	})
}

// connect opens a Streamable HTTP connection to the server. Each carries
// one exchange, so a failure of one (a refused token, a broken stream)
// never spoils the next.
func (b *bridge) connect(ctx context.Context) (mcp.Connection, error) {
	url, hc, err := b.up.Open(ctx)
	if err != nil {
		return nil, err
	}
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	observed := *hc
	observed.Transport = &observer{next: next, version: &b.version}
	t := &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: &observed, MaxRetries: -1, DisableStandaloneSSE: true}
	return t.Connect(ctx)
}

// reply answers the client's request id with err as a JSON-RPC error: the
// server's own error when it answered with one, else CodeUnreachable.
func (b *bridge) reply(id jsonrpc.ID, err error) {
	wire := serverError(err)
	if wire == nil {
		wire = &jsonrpc.Error{Code: CodeUnreachable, Message: err.Error()}
	}
	if werr := b.down.Write(context.Background(), &jsonrpc.Response{ID: id, Error: wire}); werr != nil {
		b.log.Error("answering the client", "error", werr.Error())
	}
}
