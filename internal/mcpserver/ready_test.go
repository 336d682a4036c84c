package mcpserver

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store/pebblestore"
	"github.com/mcp-session-operator/mcp-session-operator/internal/testenv"
)

// TestReadyzCheck runs the readiness check against a server started as the
// manager starts it (Start on its bind address, production auth): it fails
// before the listener serves, passes once the listener answers (without a
// token: the ready path needs none), fails when the store is closed, and
// fails again once the server has stopped.
func TestReadyzCheck(t *testing.T) {
	testenv.Require(t)
	st, err := pebblestore.Open(t.TempDir(), pebblestore.Options{Clock: testClock, Logger: quietPebble{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	opts := kubeAuthOptions(t)
	opts.Addr, opts.Store, opts.Clock = "127.0.0.1:0", st, testClock
	opts.Client, opts.APIReader, opts.Informers = mgrClient, mgrReader, mgr.GetCache()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	check := s.ReadyzCheck()
	probe := func() error { return check(httptest.NewRequest(http.MethodGet, "/readyz", nil)) }

	if err := probe(); err == nil || !strings.Contains(err.Error(), "not serving yet") {
		t.Fatalf("before Start: check returned %v, want a not-serving error", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Start: %v", err)
			}
		}
	}
	t.Cleanup(stop)
	testenv.Eventually(t, waitTimeout, "the readiness check to pass", func() string {
		if err := probe(); err != nil {
			return err.Error()
		}
		return ""
	})

	// The MCP endpoint itself still demands a token; only the ready path
	// is open.
	mcpURL := strings.TrimSuffix(*s.readyURL.Load(), ReadyPath) + "/mcp"
	resp, err := http.Post(mcpURL, "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST /mcp without a token: %s, want 401", resp.Status)
	}

	// The store's state reaches the check through the listener: a 503
	// from the ready path, not a shortcut in the check.
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := probe(); err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), store.ErrClosed.Error()) {
		t.Fatalf("with the store closed: check returned %v, want a 503 naming the closed store", err)
	}

	stop()
	if err := probe(); err == nil || !strings.Contains(err.Error(), "not serving") {
		t.Fatalf("after the server stopped: check returned %v, want a not-serving error", err)
	}
}

func TestReadyURL(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:8090": "http://127.0.0.1:8090/readyz",
		"0.0.0.0:8090":   "http://127.0.0.1:8090/readyz",
		"[::]:8090":      "http://127.0.0.1:8090/readyz",
		"10.1.2.3:8090":  "http://10.1.2.3:8090/readyz",
		"[::1]:8090":     "http://[::1]:8090/readyz",
	} {
		tcp, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := readyURL(tcp); got != want {
			t.Errorf("readyURL(%s) = %s, want %s", addr, got, want)
		}
	}
}
