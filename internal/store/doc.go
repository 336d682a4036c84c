// Package store is the contract every session store keeps: the Store
// interface the controllers, the MCP tools and the CLI use, the records it
// holds (a session's header, context entries, messages, discoveries), the
// rules every write obeys, and the typed errors it returns.
//
// Two backends implement it:
//
//   - internal/store/pebblestore, an embedded Pebble database on the
//     manager's volume (the default: one process, nothing to run beside it);
//   - internal/store/pgstore, PostgreSQL, which several manager replicas
//     share.
//
// internal/store/backend opens one from a --store value, and
// internal/store/storetest is the contract suite both pass.
//
// What is shared lives here, so both backends behave alike by
// construction: validation (validate.go), the limits and their one check on
// every write (limits.go), how each write changes a session's header and
// encodes its record (records.go), import planning (importplan.go), the
// export document (export.go), and search's analysis, BM25 scoring and
// snippets (analyze.go, bm25.go, search.go). A backend only stores and
// reads.
//
// Durability: a backend acknowledges a write only once it is durable (an
// fsynced WAL, a synchronous commit). Limits: every write (SetContext,
// AppendMessage, AppendDiscovery, Import) is checked against the Limits
// passed with it (resolved by lifecycle.SettingsFor for the session) and a
// write past one fails with a *LimitError before anything is written. Bad
// input fails with an *InvalidError (errors.Is(err, ErrInvalid)); the same
// rules hold for a record whether it is written alone or imported.
//
// Export and Import speak the JSON document format of the tutorial the
// project grew from (internal/document); the same session exports to the
// same bytes from either backend.
package store
