package mcpserver

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"golang.org/x/sync/errgroup"

	"github.com/mcp-session-operator/mcp-session-operator/internal/auth"
)

// toolsList is a request any client makes first.
const toolsList = `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}`

// challenge posts an MCP request with the given Authorization header (none
// if empty) and returns the status and the parsed WWW-Authenticate
// challenge of the answer.
func challenge(t *testing.T, url, authorization string) (int, []oauthex.Challenge) {
	t.Helper()
	header := map[string]string{}
	if authorization != "" {
		header["Authorization"] = authorization
	}
	code, h, _ := postHeaders(t, url, toolsList, header)
	chs, err := oauthex.ParseWWWAuthenticate(h.Values("WWW-Authenticate"))
	if err != nil && code == http.StatusUnauthorized {
		t.Fatalf("WWW-Authenticate %q: %v", h.Values("WWW-Authenticate"), err)
	}
	return code, chs
}

// TestProtectedResourceMetadata reads the metadata as an MCP client that
// follows the authorization spec does: from the 401's challenge, and at
// both well-known locations, with the go-sdk's client, which checks that
// the document names the resource it was asked for.
func TestProtectedResourceMetadata(t *testing.T) {
	_, url := startServer(t, kubeAuthOptions(t))
	base := strings.TrimSuffix(url, MCPPath)
	ctx := context.Background()

	for _, authorization := range []string{"", "Bearer not-a-token"} {
		code, chs := challenge(t, url, authorization)
		if code != http.StatusUnauthorized || len(chs) != 1 || chs[0].Scheme != "bearer" ||
			chs[0].Params["resource_metadata"] != base+auth.WellKnownPath+MCPPath {
			t.Fatalf("Authorization %q: %d, challenge %+v", authorization, code, chs)
		}
		meta, err := oauthex.GetProtectedResourceMetadata(ctx, chs[0].Params["resource_metadata"], url, http.DefaultClient)
		if err != nil || meta.Resource != url || len(meta.BearerMethodsSupported) != 1 || meta.BearerMethodsSupported[0] != "header" {
			t.Fatalf("metadata from the challenge: %+v, %v", meta, err)
		}
	}
	if meta, err := oauthex.GetProtectedResourceMetadata(ctx, base+auth.WellKnownPath, url, http.DefaultClient); err != nil || meta.Resource != url {
		t.Fatalf("metadata at the root well-known path: %+v, %v", meta, err)
	}

	// Behind an Ingress: the flags name the public URL and the issuers.
	opts := kubeAuthOptions(t)
	opts.ResourceURL = "https://mcp.example.com/sessions/mcp"
	opts.AuthorizationServers = []string{"https://issuer.example.com"}
	_, url2 := startServer(t, opts)
	base2 := strings.TrimSuffix(url2, MCPPath)
	code, chs := challenge(t, url2, "")
	if code != http.StatusUnauthorized || chs[0].Params["resource_metadata"] != "https://mcp.example.com"+auth.WellKnownPath+"/sessions/mcp" {
		t.Fatalf("configured: %d, challenge %+v", code, chs)
	}
	// The proxy forwards the well-known path as it is; each form answers.
	for _, p := range []string{auth.WellKnownPath, auth.WellKnownPath + MCPPath, auth.WellKnownPath + "/sessions/mcp"} {
		meta, err := oauthex.GetProtectedResourceMetadata(ctx, base2+p, opts.ResourceURL, http.DefaultClient)
		if err != nil || len(meta.AuthorizationServers) != 1 || meta.AuthorizationServers[0] != "https://issuer.example.com" {
			t.Fatalf("configured metadata at %s: %+v, %v", p, meta, err)
		}
	}

	if _, err := New(Options{Store: testStore, Client: mgrClient, AuthMode: AuthKubernetes, Authenticator: opts.Authenticator,
		Authorizer: opts.Authorizer, ResourceURL: "mcp.example.com/mcp"}); err == nil {
		t.Fatal("New accepted a resource URL that is not absolute")
	}
}

// TestConcurrentCallsMakeOneTokenReview: clients that connect at once
// with the same fresh token (an agent's parallel tool calls) cost one
// TokenReview: the delegating authenticator's singleflight. Each review is
// held for a while, so the calls overlap it.
func TestConcurrentCallsMakeOneTokenReview(t *testing.T) {
	ensureClusterRoles(t)
	ns := newNamespace(t)
	token := serviceAccountToken(t, ns, "agent", "mcpsession-viewer")
	env := newAuthEnv(t, 500*time.Millisecond)
	_, url := startServer(t, env.opts)

	var g errgroup.Group
	for range 8 {
		g.Go(func() error {
			cs, err := mcpClient().Connect(context.Background(), streamable(url, token), nil)
			if err != nil {
				return err
			}
			defer cs.Close()
			_, err = cs.CallTool(context.Background(), listSessions(ns))
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if n := env.tokenReviews.Load(); n != 1 {
		t.Fatalf("8 clients with one token made %d TokenReviews, want 1", n)
	}
}

// TestAPIServerOutageIs503: while the authenticator cannot reach the
// apiserver, a token it has no verdict for gets 503 (not 401: the token
// may be fine), nothing is cached, and the same token works as soon as
// the apiserver is back.
func TestAPIServerOutageIs503(t *testing.T) {
	ensureClusterRoles(t)
	ns := newNamespace(t)
	token := serviceAccountToken(t, ns, "agent", "mcpsession-editor")
	env := newAuthEnv(t, 0)
	_, url := startServer(t, env.opts)

	env.proxy.Down()
	for range 2 {
		code, h, _ := postHeaders(t, url, toolsList, map[string]string{"Authorization": "Bearer " + token})
		if code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" || h.Get("WWW-Authenticate") != "" {
			t.Fatalf("apiserver away: %d, headers %v; want 503 with Retry-After and no challenge", code, h)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := mcpClient().Connect(ctx, streamable(url, token), nil); err == nil || !strings.Contains(err.Error(), "Service Unavailable") {
		t.Fatalf("go-sdk client while the apiserver is away: %v, want Service Unavailable", err)
	}

	if err := env.proxy.Up(); err != nil {
		t.Fatal(err)
	}
	cs := connect(t, url, clientOpts{token: token})
	ok[SessionResult](t, cs, "create_session", map[string]any{"session_id": "after-the-outage"})
	if n := env.tokenReviews.Load(); n < 4 {
		t.Fatalf("%d TokenReviews: each call during the outage must have asked again", n)
	}
}

func listSessions(ns string) *mcp.CallToolParams {
	return &mcp.CallToolParams{Name: "list_sessions", Arguments: map[string]any{"namespace": ns}}
}
