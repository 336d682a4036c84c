package mcpserver

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/auth"
	"github.com/mcp-session-operator/mcp-session-operator/internal/sessions"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// What a briefing shows: enough to pick the work up again, not the whole
// session (get_context, get_history and export_session have the rest).
const (
	briefingMessages    = 10
	briefingDiscoveries = 5
	briefingKeys        = 200
	briefingRunes       = 1000
)

// MessageView is one conversation message.
type MessageView struct {
	Seq       uint64         `json:"seq"`
	Role      string         `json:"role"`
	Content   string         `json:"content"`
	Timestamp string         `json:"timestamp"`
	Metadata  map[string]any `json:"metadata,omitempty"`
}

// DiscoveryView is one discovery.
type DiscoveryView struct {
	Seq         uint64  `json:"seq"`
	Title       string  `json:"title"`
	Description string  `json:"description,omitempty"`
	Relevance   float64 `json:"relevance"`
	Timestamp   string  `json:"timestamp"`
}

// Briefing is what resume_session returns and resume_briefing renders.
type Briefing struct {
	Status            string          `json:"status" jsonschema:"resumed, or active when the session was not suspended."`
	Message           string          `json:"message"`
	Session           SessionView     `json:"session"`
	ContextKeys       []string        `json:"context_keys" jsonschema:"Names of the context entries; read values with get_context."`
	MoreContextKeys   int             `json:"more_context_keys,omitempty"`
	RecentDiscoveries []DiscoveryView `json:"recent_discoveries" jsonschema:"Newest first."`
	LastMessages      []MessageView   `json:"last_messages" jsonschema:"Oldest first; earlier ones via get_history."`
	Confirmed         bool            `json:"confirmed" jsonschema:"True once the lifecycle controller reports the session Active."`
}

func messageView(m store.Message, maxRunes int) MessageView {
	return MessageView{Seq: m.Seq, Role: m.Role, Content: truncate(m.Content, maxRunes), Timestamp: fmtTime(m.Timestamp), Metadata: m.Metadata}
}

func discoveryView(d store.Discovery) DiscoveryView {
	return DiscoveryView{Seq: d.Seq, Title: d.Title, Description: d.Description, Relevance: d.Relevance, Timestamp: fmtTime(d.Timestamp)}
}

// truncate keeps at most n runes (0: all), marking a cut with an ellipsis.
func truncate(s string, n int) string {
	if n <= 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// briefing gathers what a model needs to continue a session. since is the
// activity before this resume, for "full context from yesterday".
func (s *Server) briefing(ctx context.Context, sess sessions.Session, since time.Time) (Briefing, error) {
	uid := sess.UID
	st, err := s.sessions.Stats(ctx, sess)
	if err != nil {
		return Briefing{}, err
	}
	keys, err := s.opts.Store.ContextKeys(ctx, uid, "")
	if err != nil {
		return Briefing{}, err
	}
	discs, err := s.opts.Store.ListDiscoveries(ctx, uid, store.ListOptions{Limit: briefingDiscoveries, RecentFirst: true})
	if err != nil {
		return Briefing{}, err
	}
	msgs, err := s.opts.Store.Tail(ctx, uid, briefingMessages)
	if err != nil {
		return Briefing{}, err
	}
	b := Briefing{
		Session:           viewOf(sess, st),
		ContextKeys:       keys,
		RecentDiscoveries: make([]DiscoveryView, 0, len(discs)),
		LastMessages:      make([]MessageView, 0, len(msgs)),
		Confirmed:         sess.Confirmed,
	}
	if b.ContextKeys == nil {
		b.ContextKeys = []string{}
	}
	if len(keys) > briefingKeys {
		b.ContextKeys, b.MoreContextKeys = keys[:briefingKeys], len(keys)-briefingKeys
	}
	for _, d := range discs {
		b.RecentDiscoveries = append(b.RecentDiscoveries, discoveryView(d))
	}
	for _, m := range msgs {
		b.LastMessages = append(b.LastMessages, messageView(m, briefingRunes))
	}
	b.Message = briefingMessage(s.opts.Clock.Now(), since, st, b.RecentDiscoveries)
	return b, nil
}

// briefingMessage is the one-line summary of a briefing.
func briefingMessage(now, since time.Time, st store.Stats, discs []DiscoveryView) string {
	when := humanSince(now, since)
	var from string
	switch when {
	case "never", "just now":
		from = ""
	case "yesterday":
		from = " from yesterday"
	default:
		from = " from " + when
	}
	msg := fmt.Sprintf("Session resumed with full context%s: %s, %s, %s.", from,
		plural(st.ContextItems, "context item", "context items"),
		plural(st.Discoveries, "discovery", "discoveries"),
		plural(st.Messages, "message", "messages"))
	if len(discs) > 0 {
		msg += fmt.Sprintf(" Latest discovery: %q.", discs[0].Title)
	}
	return msg
}

func (s *Server) resumeSession(ctx context.Context, _ *mcp.CallToolRequest, in SessionArgs) (*mcp.CallToolResult, Briefing, error) {
	sess, err := s.open(ctx, auth.VerbUpdate, in.SessionID, in.Namespace)
	if err != nil {
		return nil, Briefing{}, err
	}
	if sess.Phase == v1alpha1.PhaseTerminated {
		return nil, Briefing{}, userErrorf("session %q in namespace %q is terminated and cannot be resumed: termination is for good. It can still be read and exported (export_session); to continue the work, create a new session, e.g. import_session with the exported document", sess.Name, sess.Namespace)
	}
	since := sess.LastActivity
	sess, wasSuspended, err := s.sessions.Resume(ctx, sess, s.opts.ResumeWait)
	if err != nil {
		return nil, Briefing{}, err
	}
	b, err := s.briefing(ctx, sess, since)
	if err != nil {
		return nil, Briefing{}, err
	}
	s.used(ctx, sess, true)
	b.Status = "resumed"
	if !wasSuspended {
		b.Status = "active"
	}
	if !b.Confirmed {
		b.Message += " The lifecycle controller has not confirmed the resume yet; writes are accepted meanwhile."
	}
	// A model reads the text; programs read the structured briefing.
	text := b.Message + "\n\n" + renderBriefing(b)
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}, b, nil
}

// renderBriefing writes a briefing as text for the resume_briefing prompt.
func renderBriefing(b Briefing) string {
	var sb strings.Builder
	v := b.Session
	fmt.Fprintf(&sb, "You are continuing the persistent session %q (namespace %q", v.SessionID, v.Namespace)
	if v.Project != "" {
		fmt.Fprintf(&sb, ", project %q", v.Project)
	}
	fmt.Fprintf(&sb, "). It is %s.", v.Phase)
	if v.Phase == string(v1alpha1.PhaseSuspended) {
		sb.WriteString(" Call resume_session before writing to it.")
	}
	if v.Phase == string(v1alpha1.PhaseTerminated) {
		sb.WriteString(" It is read-only.")
	}
	if v.Description != "" {
		fmt.Fprintf(&sb, "\nPurpose: %s", v.Description)
	}
	fmt.Fprintf(&sb, "\nLast activity: %s. Holds %d context items, %d discoveries, %d messages.\n",
		orDash(v.LastActive), v.Counts.ContextItems, v.Counts.Discoveries, v.Counts.Messages)
	if len(b.ContextKeys) > 0 {
		fmt.Fprintf(&sb, "\nContext keys (read values with get_context): %s", strings.Join(b.ContextKeys, ", "))
		if b.MoreContextKeys > 0 {
			fmt.Fprintf(&sb, " and %d more", b.MoreContextKeys)
		}
		sb.WriteString("\n")
	}
	if len(b.RecentDiscoveries) > 0 {
		sb.WriteString("\nRecent discoveries (newest first):\n")
		for _, d := range b.RecentDiscoveries {
			fmt.Fprintf(&sb, "- %s (relevance %.2g): %s\n", d.Title, d.Relevance, d.Description)
		}
	}
	if len(b.LastMessages) > 0 {
		sb.WriteString("\nLast messages (oldest first; earlier ones with get_history):\n")
		for _, m := range b.LastMessages {
			fmt.Fprintf(&sb, "[%s] %s: %s\n", m.Timestamp, m.Role, m.Content)
		}
	}
	sb.WriteString("\nRecord new findings with add_discovery, facts with add_context and the conversation with add_message.")
	return sb.String()
}

func orDash(s string) string {
	if s == "" {
		return "none recorded"
	}
	return s
}
