package mcpserver

import (
	"context"
	"errors"
	"fmt"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/auth"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// caller returns the authenticated identity of the request. Every path into
// the server (HTTP middleware, stdio) sets one; a request without is refused
// rather than served as anyone.
func caller(ctx context.Context) (auth.Identity, error) {
	id, ok := auth.FromContext(ctx)
	if !ok {
		return auth.Identity{}, userErrorf("unauthenticated: no caller identity on this request")
	}
	return id, nil
}

// namespaceFor is the namespace a call acts in: the one given, else the
// caller's default (its service account's), else the local namespace.
func (s *Server) namespaceFor(id auth.Identity, given string) (string, error) {
	ns := given
	if ns == "" {
		if s.local {
			ns = s.opts.LocalNamespace
		} else {
			ns = id.DefaultNamespace()
		}
	}
	if err := validNamespace(ns); err != nil {
		return "", err
	}
	return ns, nil
}

// authorize checks verb on mcpsessions (name "" for the collection) in ns.
// An unrestricted identity (--auth=none, stdio) needs no review.
func (s *Server) authorize(ctx context.Context, id auth.Identity, verb, ns, name string) error {
	if id.Unrestricted {
		return nil
	}
	if s.opts.Authorizer == nil {
		return userErrorf("forbidden: this server has no authorizer configured")
	}
	if err := s.opts.Authorizer.Authorize(ctx, id, verb, ns, name); err != nil {
		var fb *auth.Forbidden
		if errors.As(err, &fb) {
			return err
		}
		return fmt.Errorf("authorize %s %s/%s: %w", verb, ns, name, err)
	}
	return nil
}

// target is a tool call's resolved session.
type target struct {
	id   auth.Identity
	sess Session
}

// open resolves the namespace, checks the session id, authorises verb on
// the session and loads it. Authorisation comes before the lookup, so a
// caller without access cannot tell whether a session exists.
func (s *Server) open(ctx context.Context, verb, sessionID, namespace string) (target, error) {
	id, err := caller(ctx)
	if err != nil {
		return target{}, err
	}
	ns, err := s.namespaceFor(id, namespace)
	if err != nil {
		return target{}, err
	}
	if err := validSessionID(sessionID); err != nil {
		return target{}, err
	}
	if err := s.authorize(ctx, id, verb, ns, sessionID); err != nil {
		return target{}, err
	}
	sess, err := s.reg.Get(ctx, ns, sessionID)
	if errors.Is(err, ErrSessionNotFound) {
		return target{}, errNotFound(ns, sessionID)
	}
	if err != nil {
		return target{}, err
	}
	if err := s.ensureData(ctx, sess); err != nil {
		return target{}, err
	}
	return target{id: id, sess: sess}, nil
}

// ensureData creates the store entry of a session that has none yet: one
// created with kubectl or by a GitOps tool rather than create_session. Known
// UIDs are remembered, so this costs a map lookup per call.
func (s *Server) ensureData(ctx context.Context, sess Session) error {
	if _, ok := s.stored.Load(sess.UID); ok {
		return nil
	}
	_, err := s.opts.Store.Get(ctx, sess.UID)
	if errors.Is(err, store.ErrNotFound) {
		if _, err = s.opts.Store.Create(ctx, sess.Ref()); errors.Is(err, store.ErrExists) {
			err = nil
		}
	}
	if err != nil {
		return err
	}
	s.stored.Store(sess.UID, struct{}{})
	return nil
}

// openWritable is open for a write: the session must be Active.
func (s *Server) openWritable(ctx context.Context, sessionID, namespace string) (target, error) {
	t, err := s.open(ctx, auth.VerbUpdate, sessionID, namespace)
	if err != nil {
		return t, err
	}
	return t, writable(t.sess)
}

// writable explains why a session does not accept writes, if it does not.
func writable(sess Session) error {
	switch sess.Phase {
	case v1alpha1.PhaseActive:
		return nil
	case v1alpha1.PhaseSuspended:
		return errSuspended(sess.Namespace, sess.Name)
	default:
		return errTerminated(sess.Namespace, sess.Name)
	}
}

// used records that a session was used: activity for the status sync (only
// while Active, see statusSyncer.touch) and a change notification for
// resource subscribers when it was written.
func (s *Server) used(ctx context.Context, sess Session, wrote bool) {
	if sess.Phase == v1alpha1.PhaseActive {
		s.sync.touch(sess)
	}
	if wrote {
		s.subs.changed(ctx, sess.Namespace, sess.Name)
	}
}
