package mcpserver

import (
	"context"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-session-operator/mcp-session-operator/internal/auth"
	"github.com/mcp-session-operator/mcp-session-operator/internal/sessions"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// AddDiscoveryArgs are add_discovery's arguments.
type AddDiscoveryArgs struct {
	SessionArgs
	Title       string  `json:"title" jsonschema:"The finding in a few words, e.g. In-memory cache has no eviction policy."`
	Description string  `json:"description,omitempty" jsonschema:"The evidence and detail."`
	Relevance   float64 `json:"relevance,omitempty" jsonschema:"Importance in (0, 1]; default 1."`
}

// AddDiscoveryResult is add_discovery's result.
type AddDiscoveryResult struct {
	Status    string `json:"status"`
	SessionID string `json:"session_id"`
	Seq       uint64 `json:"seq"`
}

// SearchArgs are search's arguments.
type SearchArgs struct {
	Query     string `json:"query" jsonschema:"Words to look for; results are ranked by relevance (BM25) across context, discoveries and messages."`
	Namespace string `json:"namespace,omitempty" jsonschema:"Namespace whose sessions to search; defaults to your service account's namespace."`
	SessionID string `json:"session_id,omitempty" jsonschema:"Search only this session."`
	Limit     int    `json:"limit,omitempty" jsonschema:"Most hits to return (default 20, at most 100)."`
}

// SearchHit is one search result.
type SearchHit struct {
	SessionID string  `json:"session_id"`
	Kind      string  `json:"kind" jsonschema:"context, discovery or message."`
	Key       string  `json:"key,omitempty" jsonschema:"Context key, for context hits."`
	Seq       uint64  `json:"seq,omitempty" jsonschema:"Sequence number, for message and discovery hits."`
	Score     float64 `json:"score"`
	Snippet   string  `json:"snippet"`
}

// SearchResult is search's result.
type SearchResult struct {
	Namespace string      `json:"namespace"`
	Hits      []SearchHit `json:"hits"`
	Sessions  int         `json:"sessions_searched"`
}

func (s *Server) addDiscovery(ctx context.Context, _ *mcp.CallToolRequest, in AddDiscoveryArgs) (*mcp.CallToolResult, AddDiscoveryResult, error) {
	sess, err := s.openWritable(ctx, in.SessionID, in.Namespace)
	if err != nil {
		return nil, AddDiscoveryResult{}, err
	}
	seq, err := s.opts.Store.AppendDiscovery(ctx, sess.UID, store.Discovery{Title: in.Title, Description: in.Description, Relevance: in.Relevance}, sess.Settings.Limits)
	if err != nil {
		return nil, AddDiscoveryResult{}, err
	}
	s.used(ctx, sess, true)
	return nil, AddDiscoveryResult{Status: "stored", SessionID: sess.Name, Seq: seq}, nil
}

func (s *Server) search(ctx context.Context, _ *mcp.CallToolRequest, in SearchArgs) (*mcp.CallToolResult, SearchResult, error) {
	limit, err := clampLimit(in.Limit, store.DefaultSearchLimit, 100)
	if err != nil {
		return nil, SearchResult{}, err
	}
	var found []sessions.Session
	var ns string
	if in.SessionID != "" {
		sess, err := s.open(ctx, auth.VerbGet, in.SessionID, in.Namespace)
		if err != nil {
			return nil, SearchResult{}, err
		}
		found, ns = []sessions.Session{sess}, sess.Namespace
	} else {
		id, nsIn, err := s.callerIn(ctx, in.Namespace)
		if err != nil {
			return nil, SearchResult{}, err
		}
		ns = nsIn
		if err := s.sessions.Authorize(ctx, id, auth.VerbList, ns, ""); err != nil {
			return nil, SearchResult{}, err
		}
		if found, err = s.sessions.List(ctx, ns); err != nil {
			return nil, SearchResult{}, err
		}
	}
	res := SearchResult{Namespace: ns, Hits: []SearchHit{}, Sessions: len(found)}
	if len(found) == 0 {
		return nil, res, nil
	}
	names := make(map[string]string, len(found))
	uids := make([]string, 0, len(found))
	for _, sess := range found {
		names[sess.UID] = sess.Name
		uids = append(uids, sess.UID)
	}
	hits, err := s.opts.Store.Search(ctx, in.Query, uids, store.SearchOptions{Limit: limit})
	if err != nil {
		return nil, SearchResult{}, err
	}
	for _, h := range hits {
		res.Hits = append(res.Hits, SearchHit{SessionID: names[h.UID], Kind: string(h.Kind), Key: h.Key, Seq: h.Seq, Score: h.Score, Snippet: h.Snippet})
	}
	return nil, res, nil
}
