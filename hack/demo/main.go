// Command demo plays the tutorial's three-day memory-leak debugging story
// against a running operator (`make dev`), through its MCP endpoint, as a real
// MCP client would: day boundaries are suspend and resume, and it prints what
// an assistant sees when it resumes the session the next morning.
//
// It is also the agent that `make test-cluster` runs in a pod: there it takes
// the endpoint and the projected token's path from MCP_URL and
// MCP_TOKEN_FILE, as config/samples/agent_serviceaccount.yaml sets them, and
// reads the token afresh for every request, since the kubelet rotates it.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
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
	d, err := connect(ctx, *endpoint, bearer{token: *token, file: *tokenFile})
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo: connect to %s: %v (is the operator running?)\n", *endpoint, err)
		os.Exit(1)
	}
	defer d.cs.Close()
	d.id, d.ns = *session, *namespace
	if err := d.story(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
	fmt.Printf("\nDone. See it with:\n  kubectl get mcpsessions -n %s\n", d.ns)
}

type demo struct {
	ctx    context.Context
	cs     *mcp.ClientSession
	id, ns string
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

func connect(ctx context.Context, endpoint string, auth bearer) (*demo, error) {
	t := &mcp.StreamableClientTransport{Endpoint: endpoint, HTTPClient: &http.Client{Transport: auth}}
	c := mcp.NewClient(&mcp.Implementation{Name: "mcp-session-demo", Version: "v0.1.0"}, nil)
	cs, err := c.Connect(ctx, t, nil)
	if err != nil {
		return nil, err
	}
	return &demo{ctx: ctx, cs: cs}, nil
}

// call invokes a tool and returns its text, failing on a tool error.
func (d *demo) call(tool string, args map[string]any) (string, error) {
	args["session_id"] = d.id
	args["namespace"] = d.ns
	res, err := d.cs.CallTool(d.ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		return "", fmt.Errorf("%s: %w", tool, err)
	}
	var text []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			text = append(text, tc.Text)
		}
	}
	out := strings.Join(text, "\n")
	if res.IsError {
		return "", fmt.Errorf("%s: %s", tool, out)
	}
	return out, nil
}

func day(title string) {
	fmt.Printf("\n%s\n%s\n%s\n", strings.Repeat("=", 64), title, strings.Repeat("=", 64))
}

func say(role, content string) map[string]any {
	fmt.Printf("\n%s: %s\n", strings.ToUpper(role), content)
	return map[string]any{"role": role, "content": content}
}

func (d *demo) story() error {
	steps := []func() error{d.day1, d.day2, d.day3}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

func (d *demo) do(calls ...func() (string, error)) error {
	for _, c := range calls {
		if _, err := c(); err != nil {
			return err
		}
	}
	return nil
}

func (d *demo) tool(name string, args map[string]any) func() (string, error) {
	return func() (string, error) { return d.call(name, args) }
}

func jsonValue(v any) any {
	// Values go over the wire as JSON objects, as the tutorial stores them.
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

func (d *demo) day1() error {
	day("DAY 1: Tuesday - 10:00 AM")
	if _, err := d.call("create_session", map[string]any{
		"project":     "E-Commerce API",
		"description": "Memory leak in production: API instances grow 100MB/hour since v2.4.0",
		"labels":      map[string]string{"purpose": "debugging"},
		"metadata":    map[string]string{"issue": "Memory leak in production", "platform": "AWS EC2 t3.large"},
	}); err != nil {
		return err
	}
	fmt.Printf("Created session %s/%s\n", d.ns, d.id)
	err := d.do(
		d.tool("add_message", say("user", "Production API instances are consuming memory at 100MB/hour. Started after deploying v2.4.0 last Friday. Need to find the leak.")),
		d.tool("add_message", say("assistant", "I'll help you track down this memory leak. First, let's check what changed in the v2.4.0 deployment.")),
		d.tool("add_context", map[string]any{"key": "deployment_diff", "value": jsonValue(map[string]any{
			"version": "v2.4.0",
			"changes": []string{"Added real-time analytics feature", "Upgraded caching layer", "New webhook processing system"},
		})}),
		d.tool("add_context", map[string]any{"key": "symptoms", "value": jsonValue(map[string]any{"memory_growth": "100MB/hour", "affects": "All API instances"})}),
		d.tool("add_discovery", map[string]any{"title": "In-memory cache has no eviction policy", "description": "The CacheManager stores everything in self.cache but never removes old entries.", "relevance": 0.8}),
		d.tool("add_discovery", map[string]any{"title": "Webhook queue grows unbounded", "description": "Failed webhooks are re-queued forever without a dead-letter limit.", "relevance": 0.5}),
	)
	if err != nil {
		return err
	}
	fmt.Println("\nDISCOVERY: In-memory cache has no eviction policy")
	if _, err := d.call("suspend_session", map[string]any{}); err != nil {
		return err
	}
	fmt.Println("\nSession suspended for the day.")
	return nil
}

func (d *demo) day2() error {
	day("DAY 2: Wednesday - 9:30 AM")
	briefing, err := d.call("resume_session", map[string]any{})
	if err != nil {
		return err
	}
	fmt.Println("What the assistant sees on resume:")
	fmt.Println(indent(briefing))
	return d.do(
		d.tool("add_message", say("user", "I added monitoring overnight. The cache has 45,000 entries using 2.3GB RAM.")),
		d.tool("add_message", say("assistant", "That confirms the cache hypothesis: roughly 50KB per entry. Let's check what's being cached.")),
		d.tool("add_context", map[string]any{"key": "cache_analysis", "value": jsonValue(map[string]any{
			"total_entries": 45000, "memory_usage": "2.3GB", "largest_entries": map[string]string{"user_analytics_*": "15MB each"},
		})}),
		d.tool("add_discovery", map[string]any{"title": "Analytics data is being cached indefinitely", "description": "User analytics objects (15MB each) are cached but never expire.", "relevance": 1.0}),
		d.tool("suspend_session", map[string]any{}),
	)
}

func (d *demo) day3() error {
	day("DAY 3: Thursday - 10:00 AM")
	briefing, err := d.call("resume_session", map[string]any{})
	if err != nil {
		return err
	}
	fmt.Println("What the assistant sees on resume:")
	fmt.Println(indent(briefing))
	if err := d.do(
		d.tool("add_message", say("assistant", "The LRU eviction with a 1-hour TTL is deployed. Let's compare the metrics.")),
		d.tool("add_context", map[string]any{"key": "verification_metrics", "value": jsonValue(map[string]any{
			"before": map[string]string{"memory_growth": "100MB/hour", "peak_memory": "8GB before restart"},
			"after":  map[string]string{"memory_growth": "0MB/hour (stable)", "peak_memory": "1.2GB constant"},
		})}),
	); err != nil {
		return err
	}
	hits, err := d.call("search", map[string]any{"query": "cache eviction memory", "limit": 3})
	if err != nil {
		return err
	}
	fmt.Println("\nsearch \"cache eviction memory\":")
	fmt.Println(indent(hits))
	if _, err := d.call("terminate_session", map[string]any{}); err != nil {
		return err
	}
	fmt.Println("\nLeak fixed; session terminated (read-only, kept for its retention period).")
	return nil
}

func indent(s string) string {
	return "  | " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n  | ")
}
