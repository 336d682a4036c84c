package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/healthz"
)

// ReadyPath is where the MCP listener answers GET (and HEAD) whether it can
// serve: 200 while its store is open, 503 once the store is closed. It
// needs no token (it tells nothing about sessions), so the manager's
// readiness check and load balancers can call it.
const ReadyPath = "/readyz"

// readyTimeout bounds the readiness check's request to the MCP listener,
// below the probe's timeoutSeconds so a stuck listener fails the check
// instead of the kubelet's request timing out.
const readyTimeout = 900 * time.Millisecond

// serveReady answers ReadyPath.
func (s *Server) serveReady(w http.ResponseWriter, r *http.Request) {
	if err := s.opts.Store.Ping(r.Context()); err != nil {
		http.Error(w, "session store: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "ok\n")
}

// ReadyzCheck returns the manager's readiness check. It fails until Start
// has bound its listener and started serving (and again once it begins to
// shut down); in between it sends GET ReadyPath to that listener, so it
// passes only when the MCP server really answers HTTP on it and its store
// is open. Liveness stays a plain ping: a slow store should take the
// replica out of the Service, not get it restarted.
func (s *Server) ReadyzCheck() healthz.Checker {
	client := &http.Client{
		// Never through a proxy from the environment: this is a request to
		// ourselves. A fresh connection each time proves accept works.
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		Timeout:   readyTimeout,
	}
	return func(req *http.Request) error {
		u := s.readyURL.Load()
		if u == nil {
			return errors.New("MCP server is not serving yet")
		}
		ctx, cancel := context.WithTimeout(req.Context(), readyTimeout)
		defer cancel()
		r, err := http.NewRequestWithContext(ctx, http.MethodGet, *u, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(r)
		if err != nil {
			return fmt.Errorf("MCP listener does not answer: %w", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			return fmt.Errorf("MCP listener answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
		}
		return nil
	}
}

// readyURL is the URL of ReadyPath on the listener at addr. A wildcard
// listener (":8090", "0.0.0.0", "[::]") is reached over IPv4 loopback,
// which a dual-stack wildcard socket also accepts.
func readyURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		host, port = "127.0.0.1", ""
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + ReadyPath
}
