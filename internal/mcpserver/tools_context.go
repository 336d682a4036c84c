package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-session-operator/mcp-session-operator/internal/auth"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// AddContextArgs are add_context's arguments.
type AddContextArgs struct {
	SessionArgs
	Key   string `json:"key" jsonschema:"Name of the context entry, e.g. deployment_diff. Setting an existing key replaces its value."`
	Value any    `json:"value" jsonschema:"Any JSON value: object, array, string, number, boolean."`
}

// ContextEntryView is one context entry.
type ContextEntryView struct {
	Key       string  `json:"key"`
	Value     any     `json:"value,omitempty" jsonschema:"The stored JSON value."`
	Type      string  `json:"type,omitempty" jsonschema:"Type of the value as the tutorial records it: dict, list, str, int, float, bool, NoneType."`
	AddedAt   string  `json:"added_at,omitempty"`
	UpdatedAt string  `json:"updated_at,omitempty"`
	Score     float64 `json:"score,omitempty" jsonschema:"Relevance to the query (BM25), for ranked results."`
	Snippet   string  `json:"snippet,omitempty"`
}

// AddContextResult is add_context's result.
type AddContextResult struct {
	Status    string `json:"status"`
	SessionID string `json:"session_id"`
	ContextEntryView
}

// GetContextArgs are get_context's arguments.
type GetContextArgs struct {
	SessionArgs
	Key   string `json:"key,omitempty" jsonschema:"Return only this entry."`
	Query string `json:"query,omitempty" jsonschema:"Return the entries most relevant to these words, best first (ranked, not a substring filter)."`
	Limit int    `json:"limit,omitempty" jsonschema:"Most entries to return (default 100 for all, 10 for a query; at most 1000)."`
}

// GetContextResult is get_context's result.
type GetContextResult struct {
	SessionID string             `json:"session_id"`
	Entries   []ContextEntryView `json:"entries"`
	Total     int64              `json:"total" jsonschema:"Number of entries in the session."`
	Truncated bool               `json:"truncated,omitempty" jsonschema:"More entries exist than were returned; raise limit or ask by key."`
}

func entryView(e store.ContextEntry) ContextEntryView {
	return ContextEntryView{Key: e.Key, Value: json.RawMessage(e.Value), Type: e.Type, AddedAt: fmtTime(e.AddedAt), UpdatedAt: fmtTime(e.UpdatedAt)}
}

func (s *Server) addContext(ctx context.Context, _ *mcp.CallToolRequest, in AddContextArgs) (*mcp.CallToolResult, AddContextResult, error) {
	sess, err := s.openWritable(ctx, in.SessionID, in.Namespace)
	if err != nil {
		return nil, AddContextResult{}, err
	}
	raw, err := json.Marshal(in.Value)
	if err != nil {
		return nil, AddContextResult{}, userErrorf("value cannot be encoded as JSON: %v", err)
	}
	e, err := s.opts.Store.SetContext(ctx, sess.UID, in.Key, raw, sess.Settings.Limits)
	if err != nil {
		return nil, AddContextResult{}, err
	}
	s.used(ctx, sess, true)
	v := entryView(e)
	v.Value = nil // the caller just sent it
	return nil, AddContextResult{Status: "stored", SessionID: sess.Name, ContextEntryView: v}, nil
}

func (s *Server) getContext(ctx context.Context, _ *mcp.CallToolRequest, in GetContextArgs) (*mcp.CallToolResult, GetContextResult, error) {
	sess, err := s.open(ctx, auth.VerbGet, in.SessionID, in.Namespace)
	if err != nil {
		return nil, GetContextResult{}, err
	}
	uid := sess.UID
	res := GetContextResult{SessionID: sess.Name, Entries: []ContextEntryView{}}
	st, err := s.sessions.Stats(ctx, sess)
	if err != nil {
		return nil, GetContextResult{}, err
	}
	res.Total = st.ContextItems
	switch {
	case in.Key != "":
		e, err := s.opts.Store.GetContext(ctx, uid, in.Key)
		if errors.Is(err, store.ErrNotFound) {
			keys, _ := s.opts.Store.ContextKeys(ctx, uid, "")
			return nil, GetContextResult{}, userErrorf("context key %q not found in session %q; %s", in.Key, sess.Name, keyHint(keys))
		}
		if err != nil {
			return nil, GetContextResult{}, err
		}
		res.Entries = append(res.Entries, entryView(e))
	case strings.TrimSpace(in.Query) != "":
		limit, err := clampLimit(in.Limit, 10, 1000)
		if err != nil {
			return nil, GetContextResult{}, err
		}
		if res.Entries, err = s.rankedContext(ctx, uid, in.Query, limit); err != nil {
			return nil, GetContextResult{}, err
		}
	default:
		limit, err := clampLimit(in.Limit, 100, 1000)
		if err != nil {
			return nil, GetContextResult{}, err
		}
		all, err := s.opts.Store.ListContext(ctx, uid, "")
		if err != nil {
			return nil, GetContextResult{}, err
		}
		if len(all) > limit {
			all, res.Truncated = all[:limit], true
		}
		for _, e := range all {
			res.Entries = append(res.Entries, entryView(e))
		}
	}
	s.used(ctx, sess, false)
	return nil, res, nil
}

// rankedContext returns the context entries best matching query, ranked
// by the store among the session's context entries only.
func (s *Server) rankedContext(ctx context.Context, uid, query string, limit int) ([]ContextEntryView, error) {
	hits, err := s.opts.Store.Search(ctx, query, []string{uid}, store.SearchOptions{Limit: limit, Kinds: []store.Kind{store.KindContext}})
	if err != nil {
		return nil, err
	}
	out := []ContextEntryView{}
	for _, h := range hits {
		e, err := s.opts.Store.GetContext(ctx, uid, h.Key)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted since the search
		}
		if err != nil {
			return nil, err
		}
		v := entryView(e)
		v.Score, v.Snippet = h.Score, h.Snippet
		out = append(out, v)
	}
	return out, nil
}

// keyHint lists some existing keys so a model can correct a typo.
func keyHint(keys []string) string {
	if len(keys) == 0 {
		return "the session has no context yet (add_context adds some)"
	}
	const show = 20
	if len(keys) > show {
		return "existing keys include: " + strings.Join(keys[:show], ", ") + ", ..."
	}
	return "existing keys: " + strings.Join(keys, ", ")
}
