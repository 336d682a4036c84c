package mcpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// instructions tell a client what the server is for and how the handle
// works.
func (s *Server) instructions() string {
	return "Persistent, resumable sessions: keep context, conversation history and discoveries across days. " +
		"Create a session once (create_session) and pass its session_id (and namespace) to every later call: " +
		"there is no protocol session, the session_id is the handle. Record facts with add_context, findings with " +
		"add_discovery and the conversation with add_message. At the end of a working day call suspend_session; " +
		"the next day call resume_session to get a briefing and continue. " + s.durabilityDefaults()
}

// tool registers a typed tool, turning every error it returns into a
// clear isError result (see toolFailure).
//
// The input schema is inferred from In as the go-sdk would, but handed to it
// already encoded: the go-sdk re-encodes a tool's input schema on every call
// (to look for x-mcp-header annotations), and encoding a *jsonschema.Schema
// by reflection cost more CPU than the tool itself.
func tool[In, Out any](s *Server, t *mcp.Tool, h mcp.ToolHandlerFor[In, Out]) {
	schema, err := jsonschema.For[In](nil)
	if err != nil {
		panic(fmt.Sprintf("tool %s: input schema: %v", t.Name, err))
	}
	raw, err := json.Marshal(schema)
	if err != nil {
		panic(fmt.Sprintf("tool %s: input schema: %v", t.Name, err))
	}
	t.InputSchema = json.RawMessage(raw)
	m := newToolMetrics(t.Name)
	mcp.AddTool(s.mcp, t, func(ctx context.Context, req *mcp.CallToolRequest, in In) (*mcp.CallToolResult, Out, error) {
		start := time.Now()
		res, out, err := h(ctx, req, in)
		m.duration.Observe(time.Since(start).Seconds())
		if err != nil {
			msg, internal := classify(ctx, t.Name, err)
			if internal {
				m.failed.Inc()
			} else {
				m.refused.Inc()
			}
			var zero Out
			return nil, zero, msg
		}
		m.ok.Inc()
		return res, out, nil
	})
}

func hints(readOnly, idempotent, destructive bool) *mcp.ToolAnnotations {
	closed := false
	return &mcp.ToolAnnotations{ReadOnlyHint: readOnly, IdempotentHint: idempotent, DestructiveHint: &destructive, OpenWorldHint: &closed}
}

func (s *Server) addTools() {
	dur := " " + s.durabilityDefaults()
	tool(s, &mcp.Tool{
		Name:  "create_session",
		Title: "Create a persistent session",
		Description: "Create a new persistent session to keep context, conversation history and discoveries across days. " +
			"session_id is your handle for every later call (a DNS-1123 name such as debug-memory-leak-2025-09); " +
			"if it already exists, use resume_session instead." + dur,
		Annotations: hints(false, false, false),
	}, s.createSession)
	tool(s, &mcp.Tool{
		Name:        "get_session",
		Title:       "Show a session",
		Description: "Show a session: phase (Active, Suspended, Terminated), counts of context items, messages and discoveries, limits, and its durability (when it will be suspended or expire).",
		Annotations: hints(true, true, false),
	}, s.getSession)
	tool(s, &mcp.Tool{
		Name:        "list_sessions",
		Title:       "List sessions",
		Description: "List the sessions of a namespace you may see, optionally only those of a project or carrying labels. Paginated: pass next_cursor as cursor.",
		Annotations: hints(true, true, false),
	}, s.listSessions)
	tool(s, &mcp.Tool{
		Name:  "add_context",
		Title: "Store a context entry",
		Description: "Store a named piece of context (any JSON value) in an active session, replacing the value of an existing key. " +
			"Fails on a suspended session (call resume_session first) or a terminated one (read-only).",
		Annotations: hints(false, true, false),
	}, s.addContext)
	tool(s, &mcp.Tool{
		Name:  "get_context",
		Title: "Read context",
		Description: "Read a session's context: one entry by key, the entries most relevant to a query (ranked), or all entries. " +
			"Works in every phase.",
		Annotations: hints(true, true, false),
	}, s.getContext)
	tool(s, &mcp.Tool{
		Name:        "add_message",
		Title:       "Append a message",
		Description: "Append a message (role user, assistant, system or tool) to an active session's conversation history. Fails on a suspended or terminated session.",
		Annotations: hints(false, false, false),
	}, s.addMessage)
	tool(s, &mcp.Tool{
		Name:        "get_history",
		Title:       "Read conversation history",
		Description: "Read a session's conversation history, oldest first, a page at a time: pass next_cursor as cursor for the next page.",
		Annotations: hints(true, true, false),
	}, s.getHistory)
	tool(s, &mcp.Tool{
		Name:        "add_discovery",
		Title:       "Record a discovery",
		Description: "Record an important finding in an active session (a title, the evidence, a relevance in (0, 1]); resume briefings show the latest ones first.",
		Annotations: hints(false, false, false),
	}, s.addDiscovery)
	tool(s, &mcp.Tool{
		Name:        "search",
		Title:       "Search sessions",
		Description: "Search the context, discoveries and messages of the sessions of a namespace you may list (or of one session), ranked by relevance (BM25).",
		Annotations: hints(true, true, false),
	}, s.search)
	tool(s, &mcp.Tool{
		Name:        "suspend_session",
		Title:       "Suspend a session",
		Description: "Suspend a session at the end of a working day: everything is kept and stays readable; writes fail until resume_session." + dur,
		Annotations: hints(false, true, false),
	}, s.suspendSession)
	tool(s, &mcp.Tool{
		Name:  "resume_session",
		Title: "Resume a session",
		Description: "Resume a suspended (or idle) session and get a briefing to continue: recent discoveries, context keys and the last messages. " +
			"A terminated session cannot be resumed.",
		Annotations: hints(false, true, false),
	}, s.resumeSession)
	tool(s, &mcp.Tool{
		Name:  "terminate_session",
		Title: "Terminate a session",
		Description: "Terminate a session for good when its work is finished: it becomes read-only (readable and exportable) " +
			"until its retention runs out and it is deleted. Irreversible.",
		Annotations: hints(false, true, true),
	}, s.terminateSession)
	tool(s, &mcp.Tool{
		Name:        "export_session",
		Title:       "Export a session",
		Description: "Export a session as one JSON document in the tutorial's format (id, created_at, state, project, context, discoveries, conversation_history), e.g. to archive it or move it elsewhere.",
		Annotations: hints(true, true, false),
	}, s.exportSession)
	tool(s, &mcp.Tool{
		Name:        "import_session",
		Title:       "Import a session",
		Description: "Create a new session from a session document (export_session's output, or a JSON file from a tutorial-style tool). The session_id must not exist yet." + dur,
		Annotations: hints(false, false, false),
	}, s.importSession)
	tool(s, &mcp.Tool{
		Name:        "delete_session",
		Title:       "Delete a session",
		Description: "Delete a session and erase all its data now. Irreversible; prefer terminate_session to keep it readable for a while.",
		Annotations: hints(false, true, true),
	}, s.deleteSession)
}
