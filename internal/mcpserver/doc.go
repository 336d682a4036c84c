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
//   - internal/sessions finds the sessions: the registry (McpSession
//     objects, or a local registry in the store), the access decisions
//     (caller, namespace, RBAC verb, phase) and the status sync.
//   - internal/store holds the bulk: context, history, discoveries, keyed by
//     the session's UID, and enforces the session's limits on every write.
//   - internal/document is the JSON format export_session and
//     import_session speak.
//   - Here: the tools (tools_*.go) check their arguments, open the session
//     through internal/sessions, then read or write the store; resources,
//     the resume_briefing prompt, and the HTTP endpoint with its guards
//     (http.go). errors.go words every typed error for the caller.
package mcpserver
