package mcpserver

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcp-session-operator/mcp-session-operator/internal/testenv"
)

// updates collects resource-updated notifications.
type updates struct {
	mu   sync.Mutex
	uris []string
}

func (u *updates) add(uri string) { u.mu.Lock(); u.uris = append(u.uris, uri); u.mu.Unlock() }
func (u *updates) count(uri string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, x := range u.uris {
		if x == uri {
			n++
		}
	}
	return n
}

func TestResourcesSubscriptionAndPrompt(t *testing.T) {
	ns := newNamespace(t)
	_, url := startServer(t, Options{})
	got := &updates{}
	cs := connect(t, url, clientOpts{onUpdate: got.add}) // 2026-07-28: subscriptions/listen
	ok[SessionResult](t, cs, "create_session", map[string]any{"session_id": "watched", "namespace": ns, "project": "E-Commerce API"})
	ok[AddDiscoveryResult](t, cs, "add_discovery", map[string]any{"session_id": "watched", "namespace": ns, "title": "In-memory cache has no eviction policy"})
	uri := "mcpsession://" + ns + "/watched"

	tmpls, err := cs.ListResourceTemplates(context.Background(), nil)
	if err != nil || len(tmpls.ResourceTemplates) != 1 || tmpls.ResourceTemplates[0].URITemplate != "mcpsession://{namespace}/{name}" {
		t.Fatalf("resources/templates/list = %+v, %v", tmpls, err)
	}
	read, err := cs.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: uri})
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(read.Contents[0].Text), &doc); err != nil || doc["id"] != "watched" || doc["state"] != "active" || read.Contents[0].MIMEType != "application/json" {
		t.Fatalf("resources/read = %+v (%v)", read.Contents[0], err)
	}
	if _, err := cs.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: "mcpsession://" + ns + "/missing"}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("reading a missing session: %v", err)
	}

	if err := cs.Subscribe(context.Background(), &mcp.SubscribeParams{URI: uri}); err != nil {
		t.Fatal(err)
	}
	// The listen stream is asynchronous: write until a notification arrives.
	testenv.Eventually(t, waitTimeout, "update after add_message", func() string {
		ok[AddMessageResult](t, cs, "add_message", map[string]any{"session_id": "watched", "namespace": ns, "role": "user", "content": "ping"})
		if got.count(uri) == 0 {
			return "no notification"
		}
		return ""
	})
	// A change made outside the server (kubectl) is announced too.
	before := got.count(uri)
	if err := k8s.Patch(context.Background(), session(t, ns, "watched"), client.RawPatch(types.MergePatchType, []byte(`{"spec":{"suspend":true}}`))); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, waitTimeout, "update after kubectl suspend", func() string {
		if got.count(uri) <= before {
			return "no notification"
		}
		return ""
	})
	if err := cs.Unsubscribe(context.Background(), &mcp.UnsubscribeParams{URI: uri}); err != nil {
		t.Fatal(err)
	}

	// A legacy client cannot receive notifications from a stateless server,
	// and is told so rather than left waiting.
	legacy := connect(t, url, clientOpts{version: "2025-11-25"})
	if err := legacy.Subscribe(context.Background(), &mcp.SubscribeParams{URI: uri}); err == nil || !strings.Contains(err.Error(), "2026-07-28") {
		t.Fatalf("legacy subscribe: %v", err)
	}

	prompts, err := cs.ListPrompts(context.Background(), nil)
	if err != nil || len(prompts.Prompts) != 1 || prompts.Prompts[0].Name != "resume_briefing" {
		t.Fatalf("prompts/list = %+v, %v", prompts, err)
	}
	p, err := cs.GetPrompt(context.Background(), &mcp.GetPromptParams{Name: "resume_briefing", Arguments: map[string]string{"session_id": "watched", "namespace": ns}})
	if err != nil {
		t.Fatal(err)
	}
	txt := p.Messages[0].Content.(*mcp.TextContent).Text
	for _, want := range []string{`persistent session "watched"`, "E-Commerce API", "Suspended", "Call resume_session", "In-memory cache has no eviction policy", "user: ping"} {
		if !strings.Contains(txt, want) {
			t.Errorf("briefing prompt lacks %q:\n%s", want, txt)
		}
	}
	if _, err := cs.GetPrompt(context.Background(), &mcp.GetPromptParams{Name: "resume_briefing", Arguments: map[string]string{"session_id": "nope", "namespace": ns}}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("prompt for a missing session: %v", err)
	}
}

// post sends one raw JSON-RPC message to the endpoint.
func post(t testing.TB, url, body string, header map[string]string) (int, string) {
	t.Helper()
	code, _, b := postHeaders(t, url, body, header)
	return code, b
}

// postHeaders is post that also returns the response's headers.
func postHeaders(t testing.TB, url, body string, header map[string]string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestHTTPGuards(t *testing.T) {
	_, url := startServer(t, Options{MaxBodyBytes: 64 << 10})
	// An unknown method is the go-sdk's to answer: JSON-RPC "method not
	// found" on 2026-07-28, HTTP 400 before (which the transport allows).
	legacyUnknown := `{"jsonrpc":"2.0","id":7,"method":"sessions/teleport","params":{}}`
	if code, body := post(t, url, legacyUnknown, nil); code != http.StatusBadRequest {
		t.Errorf("unknown method (legacy): status %d, want 400 (%s)", code, body)
	}
	newUnknown := `{"jsonrpc":"2.0","id":8,"method":"sessions/teleport","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`
	if code, body := post(t, url, newUnknown, map[string]string{"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "sessions/teleport"}); !strings.Contains(body, `"code":-32601`) {
		t.Errorf("unknown method (2026-07-28): %d %s", code, body)
	}
	// Known methods pass the guard.
	if code, body := post(t, url, `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}`, nil); code != http.StatusOK || !strings.Contains(body, "create_session") {
		t.Errorf("tools/list: %d %.200s", code, body)
	}

	// A message without a method: 400 with invalid request, the id
	// echoed; a body that is not JSON: 400 with a parse error.
	for body, want := range map[string][]string{
		`{"jsonrpc":"2.0","id":1}`:                  {`"code":-32600`, `"id":1`},
		`{"jsonrpc":"2.0","id":"r-2","result":{}}`:  {`"code":-32600`, `"id":"r-2"`},
		`[{"jsonrpc":"2.0","id":3,"params":{}}]`:    {`"code":-32600`, `"id":3`},
		`{"jsonrpc":"2.0","method":5,"id":4}`:       {`"code":-32600`, `"id":null`},
		`"just a string"`:                           {`"code":-32600`, `"id":null`},
		`{"jsonrpc":"2.0","id":1,"method":"ping"`:   {`"code":-32700`, `"id":null`},
		`{"jsonrpc":"2.0","id":1,"method":"ping"}x`: {`"code":-32700`, `"id":null`},
	} {
		code, got := post(t, url, body, nil)
		ok := code == http.StatusBadRequest && strings.Contains(got, `"jsonrpc":"2.0"`)
		for _, w := range want {
			ok = ok && strings.Contains(got, w)
		}
		if !ok {
			t.Errorf("%s: %d %s, want 400 with %q", body, code, got, want)
		}
	}

	big := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add_message","arguments":{"content":"` + strings.Repeat("x", 70<<10) + `"}}}`
	if code, body := post(t, url, big, nil); code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %d %.200s", code, body)
	}

	host := strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/mcp")
	ping := `{"jsonrpc":"2.0","id":1,"method":"ping"}`
	for origin, want := range map[string]int{
		"https://evil.example":        http.StatusForbidden,
		"null":                        http.StatusForbidden,
		"http://" + host:              http.StatusOK,
		"http://localhost:6274":       http.StatusOK,
		"http://127.0.0.1:3000":       http.StatusOK,
		"http://attacker.test:" + "1": http.StatusForbidden,
	} {
		if code, body := post(t, url, ping, map[string]string{"Origin": origin}); code != want {
			t.Errorf("Origin %q: %d, want %d (%s)", origin, code, want, body)
		}
	}
}
