package mcpserver

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-session-operator/mcp-session-operator/internal/auth"
	"github.com/mcp-session-operator/mcp-session-operator/internal/document"
	"github.com/mcp-session-operator/mcp-session-operator/internal/sessions"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// ExportResult is export_session's result.
type ExportResult struct {
	SessionID string `json:"session_id"`
	Namespace string `json:"namespace"`
	Document  any    `json:"document" jsonschema:"The session in the tutorial's JSON format: id, created_at, state, project, context {key: {value, added_at}}, discoveries [], conversation_history []."`
}

// ImportSessionArgs are import_session's arguments.
type ImportSessionArgs struct {
	SessionArgs
	Document    any               `json:"document,omitempty" jsonschema:"The session document as a JSON object (what export_session returns, or a file from a tutorial-style tool)."`
	Content     string            `json:"content,omitempty" jsonschema:"The same document as JSON text, if you have it as a string; give document or content, not both."`
	Project     string            `json:"project,omitempty" jsonschema:"Project of the new session; defaults to the document's project."`
	Description string            `json:"description,omitempty"`
	Metadata    map[string]any    `json:"metadata,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
}

func (s *Server) exportSession(ctx context.Context, _ *mcp.CallToolRequest, in SessionArgs) (*mcp.CallToolResult, ExportResult, error) {
	sess, err := s.open(ctx, auth.VerbGet, in.SessionID, in.Namespace)
	if err != nil {
		return nil, ExportResult{}, err
	}
	raw, err := s.document(ctx, sess)
	if err != nil {
		return nil, ExportResult{}, err
	}
	s.used(ctx, sess, false)
	return nil, ExportResult{SessionID: sess.Name, Namespace: sess.Namespace, Document: json.RawMessage(raw)}, nil
}

// importDocument parses the document from whichever argument carries it.
func importDocument(in ImportSessionArgs) (*document.Document, error) {
	switch {
	case in.Document != nil && in.Content != "":
		return nil, userErrorf("give the document either as document (a JSON object) or as content (JSON text), not both")
	case in.Document != nil:
		raw, err := json.Marshal(in.Document)
		if err != nil {
			return nil, userErrorf("document cannot be encoded: %v", err)
		}
		return document.Parse(raw)
	case in.Content != "":
		return document.Parse([]byte(in.Content))
	default:
		return nil, userErrorf("import_session needs the session document: pass document (a JSON object as export_session returns it) or content (the same as JSON text)")
	}
}

func (s *Server) importSession(ctx context.Context, _ *mcp.CallToolRequest, in ImportSessionArgs) (*mcp.CallToolResult, SessionResult, error) {
	id, spec, err := s.newSpec(ctx, in.SessionID, in.Namespace, in.Labels, in.Metadata)
	if err != nil {
		return nil, SessionResult{}, err
	}
	ns := spec.Namespace
	doc, err := importDocument(in)
	if err != nil {
		return nil, SessionResult{}, err
	}
	if err := s.sessions.Authorize(ctx, id, auth.VerbCreate, ns, in.SessionID); err != nil {
		return nil, SessionResult{}, err
	}
	project := in.Project
	if project == "" {
		project = doc.Project
	}
	var hdr store.Header
	spec.Project, spec.Description = project, in.Description
	// Checked before anything is created: a document the session's limits
	// refuse leaves no McpSession behind, not even for a moment.
	set, err := s.sessions.Settings(ctx, spec)
	if err != nil {
		return nil, SessionResult{}, err
	}
	if err := store.CheckImport(doc, set.Limits); err != nil {
		return nil, SessionResult{}, err
	}
	sess, err := s.sessions.Create(ctx, spec, func(sess sessions.Session) error {
		var err error
		hdr, err = s.opts.Store.Import(ctx, sess.Ref(), doc, store.ImportOptions{Limits: sess.Settings.Limits})
		return err
	})
	if err != nil {
		return nil, SessionResult{}, err
	}
	s.used(ctx, sess, true)
	return nil, SessionResult{
		Status: "imported",
		Message: fmt.Sprintf("Imported %s, %s and %s into the new session %q.",
			plural(hdr.ContextItems, "context item", "context items"),
			plural(hdr.Discoveries, "discovery", "discoveries"),
			plural(hdr.Messages, "message", "messages"), sess.Name),
		SessionView: viewOf(sess, hdr.Stats),
	}, nil
}
