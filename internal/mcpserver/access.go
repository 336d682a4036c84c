package mcpserver

import (
	"context"

	"github.com/mcp-session-operator/mcp-session-operator/internal/auth"
	"github.com/mcp-session-operator/mcp-session-operator/internal/sessions"
)

// callerIn resolves who calls and in which namespace: the one given, else
// the caller's default (its service account's, or the local namespace),
// checked as a Kubernetes namespace name.
func (s *Server) callerIn(ctx context.Context, namespace string) (auth.Identity, string, error) {
	id, err := sessions.Caller(ctx)
	if err != nil {
		return auth.Identity{}, "", err
	}
	ns := namespace
	if ns == "" {
		ns = s.sessions.DefaultNamespace(id)
	}
	if err := validNamespace(ns); err != nil {
		return auth.Identity{}, "", err
	}
	return id, ns, nil
}

// open checks a tool's session arguments and opens the session for verb
// (see sessions.Service.Open).
func (s *Server) open(ctx context.Context, verb, sessionID, namespace string) (sessions.Session, error) {
	id, ns, err := s.callerIn(ctx, namespace)
	if err != nil {
		return sessions.Session{}, err
	}
	if err := validSessionID(sessionID); err != nil {
		return sessions.Session{}, err
	}
	return s.sessions.Open(ctx, id, verb, ns, sessionID)
}

// openWritable is open for a write: the session must be Active.
func (s *Server) openWritable(ctx context.Context, sessionID, namespace string) (sessions.Session, error) {
	sess, err := s.open(ctx, auth.VerbUpdate, sessionID, namespace)
	if err != nil {
		return sessions.Session{}, err
	}
	return sess, sessions.Writable(sess)
}

// used records that a session was used: activity for the status sync (see
// sessions.Service.Touch) and, when it was written, a change notification
// for resource subscribers.
func (s *Server) used(ctx context.Context, sess sessions.Session, wrote bool) {
	s.sessions.Touch(sess)
	if wrote {
		s.subs.changed(ctx, sess.Namespace, sess.Name)
	}
}
