package mcpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store/pebblestore"
)

// The servers add_message is compared with. Both are bare go-sdk servers
// in the same modes as ours (stateless Streamable HTTP, or stdio), with one
// tool taking add_message's arguments and answering its result shape:
//
//   - the floor: the tool makes one synced Pebble write of the record
//     add_message writes (the message, with its sequence number and
//     timestamp), committed as the store commits (a batch, ApplyNoSyncWait
//     with pebble.Sync, then SyncWait: Pebble's group commit, fsync at
//     once unless a sync window is set), in a database opened with the
//     store's cache and memtable sizes. What a durable write over MCP
//     costs at the least: transport, the go-sdk, one fsync.
//   - the no-op: the tool does nothing (the transport's own ceiling; kept
//     for information).

// floorArgs and floorResult are add_message's shapes.
type floorArgs struct {
	SessionID string         `json:"session_id"`
	Role      string         `json:"role"`
	Content   string         `json:"content"`
	Metadata  map[string]any `json:"metadata,omitempty"`
}

type floorResult struct {
	Status    string `json:"status"`
	SessionID string `json:"session_id"`
	Seq       uint64 `json:"seq"`
}

// floorServer returns the floor: a go-sdk server whose tool "append"
// makes one synced Pebble write. walWindow is Pebble's WALMinSyncInterval
// (0: sync at once, the store's default).
func floorServer(b *testing.B, walWindow time.Duration) *mcp.Server {
	b.Helper()
	po := &pebble.Options{
		CacheSize:          pebblestore.DefaultCacheSize,
		MemTableSize:       pebblestore.DefaultMemTableSize,
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             quietPebble{},
	}
	if walWindow > 0 {
		po.WALMinSyncInterval = func() time.Duration { return walWindow }
	}
	db, err := pebble.Open(b.TempDir(), po)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	var seq atomic.Uint64
	srv := mcp.NewServer(&mcp.Implementation{Name: "floor", Version: "v0"}, nil)
	mcp.AddTool(srv, &mcp.Tool{Name: "append", Description: "one synced Pebble write"},
		func(_ context.Context, _ *mcp.CallToolRequest, in floorArgs) (*mcp.CallToolResult, floorResult, error) {
			n := seq.Add(1)
			// The record the store writes: the message, as it encodes it.
			rec, err := json.Marshal(store.Message{Seq: n, Role: in.Role, Content: in.Content, Timestamp: time.Now().UTC(), Metadata: in.Metadata})
			if err != nil {
				return nil, floorResult{}, err
			}
			batch := db.NewBatch()
			defer batch.Close()
			if err := batch.Set(fmt.Appendf(nil, "s/floor/msg/%020d", n), rec, nil); err != nil {
				return nil, floorResult{}, err
			}
			if err := db.ApplyNoSyncWait(batch, pebble.Sync); err != nil {
				return nil, floorResult{}, err
			}
			if err := batch.SyncWait(); err != nil {
				return nil, floorResult{}, err
			}
			return nil, floorResult{Status: "stored", SessionID: in.SessionID, Seq: n}, nil
		})
	return srv
}

// noopServer returns the no-op: a go-sdk server whose tool "noop" does
// nothing.
func noopServer() *mcp.Server {
	srv := mcp.NewServer(&mcp.Implementation{Name: "noop", Version: "v0"}, nil)
	mcp.AddTool(srv, &mcp.Tool{Name: "noop", Description: "does nothing"},
		func(_ context.Context, _ *mcp.CallToolRequest, in floorArgs) (*mcp.CallToolResult, floorResult, error) {
			return nil, floorResult{Status: "stored", SessionID: in.SessionID}, nil
		})
	return srv
}

// serveBare serves a bare server over stateless Streamable HTTP on a
// loopback port until the benchmark ends, and returns its URL.
func serveBare(b *testing.B, srv *mcp.Server) string {
	b.Helper()
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, &mcp.StreamableHTTPOptions{Stateless: true})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hs := &http.Server{Handler: h}
	go func() { _ = hs.Serve(ln) }()
	b.Cleanup(func() { _ = hs.Close() })
	return "http://" + ln.Addr().String() + "/mcp"
}

// stdioPipes connects a go-sdk client to serve (which runs a server on the
// given pipe ends until its context ends), as a desktop client connects to
// a server it launched, for the rest of the benchmark.
func stdioPipes(b *testing.B, serve func(ctx context.Context, in io.Reader, out io.Writer) error) *mcp.ClientSession {
	b.Helper()
	c2sR, c2sW := io.Pipe()
	s2cR, s2cW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = serve(ctx, c2sR, s2cW)
		_ = s2cW.Close()
	}()
	c := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "v0"}, nil)
	cs, err := c.Connect(context.Background(), &mcp.IOTransport{Reader: s2cR, Writer: c2sW}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cs.Close()
		_ = c2sW.Close()
		cancel()
		<-done
	})
	return cs
}

// stdioBare is stdioPipes for a bare server.
func stdioBare(b *testing.B, srv *mcp.Server) *mcp.ClientSession {
	return stdioPipes(b, func(ctx context.Context, in io.Reader, out io.Writer) error {
		return srv.Run(ctx, &mcp.IOTransport{Reader: io.NopCloser(in), Writer: nopWriteCloser{out}})
	})
}
