package mcpserver

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/lifecycle"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store/pebblestore"
	"github.com/mcp-session-operator/mcp-session-operator/internal/testenv"
)

// newStore opens a store of the test's own, so its digest changes only
// with what the test does.
func newStore(t *testing.T) *pebblestore.Store {
	t.Helper()
	st, err := pebblestore.Open(t.TempDir(), pebblestore.Options{Clock: testClock, Logger: quietPebble{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func digest(t *testing.T, st *pebblestore.Store) string {
	t.Helper()
	d, err := st.Digest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// createPolicy applies a policy and waits until the manager's cache, which
// the server reads, holds it.
func createPolicy(t *testing.T, ns, name string, spec v1alpha1.McpSessionPolicySpec) {
	t.Helper()
	p := &v1alpha1.McpSessionPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: spec}
	if err := k8s.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, waitTimeout, "policy "+name+" in the cache", func() string {
		if err := mgrClient.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &v1alpha1.McpSessionPolicy{}); err != nil {
			return err.Error()
		}
		return ""
	})
}

// tinyPolicy is the policy: limits.maxValueBytes 100 for sessions
// labelled tier: tiny.
func tinyPolicy(t *testing.T, ns string) {
	createPolicy(t, ns, "tiny", v1alpha1.McpSessionPolicySpec{
		Selector: metav1.LabelSelector{MatchLabels: map[string]string{"tier": "tiny"}},
		Limits:   &v1alpha1.SessionLimits{MaxValueBytes: ptr.To[int64](100)},
	})
}

var tiny = map[string]string{"tier": "tiny"}

// tinyServer makes a namespace with the tiny policy and connects to a
// server for it on a store of the test's own.
func tinyServer(t *testing.T) (string, *pebblestore.Store, *mcp.ClientSession) {
	t.Helper()
	ns := newNamespace(t)
	tinyPolicy(t, ns)
	st := newStore(t)
	_, url := startServer(t, Options{Store: st})
	return ns, st, connect(t, url, clientOpts{})
}

// absent reports whether the apiserver has no McpSession of that name: a
// refused create never made one.
func absent(t *testing.T, ns, name string) bool {
	t.Helper()
	err := k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &v1alpha1.McpSession{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	return apierrors.IsNotFound(err)
}

// Regression: import_session held only context values to the value limit.
// A document with a 5,000-byte message and a 5,000-byte discovery imported
// into a session whose policy allows 100 bytes per value was stored.
func TestImportHoldsEveryValueToThePolicy(t *testing.T) {
	ns, st, cs := tinyServer(t)
	before := digest(t, st)

	doc := map[string]any{"id": "x", "project": "p", "context": map[string]any{},
		"discoveries":          []any{map[string]any{"title": "t", "description": strings.Repeat("d", 5000)}},
		"conversation_history": []any{map[string]any{"role": "user", "content": strings.Repeat("m", 5000)}}}
	fails(t, cs, "import_session", map[string]any{"session_id": "imp", "namespace": ns, "labels": tiny, "document": doc},
		"import_session refused", "conversation_history[0]", "value is 5000 bytes, 4900 over the maxValueBytes limit of 100", "nothing was written")
	// The discovery alone is refused too.
	doc["conversation_history"] = []any{}
	fails(t, cs, "import_session", map[string]any{"session_id": "imp", "namespace": ns, "labels": tiny, "document": doc},
		"discoveries[0]", "value is 5001 bytes, 4901 over the maxValueBytes limit of 100")

	if after := digest(t, st); after != before {
		t.Error("the store changed although every import was refused")
	}
	if !absent(t, ns, "imp") {
		t.Error("a refused import created its McpSession")
	}
}

// Regression: a session's first writes escaped its policy. create_session
// with labels {tier: tiny} stated the default limits, and an add_message
// of 1,000 bytes at once was stored, because the limits came from
// status.effective, which the controller had not written yet.
func TestNewSessionIsHeldToItsPolicyAtOnce(t *testing.T) {
	ns, st, cs := tinyServer(t)
	a := func(kv ...any) map[string]any {
		m := map[string]any{"session_id": "new", "namespace": ns}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	created := ok[SessionResult](t, cs, "create_session", a("labels", tiny))
	if created.Limits.MaxValueBytes != 100 {
		t.Errorf("create_session's limits.max_value_bytes = %d, want 100 (policy tiny)", created.Limits.MaxValueBytes)
	}
	before := digest(t, st)
	fails(t, cs, "add_message", a("role", "user", "content", strings.Repeat("m", 1000)),
		"add_message refused", "value is 1000 bytes, 900 over the maxValueBytes limit of 100")
	fails(t, cs, "add_discovery", a("title", "t", "description", strings.Repeat("d", 5000)),
		"add_discovery refused", "value is 5001 bytes, 4901 over the maxValueBytes limit of 100")
	if digest(t, st) != before {
		t.Error("the store changed although every write was refused")
	}
	if v := ok[SessionView](t, cs, "get_session", a()); v.Limits.MaxValueBytes != 100 {
		t.Errorf("get_session's limits.max_value_bytes = %d, want 100", v.Limits.MaxValueBytes)
	}
	// What the server held the session to from its first call is what the
	// controller then records: the same resolution.
	testenv.Eventually(t, waitTimeout, "status.effective from the controller", func() string {
		eff := session(t, ns, "new").Status.Effective
		if eff == nil {
			return "status.effective is unset"
		}
		got := lifecycle.SettingsFromStatus(eff).Limits
		if v := ptr.Deref(got.MaxValueBytes, 0); v != created.Limits.MaxValueBytes {
			return fmt.Sprintf("status.effective.limits.maxValueBytes is %d, create_session said %d", v, created.Limits.MaxValueBytes)
		}
		return ""
	})
}

// Every write path of the MCP server refuses a value one byte over each
// limit of the session's policy, says which limit and by how much, and
// leaves the store byte-identical; exactly at the limit it writes.
func TestEveryWritePathRefusesOneByteOver(t *testing.T) {
	ns := newNamespace(t)
	const value, total, messages = 100, 300, 3
	createPolicy(t, ns, "small", v1alpha1.McpSessionPolicySpec{
		Selector: metav1.LabelSelector{MatchLabels: map[string]string{"tier": "small"}},
		Limits:   &v1alpha1.SessionLimits{MaxValueBytes: ptr.To[int64](value), MaxContextBytes: ptr.To[int64](total), MaxMessages: ptr.To[int64](messages)},
	})
	st := newStore(t)
	_, url := startServer(t, Options{Store: st})
	cs := connect(t, url, clientOpts{})
	small := map[string]string{"tier": "small"}
	// str is a string of n bytes; quoted is a JSON string value of n bytes.
	str := func(n int) string { return strings.Repeat("x", n) }
	quoted := func(n int) string { return str(n - 2) }
	n := 0
	session := func() func(kv ...any) map[string]any {
		n++
		id := fmt.Sprintf("s%d", n)
		ok[SessionResult](t, cs, "create_session", map[string]any{"session_id": id, "namespace": ns, "labels": small})
		return func(kv ...any) map[string]any {
			m := map[string]any{"session_id": id, "namespace": ns}
			for i := 0; i < len(kv); i += 2 {
				m[kv[i].(string)] = kv[i+1]
			}
			return m
		}
	}
	doc := func(ctx map[string]any, msgs, discs []any) map[string]any {
		return map[string]any{"id": "d", "context": ctx, "conversation_history": msgs, "discoveries": discs}
	}
	msgsOf := func(k int) []any {
		out := make([]any, k)
		for i := range out {
			out[i] = map[string]any{"role": "user", "content": "m"}
		}
		return out
	}
	imp := func(d map[string]any) map[string]any {
		n++
		return map[string]any{"session_id": fmt.Sprintf("i%d", n), "namespace": ns, "labels": small, "document": d}
	}

	type write struct {
		tool      string
		over, at  func() map[string]any
		limit     string
		overWords string
	}
	var writes []write
	{
		a := session()
		writes = append(writes, write{"add_context", func() map[string]any { return a("key", "k", "value", quoted(value+1)) },
			func() map[string]any { return a("key", "k", "value", quoted(value)) }, "maxValueBytes", "value is 101 bytes, 1 over"})
	}
	{
		a := session() // key "a"+100 = 101 bytes, "b"+100 = 101: 202 of 300; "c" gets 98 or 97 bytes
		ok[AddContextResult](t, cs, "add_context", a("key", "a", "value", quoted(100)))
		ok[AddContextResult](t, cs, "add_context", a("key", "b", "value", quoted(100)))
		writes = append(writes, write{"add_context", func() map[string]any { return a("key", "c", "value", quoted(98)) },
			func() map[string]any { return a("key", "c", "value", quoted(97)) }, "maxContextBytes", "context would be 301 bytes, 1 over"})
	}
	{
		a := session()
		writes = append(writes, write{"add_message", func() map[string]any { return a("role", "user", "content", str(value+1)) },
			func() map[string]any { return a("role", "user", "content", str(value)) }, "maxValueBytes", "value is 101 bytes, 1 over"})
	}
	{
		a := session()
		for range messages - 1 {
			ok[AddMessageResult](t, cs, "add_message", a("role", "user", "content", "m"))
		}
		// The at-the-limit write goes first here: it takes the last place.
		writes = append(writes, write{"add_message", nil,
			func() map[string]any { return a("role", "user", "content", "m") }, "maxMessages", "session would have 4 messages, 1 over"})
		writes = append(writes, write{"add_message", func() map[string]any { return a("role", "user", "content", "m") }, nil,
			"maxMessages", "session would have 4 messages, 1 over"})
	}
	{
		a := session()
		writes = append(writes, write{"add_discovery", func() map[string]any { return a("title", str(50), "description", str(value-50+1)) },
			func() map[string]any { return a("title", str(50), "description", str(value-50)) }, "maxValueBytes", "value is 101 bytes, 1 over"})
	}
	writes = append(writes,
		write{"import_session", func() map[string]any { return imp(doc(map[string]any{"k": quoted(value + 1)}, nil, nil)) },
			func() map[string]any { return imp(doc(map[string]any{"k": quoted(value)}, nil, nil)) }, "maxValueBytes", `context["k"]: value is 101 bytes, 1 over`},
		write{"import_session", func() map[string]any {
			return imp(doc(map[string]any{"a": quoted(100), "b": quoted(100), "c": quoted(98)}, nil, nil))
		}, func() map[string]any {
			return imp(doc(map[string]any{"a": quoted(100), "b": quoted(100), "c": quoted(97)}, nil, nil))
		}, "maxContextBytes", "context would be 301 bytes, 1 over"},
		write{"import_session", func() map[string]any {
			return imp(doc(nil, []any{map[string]any{"role": "user", "content": str(value + 1)}}, nil))
		}, func() map[string]any {
			return imp(doc(nil, []any{map[string]any{"role": "user", "content": str(value)}}, nil))
		}, "maxValueBytes", "conversation_history[0]: value is 101 bytes, 1 over"},
		write{"import_session", func() map[string]any { return imp(doc(nil, msgsOf(messages+1), nil)) },
			func() map[string]any { return imp(doc(nil, msgsOf(messages), nil)) }, "maxMessages", "session would have 4 messages, 1 over"},
		write{"import_session", func() map[string]any {
			return imp(doc(nil, nil, []any{map[string]any{"title": str(50), "description": str(value - 50 + 1)}}))
		}, func() map[string]any {
			return imp(doc(nil, nil, []any{map[string]any{"title": str(50), "description": str(value - 50)}}))
		}, "maxValueBytes", "discoveries[0]: value is 101 bytes, 1 over"},
	)
	for i, w := range writes {
		if w.over != nil {
			before := digest(t, st)
			args := w.over()
			fails(t, cs, w.tool, args, w.tool+" refused", w.overWords+" the "+w.limit+" limit", "nothing was written")
			if digest(t, st) != before {
				t.Errorf("write %d (%s, %s): the store changed although the write was refused", i, w.tool, w.limit)
			}
			if w.tool == "import_session" && !absent(t, ns, args["session_id"].(string)) {
				t.Errorf("write %d: a refused import created its McpSession", i)
			}
		}
		if w.at != nil {
			if res := call(t, cs, w.tool, w.at()); res.IsError {
				t.Errorf("write %d (%s) at the %s limit refused: %s", i, w.tool, w.limit, text(res))
			}
		}
	}
}

// quotaServer makes a namespace whose sessions all fall under a policy
// named policy allowing one live session per owner, and connects to a
// server for it.
func quotaServer(t *testing.T, policy string, action v1alpha1.QuotaAction) (string, *mcp.ClientSession) {
	t.Helper()
	ns := newNamespace(t)
	createPolicy(t, ns, policy, v1alpha1.McpSessionPolicySpec{
		MaxSessionsPerOwner: &v1alpha1.OwnerQuota{Limit: 1, Action: action},
	})
	_, url := startServer(t, Options{})
	return ns, connect(t, url, clientOpts{})
}

// Reject means reject for MCP callers: an owner at its limit gets an error
// from create_session and import_session, and nothing is created. Freeing
// a place lets the next create in.
func TestQuotaRejectRefusesTheCreate(t *testing.T) {
	ns, cs := quotaServer(t, "one-each", v1alpha1.QuotaReject)
	id := func(name string) map[string]any { return map[string]any{"session_id": name, "namespace": ns} }
	ok[SessionResult](t, cs, "create_session", id("first"))
	want := []string{"refused", `owner "local-user" has 1 live sessions under policy one-each`, "maxSessionsPerOwner is 1 (action Reject)", "nothing was created"}
	fails(t, cs, "create_session", id("second"), want...)
	imp := id("imported")
	imp["document"] = map[string]any{"id": "x"}
	fails(t, cs, "import_session", imp, want...)
	for _, name := range []string{"second", "imported"} {
		if !absent(t, ns, name) {
			t.Errorf("McpSession %s exists although its create was refused", name)
		}
	}
	ok[SessionResult](t, cs, "terminate_session", id("first"))
	ok[SessionResult](t, cs, "create_session", id("second"))
}

// TerminateOldest lets the create in; the controller then ends the
// owner's least recently active session. (Created within the same second
// and never used, the two tie on activity; the name sorting first counts
// as the older, so "a-old" is the one to go.)
func TestQuotaTerminateOldestAdmitsTheCreate(t *testing.T) {
	ns, cs := quotaServer(t, "keep-one", v1alpha1.QuotaTerminateOldest)
	ok[SessionResult](t, cs, "create_session", map[string]any{"session_id": "a-old", "namespace": ns})
	ok[SessionResult](t, cs, "create_session", map[string]any{"session_id": "b-new", "namespace": ns})
	testenv.Eventually(t, waitTimeout, "the older session terminated by the quota", func() string {
		if p := session(t, ns, "a-old").Status.Phase; p != v1alpha1.PhaseTerminated {
			return fmt.Sprintf("a-old: status.phase %q, want Terminated", p)
		}
		return ""
	})
	if p := session(t, ns, "b-new").Status.Phase; p == v1alpha1.PhaseTerminated {
		t.Errorf("b-new: status.phase %s, want it to live", p)
	}
}

// Pending activity and counts are written to the McpSession when the
// server stops.
func TestStatusWrittenOnShutdown(t *testing.T) {
	ns := newNamespace(t)
	s, err := New(Options{Store: testStore, Clock: testClock, Client: mgrClient, APIReader: mgrReader, AuthMode: AuthNone})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { done <- s.serve(ctx, ln) }()
	cs := connect(t, "http://"+ln.Addr().String()+"/mcp", clientOpts{})
	a := map[string]any{"session_id": "s", "namespace": ns}
	ok[SessionResult](t, cs, "create_session", a)
	for range 3 {
		ok[AddMessageResult](t, cs, "add_message", map[string]any{"session_id": "s", "namespace": ns, "role": "user", "content": "x"})
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st := session(t, ns, "s").Status
	if st.Counts.Messages != 3 || st.LastActivityTime == nil {
		t.Fatalf("status after shutdown: counts.messages %d, lastActivityTime %v; want 3 and set", st.Counts.Messages, st.LastActivityTime)
	}
}
