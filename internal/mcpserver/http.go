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

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-session-operator/mcp-session-operator/internal/auth"
)

// MCPPath is where the endpoint is served.
const MCPPath = "/mcp"

// newHandler builds the endpoint: the go-sdk's stateless Streamable HTTP
// handler behind the body guard, authentication and the origin check,
// served at MCPPath; beside it, unauthenticated, ReadyPath and with
// Kubernetes auth the OAuth protected-resource metadata (RFC 9728) at
// /.well-known/oauth-protected-resource and its form for MCPPath.
func (s *Server) newHandler() (http.Handler, error) {
	sdk := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s.mcp }, &mcp.StreamableHTTPOptions{
		Stateless:           true,
		MaxRequestBodyBytes: s.opts.MaxBodyBytes,
	})
	mux := http.NewServeMux()
	var h http.Handler = s.bodyGuard(sdk)
	if s.opts.AuthMode == AuthNone {
		h = auth.Anonymous(h)
	} else {
		meta, err := auth.NewResourceMetadata(s.opts.ResourceURL, s.opts.AuthorizationServers, MCPPath)
		if err != nil {
			return nil, err
		}
		h = auth.Middleware(s.opts.Authenticator, meta, h)
		for _, p := range metadataPaths(s.opts.ResourceURL) {
			mux.Handle(p, meta)
		}
	}
	h, err := originGuard(s.opts.AllowedOrigins, h)
	if err != nil {
		return nil, err
	}
	mux.Handle(MCPPath, h)
	mux.HandleFunc("GET "+ReadyPath, s.serveReady)
	return mux, nil
}

// metadataPaths are where the metadata is served: the root form and the
// form for MCPPath, and for a configured resource URL with another path
// (behind a proxy that adds a prefix), that path's form too.
func metadataPaths(resourceURL string) []string {
	paths := []string{auth.WellKnownPath, auth.WellKnownPath + MCPPath}
	if u, err := url.Parse(resourceURL); err == nil && u.Path != "" && u.Path != MCPPath {
		paths = append(paths, auth.WellKnownPath+strings.TrimSuffix(u.Path, "/"))
	}
	return paths
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

// bodyGuard bounds the request body (413 past MaxBodyBytes), answers a
// body that is not JSON with a JSON-RPC parse error (-32700), which a
// client can act on (the go-sdk answers it in plain text), and a message
// without a method with 400 and an invalid-request error (-32600): the
// go-sdk would take one with an id for the answer to a request of its
// own and accept it, but this stateless server sends clients no requests
// to answer. Everything else, unknown methods included, is the go-sdk's
// to answer.
func (s *Server) bodyGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Body == nil {
			next.ServeHTTP(w, r)
			return
		}
		body, err := readBody(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes), min(r.ContentLength, s.opts.MaxBodyBytes))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				http.Error(w, fmt.Sprintf("request body exceeds the limit of %d bytes", mbe.Limit), http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "reading request body: "+err.Error(), http.StatusBadRequest)
			return
		}
		msgs, err := messageShapes(body)
		if err != nil {
			// 400 as the transport requires, with the JSON-RPC parse error.
			writeRPCError(w, nil, jsonrpc.CodeParseError, "Parse error: the request body is not valid JSON")
			return
		}
		for _, m := range msgs {
			if m.Method == nil {
				writeRPCError(w, m.ID, jsonrpc.CodeInvalidRequest,
					"Invalid Request: every message must name a method (this server sends no requests for clients to answer)")
				return
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

// readBody reads a request body in one allocation when its length is
// known (and bounded by the caller).
func readBody(r io.Reader, length int64) ([]byte, error) {
	if length <= 0 {
		return io.ReadAll(r)
	}
	buf := bytes.NewBuffer(make([]byte, 0, length+1))
	_, err := buf.ReadFrom(r)
	return buf.Bytes(), err
}

// messageShape is what bodyGuard looks at in a JSON-RPC message.
type messageShape struct {
	ID     json.RawMessage `json:"id"`
	Method *string         `json:"method"`
}

// messageShapes decodes a body (one message or a batch) far enough to
// check it; an error means it is not JSON.
func messageShapes(body []byte) ([]messageShape, error) {
	var (
		batch []messageShape
		err   error
	)
	if b := bytes.TrimLeft(body, " \t\r\n"); len(b) > 0 && b[0] == '[' {
		err = json.Unmarshal(b, &batch)
	} else {
		batch = make([]messageShape, 1)
		err = json.Unmarshal(body, &batch[0])
	}
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) {
		// JSON, but not the shape of a message.
		return []messageShape{{}}, nil
	}
	return batch, err
}

// writeRPCError answers with 400 and a JSON-RPC error for the message of
// id (null when unknown).
func writeRPCError(w http.ResponseWriter, id json.RawMessage, code int64, msg string) {
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "error": map[string]any{"code": code, "message": msg}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write(body)
}
