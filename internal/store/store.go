package store

import (
	"context"
	"encoding/json"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mcp-session-operator/mcp-session-operator/internal/document"
)

// Store keeps sessions' data. It is what the controllers (Erase), the MCP
// tools (everything else) and the manager's commands (Export, Import) need,
// and nothing of how a backend keeps it. Every method is safe for
// concurrent use, from one process or, for backends that allow it, from
// several. Errors wrap the sentinels and typed errors of errors.go.
type Store interface {
	// Create makes an empty session; ErrExists if the UID is taken.
	Create(ctx context.Context, ref SessionRef) (Header, error)
	// Get returns the session header with its counters.
	Get(ctx context.Context, uid string) (Header, error)
	// Stats returns the session's counters.
	Stats(ctx context.Context, uid string) (Stats, error)
	// Erase deletes every record of the session. Erasing a missing session
	// succeeds: the finalizer that calls it may be retried.
	Erase(ctx context.Context, uid string) error
	// Sessions calls fn with the header of every session, in UID order,
	// until fn returns an error (which Sessions returns): what copying a
	// whole store (manager migrate) reads.
	Sessions(ctx context.Context, fn func(Header) error) error

	// SetContext adds or replaces a context entry (any JSON value, stored
	// compact), within limits.
	SetContext(ctx context.Context, uid, key string, value json.RawMessage, limits Limits) (ContextEntry, error)
	// GetContext returns one context entry, or ErrNotFound.
	GetContext(ctx context.Context, uid, key string) (ContextEntry, error)
	// DeleteContext removes a context entry; ErrNotFound if it does not exist.
	DeleteContext(ctx context.Context, uid, key string) error
	// ListContext returns the entries whose key starts with prefix ("" for
	// all), in key (byte) order, values included.
	ListContext(ctx context.Context, uid, prefix string) ([]ContextEntry, error)
	// ContextKeys returns the context keys starting with prefix, in order.
	ContextKeys(ctx context.Context, uid, prefix string) ([]string, error)

	// AppendMessage adds a message at the end of the history, within
	// limits, and returns its sequence number: contiguous from 1, whoever
	// writes concurrently.
	AppendMessage(ctx context.Context, uid string, m Message, limits Limits) (uint64, error)
	// History returns up to limit messages from sequence number fromSeq
	// (0: the start), oldest first, and the fromSeq of the next page (0
	// when there is none).
	History(ctx context.Context, uid string, fromSeq uint64, limit int) (msgs []Message, next uint64, err error)
	// Tail returns the last n messages, oldest first, at a cost that does
	// not depend on the length of the history.
	Tail(ctx context.Context, uid string, n int) ([]Message, error)

	// AppendDiscovery records a discovery, within limits, and returns its
	// sequence number (contiguous from 1).
	AppendDiscovery(ctx context.Context, uid string, d Discovery, limits Limits) (uint64, error)
	// ListDiscoveries returns the session's discoveries in sequence order,
	// or newest first.
	ListDiscoveries(ctx context.Context, uid string, opts ListOptions) ([]Discovery, error)

	// Search ranks the records of the given sessions against query (BM25,
	// words matched through their stems; see Corpus) and returns the best
	// hits.
	Search(ctx context.Context, query string, uids []string, opts SearchOptions) ([]Hit, error)

	// Export returns the session as a tutorial-format document, read at one
	// point in time, with its state left empty for the caller to fill.
	Export(ctx context.Context, uid string) (*document.Document, error)
	// Import writes a document as session ref, all of it or (on any error)
	// nothing.
	Import(ctx context.Context, ref SessionRef, doc *document.Document, opts ImportOptions) (Header, error)

	// Watch calls fn for every write made through another process sharing
	// the store (another replica) until ctx ends; the process's own writes
	// are its own to announce. A backend only one process can open returns
	// at once. Notifications are hints: one lost while the connection is
	// re-established is not retried.
	Watch(ctx context.Context, fn func(Change)) error

	// Ping reports whether the store serves operations: nil while it does,
	// ErrClosed once Close began, ErrUnavailable while the database cannot
	// be reached. It is cheap enough for every readiness probe.
	Ping(ctx context.Context) error
	// Collector reports the store's health as Prometheus metrics.
	Collector() prometheus.Collector
	// Close waits for operations in flight and releases the store; later
	// calls return ErrClosed.
	Close() error
}

// Exclusive is implemented by a backend only one process can open at a
// time (Pebble locks its folder): what the process keeps in memory of the
// store's contents cannot be changed behind its back. A store that does
// not implement it may be shared.
type Exclusive interface {
	Exclusive() bool
}

// Change is one write to a session, as Watch reports it.
type Change struct {
	UID, Namespace, Name string
}
