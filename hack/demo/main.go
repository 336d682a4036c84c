// Command demo plays the tutorial's three-day memory-leak debugging story
// against a running operator (`make dev`), through its MCP endpoint, as a real
// MCP client would: day boundaries are suspend and resume, and it prints what
// an assistant sees when it resumes the session the next morning.
//
// The story itself is internal/story. This command is also the agent that
// `make test-cluster` runs in a pod: there it takes the endpoint and the
// projected token's path from MCP_URL and MCP_TOKEN_FILE, as
// config/samples/agent_serviceaccount.yaml sets them, and reads the token
// afresh for every request, since the kubelet rotates it.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-session-operator/mcp-session-operator/internal/story"
)

func main() {
	endpoint := flag.String("endpoint", envOr("MCP_URL", "http://127.0.0.1:8090/mcp"), "The operator's MCP endpoint (default $MCP_URL, else make dev's).")
	token := flag.String("token", os.Getenv("MCP_TOKEN"), "Bearer token (not needed with auth off on loopback).")
	tokenFile := flag.String("token-file", os.Getenv("MCP_TOKEN_FILE"), "File holding the bearer token, read for every request (a projected service-account token).")
	session := flag.String("session", "debug-memory-leak-"+time.Now().UTC().Format("20060102-150405"), "Session id (an McpSession name).")
	namespace := flag.String("namespace", "default", "Namespace of the session.")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cs, err := connect(ctx, *endpoint, bearer{token: *token, file: *tokenFile})
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo: connect to %s: %v (is the operator running?)\n", *endpoint, err)
		os.Exit(1)
	}
	defer cs.Close()
	if err := story.Play(ctx, cs, *namespace, *session, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
	fmt.Printf("\nDone. See it with:\n  kubectl get mcpsessions -n %s\n", *namespace)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// bearer sets the Authorization header from a fixed token or, when file is
// set, from the file's current content.
type bearer struct{ token, file string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	token := b.token
	if b.file != "" {
		t, err := os.ReadFile(b.file)
		if err != nil {
			return nil, fmt.Errorf("reading the token: %w", err)
		}
		token = strings.TrimSpace(string(t))
	}
	if token != "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return http.DefaultTransport.RoundTrip(r)
}

func connect(ctx context.Context, endpoint string, auth bearer) (*mcp.ClientSession, error) {
	t := &mcp.StreamableClientTransport{Endpoint: endpoint, HTTPClient: &http.Client{Transport: auth}}
	c := mcp.NewClient(&mcp.Implementation{Name: "mcp-session-demo", Version: "v0.1.0"}, nil)
	return c.Connect(ctx, t, nil)
}
