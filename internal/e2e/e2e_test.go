//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/testenv"
)

// (1) Everything written before a clean restart is there after it.
func TestPersistenceAcrossRestart(t *testing.T) {
	ns := newNamespace(t)
	m := startManager(t)
	cs := m.client(t)
	id := map[string]any{"session_id": "debug-memory-leak", "namespace": ns}
	with := func(extra map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range id {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	mustCall(t, cs, "create_session", with(map[string]any{"project": "E-Commerce API"}))
	mustCall(t, cs, "add_context", with(map[string]any{"key": "deployment_diff", "value": map[string]any{"version": "v2.4.0"}}))
	mustCall(t, cs, "add_message", with(map[string]any{"role": "user", "content": "API instances grow 100MB/hour"}))
	mustCall(t, cs, "add_discovery", with(map[string]any{"title": "In-memory cache has no eviction policy", "description": "CacheManager never evicts."}))
	mustCall(t, cs, "suspend_session", with(nil))

	m.stop()
	m.start()
	cs = m.client(t)

	briefing := mustCall(t, cs, "resume_session", with(nil))
	for _, want := range []string{"deployment_diff", "In-memory cache has no eviction policy", "100MB/hour"} {
		if !strings.Contains(briefing, want) {
			t.Errorf("briefing after restart lacks %q:\n%s", want, briefing)
		}
	}
	ctxText := mustCall(t, cs, "get_context", with(map[string]any{"key": "deployment_diff"}))
	if !strings.Contains(ctxText, "v2.4.0") {
		t.Errorf("context after restart: %s", ctxText)
	}
	mustCall(t, cs, "add_message", with(map[string]any{"role": "user", "content": "day two"}))
}

// (2) Nothing acknowledged is lost when the manager is SIGKILLed mid-stream,
// and the status counts converge to the store's after the restart.
func TestCrashSafety(t *testing.T) {
	ns := newNamespace(t)
	m := startManager(t)
	cs := m.client(t)
	const writers = 8
	for w := 0; w < writers; w++ {
		mustCall(t, cs, "create_session", map[string]any{"session_id": fmt.Sprintf("crash-%d", w), "namespace": ns})
	}

	var (
		mu    sync.Mutex
		acked = map[int][]string{}
		wg    sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(context.Background())
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c, err := m.connect(ctx)
			if err != nil {
				return
			}
			defer c.Close()
			for i := 0; ctx.Err() == nil && i < 5000; i++ {
				content := fmt.Sprintf("writer %d message %d", w, i)
				_, isErr, err := call(ctx, c, "add_message", map[string]any{
					"session_id": fmt.Sprintf("crash-%d", w), "namespace": ns, "role": "user", "content": content,
				})
				if err != nil || isErr {
					return // the server went away: this write was not acknowledged
				}
				mu.Lock()
				acked[w] = append(acked[w], content)
				mu.Unlock()
			}
		}(w)
	}
	time.Sleep(3 * time.Second)
	m.kill()
	cancel()
	wg.Wait()

	total := 0
	for _, a := range acked {
		total += len(a)
	}
	if total == 0 {
		t.Fatal("no write was acknowledged before the kill; the test proves nothing")
	}
	t.Logf("%d writes acknowledged before SIGKILL", total)

	m.start()
	cs = m.client(t)
	for w := 0; w < writers; w++ {
		name := fmt.Sprintf("crash-%d", w)
		got := history(t, cs, ns, name)
		if len(got) < len(acked[w]) {
			t.Fatalf("%s: %d messages after restart, %d were acknowledged", name, len(got), len(acked[w]))
		}
		for i, want := range acked[w] {
			if got[i] != want {
				t.Fatalf("%s: message %d is %q, acknowledged %q", name, i, got[i], want)
			}
		}
		// Status counts converge to what the store holds. A write in flight
		// at the kill may have landed without its ack: count the store.
		want := int64(len(got))
		mustCall(t, cs, "get_session", map[string]any{"session_id": name, "namespace": ns})
		testenv.Eventually(t, 30*time.Second, name+" status.counts.messages", func() string {
			var s v1.McpSession
			if err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &s); err != nil {
				return err.Error()
			}
			if s.Status.Counts.Messages != want {
				return fmt.Sprintf("status.counts.messages %d, want %d", s.Status.Counts.Messages, want)
			}
			return ""
		})
	}
}

// history pages through get_history and returns the message contents.
func history(t *testing.T, cs *mcp.ClientSession, ns, name string) []string {
	t.Helper()
	var out []string
	cursor := ""
	for page := 0; page < 1000; page++ {
		args := map[string]any{"session_id": name, "namespace": ns, "limit": 500}
		if cursor != "" {
			args["cursor"] = cursor
		}
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "get_history", Arguments: args})
		if err != nil || res.IsError {
			t.Fatalf("get_history %s: %v %v", name, err, res)
		}
		raw, _ := json.Marshal(res.StructuredContent)
		var h struct {
			Messages []struct {
				Content string `json:"content"`
			} `json:"messages"`
			NextCursor string `json:"next_cursor"`
		}
		if err := json.Unmarshal(raw, &h); err != nil {
			t.Fatalf("get_history %s: structured content %s: %v", name, raw, err)
		}
		for _, m := range h.Messages {
			out = append(out, m.Content)
		}
		if h.NextCursor == "" {
			return out
		}
		cursor = h.NextCursor
	}
	t.Fatalf("get_history %s: too many pages", name)
	return nil
}

// (3) Idle suspension and TTL expiry with short timeouts from a policy,
// observed through kubectl.
func TestIdleAndTTLFromPolicy(t *testing.T) {
	ns := newNamespace(t)
	m := startManager(t)
	cs := m.client(t)
	policy := &v1.McpSessionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "short", Namespace: ns},
		Spec: v1.McpSessionPolicySpec{
			Selector: metav1.LabelSelector{MatchLabels: map[string]string{"purpose": "e2e"}},
			Timing: v1.Timing{
				IdleTimeout: &metav1.Duration{Duration: 3 * time.Second},
				TTL:         &metav1.Duration{Duration: 8 * time.Second},
				Retention:   &metav1.Duration{Duration: time.Hour},
			},
		},
	}
	if err := k8sClient.Create(context.Background(), policy); err != nil {
		t.Fatal(err)
	}
	mustCall(t, cs, "create_session", map[string]any{"session_id": "short-lived", "namespace": ns, "labels": map[string]string{"purpose": "e2e"}})
	phase := func() string {
		return strings.TrimSpace(kubectl(t, "get", "mcpsessions", "short-lived", "-n", ns, "-o", "jsonpath={.status.phase}"))
	}
	testenv.Eventually(t, 20*time.Second, "Suspended after the 3s idle timeout", func() string { return want("status.phase", phase(), "Suspended") })
	text, isErr, err := call(context.Background(), cs, "add_message", map[string]any{"session_id": "short-lived", "namespace": ns, "role": "user", "content": "late"})
	if err != nil || !isErr || !strings.Contains(text, "suspended") {
		t.Fatalf("write to a suspended session: err=%v isError=%v text=%q", err, isErr, text)
	}
	testenv.Eventually(t, 30*time.Second, "Terminated (Expired) after the 8s TTL", func() string { return want("status.phase", phase(), "Terminated") })
	reason := kubectl(t, "get", "mcpsessions", "short-lived", "-n", ns, "-o", `jsonpath={.status.conditions[?(@.type=="Terminated")].reason}`)
	if strings.TrimSpace(reason) != v1.ReasonExpired {
		t.Fatalf("Terminated reason %q, want Expired", reason)
	}
	out := kubectl(t, "get", "mcpsessions", "-n", ns)
	if !strings.Contains(out, "short-lived") || !strings.Contains(out, "Terminated") {
		t.Fatalf("kubectl get mcpsessions:\n%s", out)
	}
}

// (4) Bad input over the wire gets protocol-correct errors and the server
// keeps serving.
func TestBadInputOverTheWire(t *testing.T) {
	ns := newNamespace(t)
	m := startManager(t)
	post := func(body []byte) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodPost, m.url(), bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("MCP-Protocol-Version", "2025-06-18")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("POST: %v", err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp, data
	}

	t.Run("malformed JSON-RPC", func(t *testing.T) {
		resp, body := post([]byte(`{"jsonrpc":"2.0","id":1,"method":`))
		var rpc struct {
			Error struct {
				Code int `json:"code"`
			} `json:"error"`
		}
		if resp.StatusCode != http.StatusBadRequest || json.Unmarshal(body, &rpc) != nil || rpc.Error.Code != -32700 {
			t.Fatalf("malformed JSON: status %d body %s; want 400 with a JSON-RPC parse error (-32700)", resp.StatusCode, body)
		}
	})
	t.Run("oversized body", func(t *testing.T) {
		big := fmt.Sprintf(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"add_message","arguments":{"content":%q}}}`, strings.Repeat("x", 16<<20))
		resp, _ := post([]byte(big))
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("16 MiB body: status %d, want 413", resp.StatusCode)
		}
	})

	cs := m.client(t)
	ctx := context.Background()
	t.Run("unknown tool", func(t *testing.T) {
		// A protocol error (invalid params), not a tool result.
		_, _, err := call(ctx, cs, "no_such_tool", map[string]any{})
		if err == nil || !strings.Contains(err.Error(), `unknown tool "no_such_tool"`) {
			t.Fatalf("unknown tool: got %v, want an unknown tool error", err)
		}
	})
	t.Run("invalid arguments", func(t *testing.T) {
		// One wrong argument per call, so the error must name that one.
		for field, value := range map[string]any{"session_id": 42, "role": []int{1}, "content": map[string]int{"x": 1}} {
			args := map[string]any{"session_id": "after-bad-input", "namespace": ns, "role": "user", "content": "hi"}
			args[field] = value
			text, isErr, err := call(ctx, cs, "add_message", args)
			if err != nil || !isErr || !strings.Contains(text, field) {
				t.Fatalf("invalid %s: err=%v isError=%v text=%q; want a tool error naming %s", field, err, isErr, text, field)
			}
		}
		text, isErr, err := call(ctx, cs, "create_session", map[string]any{"session_id": "Not A Valid Name!", "namespace": ns})
		if err != nil || !isErr || !strings.Contains(strings.ToLower(text), "valid") {
			t.Fatalf("invalid id: err=%v isError=%v text=%q", err, isErr, text)
		}
	})
	t.Run("still serving", func(t *testing.T) {
		mustCall(t, cs, "create_session", map[string]any{"session_id": "after-bad-input", "namespace": ns})
		var s v1.McpSession
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "after-bad-input"}, &s); err != nil {
			t.Fatalf("session created after bad input is missing: %v", err)
		}
	})
}
