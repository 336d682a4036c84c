// Package store keeps McpSession data (context, conversation history,
// discoveries) in an embedded Pebble database on the manager's volume.
//
// Each session is a set of keys under "s/<uid>/" (see keys.go): a header
// with counters, one key per context entry, one per message and one per
// discovery. Nothing ever rewrites a session, so an append costs the same at
// message 1 and message 1,000,000, and resuming a session reads only what it
// shows (the header, the last messages, the context keys).
//
// Durability and atomicity: every acknowledged write is one Pebble batch,
// containing the record and the updated header, committed with pebble.Sync
// and acknowledged only after its WAL fsync. Writers of one session are
// serialised up to applying their batch, so counters and sequence numbers
// cannot race, but wait for the fsync outside that lock: all writers, of one
// session or many, share fsyncs through Pebble's group commit.
//
// The store is the one layer that enforces a session's limits: every write
// (SetContext, AppendMessage, AppendDiscovery, Import) is checked against
// the Limits passed with it (resolved by lifecycle.Resolve for the session)
// and a write past one fails with a *LimitError before anything is written.
// Bad input fails with an *InvalidError (errors.Is(err, ErrInvalid)); the
// same rules hold for a record whether it is written alone or imported.
//
// Search is BM25 computed at query time over the sessions asked for, with
// words matched through their stems (see analyzer); see Search for why
// there is no inverted index.
//
// Export and Import speak the JSON document format of the tutorial the
// project grew from (internal/document), so sessions can be migrated in
// from and out to file-based tools.
package store
