package controllers

import (
	"errors"
	"fmt"

	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/mcp-session-operator/mcp-session-operator/internal/lifecycle"
)

// DefaultMaxConcurrentReconciles is how many sessions are reconciled at once
// when Options leaves it unset. Reconciles are short and mostly wait on the
// API server, so a few workers keep a burst of simultaneous deadlines (many
// sessions created together go idle together) from queueing up.
const DefaultMaxConcurrentReconciles = 8

// EventSource is the reporting controller of the Events the controllers emit.
const EventSource = "mcp-session-operator"

// Options configure the controllers of this package.
type Options struct {
	// Clock is the source of time for every deadline; nil means the real
	// clock. Tests pass a fake clock and step it.
	Clock clock.PassiveClock
	// Defaults apply where neither a session nor its policy sets a value.
	Defaults lifecycle.Defaults
	// Store erases a session's data when its object is deleted. Required.
	Store SessionStore
	// MaxConcurrentReconciles of the session controller; 0 means
	// DefaultMaxConcurrentReconciles.
	MaxConcurrentReconciles int
}

// Setup registers the McpSession and McpSessionPolicy controllers with the
// manager. The manager should be built with CacheOptions, so the cache
// holds only what the manager reads of every session.
func Setup(mgr ctrl.Manager, opts Options) error {
	if opts.Store == nil {
		return errors.New("controllers: Options.Store is required: deleted sessions would keep their data")
	}
	sessions := &SessionReconciler{
		Client:                  mgr.GetClient(),
		Clock:                   opts.Clock,
		Defaults:                opts.Defaults,
		Store:                   opts.Store,
		Recorder:                mgr.GetEventRecorder(EventSource),
		MaxConcurrentReconciles: opts.MaxConcurrentReconciles,
	}
	if err := sessions.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up session controller: %w", err)
	}
	policies := &PolicyReconciler{Client: mgr.GetClient()}
	if err := policies.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up policy controller: %w", err)
	}
	return nil
}
