package mcpserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-session-operator/mcp-session-operator/internal/auth"
)

// newHandler builds the endpoint: the go-sdk's stateless Streamable HTTP
// handler behind the body guard, authentication and the origin check,
// served at /mcp, and the unauthenticated ReadyPath.
func (s *Server) newHandler() (http.Handler, error) {
	sdk := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s.mcp }, &mcp.StreamableHTTPOptions{
		Stateless:           true,
		MaxRequestBodyBytes: s.opts.MaxBodyBytes,
	})
	var h http.Handler = s.bodyGuard(sdk)
	if s.opts.AuthMode == AuthNone {
		h = auth.Anonymous(h)
	} else {
		h = auth.Middleware(s.opts.Authenticator, h)
	}
	h, err := originGuard(s.opts.AllowedOrigins, h)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/mcp", h)
	mux.HandleFunc("GET "+ReadyPath, s.serveReady)
	return mux, nil
}

// originGuard answers a request from a foreign browser origin with 403, as
// the Streamable HTTP transport requires (MUST, against DNS rebinding: a
// page on an attacker's domain resolving to this server would otherwise
// drive it with the victim's browser). net/http's CrossOriginProtection
// decides (Sec-Fetch-Site, else Origin against the request's Host, and the
// trusted origins of --mcp-allowed-origins); requests from a loopback
// origin (a local tool such as an MCP inspector) are let through too. The
// go-sdk only checks the Host of requests arriving on a loopback address;
// this covers every address.
func originGuard(allowed []string, next http.Handler) (http.Handler, error) {
	cop := http.NewCrossOriginProtection()
	for _, o := range allowed {
		if err := cop.AddTrustedOrigin(strings.TrimSuffix(o, "/")); err != nil {
			return nil, fmt.Errorf("allowed origin %q: %w (want scheme://host[:port])", o, err)
		}
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, fmt.Sprintf("Forbidden: origin %q may not use this MCP server", r.Header.Get("Origin")), http.StatusForbidden)
	}))
	protected := cop.Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if loopbackOrigin(r.Header.Get("Origin")) {
			next.ServeHTTP(w, r)
			return
		}
		protected.ServeHTTP(w, r)
	}), nil
}

// loopbackOrigin reports whether an Origin header names a web origin on
// this machine (http or https on localhost or a loopback address).
func loopbackOrigin(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" {
		return false
	}
	h := u.Hostname()
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// bodyGuard bounds the request body (413 past MaxBodyBytes) and answers a
// body that is not JSON with a JSON-RPC parse error (-32700), which a
// client can act on; the go-sdk answers it in plain text. Everything else,
// unknown methods included, is the go-sdk's to answer.
func (s *Server) bodyGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Body == nil {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				http.Error(w, fmt.Sprintf("request body exceeds the limit of %d bytes", mbe.Limit), http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "reading request body: "+err.Error(), http.StatusBadRequest)
			return
		}
		if !json.Valid(body) {
			// 400 as the transport requires, with the JSON-RPC parse error.
			writeParseError(w)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

func writeParseError(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error: the request body is not valid JSON"}}`))
}
