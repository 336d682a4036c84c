package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/mcp-session-operator/mcp-session-operator/internal/auth"
	"github.com/mcp-session-operator/mcp-session-operator/internal/sessions"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// Implementation is how the server introduces itself to MCP clients.
var Implementation = &mcp.Implementation{Name: "mcp-session-operator", Title: "Persistent MCP sessions", Version: "v1alpha1"}

// Server is the MCP server over McpSessions. It is a controller-runtime
// Runnable (Start, NeedLeaderElection) serving Streamable HTTP, and can
// serve stdio instead (ServeStdio).
type Server struct {
	opts     Options
	sessions *sessions.Service
	subs     *subscriptions
	mcp      *mcp.Server
	handler  http.Handler
	log      logr.Logger

	// readyURL is ReadyPath on the listener while serve serves it, nil
	// before and from shutdown on (see ReadyzCheck).
	readyURL atomic.Pointer[string]
}

var (
	_ manager.Runnable               = (*Server)(nil)
	_ manager.LeaderElectionRunnable = (*Server)(nil)
)

// New builds a server, complete: its sessions (McpSession objects with
// Options.Client, else a local registry inside Options.Store), the MCP
// server with its tools, resources and prompt, and the HTTP handler.
func New(opts Options) (*Server, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	svc, err := sessions.New(sessions.Options{
		Client: opts.Client, APIReader: opts.APIReader, Informers: opts.Informers, Store: opts.Store,
		Authorizer: opts.Authorizer, Clock: opts.Clock, SyncInterval: opts.SyncInterval,
		Defaults: opts.Defaults, LocalNamespace: opts.LocalNamespace, Logger: opts.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("mcpserver: %w", err)
	}
	s := &Server{opts: opts, sessions: svc, log: opts.Logger}
	s.mcp = mcp.NewServer(Implementation, &mcp.ServerOptions{
		Instructions:       s.instructions(),
		SubscribeHandler:   s.subscribe,
		UnsubscribeHandler: s.unsubscribe,
		CompletionHandler:  s.complete,
		SetCacheable:       setCacheable,
		// No logging capability: it is deprecated (SEP-2577) and these tools
		// report through results.
		Capabilities: &mcp.ServerCapabilities{},
	})
	s.subs = newSubscriptions(s.mcp)
	s.addTools()
	s.addResources()
	s.addPrompts()
	if s.handler, err = s.newHandler(); err != nil {
		return nil, err
	}
	return s, nil
}

// NeedLeaderElection is false: every replica serves MCP requests.
func (s *Server) NeedLeaderElection() bool { return false }

// Handler is the HTTP handler of the MCP endpoint and its guards (origin
// check, authentication, body limit), for tests and for embedding; Start
// serves it at /mcp, with the unauthenticated ReadyPath beside it.
func (s *Server) Handler() http.Handler { return s.handler }

// Start serves Streamable HTTP on Options.Addr until ctx ends, then stops
// accepting requests, lets those in flight finish (bounded) and flushes
// pending status.
func (s *Server) Start(ctx context.Context) error {
	// Checked here too, not only by the caller's flag validation: an
	// unauthenticated server must never listen beyond loopback.
	if err := ValidateAuth(s.opts.AuthMode, s.opts.Addr); err != nil {
		return fmt.Errorf("mcp server: %w", err)
	}
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("mcp server: listen on %s: %w", s.opts.Addr, err)
	}
	return s.serve(ctx, ln)
}

// serve runs the server on ln until ctx ends.
func (s *Server) serve(ctx context.Context, ln net.Listener) error {
	bgCtx, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	bgDone := s.startBackground(bgCtx)
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return s.baseContext(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	ready := readyURL(ln.Addr())
	s.readyURL.Store(&ready)
	s.log.Info("serving MCP over Streamable HTTP", "addr", ln.Addr().String(), "path", "/mcp", "auth", s.opts.AuthMode)

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	// Not ready from here on, so the replica leaves the Service before
	// its listener closes.
	s.readyURL.Store(nil)
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Listening requests (subscriptions/listen) never finish by themselves:
	// Shutdown waits for them until its deadline, then Close ends them.
	if err := srv.Shutdown(shutCtx); err != nil {
		_ = srv.Close()
	}
	stopBG()
	<-bgDone
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("mcp server: %w", serveErr)
	}
	return nil
}

// baseContext is what every request's context starts from: the logger
// and, with Kubernetes auth, the audiences tokens are checked for (so
// requests need no copy to carry them).
func (s *Server) baseContext(ctx context.Context) context.Context {
	ctx = log.IntoContext(context.WithoutCancel(ctx), s.log)
	if a, ok := s.opts.Authenticator.(interface {
		WithAudiences(context.Context) context.Context
	}); ok {
		ctx = a.WithAudiences(ctx)
	}
	return ctx
}

// startBackground runs the status sync and the change notifications until
// ctx ends; the returned channel closes once pending status is flushed.
func (s *Server) startBackground(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	if s.opts.Informers != nil {
		if err := s.watchSessions(ctx); err != nil {
			s.log.Error(err, "watching sessions for resource notifications; subscribers only hear of changes made through this server")
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() { s.sessions.Run(ctx) })
	// Writes through other replicas sharing the store reach this one's
	// subscribers too (a store only one process opens has none to report).
	wg.Go(func() {
		err := s.opts.Store.Watch(ctx, func(c store.Change) { s.subs.changed(ctx, c.Namespace, c.Name) })
		if err != nil {
			s.log.Error(err, "watching the store for other replicas' writes; subscribers only hear of writes made through this replica")
		}
	})
	go func() {
		wg.Wait()
		close(done)
	}()
	return done
}

// ServeStdio serves MCP over in and out (newline-delimited JSON-RPC, as
// desktop clients launch servers) until the client disconnects or ctx
// ends. The caller is the unrestricted local user.
func (s *Server) ServeStdio(ctx context.Context, in io.Reader, out io.Writer) error {
	bgCtx, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	bgDone := s.startBackground(bgCtx)
	defer func() {
		stopBG()
		<-bgDone
	}()
	ctx = auth.WithIdentity(log.IntoContext(ctx, s.log), auth.LocalIdentity)
	err := s.mcp.Run(ctx, &mcp.IOTransport{Reader: io.NopCloser(in), Writer: nopWriteCloser{out}})
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, io.EOF) {
		return fmt.Errorf("mcp stdio: %w", err)
	}
	return nil
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
