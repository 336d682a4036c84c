package mcpserver

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// countingRegistry counts status writes.
type countingRegistry struct {
	Registry
	writes atomic.Int32
}

func (c *countingRegistry) WriteStatus(ctx context.Context, namespace, name, uid string, u StatusUpdate) error {
	c.writes.Add(1)
	return c.Registry.WriteStatus(ctx, namespace, name, uid, u)
}

// TestStatusSyncIsCoarse: a burst of calls costs one status write per
// interval, not one per call; the counts land on the McpSession; pending
// status is flushed on shutdown.
func TestStatusSyncIsCoarse(t *testing.T) {
	ns := newNamespace(t)
	s, err := New(Options{Store: testStore, Clock: testClock, Client: mgrClient, APIReader: mgrReader, AuthMode: AuthNone})
	if err != nil {
		t.Fatal(err)
	}
	counter := &countingRegistry{Registry: s.reg}
	s.sync.reg = counter
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.serve(ctx, ln) }()
	defer func() {
		cancel()
		<-done
	}()
	cs := connect(t, "http://"+ln.Addr().String()+"/mcp", clientOpts{})
	args := map[string]any{"session_id": "busy", "namespace": ns, "role": "user", "content": "x"}
	ok[SessionResult](t, cs, "create_session", map[string]any{"session_id": "busy", "namespace": ns})
	send := func(n int) {
		for range n {
			ok[AddMessageResult](t, cs, "add_message", args)
		}
	}
	messages := func() int64 { return session(t, ns, "busy").Status.Counts.Messages }

	send(50)
	if n := counter.writes.Load(); n != 0 {
		t.Fatalf("%d status writes before the first tick", n)
	}
	testClock.Step(tickPeriod(DefaultSyncInterval))
	eventually(t, "first status write", func() (bool, string) { return messages() == 50, jsonOf(session(t, ns, "busy").Status) })
	if n := counter.writes.Load(); n != 1 {
		t.Fatalf("status writes = %d, want 1", n)
	}
	if la := session(t, ns, "busy").Status.LastActivityTime; la == nil {
		t.Fatal("no lastActivityTime")
	}

	send(50)
	testClock.Step(tickPeriod(DefaultSyncInterval)) // within the interval: nothing
	time.Sleep(200 * time.Millisecond)
	if n := counter.writes.Load(); n != 1 {
		t.Fatalf("status writes within the interval = %d, want 1", n)
	}
	testClock.Step(DefaultSyncInterval)
	eventually(t, "second status write", func() (bool, string) { return messages() == 100, jsonOf(session(t, ns, "busy").Status) })
	if n := counter.writes.Load(); n != 2 {
		t.Fatalf("status writes = %d, want 2", n)
	}

	send(1)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	done <- nil // for the deferred receive
	if m := messages(); m != 101 {
		t.Fatalf("after shutdown flush, messages = %d, want 101", m)
	}
}
