// Package sessions is where the MCP server finds its sessions: the
// session registry (McpSession objects through the manager's cache, or,
// without Kubernetes, a local registry inside the store), the access
// decisions taken on every call (whose identity, which namespace, which
// RBAC verb, whether the phase allows a write), and the status sync that
// writes activity and counts back to the sessions.
//
// Phases and settings are never taken on trust from status: each read
// resolves the session's settings among its namespace's policies and
// decides its phase with the pure functions of internal/lifecycle, as the
// controller does, so a session created a moment ago is already held to
// its policy's limits, and a kubectl suspend applies to the next call.
//
// Errors are typed (*NotFoundError, *ExistsError, *PhaseError,
// *QuotaError, *NameError) so internal/mcpserver words them for the
// caller without reading messages.
package sessions
