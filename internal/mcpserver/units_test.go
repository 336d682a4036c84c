package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/auth"
	"github.com/mcp-session-operator/mcp-session-operator/internal/lifecycle"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// Pure decisions, tested with tables.

func TestValidSessionID(t *testing.T) {
	for id, wantOK := range map[string]bool{
		"debug-memory-leak-2025-09": true,
		"a":                         true,
		"a.b-c":                     true,
		strings.Repeat("a", 253):    true,
		strings.Repeat("a", 254):    false,
		"":                          false,
		"Upper":                     false,
		"under_score":               false,
		"-leading":                  false,
		"trailing-":                 false,
		"has space":                 false,
		"a/b":                       false,
	} {
		err := validSessionID(id)
		if (err == nil) != wantOK {
			t.Errorf("validSessionID(%.20q) = %v, want ok=%v", id, err, wantOK)
		}
		if err != nil && id != "" && !strings.Contains(err.Error(), "DNS-1123 subdomain") {
			t.Errorf("message for %.20q does not say what a valid id is: %v", id, err)
		}
	}
}

func TestParseSessionURI(t *testing.T) {
	for uri, want := range map[string]string{
		"mcpsession://team-a/debug":   "team-a/debug",
		"mcpsession://team-a/a.b":     "team-a/a.b",
		"mcpsession://team-a/":        "",
		"mcpsession://team-a/x/y":     "",
		"mcpsession://Team/x":         "",
		"file:///etc/passwd":          "",
		"mcpsession://team-a":         "",
		"mcpsession:///debug":         "",
		"mcpsession://team-a/Bad_Nam": "",
	} {
		ns, name, err := parseSessionURI(uri)
		got := ""
		if err == nil {
			got = ns + "/" + name
		}
		if got != want {
			t.Errorf("parseSessionURI(%q) = %q (%v), want %q", uri, got, err, want)
		}
	}
	if got := sessionURI("a", "b"); got != "mcpsession://a/b" {
		t.Errorf("sessionURI = %q", got)
	}
}

func TestCursorRoundTrip(t *testing.T) {
	for _, seq := range []uint64{1, 2, 101, 1 << 40} {
		got, err := decodeCursor(encodeCursor(seq))
		if err != nil || got != seq {
			t.Errorf("cursor %d -> %q -> %d, %v", seq, encodeCursor(seq), got, err)
		}
	}
	if encodeCursor(0) != "" {
		t.Error("no next page must give no cursor")
	}
	if got, err := decodeCursor(""); got != 0 || err != nil {
		t.Errorf("empty cursor = %d, %v", got, err)
	}
	for _, bad := range []string{"5", "seq-", "seq-x", "seq-0", "seq--1", "page-2"} {
		if _, err := decodeCursor(bad); err == nil {
			t.Errorf("decodeCursor(%q) accepted", bad)
		}
	}
}

func TestClampLimit(t *testing.T) {
	for _, c := range []struct{ in, def, max, want int }{
		{0, 50, 500, 50}, {10, 50, 500, 10}, {900, 50, 500, 500},
	} {
		if got, err := clampLimit(c.in, c.def, c.max); err != nil || got != c.want {
			t.Errorf("clampLimit(%d) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	if _, err := clampLimit(-1, 50, 500); err == nil {
		t.Error("negative limit accepted")
	}
}

func TestAllowedOrigin(t *testing.T) {
	extra := []string{"https://inspector.example.com"}
	for _, c := range []struct {
		origin, host string
		want         bool
	}{
		{"", "mcp.sessions.svc:8090", true},
		{"http://mcp.sessions.svc:8090", "mcp.sessions.svc:8090", true},
		{"https://MCP.sessions.svc:8090", "mcp.sessions.svc:8090", true},
		{"http://localhost:6274", "mcp.sessions.svc:8090", true},
		{"http://127.0.0.1:3000", "127.0.0.1:8090", true},
		{"http://[::1]:3000", "127.0.0.1:8090", true},
		{"https://inspector.example.com", "mcp.sessions.svc:8090", true},
		{"https://inspector.example.com/", "mcp.sessions.svc:8090", false}, // origins have no path
		{"https://evil.example", "mcp.sessions.svc:8090", false},
		{"https://evil.example", "evil.example:8090", false}, // port differs
		{"null", "127.0.0.1:8090", false},
		{"file://", "127.0.0.1:8090", false},
		{"chrome-extension://abc", "127.0.0.1:8090", false},
		{"http://localhost.evil.example", "127.0.0.1:8090", false},
	} {
		if got := allowedOrigin(c.origin, c.host, extra); got != c.want {
			t.Errorf("allowedOrigin(%q, %q) = %v, want %v", c.origin, c.host, got, c.want)
		}
	}
}

func TestUnknownCall(t *testing.T) {
	for body, want := range map[string]bool{
		`{"jsonrpc":"2.0","id":1,"method":"nope/nope"}`:                    true,
		`{"jsonrpc":"2.0","id":"a","method":"tools/teleport","params":{}}`: true,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}`:       false,
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`:       false,
		`{"jsonrpc":"2.0","method":"notifications/whatever"}`:              false, // notification
		`{"jsonrpc":"2.0","id":null,"method":"nope"}`:                      false,
		`[{"jsonrpc":"2.0","id":1,"method":"nope"}]`:                       false, // batch: the go-sdk decides
		`{"jsonrpc":"1.0","id":1,"method":"nope"}`:                         false,
		`not json`: false,
		``:         false,
	} {
		if _, _, got := unknownCall([]byte(body)); got != want {
			t.Errorf("unknownCall(%s) = %v, want %v", body, got, want)
		}
	}
}

func TestValidateAuth(t *testing.T) {
	for _, c := range []struct {
		mode AuthMode
		addr string
		ok   bool
	}{
		{AuthKubernetes, ":8090", true},
		{AuthNone, "127.0.0.1:8090", true},
		{AuthNone, "localhost:8090", true},
		{AuthNone, "[::1]:8090", true},
		{AuthNone, ":8090", false},
		{AuthNone, "0.0.0.0:8090", false},
		{AuthNone, "10.0.0.5:8090", false},
		{AuthNone, "mcp.example.com:8090", false},
		{AuthNone, "garbage", false},
		{"oauth", "127.0.0.1:8090", false},
	} {
		if err := ValidateAuth(c.mode, c.addr); (err == nil) != c.ok {
			t.Errorf("ValidateAuth(%q, %q) = %v, want ok=%v", c.mode, c.addr, err, c.ok)
		}
	}
}

func TestSyncSchedule(t *testing.T) {
	for _, c := range []struct {
		interval, idle, want time.Duration
	}{
		{5 * time.Second, 30 * time.Minute, 5 * time.Second},
		{5 * time.Second, 10 * time.Second, time.Second},
		{5 * time.Second, 0, 5 * time.Second},
		{5 * time.Second, 500 * time.Millisecond, 100 * time.Millisecond},
		{30 * time.Second, 2 * time.Minute, 12 * time.Second},
	} {
		if got := syncSpacing(c.interval, c.idle); got != c.want {
			t.Errorf("syncSpacing(%v, %v) = %v, want %v", c.interval, c.idle, got, c.want)
		}
	}
	now := time.Date(2025, 9, 2, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		e         syncEntry
		due, stal bool
	}{
		{syncEntry{dirty: true}, true, false}, // never written
		{syncEntry{dirty: true, spacing: 5 * time.Second, lastWrite: now.Add(-time.Second)}, false, false},    // too soon
		{syncEntry{dirty: true, spacing: 5 * time.Second, lastWrite: now.Add(-5 * time.Second)}, true, false}, // spacing passed
		{syncEntry{dirty: false, spacing: 5 * time.Second, lastWrite: now.Add(-time.Hour)}, false, true},      // quiet: forget
		{syncEntry{dirty: false, spacing: 5 * time.Second, lastWrite: now.Add(-time.Second)}, false, false},
	} {
		if got := due(c.e, now); got != c.due {
			t.Errorf("due(%+v) = %v", c.e, got)
		}
		if got := stale(c.e, now); got != c.stal {
			t.Errorf("stale(%+v) = %v", c.e, got)
		}
	}
	if p := tickPeriod(5 * time.Second); p != 250*time.Millisecond {
		t.Errorf("tickPeriod(5s) = %v", p)
	}
	if p := tickPeriod(time.Millisecond); p != 20*time.Millisecond {
		t.Errorf("tickPeriod(1ms) = %v", p)
	}
}

func TestHumanTimes(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * time.Minute: "30m", 8 * time.Hour: "8h", 7 * 24 * time.Hour: "7d",
		90 * time.Second: "1m30s", 0: "0s",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
	now := time.Date(2025, 9, 3, 9, 30, 0, 0, time.UTC)
	for ago, want := range map[time.Duration]string{
		10 * time.Second: "just now", 5 * time.Minute: "5 minutes ago", time.Minute: "1 minute ago",
		3 * time.Hour: "3 hours ago", 23*time.Hour + 30*time.Minute: "yesterday", 4 * 24 * time.Hour: "4 days ago",
	} {
		if got := humanSince(now, now.Add(-ago)); got != want {
			t.Errorf("humanSince(-%v) = %q, want %q", ago, got, want)
		}
	}
	if humanSince(now, time.Time{}) != "never" {
		t.Error("zero time")
	}
}

func TestDurability(t *testing.T) {
	got := durability(lifecycle.Settings{IdleTimeout: 30 * time.Minute, TTL: 30 * 24 * time.Hour, Retention: 7 * 24 * time.Hour})
	for _, want := range []string{"suspended after 30m without activity", "terminated (read-only, reason Expired) after 30d", "deleted with all its data after 7d"} {
		if !strings.Contains(got, want) {
			t.Errorf("durability = %q, lacks %q", got, want)
		}
	}
	got = durability(lifecycle.Settings{})
	for _, want := range []string{"never suspended", "never expires", "kept until deleted"} {
		if !strings.Contains(got, want) {
			t.Errorf("durability(none) = %q, lacks %q", got, want)
		}
	}
}

func TestBriefingMessage(t *testing.T) {
	now := time.Date(2025, 9, 3, 9, 30, 0, 0, time.UTC)
	st := store.Stats{ContextItems: 3, Discoveries: 1, Messages: 12}
	got := briefingMessage(now, now.Add(-15*time.Hour-30*time.Minute), st, []DiscoveryView{{Title: "Cache has no eviction"}})
	if got != `Session resumed with full context from 15 hours ago: 3 context items, 1 discovery, 12 messages. Latest discovery: "Cache has no eviction".` {
		t.Errorf("briefingMessage = %q", got)
	}
	got = briefingMessage(now, now.Add(-24*time.Hour), store.Stats{}, nil)
	if got != "Session resumed with full context from yesterday: 0 context items, 0 discoveries, 0 messages." {
		t.Errorf("briefingMessage = %q", got)
	}
}

// TestObserve: the phase a request acts on is the lifecycle's answer now,
// even when status lags behind.
func TestObserve(t *testing.T) {
	created := time.Date(2025, 9, 2, 10, 0, 0, 0, time.UTC)
	obj := func(mut func(*v1alpha1.McpSession)) *v1alpha1.McpSession {
		s := &v1alpha1.McpSession{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "s", UID: "u", CreationTimestamp: metav1.NewTime(created)}}
		if mut != nil {
			mut(s)
		}
		return s
	}
	def := lifecycle.DefaultDefaults()
	for _, c := range []struct {
		name      string
		now       time.Time
		s         *v1alpha1.McpSession
		activity  time.Time
		phase     v1alpha1.Phase
		confirmed bool
	}{
		{"new, no status yet", created.Add(time.Second), obj(nil), time.Time{}, v1alpha1.PhaseActive, false},
		{"active and confirmed", created.Add(time.Minute), obj(func(s *v1alpha1.McpSession) { s.Status.Phase = v1alpha1.PhaseActive }), time.Time{}, v1alpha1.PhaseActive, true},
		{"kubectl suspend, status stale", created.Add(time.Minute), obj(func(s *v1alpha1.McpSession) {
			s.Spec.Suspend = true
			s.Status.Phase = v1alpha1.PhaseActive
		}), time.Time{}, v1alpha1.PhaseSuspended, false},
		{"idle past idleTimeout", created.Add(31 * time.Minute), obj(nil), time.Time{}, v1alpha1.PhaseSuspended, false},
		{"idle in status, but recent activity here", created.Add(31 * time.Minute), obj(nil), created.Add(30 * time.Minute), v1alpha1.PhaseActive, false},
		{"terminate requested", created.Add(time.Minute), obj(func(s *v1alpha1.McpSession) { s.Spec.Terminate = true }), time.Time{}, v1alpha1.PhaseTerminated, false},
		{"terminated is sticky", created.Add(time.Minute), obj(func(s *v1alpha1.McpSession) {
			s.Status.Phase = v1alpha1.PhaseTerminated
			s.Status.TerminatedAt = &metav1.Time{Time: created}
		}), created.Add(time.Minute), v1alpha1.PhaseTerminated, true},
		{"expired by ttl", created.Add(31 * 24 * time.Hour), obj(nil), time.Time{}, v1alpha1.PhaseTerminated, false},
	} {
		got := observe(c.now, c.s, def, c.activity)
		if got.Phase != c.phase || got.Confirmed != c.confirmed {
			t.Errorf("%s: phase %s confirmed %v, want %s %v", c.name, got.Phase, got.Confirmed, c.phase, c.confirmed)
		}
	}
}

func TestSettingsOf(t *testing.T) {
	s := &v1alpha1.McpSession{Spec: v1alpha1.McpSessionSpec{Limits: &v1alpha1.SessionLimits{MaxMessages: ptr.To[int64](10), MaxValueBytes: ptr.To[int64](5)}}}
	// Before the controller resolved anything: spec over defaults.
	set := settingsOf(s, lifecycle.DefaultDefaults())
	if l := storeLimits(set.Limits); l.MaxMessages != 10 || l.MaxValueBytes != 5 || l.MaxContextBytes != lifecycle.DefaultMaxContextBytes || set.IdleTimeout != lifecycle.DefaultIdleTimeout {
		t.Errorf("unresolved settings = %+v", set)
	}
	// Resolved: status.effective wins; open limits fall back to spec.
	s.Status.Effective = &v1alpha1.EffectiveSettings{
		Timing: v1alpha1.Timing{IdleTimeout: &metav1.Duration{Duration: time.Hour}},
		Limits: v1alpha1.SessionLimits{MaxMessages: ptr.To[int64](99)},
		Policy: "team",
	}
	set = settingsOf(s, lifecycle.DefaultDefaults())
	if l := storeLimits(set.Limits); l.MaxMessages != 99 || l.MaxValueBytes != 5 || l.MaxContextBytes != 0 || set.IdleTimeout != time.Hour || set.TTL != 0 || set.Policy != "team" {
		t.Errorf("resolved settings = %+v (limits %+v)", set, storeLimits(set.Limits))
	}
}

func TestStatusPatchOnlyCarriesOwnedFields(t *testing.T) {
	at := time.Date(2025, 9, 2, 18, 30, 0, 0, time.UTC)
	b, err := statusPatch(StatusUpdate{LastActivity: at, Counts: v1alpha1.SessionCounts{ContextItems: 1, Messages: 2, Discoveries: 3, StoredBytes: 4}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"status":{"counts":{"contextItems":1,"messages":2,"discoveries":3,"storedBytes":4},"lastActivityTime":"2025-09-02T18:30:00Z"}}`
	if string(b) != want {
		t.Errorf("patch = %s\nwant    %s", b, want)
	}
	b, _ = statusPatch(StatusUpdate{})
	if strings.Contains(string(b), "lastActivityTime") || strings.Contains(string(b), "resourceVersion") {
		t.Errorf("patch without activity = %s", b)
	}
}

func TestAttributesAndLabels(t *testing.T) {
	got, err := attributes(map[string]any{"issue": "leak", "hosts": 3, "tags": []any{"a"}, "nested": map[string]any{"x": true}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"issue": "leak", "hosts": "3", "tags": `["a"]`, "nested": `{"x":true}`}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("attributes = %v, want %v", got, want)
	}
	big := map[string]any{}
	for i := range 65 {
		big[fmt.Sprint(i)] = i
	}
	if _, err := attributes(big); err == nil {
		t.Error("65 metadata entries accepted")
	}
	if err := validLabels(map[string]string{"purpose": "debugging", "example.com/team": "a"}); err != nil {
		t.Error(err)
	}
	if err := validLabels(map[string]string{"purpose": "has space"}); err == nil || !strings.Contains(err.Error(), "purpose") {
		t.Errorf("bad label value: %v", err)
	}
	if err := validLabels(map[string]string{"bad key!": "x"}); err == nil {
		t.Error("bad label key accepted")
	}
}

func TestFilterSessions(t *testing.T) {
	all := []Session{
		{Name: "c", Project: "p", Labels: map[string]string{"purpose": "debugging"}},
		{Name: "a", Project: "p"},
		{Name: "b", Project: "q", Labels: map[string]string{"purpose": "debugging"}},
	}
	names := func(ss []Session) string {
		var n []string
		for _, s := range ss {
			n = append(n, s.Name)
		}
		return strings.Join(n, ",")
	}
	for _, c := range []struct {
		project string
		labels  map[string]string
		cursor  string
		want    string
	}{
		{"", nil, "", "a,b,c"},
		{"p", nil, "", "a,c"},
		{"", map[string]string{"purpose": "debugging"}, "", "b,c"},
		{"", nil, "a", "b,c"},
		{"p", map[string]string{"purpose": "debugging"}, "", "c"},
		{"", map[string]string{"purpose": "other"}, "", ""},
	} {
		if got := names(filterSessions(all, c.project, c.labels, c.cursor)); got != c.want {
			t.Errorf("filterSessions(%q, %v, %q) = %q, want %q", c.project, c.labels, c.cursor, got, c.want)
		}
	}
}

func TestToolFailure(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		err  error
		want string
	}{
		{errSuspended("ns", "s"), `session "s" in namespace "ns" is suspended; call resume_session`},
		{fmt.Errorf("set context: %w", &store.LimitError{Limit: "maxValueBytes", Max: 10, Actual: 15, Over: 5}), "add_context refused: value is 15 bytes, 5 over the maxValueBytes limit of 10"},
		{&auth.Forbidden{Username: "u", Verb: "get", Namespace: "b"}, `forbidden: u cannot get mcpsessions in namespace "b"`},
		{fmt.Errorf("set context x: %w", fmt.Errorf("%w: context key is empty", store.ErrInvalid)), "add_context: context key is empty"},
		{apierrors.NewInvalid(schema.GroupKind{Group: "sessions.mcp.dev", Kind: "McpSession"}, "s", nil), "the Kubernetes API refused"},
		{apierrors.NewServiceUnavailable("down"), "the Kubernetes API is busy"},
		{errors.New("disk on fire"), "failed on the server side (internal error)"},
	} {
		got := toolFailure(ctx, "add_context", c.err).Error()
		if !strings.Contains(got, c.want) {
			t.Errorf("toolFailure(%v) = %q, want it to contain %q", c.err, got, c.want)
		}
		if strings.Contains(got, "disk on fire") {
			t.Errorf("internal error leaked: %q", got)
		}
	}
	if !errors.Is(errNotFound("ns", "x"), ErrSessionNotFound) {
		t.Error("errNotFound must wrap ErrSessionNotFound")
	}
}

func TestTruncateAndStateWord(t *testing.T) {
	if got := truncate("héllo wörld", 5); got != "héllo…" {
		t.Errorf("truncate = %q", got)
	}
	if got := truncate("short", 0); got != "short" {
		t.Errorf("truncate(0) = %q", got)
	}
	for p, w := range map[v1alpha1.Phase]string{v1alpha1.PhaseActive: "active", v1alpha1.PhaseSuspended: "suspended", v1alpha1.PhaseTerminated: "terminated", "": ""} {
		if stateWord(p) != w {
			t.Errorf("stateWord(%s) = %q", p, stateWord(p))
		}
	}
}

func TestRenderBriefing(t *testing.T) {
	b := Briefing{
		Session:           SessionView{SessionID: "s", Namespace: "ns", Project: "E-Commerce API", Phase: "Suspended", Counts: CountsView{ContextItems: 1}},
		ContextKeys:       []string{"deployment_diff"},
		MoreContextKeys:   3,
		RecentDiscoveries: []DiscoveryView{{Title: "No eviction", Relevance: 0.7, Description: "cache"}},
		LastMessages:      []MessageView{{Role: "user", Content: "hi", Timestamp: "t"}},
	}
	got := renderBriefing(b)
	for _, want := range []string{`session "s" (namespace "ns", project "E-Commerce API")`, "Call resume_session", "deployment_diff and 3 more", "- No eviction (relevance 0.7): cache", "[t] user: hi"} {
		if !strings.Contains(got, want) {
			t.Errorf("renderBriefing lacks %q:\n%s", want, got)
		}
	}
}
