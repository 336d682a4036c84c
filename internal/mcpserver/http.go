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
)

// originGuard rejects requests whose Origin header names a foreign site
// with 403. The Streamable HTTP transport requires it (MUST, against DNS
// rebinding: a page on an attacker's domain resolving to this server would
// otherwise drive it with the victim's browser). The go-sdk only checks
// the Host of requests arriving on a loopback address; this covers every
// address.
func (s *Server) originGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); !allowedOrigin(origin, r.Host, s.opts.AllowedOrigins) {
			http.Error(w, fmt.Sprintf("Forbidden: origin %q may not use this MCP server", origin), http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// allowedOrigin decides an Origin header: absent (not a browser, or a
// same-origin navigation), the request's own host, a loopback origin (a
// local tool such as an MCP inspector), or one configured explicitly.
func allowedOrigin(origin, host string, extra []string) bool {
	if origin == "" {
		return true
	}
	for _, o := range extra {
		if strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return true
		}
	}
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return false // includes the opaque origin "null"
	}
	if strings.EqualFold(u.Host, host) {
		return true
	}
	return isLoopbackHost(u.Hostname())
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}

// bodyGuard bounds the request body (413 past MaxBodyBytes), answers a body
// that is not JSON with a JSON-RPC parse error (-32700), and answers a
// call to a method the server does not have with JSON-RPC "method not
// found" (-32601). The go-sdk does the latter itself for 2026-07-28
// requests, but answers older ones with a plain-text 400 that clients
// cannot tell from a malformed request.
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
			// 400 as the transport requires, with the JSON-RPC parse error a
			// client can act on (the go-sdk answers in plain text).
			writeParseError(w)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		// Only older clients need this; checking the header first spares
		// every 2026-07-28 call a second parse of its body.
		if r.Header.Get("Mcp-Protocol-Version") < "2026-07-28" {
			if id, method, ok := unknownCall(body); ok {
				writeMethodNotFound(w, id, method)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// serverMethods are the requests the go-sdk server answers (its
// serverMethodInfos, calls only).
var serverMethods = map[string]bool{
	"initialize": true, "ping": true, "server/discover": true,
	"tools/list": true, "tools/call": true,
	"resources/list": true, "resources/templates/list": true, "resources/read": true,
	"resources/subscribe": true, "resources/unsubscribe": true, "subscriptions/listen": true,
	"prompts/list": true, "prompts/get": true,
	"completion/complete": true, "logging/setLevel": true,
}

// unknownCall reports whether body is a single JSON-RPC call (it has an
// id) to a method the server does not have. Batches, notifications and
// anything unparsable are left to the go-sdk.
func unknownCall(body []byte) (id json.RawMessage, method string, ok bool) {
	var msg struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Method  string          `json:"method"`
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' || json.Unmarshal(trimmed, &msg) != nil {
		return nil, "", false
	}
	if msg.JSONRPC != "2.0" || msg.Method == "" || len(msg.ID) == 0 || string(msg.ID) == "null" {
		return nil, "", false
	}
	return msg.ID, msg.Method, !serverMethods[msg.Method]
}

func writeMethodNotFound(w http.ResponseWriter, id json.RawMessage, method string) {
	resp, _ := json.Marshal(map[string]any{
		"jsonrpc": "2.0",
		"id":      id,
		"error":   map[string]any{"code": -32601, "message": fmt.Sprintf("Method not found: %q", method)},
	})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(resp)
}

func writeParseError(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error: the request body is not valid JSON"}}`))
}
