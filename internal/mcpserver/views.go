package mcpserver

import (
	"fmt"
	"strings"
	"time"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/lifecycle"
	"github.com/mcp-session-operator/mcp-session-operator/internal/sessions"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// SessionArgs name a session: every tool on one session takes them.
type SessionArgs struct {
	SessionID string `json:"session_id" jsonschema:"The session's name (its handle): a DNS-1123 subdomain such as debug-memory-leak-2025-09."`
	Namespace string `json:"namespace,omitempty" jsonschema:"Kubernetes namespace of the session; defaults to your service account's namespace."`
}

// CountsView are a session's stored amounts.
type CountsView struct {
	ContextItems int64 `json:"context_items"`
	Messages     int64 `json:"messages"`
	Discoveries  int64 `json:"discoveries"`
	StoredBytes  int64 `json:"stored_bytes"`
}

// LimitsView are the limits in force; 0 means unlimited.
type LimitsView struct {
	MaxValueBytes   int64 `json:"max_value_bytes"`
	MaxContextBytes int64 `json:"max_context_bytes"`
	MaxMessages     int64 `json:"max_messages"`
}

// SessionView is a session as tools report it.
type SessionView struct {
	SessionID   string            `json:"session_id"`
	Namespace   string            `json:"namespace"`
	URI         string            `json:"uri" jsonschema:"Resource URI of the session document."`
	Project     string            `json:"project,omitempty"`
	Description string            `json:"description,omitempty"`
	Owner       string            `json:"owner,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	Phase       string            `json:"phase" jsonschema:"Active (read and write), Suspended (read only until resume_session) or Terminated (read and export only, for good)."`
	Reason      string            `json:"reason,omitempty"`
	Writable    bool              `json:"writable"`
	CreatedAt   string            `json:"created_at"`
	LastActive  string            `json:"last_activity_at,omitempty"`
	SuspendedAt string            `json:"suspended_at,omitempty"`
	ResumedAt   string            `json:"resumed_at,omitempty"`
	TermAt      string            `json:"terminated_at,omitempty"`
	ExpiresAt   string            `json:"expires_at,omitempty" jsonschema:"When the session expires if left idle (while live) or is deleted (once terminated)."`
	Durability  string            `json:"durability"`
	Counts      CountsView        `json:"counts"`
	Limits      LimitsView        `json:"limits"`
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// viewOf renders a session; stats are the store's exact counters.
func viewOf(sess sessions.Session, stats store.Stats) SessionView {
	l := sess.Settings.Limits
	last := sess.LastActivity
	if stats.LastActivity.After(last) && sess.Phase == v1alpha1.PhaseActive {
		last = stats.LastActivity
	}
	return SessionView{
		SessionID: sess.Name, Namespace: sess.Namespace, URI: sessionURI(sess.Namespace, sess.Name),
		Project: sess.Project, Description: sess.Description, Owner: sess.Owner,
		Labels: sess.Labels, Metadata: sess.Attributes,
		Phase: string(sess.Phase), Reason: sess.Reason, Writable: sess.Writable(),
		CreatedAt: fmtTime(sess.Created), LastActive: fmtTime(last),
		SuspendedAt: fmtTime(sess.SuspendedAt), ResumedAt: fmtTime(sess.ResumedAt),
		TermAt: fmtTime(sess.TerminatedAt), ExpiresAt: fmtTime(sess.ExpiresAt),
		Durability: durability(sess.Settings),
		Counts: CountsView{
			ContextItems: stats.ContextItems, Messages: stats.Messages,
			Discoveries: stats.Discoveries, StoredBytes: stats.StoredBytes,
		},
		Limits: LimitsView{MaxValueBytes: orZero(l.MaxValueBytes), MaxContextBytes: orZero(l.MaxContextBytes), MaxMessages: orZero(l.MaxMessages)},
	}
}

// orZero shows an unset limit as 0, which the view documents as unlimited.
func orZero(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// humanDuration writes a duration the way people set them: 30m, 8h, 7d.
func humanDuration(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d <= 0:
		return "0s"
	case d%day == 0:
		return fmt.Sprintf("%dd", d/day)
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}

// durability states how long a session's state lasts, for a model to read
// (SEP-2567: a state handle's durability belongs in the description).
func durability(set lifecycle.Settings) string {
	var parts []string
	if set.IdleTimeout > 0 {
		parts = append(parts, "suspended after "+humanDuration(set.IdleTimeout)+" without activity (resume_session brings it back with everything intact)")
	} else {
		parts = append(parts, "never suspended for inactivity")
	}
	if set.TTL > 0 {
		parts = append(parts, "terminated (read-only, reason Expired) after "+humanDuration(set.TTL)+" without activity")
	} else {
		parts = append(parts, "never expires")
	}
	if set.Retention > 0 {
		parts = append(parts, "once terminated, deleted with all its data after "+humanDuration(set.Retention))
	} else {
		parts = append(parts, "once terminated, kept until deleted")
	}
	return "Stored durably on the server; " + strings.Join(parts, "; ") + "."
}

// durabilityDefaults states the durability of sessions under the operator's
// defaults, for tool descriptions.
func (s *Server) durabilityDefaults() string {
	set := lifecycle.Resolve(v1alpha1.McpSessionSpec{}, nil, s.sessions.Defaults())
	return "Durability by default: " + durability(set) + " A policy or the session itself may set other timings; get_session shows those in force."
}

// humanSince says how long ago a time was, the way a briefing would:
// "just now", "5 minutes ago", "3 hours ago", "yesterday", "4 days ago".
func humanSince(now, then time.Time) string {
	if then.IsZero() {
		return "never"
	}
	d := now.Sub(then)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int64(d/time.Minute), "minute", "minutes") + " ago"
	case d < 20*time.Hour:
		return plural(int64(d/time.Hour), "hour", "hours") + " ago"
	case d < 48*time.Hour:
		return "yesterday"
	}
	return plural(int64(d/(24*time.Hour)), "day", "days") + " ago"
}
