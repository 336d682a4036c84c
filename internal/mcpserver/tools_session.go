package mcpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/mcp-session-operator/mcp-session-operator/internal/auth"
	"github.com/mcp-session-operator/mcp-session-operator/internal/sessions"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// CreateSessionArgs are create_session's arguments.
type CreateSessionArgs struct {
	SessionArgs
	Project     string            `json:"project,omitempty" jsonschema:"Project or topic the session belongs to, e.g. E-Commerce API."`
	Description string            `json:"description,omitempty" jsonschema:"What the session is for, e.g. Memory leak in production after v2.4.0."`
	Metadata    map[string]any    `json:"metadata,omitempty" jsonschema:"Free-form facts about the session (kept as strings; non-string values are stored as JSON)."`
	Labels      map[string]string `json:"labels,omitempty" jsonschema:"Kubernetes labels; retention and quota policies select sessions by them, e.g. {\"purpose\": \"debugging\"}."`
}

// SessionResult is a session plus what a call did to it.
type SessionResult struct {
	Status  string `json:"status" jsonschema:"What the call did, e.g. created, suspended, terminated."`
	Message string `json:"message,omitempty"`
	SessionView
}

// ListSessionsArgs are list_sessions' arguments.
type ListSessionsArgs struct {
	Namespace string            `json:"namespace,omitempty" jsonschema:"Namespace to list; defaults to your service account's namespace."`
	Project   string            `json:"project,omitempty" jsonschema:"Only sessions of this project."`
	Labels    map[string]string `json:"labels,omitempty" jsonschema:"Only sessions carrying all of these labels."`
	Limit     int               `json:"limit,omitempty" jsonschema:"Most sessions to return (default 50, at most 200)."`
	Cursor    string            `json:"cursor,omitempty" jsonschema:"next_cursor of a previous call (opaque), to continue the list."`
}

// ListSessionsResult is list_sessions' result.
type ListSessionsResult struct {
	Namespace  string        `json:"namespace"`
	Sessions   []SessionView `json:"sessions"`
	NextCursor string        `json:"next_cursor,omitempty" jsonschema:"Pass as cursor for the next page; absent on the last page."`
}

// DeleteResult is delete_session's result.
type DeleteResult struct {
	Status    string `json:"status"`
	SessionID string `json:"session_id"`
	Namespace string `json:"namespace"`
	Message   string `json:"message"`
}

// attributes turns the tutorial's free-form metadata into spec.attributes.
func attributes(md map[string]any) (map[string]string, error) {
	if len(md) == 0 {
		return nil, nil
	}
	if len(md) > 64 {
		return nil, userErrorf("metadata has %d entries; at most 64 are allowed (put bulk facts in add_context instead)", len(md))
	}
	out := make(map[string]string, len(md))
	for k, v := range md {
		if s, ok := v.(string); ok {
			out[k] = s
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, userErrorf("metadata %q cannot be encoded: %v", k, err)
		}
		out[k] = string(b)
	}
	return out, nil
}

// validLabels explains the first invalid label, if any.
func validLabels(labels map[string]string) error {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return userErrorf("invalid label key %q: %s", k, errs[0])
		}
		if errs := validation.IsValidLabelValue(labels[k]); len(errs) > 0 {
			return userErrorf("invalid value %q for label %q: %s", labels[k], k, errs[0])
		}
	}
	return nil
}

// newSpec validates what create_session and import_session share (caller,
// namespace, id, labels, metadata) and returns the session to create.
// Authorisation comes after input checks, so bad input is reported as such
// whoever sends it.
func (s *Server) newSpec(ctx context.Context, sessionID, namespace string, labels map[string]string, metadata map[string]any) (auth.Identity, sessions.CreateSpec, error) {
	id, ns, err := s.callerIn(ctx, namespace)
	if err != nil {
		return id, sessions.CreateSpec{}, err
	}
	if err := validSessionID(sessionID); err != nil {
		return id, sessions.CreateSpec{}, err
	}
	if err := validLabels(labels); err != nil {
		return id, sessions.CreateSpec{}, err
	}
	attrs, err := attributes(metadata)
	if err != nil {
		return id, sessions.CreateSpec{}, err
	}
	return id, sessions.CreateSpec{Namespace: ns, Name: sessionID, Owner: id.Username, Labels: labels, Attributes: attrs}, nil
}

func (s *Server) createSession(ctx context.Context, _ *mcp.CallToolRequest, in CreateSessionArgs) (*mcp.CallToolResult, SessionResult, error) {
	id, spec, err := s.newSpec(ctx, in.SessionID, in.Namespace, in.Labels, in.Metadata)
	if err != nil {
		return nil, SessionResult{}, err
	}
	if err := s.sessions.Authorize(ctx, id, auth.VerbCreate, spec.Namespace, spec.Name); err != nil {
		return nil, SessionResult{}, err
	}
	spec.Project, spec.Description = in.Project, in.Description
	sess, err := s.sessions.Create(ctx, spec, func(sess sessions.Session) error {
		_, err := s.opts.Store.Create(ctx, sess.Ref())
		return err
	})
	if err != nil {
		return nil, SessionResult{}, err
	}
	s.used(ctx, sess, true)
	return nil, SessionResult{
		Status:      "created",
		Message:     fmt.Sprintf("Session %q created in namespace %q. Pass session_id %q (and namespace) to every call; add_context, add_message and add_discovery record what you learn.", sess.Name, sess.Namespace, sess.Name),
		SessionView: viewOf(sess, store.Stats{}),
	}, nil
}

func (s *Server) getSession(ctx context.Context, _ *mcp.CallToolRequest, in SessionArgs) (*mcp.CallToolResult, SessionView, error) {
	sess, err := s.open(ctx, auth.VerbGet, in.SessionID, in.Namespace)
	if err != nil {
		return nil, SessionView{}, err
	}
	st, err := s.sessions.Stats(ctx, sess)
	if err != nil {
		return nil, SessionView{}, err
	}
	s.used(ctx, sess, false)
	return nil, viewOf(sess, st), nil
}

func (s *Server) listSessions(ctx context.Context, _ *mcp.CallToolRequest, in ListSessionsArgs) (*mcp.CallToolResult, ListSessionsResult, error) {
	id, ns, err := s.callerIn(ctx, in.Namespace)
	if err != nil {
		return nil, ListSessionsResult{}, err
	}
	limit, err := clampLimit(in.Limit, 50, 200)
	if err != nil {
		return nil, ListSessionsResult{}, err
	}
	if err := s.sessions.Authorize(ctx, id, auth.VerbList, ns, ""); err != nil {
		return nil, ListSessionsResult{}, err
	}
	after, err := decodeListCursor(in.Cursor, ns, "list_sessions")
	if err != nil {
		return nil, ListSessionsResult{}, err
	}
	page, more, err := s.sessions.Page(ctx, sessions.PageRequest{Namespace: ns, After: after, Limit: limit, Match: sessionFilter(in.Project, in.Labels)})
	if err != nil {
		return nil, ListSessionsResult{}, err
	}
	res := ListSessionsResult{Namespace: ns, Sessions: make([]SessionView, 0, len(page))}
	for _, sess := range page {
		st, err := s.sessions.Stats(ctx, sess)
		if err != nil {
			return nil, ListSessionsResult{}, err
		}
		res.Sessions = append(res.Sessions, viewOf(sess, st))
	}
	if more {
		res.NextCursor = encodeListCursor(ns, page[len(page)-1].Name)
	}
	return nil, res, nil
}

// sessionFilter accepts the sessions of project (when given) that carry
// every label asked for; nil when nothing is asked.
func sessionFilter(project string, labels map[string]string) func(sessions.Session) bool {
	if project == "" && len(labels) == 0 {
		return nil
	}
	return func(sess sessions.Session) bool {
		if project != "" && sess.Project != project {
			return false
		}
		for k, v := range labels {
			if got, ok := sess.Labels[k]; !ok || got != v {
				return false
			}
		}
		return true
	}
}

func (s *Server) suspendSession(ctx context.Context, _ *mcp.CallToolRequest, in SessionArgs) (*mcp.CallToolResult, SessionResult, error) {
	sess, err := s.open(ctx, auth.VerbUpdate, in.SessionID, in.Namespace)
	if err != nil {
		return nil, SessionResult{}, err
	}
	if sess, err = s.sessions.Suspend(ctx, sess); err != nil {
		return nil, SessionResult{}, err
	}
	s.used(ctx, sess, true)
	st, err := s.sessions.Stats(ctx, sess)
	if err != nil {
		return nil, SessionResult{}, err
	}
	return nil, SessionResult{
		Status:      "suspended",
		Message:     "Session suspended: everything is kept; reads still work; call resume_session to continue writing.",
		SessionView: viewOf(sess, st),
	}, nil
}

func (s *Server) terminateSession(ctx context.Context, _ *mcp.CallToolRequest, in SessionArgs) (*mcp.CallToolResult, SessionResult, error) {
	sess, err := s.open(ctx, auth.VerbUpdate, in.SessionID, in.Namespace)
	if err != nil {
		return nil, SessionResult{}, err
	}
	wasTerminated := sess.Terminate
	if sess, err = s.sessions.Terminate(ctx, sess); err != nil {
		return nil, SessionResult{}, err
	}
	if !wasTerminated {
		s.used(ctx, sess, true)
	}
	st, err := s.sessions.Stats(ctx, sess)
	if err != nil {
		return nil, SessionResult{}, err
	}
	v := viewOf(sess, st)
	msg := "Session terminated for good: it stays readable and exportable (export_session)"
	if sess.ExpiresAt.IsZero() {
		msg += " until it is deleted."
	} else {
		msg += " until " + v.ExpiresAt + ", when it is deleted with its data."
	}
	return nil, SessionResult{Status: "terminated", Message: msg, SessionView: v}, nil
}

func (s *Server) deleteSession(ctx context.Context, _ *mcp.CallToolRequest, in SessionArgs) (*mcp.CallToolResult, DeleteResult, error) {
	sess, err := s.open(ctx, auth.VerbDelete, in.SessionID, in.Namespace)
	if err != nil {
		return nil, DeleteResult{}, err
	}
	if err := s.sessions.Delete(ctx, sess); err != nil {
		return nil, DeleteResult{}, err
	}
	s.subs.changed(ctx, sess.Namespace, sess.Name)
	return nil, DeleteResult{
		Status: "deleted", SessionID: sess.Name, Namespace: sess.Namespace,
		Message: "Session deleted; its context, history and discoveries are erased with it.",
	}, nil
}
