package mcpserver

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/testenv"
)

// TestThreeDayDebugging replays the tutorial's multi-day memory-leak hunt
// through MCP: day 1 creates the session, records context and discoveries
// and suspends it; day 2 resumes it with everything intact and adds more;
// day 3 resumes, verifies the fix and terminates it. The real lifecycle
// controller runs on the same (stepped) clock, so the McpSession's phase
// and counts are checked as kubectl would show them.
func TestThreeDayDebugging(t *testing.T) {
	t.Cleanup(func() { testClock.SetTime(time.Now()) })
	ns := newNamespace(t)
	_, url := startServer(t, Options{})
	cs := connect(t, url, clientOpts{})
	const name = "debug-memory-leak-2025-09"
	a := func(kv ...any) map[string]any {
		m := map[string]any{"session_id": name, "namespace": ns}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	phaseIs := func(want v1alpha1.Phase, counts v1alpha1.SessionCounts) {
		t.Helper()
		testenv.Eventually(t, waitTimeout, "McpSession "+string(want), func() string {
			s := session(t, ns, name)
			c := s.Status.Counts
			c.StoredBytes = 0
			switch {
			case s.Status.Phase != want:
				return fmt.Sprintf("status.phase %s, want %s", s.Status.Phase, want)
			case c != counts:
				return fmt.Sprintf("status.counts %+v, want %+v", c, counts)
			case s.Status.Counts.StoredBytes == 0:
				return "status.counts.storedBytes is 0"
			}
			return ""
		})
	}

	// Day 1: Tuesday, initial investigation.
	day1 := testClock.Now()
	ok[SessionResult](t, cs, "create_session", a("project", "E-Commerce API", "description", "Memory leak in production",
		"metadata", map[string]any{"symptoms": map[string]any{"memory_growth": "100MB/hour", "affects": "All API instances"}},
		"labels", map[string]string{"purpose": "debugging"}))
	ok[AddMessageResult](t, cs, "add_message", a("role", "user", "content", "Production API instances are consuming memory at 100MB/hour. Started after deploying v2.4.0 last Friday. Need to find the leak."))
	ok[AddMessageResult](t, cs, "add_message", a("role", "assistant", "content", "I'll help you track down this memory leak. First, let's check what changed in v2.4.0."))
	ok[AddContextResult](t, cs, "add_context", a("key", "deployment_diff", "value", map[string]any{
		"version": "v2.4.0",
		"changes": []string{"Added real-time analytics feature", "Upgraded caching layer", "New webhook processing system"},
	}))
	ok[AddDiscoveryResult](t, cs, "add_discovery", a("title", "In-memory cache has no eviction policy",
		"description", "The CacheManager stores everything in self.cache dictionary but never removes old entries."))
	ok[AddContextResult](t, cs, "add_context", a("key", "hypothesis", "value", map[string]any{"cause": "unbounded in-memory cache", "confidence": 0.7}))
	ok[AddDiscoveryResult](t, cs, "add_discovery", a("title", "Webhook queue grows unbounded", "relevance", 0.6))
	ok[SessionResult](t, cs, "suspend_session", a())
	phaseIs(v1alpha1.PhaseSuspended, v1alpha1.SessionCounts{ContextItems: 2, Messages: 2, Discoveries: 2})
	if got := session(t, ns, name).Status.LastActivityTime; got == nil || got.Time.Before(day1.Truncate(time.Second)) {
		t.Fatalf("lastActivityTime after day 1 = %v", got)
	}

	// Day 2: Wednesday 9:30, resume and narrow down.
	testClock.Step(23*time.Hour + 30*time.Minute)
	fails(t, cs, "add_context", a("key", "too_early", "value", 1), "is suspended; call resume_session")
	// What the model reads: the briefing as text, with the findings in it.
	if txt := text(call(t, cs, "resume_session", a())); !strings.Contains(txt, "Session resumed with full context from yesterday") ||
		!strings.Contains(txt, "Recent discoveries (newest first):\n- Webhook queue grows unbounded") {
		t.Fatalf("day 2 briefing text:\n%s", txt)
	}
	brief := ok[Briefing](t, cs, "resume_session", a())
	if !strings.Contains(brief.Message, "Session resumed with full context") || !brief.Confirmed || brief.Session.Phase != "Active" {
		t.Fatalf("day 2 briefing: %+v", brief)
	}
	var titles []string
	for _, d := range brief.RecentDiscoveries {
		titles = append(titles, d.Title)
	}
	if !slices.Equal(titles, []string{"Webhook queue grows unbounded", "In-memory cache has no eviction policy"}) {
		t.Fatalf("day 2 discoveries (newest first) = %v", titles)
	}
	if !slices.Equal(brief.ContextKeys, []string{"deployment_diff", "hypothesis"}) || len(brief.LastMessages) != 2 ||
		!strings.HasPrefix(brief.LastMessages[0].Content, "Production API instances") {
		t.Fatalf("day 2 briefing context/messages: %+v", brief)
	}
	if s := session(t, ns, name); s.Spec.Suspend || s.Status.Phase != v1alpha1.PhaseActive {
		t.Fatalf("after resume: spec.suspend=%v phase=%s", s.Spec.Suspend, s.Status.Phase)
	}
	diff := ok[GetContextResult](t, cs, "get_context", a("key", "deployment_diff"))
	if !strings.Contains(jsonOf(diff.Entries[0].Value), "New webhook processing system") {
		t.Fatalf("day 1 context lost: %+v", diff)
	}
	ok[AddMessageResult](t, cs, "add_message", a("role", "user", "content", "I added monitoring overnight. The cache is definitely growing - it has 45,000 entries and using 2.3GB RAM."))
	ok[AddContextResult](t, cs, "add_context", a("key", "cache_analysis", "value", map[string]any{
		"total_entries": 45000, "memory_usage": "2.3GB", "largest_entries": map[string]any{"user_analytics_*": "15MB each"},
	}))
	ok[AddDiscoveryResult](t, cs, "add_discovery", a("title", "Analytics data is being cached indefinitely",
		"description", "User analytics objects (15MB each) are cached but never expire.", "relevance", 1))
	ok[SessionResult](t, cs, "suspend_session", a())
	phaseIs(v1alpha1.PhaseSuspended, v1alpha1.SessionCounts{ContextItems: 3, Messages: 3, Discoveries: 3})

	// Day 3: implement and verify the fix, then close the session.
	testClock.Step(24 * time.Hour)
	brief = ok[Briefing](t, cs, "resume_session", a())
	if len(brief.RecentDiscoveries) != 3 || brief.RecentDiscoveries[0].Title != "Analytics data is being cached indefinitely" ||
		!strings.Contains(brief.Message, "3 context items, 3 discoveries, 3 messages") {
		t.Fatalf("day 3 briefing: %+v", brief)
	}
	ok[AddContextResult](t, cs, "add_context", a("key", "verification_metrics", "value", map[string]any{
		"before": map[string]any{"memory_growth": "100MB/hour", "peak_memory": "8GB before restart"},
		"after":  map[string]any{"memory_growth": "0MB/hour (stable)", "peak_memory": "1.2GB constant"},
	}))
	ok[AddMessageResult](t, cs, "add_message", a("role", "assistant", "content", "The fix holds: memory is stable at 1.2GB."))
	hits := ok[SearchResult](t, cs, "search", map[string]any{"namespace": ns, "query": "analytics cache expire"})
	if len(hits.Hits) == 0 || hits.Hits[0].SessionID != name {
		t.Fatalf("search across the days: %+v", hits)
	}
	day3 := testClock.Now()
	ok[SessionResult](t, cs, "terminate_session", a())
	phaseIs(v1alpha1.PhaseTerminated, v1alpha1.SessionCounts{ContextItems: 4, Messages: 4, Discoveries: 3})
	s := session(t, ns, name)
	if s.Status.LastActivityTime == nil || s.Status.LastActivityTime.Time.Before(day3.Add(-time.Minute)) {
		t.Fatalf("lastActivityTime = %v, want day 3 (%v)", s.Status.LastActivityTime, day3)
	}
	fails(t, cs, "add_message", a("role", "user", "content", "one more thing"), "terminated and read-only")
	exp := ok[ExportResult](t, cs, "export_session", a())
	var doc struct {
		State   string                     `json:"state"`
		Context map[string]json.RawMessage `json:"context"`
		Disc    []json.RawMessage          `json:"discoveries"`
		History []json.RawMessage          `json:"conversation_history"`
	}
	if err := json.Unmarshal([]byte(jsonOf(exp.Document)), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.State != "terminated" || len(doc.Context) != 4 || len(doc.Disc) != 3 || len(doc.History) != 4 {
		t.Fatalf("exported document: state %s, %d context, %d discoveries, %d messages", doc.State, len(doc.Context), len(doc.Disc), len(doc.History))
	}
}
