package mcpserver

import (
	"context"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-session-operator/mcp-session-operator/internal/auth"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// AddMessageArgs are add_message's arguments.
type AddMessageArgs struct {
	SessionArgs
	Role     string         `json:"role" jsonschema:"Who spoke: user, assistant, system or tool."`
	Content  string         `json:"content" jsonschema:"The message text."`
	Metadata map[string]any `json:"metadata,omitempty" jsonschema:"Optional facts about the message, e.g. {\"tool\": \"heap_profile\"}."`
}

// AddMessageResult is add_message's result.
type AddMessageResult struct {
	Status    string `json:"status"`
	SessionID string `json:"session_id"`
	Seq       uint64 `json:"seq" jsonschema:"Sequence number of the message in the history (first is 1)."`
}

// GetHistoryArgs are get_history's arguments.
type GetHistoryArgs struct {
	SessionArgs
	Limit  int    `json:"limit,omitempty" jsonschema:"Most messages to return (default 50, at most 500)."`
	Cursor string `json:"cursor,omitempty" jsonschema:"next_cursor of a previous call; omit to start at the first message."`
}

// GetHistoryResult is get_history's result.
type GetHistoryResult struct {
	SessionID  string        `json:"session_id"`
	Messages   []MessageView `json:"messages" jsonschema:"Oldest first."`
	NextCursor string        `json:"next_cursor,omitempty" jsonschema:"Pass as cursor for the next page; absent on the last page."`
	Total      int64         `json:"total" jsonschema:"Number of messages in the session."`
}

func (s *Server) addMessage(ctx context.Context, _ *mcp.CallToolRequest, in AddMessageArgs) (*mcp.CallToolResult, AddMessageResult, error) {
	sess, err := s.openWritable(ctx, in.SessionID, in.Namespace)
	if err != nil {
		return nil, AddMessageResult{}, err
	}
	seq, err := s.opts.Store.AppendMessage(ctx, sess.UID, store.Message{Role: in.Role, Content: in.Content, Metadata: in.Metadata}, sess.Settings.Limits)
	if err != nil {
		return nil, AddMessageResult{}, err
	}
	s.used(ctx, sess, true)
	return nil, AddMessageResult{Status: "stored", SessionID: sess.Name, Seq: seq}, nil
}

func (s *Server) getHistory(ctx context.Context, _ *mcp.CallToolRequest, in GetHistoryArgs) (*mcp.CallToolResult, GetHistoryResult, error) {
	sess, err := s.open(ctx, auth.VerbGet, in.SessionID, in.Namespace)
	if err != nil {
		return nil, GetHistoryResult{}, err
	}
	limit, err := clampLimit(in.Limit, 50, 500)
	if err != nil {
		return nil, GetHistoryResult{}, err
	}
	from, err := decodeCursor(in.Cursor)
	if err != nil {
		return nil, GetHistoryResult{}, err
	}
	msgs, next, err := s.opts.Store.History(ctx, sess.UID, from, limit)
	if err != nil {
		return nil, GetHistoryResult{}, err
	}
	st, err := s.sessions.Stats(ctx, sess)
	if err != nil {
		return nil, GetHistoryResult{}, err
	}
	res := GetHistoryResult{SessionID: sess.Name, Messages: make([]MessageView, 0, len(msgs)), NextCursor: encodeCursor(next), Total: st.Messages}
	for _, m := range msgs {
		res.Messages = append(res.Messages, messageView(m, 0))
	}
	s.used(ctx, sess, false)
	return nil, res, nil
}
