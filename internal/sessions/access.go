package sessions

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/auth"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// Authorizer decides whether an identity may perform verb on mcpsessions
// (name "" means the collection) in a namespace; *auth.Authorizer is the
// real one. It returns a *auth.Forbidden when the answer is no.
type Authorizer interface {
	Authorize(ctx context.Context, id auth.Identity, verb, namespace, name string) error
}

// Caller returns the authenticated identity of the request. Every path into
// the server (HTTP middleware, stdio) sets one; a request without is
// refused (ErrUnauthenticated) rather than served as anyone.
func Caller(ctx context.Context) (auth.Identity, error) {
	id, ok := auth.FromContext(ctx)
	if !ok {
		return auth.Identity{}, ErrUnauthenticated
	}
	return id, nil
}

// DefaultNamespace is the namespace a caller acts in when it names none:
// its service account's, or the local namespace without Kubernetes.
func (s *Service) DefaultNamespace(id auth.Identity) string {
	if s.local {
		return s.opts.LocalNamespace
	}
	return id.DefaultNamespace()
}

// Authorize checks verb on mcpsessions (name "" for the collection) in ns.
// An unrestricted identity (--auth=none, stdio) needs no review.
func (s *Service) Authorize(ctx context.Context, id auth.Identity, verb, ns, name string) error {
	if id.Unrestricted {
		return nil
	}
	if s.opts.Authorizer == nil {
		return ErrNoAuthorizer
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

// Open authorises verb on the session for the caller and returns it as it
// is now. Authorisation comes before the lookup, so a caller without
// access cannot tell whether a session exists. A session without data in
// the store yet (created with kubectl or by a GitOps tool) gets its store
// entry here.
func (s *Service) Open(ctx context.Context, id auth.Identity, verb, namespace, name string) (Session, error) {
	if err := s.Authorize(ctx, id, verb, namespace, name); err != nil {
		return Session{}, err
	}
	sess, err := s.reg.Get(ctx, namespace, name)
	if err != nil {
		return Session{}, err
	}
	if err := s.ensureData(ctx, sess); err != nil {
		return Session{}, err
	}
	return sess, nil
}

// OpenWritable is Open for a write: the session must be Active, else the
// error is a *PhaseError.
func (s *Service) OpenWritable(ctx context.Context, id auth.Identity, namespace, name string) (Session, error) {
	sess, err := s.Open(ctx, id, auth.VerbUpdate, namespace, name)
	if err != nil {
		return Session{}, err
	}
	return sess, Writable(sess)
}

// Writable explains why a session does not accept writes, if it does not.
func Writable(sess Session) error {
	if sess.Phase == v1alpha1.PhaseActive {
		return nil
	}
	return &PhaseError{Namespace: sess.Namespace, Name: sess.Name, Phase: sess.Phase}
}

// ensureData creates the store entry of a session that has none yet. Known
// UIDs are remembered, so this costs a map lookup per call.
func (s *Service) ensureData(ctx context.Context, sess Session) error {
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

// ListableNamespaces returns, sorted, the namespaces holding sessions
// whose name starts with prefix and in which id may list sessions: what a
// caller may be offered. Namespaces it may not list are left out without
// an error.
func (s *Service) ListableNamespaces(ctx context.Context, id auth.Identity, prefix string) ([]string, error) {
	all, err := s.reg.Namespaces(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, ns := range all {
		if !strings.HasPrefix(ns, prefix) {
			continue
		}
		switch err := s.Authorize(ctx, id, auth.VerbList, ns, ""); {
		case err == nil:
			out = append(out, ns)
		case !isForbidden(err):
			return nil, err
		}
	}
	return out, nil
}

// ListableNames returns, sorted, the names of the sessions in namespace
// that start with prefix, if id may list sessions there (none if not).
func (s *Service) ListableNames(ctx context.Context, id auth.Identity, namespace, prefix string) ([]string, error) {
	switch err := s.Authorize(ctx, id, auth.VerbList, namespace, ""); {
	case isForbidden(err):
		return nil, nil
	case err != nil:
		return nil, err
	}
	all, err := s.reg.List(ctx, namespace)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, sess := range all {
		if strings.HasPrefix(sess.Name, prefix) {
			out = append(out, sess.Name)
		}
	}
	return out, nil
}

func isForbidden(err error) bool {
	var fb *auth.Forbidden
	return errors.As(err, &fb) || errors.Is(err, ErrNoAuthorizer)
}
