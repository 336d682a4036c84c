package mcpserver

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/mcp-session-operator/mcp-session-operator/internal/lifecycle"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store/pebblestore"
)

// stdioClient runs s.ServeStdio over pipes and connects a go-sdk client to
// it, as a desktop MCP client does with a launched server, until the test
// ends.
func stdioClient(t *testing.T, s *Server, version string) *mcp.ClientSession {
	t.Helper()
	cs, stop := stdioSession(t, s, version)
	t.Cleanup(stop)
	return cs
}

// stdioSession is stdioClient with an explicit stop, which disconnects the
// client and waits for ServeStdio to return.
func stdioSession(t *testing.T, s *Server, version string) (*mcp.ClientSession, func()) {
	t.Helper()
	c2sR, c2sW := io.Pipe()
	s2cR, s2cW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServeStdio(ctx, c2sR, s2cW); _ = s2cW.Close() }()
	c := mcp.NewClient(&mcp.Implementation{Name: "desktop", Version: "v0"}, nil)
	cs, err := c.Connect(context.Background(), &mcp.IOTransport{Reader: s2cR, Writer: c2sW}, &mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		t.Fatalf("connect over stdio: %v", err)
	}
	var once sync.Once
	return cs, func() {
		once.Do(func() {
			_ = cs.Close()
			_ = c2sW.Close()
			cancel()
			if err := <-done; err != nil {
				t.Errorf("ServeStdio: %v", err)
			}
		})
	}
}

func openLocal(t *testing.T, dir string, clk *testingclock.FakeClock) (store.Store, *Server) {
	t.Helper()
	st, err := pebblestore.Open(dir, pebblestore.Options{Clock: clk, Logger: quietPebble{}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Store: st, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	return st, s
}

// TestStdioLocalMode serves the same tools over stdio against a local data
// folder with no Kubernetes: metadata and lifecycle live in the store.
func TestStdioLocalMode(t *testing.T) {
	dir := t.TempDir()
	clk := testingclock.NewFakeClock(time.Date(2025, 9, 2, 10, 0, 0, 0, time.UTC))
	st, s := openLocal(t, dir, clk)
	t.Cleanup(func() { _ = st.Close() })
	cs := stdioClient(t, s, "")
	a := func(kv ...any) map[string]any {
		m := map[string]any{"session_id": "debug-memory-leak-2025-09"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	created := ok[SessionResult](t, cs, "create_session", a("project", "E-Commerce API", "labels", map[string]string{"purpose": "debugging"}))
	if created.Namespace != DefaultLocalNamespace || created.Owner != "local-user" || created.Phase != "Active" {
		t.Fatalf("local create = %+v", created)
	}
	fails(t, cs, "create_session", a(), "already exists", "use resume_session")
	ok[AddContextResult](t, cs, "add_context", a("key", "deployment_diff", "value", map[string]any{"version": "v2.4.0"}))
	ok[AddDiscoveryResult](t, cs, "add_discovery", a("title", "In-memory cache has no eviction policy"))
	ok[AddMessageResult](t, cs, "add_message", a("role", "user", "content", "memory grows 100MB/hour"))
	ok[SessionResult](t, cs, "suspend_session", a())
	fails(t, cs, "add_message", a("role", "user", "content", "x"), "is suspended; call resume_session")

	clk.Step(23*time.Hour + 30*time.Minute)
	brief := ok[Briefing](t, cs, "resume_session", a())
	if !strings.Contains(brief.Message, "from yesterday") || brief.Session.Phase != "Active" || len(brief.RecentDiscoveries) != 1 || !brief.Confirmed {
		t.Fatalf("local resume = %+v", brief)
	}
	ok[AddMessageResult](t, cs, "add_message", a("role", "assistant", "content", "cache confirmed"))

	// Idle past the default idleTimeout: suspended by the local lifecycle.
	clk.Step(lifecycle.DefaultIdleTimeout + time.Minute)
	if v := ok[SessionView](t, cs, "get_session", a()); v.Phase != "Suspended" || v.Reason != "Idle" {
		t.Fatalf("idle local session = %+v", v)
	}
	fails(t, cs, "add_context", a("key", "k", "value", 1), "is suspended")
	ok[Briefing](t, cs, "resume_session", a())
	ok[AddContextResult](t, cs, "add_context", a("key", "k", "value", 1))

	list := ok[ListSessionsResult](t, cs, "list_sessions", map[string]any{"labels": map[string]string{"purpose": "debugging"}})
	if len(list.Sessions) != 1 || list.Sessions[0].Counts.Messages != 2 {
		t.Fatalf("local list = %+v", list)
	}
	// Search over the whole (local) namespace.
	if found := ok[SearchResult](t, cs, "search", map[string]any{"query": "cache eviction"}); found.Sessions != 1 || len(found.Hits) == 0 {
		t.Fatalf("local search over the namespace = %+v", found)
	}
	ok[SessionResult](t, cs, "terminate_session", a())
	fails(t, cs, "add_message", a("role", "user", "content", "x"), "terminated and read-only")
	fails(t, cs, "resume_session", a(), "cannot be resumed")

	// Older clients work over stdio too.
	old := stdioClient(t, s, "2025-06-18")
	if v := ok[SessionView](t, old, "get_session", a()); v.Phase != "Terminated" || v.Counts.ContextItems != 2 {
		t.Fatalf("legacy stdio get_session = %+v", v)
	}

	// Retention over: the local lifecycle erases the session.
	clk.Step(lifecycle.DefaultRetention + time.Hour)
	fails(t, cs, "get_session", a(), `session "debug-memory-leak-2025-09" not found in namespace "default"`)
}

// TestLocalDataSurvivesRestart: the local registry is in the store, so a
// new process on the same folder finds every session as it was.
func TestLocalDataSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	clk := testingclock.NewFakeClock(time.Now())
	st, s := openLocal(t, dir, clk)
	cs, stop := stdioSession(t, s, "")
	ok[SessionResult](t, cs, "create_session", map[string]any{"session_id": "durable", "project": "p"})
	ok[AddMessageResult](t, cs, "add_message", map[string]any{"session_id": "durable", "role": "user", "content": "remember me"})
	ok[SessionResult](t, cs, "suspend_session", map[string]any{"session_id": "durable"})
	stop()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st2, s2 := openLocal(t, dir, clk)
	defer st2.Close()
	cs2, stop2 := stdioSession(t, s2, "")
	defer stop2()
	v := ok[SessionView](t, cs2, "get_session", map[string]any{"session_id": "durable"})
	if v.Phase != "Suspended" || v.Counts.Messages != 1 || v.Project != "p" {
		t.Fatalf("after restart = %+v", v)
	}
}
