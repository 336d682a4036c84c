package mcpserver

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/auth"
	"github.com/mcp-session-operator/mcp-session-operator/internal/document"
	"github.com/mcp-session-operator/mcp-session-operator/internal/lifecycle"
	"github.com/mcp-session-operator/mcp-session-operator/internal/sessions"
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

// The origin guard is net/http's CrossOriginProtection plus loopback
// origins: a foreign browser origin gets 403; no Origin (not a browser),
// the request's own host, a loopback origin and a configured one pass.
func TestOriginGuard(t *testing.T) {
	h, err := originGuard([]string{"https://inspector.example.com/"}, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		origin, host, fetchSite string
		want                    int
	}{
		{"", "mcp.sessions.svc:8090", "", http.StatusOK},
		{"http://mcp.sessions.svc:8090", "mcp.sessions.svc:8090", "", http.StatusOK},
		{"http://localhost:6274", "mcp.sessions.svc:8090", "cross-site", http.StatusOK},
		{"http://127.0.0.1:3000", "127.0.0.1:8090", "", http.StatusOK},
		{"http://[::1]:3000", "127.0.0.1:8090", "", http.StatusOK},
		{"https://inspector.example.com", "mcp.sessions.svc:8090", "cross-site", http.StatusOK},
		{"https://inspector.example.com/x", "mcp.sessions.svc:8090", "", http.StatusForbidden}, // origins have no path
		{"https://evil.example", "mcp.sessions.svc:8090", "", http.StatusForbidden},
		{"https://evil.example", "mcp.sessions.svc:8090", "cross-site", http.StatusForbidden},
		{"", "mcp.sessions.svc:8090", "cross-site", http.StatusForbidden},       // a browser that sent no Origin
		{"https://evil.example", "evil.example:8090", "", http.StatusForbidden}, // port differs
		{"null", "127.0.0.1:8090", "", http.StatusForbidden},
		{"file://", "127.0.0.1:8090", "", http.StatusForbidden},
		{"chrome-extension://abc", "127.0.0.1:8090", "", http.StatusForbidden},
		{"http://localhost.evil.example", "127.0.0.1:8090", "", http.StatusForbidden},
	} {
		req := httptest.NewRequest(http.MethodPost, "http://"+c.host+"/mcp", strings.NewReader("{}"))
		req.Host = c.host
		if c.origin != "" {
			req.Header.Set("Origin", c.origin)
		}
		if c.fetchSite != "" {
			req.Header.Set("Sec-Fetch-Site", c.fetchSite)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("Origin %q, Host %q, Sec-Fetch-Site %q: status %d, want %d", c.origin, c.host, c.fetchSite, rec.Code, c.want)
		}
	}
	if _, err := originGuard([]string{"inspector.example.com"}, http.NotFoundHandler()); err == nil {
		t.Error("an allowed origin without a scheme was accepted")
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

func TestSessionFilter(t *testing.T) {
	all := []sessions.Session{
		{Name: "a", Project: "p"},
		{Name: "b", Project: "q", Labels: map[string]string{"purpose": "debugging"}},
		{Name: "c", Project: "p", Labels: map[string]string{"purpose": "debugging"}},
	}
	if sessionFilter("", nil) != nil {
		t.Error("no project and no labels must filter nothing")
	}
	for _, c := range []struct {
		project string
		labels  map[string]string
		want    string
	}{
		{"p", nil, "a,c"},
		{"", map[string]string{"purpose": "debugging"}, "b,c"},
		{"p", map[string]string{"purpose": "debugging"}, "c"},
		{"", map[string]string{"purpose": "other"}, ""},
	} {
		match := sessionFilter(c.project, c.labels)
		var got []string
		for _, s := range all {
			if match(s) {
				got = append(got, s.Name)
			}
		}
		if strings.Join(got, ",") != c.want {
			t.Errorf("sessionFilter(%q, %v) keeps %q, want %q", c.project, c.labels, got, c.want)
		}
	}
}

// Listing cursors are opaque, carry their namespace, and refuse anything
// else with a caller error.
func TestListCursor(t *testing.T) {
	for _, name := range []string{"a", "debug-memory-leak-2025-09", "x.y-z"} {
		c := encodeListCursor("payments", name)
		if strings.Contains(c, name) || strings.Contains(c, "payments") {
			t.Errorf("cursor %q shows what it holds", c)
		}
		got, err := decodeListCursor(c, "payments", "list_sessions")
		if err != nil || got != name {
			t.Errorf("cursor for %q decodes to %q, %v", name, got, err)
		}
	}
	if got, err := decodeListCursor("", "payments", "list_sessions"); got != "" || err != nil {
		t.Errorf("no cursor = %q, %v", got, err)
	}
	if _, err := decodeListCursor(encodeListCursor("payments", "a"), "other", "list_sessions"); err == nil || !strings.Contains(err.Error(), `namespace "payments"`) {
		t.Errorf("a cursor of another namespace: %v", err)
	}
	for _, bad := range []string{"a", "seq-5", "!!!", base64.RawURLEncoding.EncodeToString([]byte("l0/payments/a")),
		base64.RawURLEncoding.EncodeToString([]byte("l1/payments/"))} {
		if _, err := decodeListCursor(bad, "payments", "list_sessions"); !isCallerError(err) {
			t.Errorf("decodeListCursor(%q) = %v, want a caller error", bad, err)
		}
	}
}

func TestToolFailure(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		err  error
		want string
	}{
		{&sessions.NotFoundError{Namespace: "ns", Name: "x"}, `session "x" not found in namespace "ns": check the session_id`},
		{&sessions.ExistsError{Namespace: "ns", Name: "x"}, `session "x" already exists in namespace "ns"; use resume_session`},
		{&sessions.PhaseError{Namespace: "ns", Name: "s", Phase: v1alpha1.PhaseSuspended}, `session "s" in namespace "ns" is suspended; call resume_session`},
		{&sessions.PhaseError{Namespace: "ns", Name: "s", Phase: v1alpha1.PhaseTerminated}, `session "s" in namespace "ns" is terminated and read-only`},
		{&sessions.QuotaError{Namespace: "ns", Owner: "u", Policy: "p", Quota: v1alpha1.OwnerQuota{Limit: 2, Action: v1alpha1.QuotaReject}, Live: 2},
			`add_context refused: owner "u" has 2 live sessions under policy p in namespace ns; its maxSessionsPerOwner is 2 (action Reject)`},
		{fmt.Errorf("set context: %w", &store.LimitError{Limit: "maxValueBytes", Max: 10, Actual: 15, Over: 5}), "add_context refused: value is 15 bytes, 5 over the maxValueBytes limit of 10"},
		{&auth.Forbidden{Username: "u", Verb: "get", Namespace: "b"}, `forbidden: u cannot get mcpsessions in namespace "b"`},
		{fmt.Errorf("set context x: %w", &store.InvalidError{Reason: "context key is empty"}), "add_context: context key is empty"},
		{fmt.Errorf("import: %w", &store.InvalidError{Path: "conversation_history[2]", Reason: `role "bot" is not one of user, assistant, system, tool`}),
			`add_context: conversation_history[2]: role "bot"`},
		{&document.Error{Path: "created_at", Reason: `timestamp "soon" is not an ISO 8601 date-time`}, `add_context: bad session document: created_at: timestamp "soon"`},
		{sessions.ErrUnauthenticated, "unauthenticated"},
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
	// The worded error still is the typed one underneath.
	if !errors.Is(toolFailure(ctx, "get_session", &sessions.NotFoundError{Namespace: "ns", Name: "x"}), sessions.ErrNotFound) {
		t.Error("a worded not-found error must still match sessions.ErrNotFound")
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

func isCallerError(err error) bool {
	var ue *userError
	return errors.As(err, &ue)
}
