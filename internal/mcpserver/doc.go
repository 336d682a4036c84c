// Package mcpserver is the door AI agents use to reach their McpSessions: an
// MCP server (github.com/modelcontextprotocol/go-sdk) with tools, resources
// and a prompt over the sessions, served over Streamable HTTP in the
// go-sdk's stateless mode inside the cluster, or over stdio for a desktop
// client on a local data folder.
//
// There are no protocol-level sessions (the 2026-07-28 revision removed them,
// see SEP-2567): the McpSession name and namespace are the handle every tool
// takes, checked against the caller's identity on every call. Stateless also
// means any replica can answer any request.
//
// The pieces:
//
//   - Registry (registry.go) holds session metadata and lifecycle: the
//     Kubernetes implementation keeps them in McpSession objects, the local
//     one in the store itself.
//   - The store (internal/store) holds the bulk: context, history,
//     discoveries, keyed by the session's UID.
//   - The tools (tools_*.go) check access, resolve the session, check its
//     phase, then read or write the store and record activity.
//   - statusSyncer (statussync.go) writes counts and lastActivityTime back to
//     the session at most every few seconds, at once on lifecycle changes.
package mcpserver
