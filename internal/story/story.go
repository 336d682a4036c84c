// Package story is the tutorial's three-day memory-leak debugging story,
// played through MCP by any client session: day one creates the session,
// records context and discoveries and suspends it; day two resumes it with
// a briefing and narrows the cause down; day three verifies the fix,
// searches what was found and terminates the session. `make demo` and the
// agent pod of `make test-cluster` play it over Streamable HTTP, the tests
// of `manager connect` through the stdio bridge.
package story

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Play plays the three days in session id of namespace ns, writing what
// an assistant would show to out. It stops at the first refused call.
func Play(ctx context.Context, cs *mcp.ClientSession, ns, id string, out io.Writer) error {
	p := &player{ctx: ctx, cs: cs, ns: ns, id: id, out: out}
	for _, day := range []func() error{p.day1, p.day2, p.day3} {
		if err := day(); err != nil {
			return err
		}
	}
	return nil
}

// The story's end state, for callers that check it: the counts of the
// terminated session.
const (
	ContextItems = 4
	Discoveries  = 3
	Messages     = 5
)

type player struct {
	ctx    context.Context
	cs     *mcp.ClientSession
	ns, id string
	out    io.Writer
}

// call invokes a tool on the story's session and returns its text,
// failing on a tool error.
func (p *player) call(tool string, args map[string]any) (string, error) {
	args["session_id"] = p.id
	args["namespace"] = p.ns
	res, err := p.cs.CallTool(p.ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
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

func (p *player) printf(format string, args ...any) { fmt.Fprintf(p.out, format, args...) }

func (p *player) day(title string) {
	p.printf("\n%s\n%s\n%s\n", strings.Repeat("=", 64), title, strings.Repeat("=", 64))
}

func (p *player) say(role, content string) map[string]any {
	p.printf("\n%s: %s\n", strings.ToUpper(role), content)
	return map[string]any{"role": role, "content": content}
}

func (p *player) do(calls ...func() (string, error)) error {
	for _, c := range calls {
		if _, err := c(); err != nil {
			return err
		}
	}
	return nil
}

func (p *player) tool(name string, args map[string]any) func() (string, error) {
	return func() (string, error) { return p.call(name, args) }
}

// jsonValue makes v a JSON object as the wire carries it, as the tutorial
// stores context values.
func jsonValue(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

func (p *player) day1() error {
	p.day("DAY 1: Tuesday - 10:00 AM")
	if _, err := p.call("create_session", map[string]any{
		"project":     "E-Commerce API",
		"description": "Memory leak in production: API instances grow 100MB/hour since v2.4.0",
		"labels":      map[string]string{"purpose": "debugging"},
		"metadata":    map[string]string{"issue": "Memory leak in production", "platform": "AWS EC2 t3.large"},
	}); err != nil {
		return err
	}
	p.printf("Created session %s/%s\n", p.ns, p.id)
	err := p.do(
		p.tool("add_message", p.say("user", "Production API instances are consuming memory at 100MB/hour. Started after deploying v2.4.0 last Friday. Need to find the leak.")),
		p.tool("add_message", p.say("assistant", "I'll help you track down this memory leak. First, let's check what changed in the v2.4.0 deployment.")),
		p.tool("add_context", map[string]any{"key": "deployment_diff", "value": jsonValue(map[string]any{
			"version": "v2.4.0",
			"changes": []string{"Added real-time analytics feature", "Upgraded caching layer", "New webhook processing system"},
		})}),
		p.tool("add_context", map[string]any{"key": "symptoms", "value": jsonValue(map[string]any{"memory_growth": "100MB/hour", "affects": "All API instances"})}),
		p.tool("add_discovery", map[string]any{"title": "In-memory cache has no eviction policy", "description": "The CacheManager stores everything in self.cache but never removes old entries.", "relevance": 0.8}),
		p.tool("add_discovery", map[string]any{"title": "Webhook queue grows unbounded", "description": "Failed webhooks are re-queued forever without a dead-letter limit.", "relevance": 0.5}),
	)
	if err != nil {
		return err
	}
	p.printf("\nDISCOVERY: In-memory cache has no eviction policy\n")
	if _, err := p.call("suspend_session", map[string]any{}); err != nil {
		return err
	}
	p.printf("\nSession suspended for the day.\n")
	return nil
}

func (p *player) day2() error {
	p.day("DAY 2: Wednesday - 9:30 AM")
	briefing, err := p.call("resume_session", map[string]any{})
	if err != nil {
		return err
	}
	p.printf("What the assistant sees on resume:\n%s\n", indent(briefing))
	return p.do(
		p.tool("add_message", p.say("user", "I added monitoring overnight. The cache has 45,000 entries using 2.3GB RAM.")),
		p.tool("add_message", p.say("assistant", "That confirms the cache hypothesis: roughly 50KB per entry. Let's check what's being cached.")),
		p.tool("add_context", map[string]any{"key": "cache_analysis", "value": jsonValue(map[string]any{
			"total_entries": 45000, "memory_usage": "2.3GB", "largest_entries": map[string]string{"user_analytics_*": "15MB each"},
		})}),
		p.tool("add_discovery", map[string]any{"title": "Analytics data is being cached indefinitely", "description": "User analytics objects (15MB each) are cached but never expire.", "relevance": 1.0}),
		p.tool("suspend_session", map[string]any{}),
	)
}

func (p *player) day3() error {
	p.day("DAY 3: Thursday - 10:00 AM")
	briefing, err := p.call("resume_session", map[string]any{})
	if err != nil {
		return err
	}
	p.printf("What the assistant sees on resume:\n%s\n", indent(briefing))
	if err := p.do(
		p.tool("add_message", p.say("assistant", "The LRU eviction with a 1-hour TTL is deployed. Let's compare the metrics.")),
		p.tool("add_context", map[string]any{"key": "verification_metrics", "value": jsonValue(map[string]any{
			"before": map[string]string{"memory_growth": "100MB/hour", "peak_memory": "8GB before restart"},
			"after":  map[string]string{"memory_growth": "0MB/hour (stable)", "peak_memory": "1.2GB constant"},
		})}),
	); err != nil {
		return err
	}
	hits, err := p.call("search", map[string]any{"query": "cache eviction memory", "limit": 3})
	if err != nil {
		return err
	}
	p.printf("\nsearch \"cache eviction memory\":\n%s\n", indent(hits))
	if _, err := p.call("terminate_session", map[string]any{}); err != nil {
		return err
	}
	p.printf("\nLeak fixed; session terminated (read-only, kept for its retention period).\n")
	return nil
}

func indent(s string) string {
	return "  | " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n  | ")
}
