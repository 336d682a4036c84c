package lifecycle

import (
	"time"

	"k8s.io/utils/ptr"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
)

// The operator's default settings, used when neither a session's spec nor a
// matching McpSessionPolicy sets a value. A duration of 0 means "no
// deadline" for that step.
const (
	// DefaultIdleTimeout suspends a session after 30 minutes without activity.
	// Suspending is cheap and a client resumes with one call, so a short value
	// keeps the set of writable sessions close to the set in actual use.
	DefaultIdleTimeout = 30 * time.Minute

	// DefaultTTL terminates a session after 30 days without any activity. The
	// tutorial's multi-day debugging sessions and "weeks to months" of
	// development work survive it; a month of silence means nobody will resume.
	DefaultTTL = 30 * 24 * time.Hour

	// DefaultRetention keeps a terminated session readable (for export) for 7
	// days before its object and data are deleted. A terminated session is
	// finished: a week is enough to export it, and keeping personal data
	// longer than needed is what retention policies exist to prevent.
	DefaultRetention = 7 * 24 * time.Hour

	// DefaultMaxValueBytes bounds one context value, message or discovery.
	DefaultMaxValueBytes int64 = 1 << 20
	// DefaultMaxContextBytes bounds the total size of a session's context; the
	// tutorial plans 1-10 MB per active session.
	DefaultMaxContextBytes int64 = 16 << 20
	// DefaultMaxMessages bounds the conversation history of one session.
	DefaultMaxMessages int64 = 100_000
)

// Defaults are the operator-wide settings (from the manager's flags) that
// apply when neither the session nor its winning policy sets a value.
type Defaults struct {
	// IdleTimeout suspends an idle session; 0 never suspends for idleness.
	IdleTimeout time.Duration
	// TTL terminates (Expired) a session without activity; 0 never expires.
	TTL time.Duration
	// Retention deletes a terminated session; 0 keeps it until deleted by hand.
	Retention time.Duration
	// Limits bounds what a session may store; unset fields mean unlimited.
	Limits v1alpha1.SessionLimits
}

// DefaultDefaults returns the operator's built-in defaults (the Default*
// constants of this package).
func DefaultDefaults() Defaults {
	return Defaults{
		IdleTimeout: DefaultIdleTimeout,
		TTL:         DefaultTTL,
		Retention:   DefaultRetention,
		Limits: v1alpha1.SessionLimits{
			MaxContextBytes: ptr.To(DefaultMaxContextBytes),
			MaxMessages:     ptr.To(DefaultMaxMessages),
			MaxValueBytes:   ptr.To(DefaultMaxValueBytes),
		},
	}
}
