package mcpserver

import (
	"context"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store/pgstore"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store/pgstore/pgtest"
	"github.com/mcp-session-operator/mcp-session-operator/internal/testenv"
)

// Two replicas sharing one PostgreSQL store: a subscriber of one hears
// about writes made through the other, and each reads what the other
// wrote.
func TestSubscriberHearsOtherReplica(t *testing.T) {
	testenv.Require(t)
	url := pgtest.NewDatabase(t)
	open := func() *pgstore.Store {
		st, err := pgstore.Open(context.Background(), url, pgstore.Options{Clock: testClock})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
	ns := newNamespace(t)
	_, urlA := startServer(t, Options{Store: open()})
	_, urlB := startServer(t, Options{Store: open()})
	got := &updates{}
	subscriber := connect(t, urlA, clientOpts{onUpdate: got.add})
	writer := connect(t, urlB, clientOpts{})
	ok[SessionResult](t, writer, "create_session", map[string]any{"session_id": "shared", "namespace": ns, "project": "replicas"})
	uri := "mcpsession://" + ns + "/shared"
	if err := subscriber.Subscribe(context.Background(), &mcp.SubscribeParams{URI: uri}); err != nil {
		t.Fatal(err)
	}
	// The listen stream and the replica's LISTEN connection come up
	// asynchronously: write through B until A's subscriber hears of it.
	testenv.Eventually(t, waitTimeout, "a notification on replica A of a write through replica B", func() string {
		ok[AddMessageResult](t, writer, "add_message", map[string]any{"session_id": "shared", "namespace": ns, "role": "user", "content": "through B"})
		if got.count(uri) == 0 {
			return "no notification"
		}
		return ""
	})
	hist := ok[GetHistoryResult](t, subscriber, "get_history", map[string]any{"session_id": "shared", "namespace": ns})
	if len(hist.Messages) == 0 || hist.Messages[0].Content != "through B" {
		t.Fatalf("replica A reads %+v, want the messages written through B", hist.Messages)
	}
}
