package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
	"github.com/mcp-session-operator/mcp-session-operator/internal/testenv"
)

var allTools = []string{
	"create_session", "get_session", "list_sessions", "add_context", "get_context",
	"add_message", "get_history", "add_discovery", "search", "suspend_session",
	"resume_session", "terminate_session", "export_session", "import_session", "delete_session",
}

func TestToolsAreListedWithSchemas(t *testing.T) {
	_, url := startServer(t, Options{})
	cs := connect(t, url, clientOpts{})
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range res.Tools {
		names = append(names, tl.Name)
		if tl.InputSchema == nil || tl.OutputSchema == nil {
			t.Errorf("%s: missing input or output schema", tl.Name)
		}
		for kind, schema := range map[string]any{"input": tl.InputSchema, "output": tl.OutputSchema} {
			var v any
			if err := json.Unmarshal([]byte(jsonOf(schema)), &v); err != nil {
				t.Fatal(err)
			}
			// Strict clients (the conformance suite's zod schemas) refuse
			// boolean property schemas such as the one Go's any infers to.
			if path := booleanProperty(v, kind); path != "" {
				t.Errorf("%s: %s", tl.Name, path)
			}
		}
		if len(tl.Description) < 60 {
			t.Errorf("%s: description too thin for a model: %q", tl.Name, tl.Description)
		}
	}
	slices.Sort(names)
	want := slices.Clone(allTools)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("tools = %v, want %v", names, want)
	}
	// Durability is stated where a session is made (SEP-2567).
	for _, tl := range res.Tools {
		if tl.Name == "create_session" && !strings.Contains(tl.Description, "suspended after 30m without activity") {
			t.Errorf("create_session does not state durability: %q", tl.Description)
		}
		if tl.Name == "add_context" {
			schema, _ := json.Marshal(tl.InputSchema)
			for _, arg := range []string{"session_id", "namespace", "key", "value"} {
				if !strings.Contains(string(schema), `"`+arg+`"`) {
					t.Errorf("add_context schema lacks %s: %s", arg, schema)
				}
			}
		}
	}
}

func TestEveryToolHappyPath(t *testing.T) {
	ns := newNamespace(t)
	_, url := startServer(t, Options{})
	cs := connect(t, url, clientOpts{})
	id := map[string]any{"session_id": "debug-memory-leak-2025-09", "namespace": ns}
	with := func(kv ...any) map[string]any {
		m := map[string]any{}
		for k, v := range id {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}

	created := ok[SessionResult](t, cs, "create_session", with(
		"project", "E-Commerce API", "description", "Memory leak in production",
		"metadata", map[string]any{"issue": "memory growth", "hosts": 3},
		"labels", map[string]string{"purpose": "debugging"}))
	if created.Status != "created" || created.Phase != "Active" || !created.Writable || created.Owner != "local-user" {
		t.Fatalf("create_session = %+v", created)
	}
	obj := session(t, ns, "debug-memory-leak-2025-09")
	if obj.Spec.Owner != "local-user" || obj.Spec.Project != "E-Commerce API" || obj.Labels["purpose"] != "debugging" ||
		obj.Spec.Attributes["hosts"] != "3" || obj.Spec.Attributes["issue"] != "memory growth" ||
		!controllerutil.ContainsFinalizer(obj, v1alpha1.StoreFinalizer) {
		t.Fatalf("McpSession = %+v", obj)
	}
	if _, err := testStore.Get(context.Background(), string(obj.UID)); err != nil {
		t.Fatalf("store entry keyed by the object's UID: %v", err)
	}

	got := ok[SessionView](t, cs, "get_session", id)
	if got.URI != "mcpsession://"+ns+"/debug-memory-leak-2025-09" || got.Counts.Messages != 0 || got.Limits.MaxMessages != 100000 {
		t.Fatalf("get_session = %+v", got)
	}

	diff := map[string]any{"version": "v2.4.0", "changes": []any{"Added real-time analytics feature", "Upgraded caching layer"}}
	added := ok[AddContextResult](t, cs, "add_context", with("key", "deployment_diff", "value", diff))
	if added.Type != "dict" || added.Key != "deployment_diff" {
		t.Fatalf("add_context = %+v", added)
	}
	ok[AddContextResult](t, cs, "add_context", with("key", "symptoms", "value", "memory grows 100MB/hour on all API instances"))

	one := ok[GetContextResult](t, cs, "get_context", with("key", "deployment_diff"))
	if len(one.Entries) != 1 || one.Total != 2 {
		t.Fatalf("get_context by key = %+v", one)
	}
	if b, _ := json.Marshal(one.Entries[0].Value); string(b) != `{"changes":["Added real-time analytics feature","Upgraded caching layer"],"version":"v2.4.0"}` {
		t.Fatalf("value read back = %s", b)
	}
	ranked := ok[GetContextResult](t, cs, "get_context", with("query", "memory hour"))
	if len(ranked.Entries) == 0 || ranked.Entries[0].Key != "symptoms" || ranked.Entries[0].Score <= 0 {
		t.Fatalf("ranked get_context = %+v", ranked)
	}
	all := ok[GetContextResult](t, cs, "get_context", id)
	if len(all.Entries) != 2 {
		t.Fatalf("get_context all = %+v", all)
	}

	for i, m := range []struct{ role, content string }{
		{"user", "Production API instances are consuming memory at 100MB/hour."},
		{"assistant", "Let's check what changed in v2.4.0."},
		{"user", "The cache is growing."},
	} {
		r := ok[AddMessageResult](t, cs, "add_message", with("role", m.role, "content", m.content, "metadata", map[string]any{"turn": i}))
		if r.Seq != uint64(i+1) {
			t.Fatalf("add_message seq = %d, want %d", r.Seq, i+1)
		}
	}
	page1 := ok[GetHistoryResult](t, cs, "get_history", with("limit", 2))
	if len(page1.Messages) != 2 || page1.NextCursor == "" || page1.Total != 3 || page1.Messages[0].Role != "user" {
		t.Fatalf("get_history page 1 = %+v", page1)
	}
	page2 := ok[GetHistoryResult](t, cs, "get_history", with("limit", 2, "cursor", page1.NextCursor))
	if len(page2.Messages) != 1 || page2.NextCursor != "" || page2.Messages[0].Seq != 3 {
		t.Fatalf("get_history page 2 = %+v", page2)
	}

	disc := ok[AddDiscoveryResult](t, cs, "add_discovery", with("title", "In-memory cache has no eviction policy",
		"description", "The CacheManager stores everything and never removes old entries.", "relevance", 0.9))
	if disc.Seq != 1 {
		t.Fatalf("add_discovery = %+v", disc)
	}

	found := ok[SearchResult](t, cs, "search", map[string]any{"namespace": ns, "query": "cache eviction"})
	if len(found.Hits) == 0 || found.Hits[0].SessionID != "debug-memory-leak-2025-09" || found.Hits[0].Kind != "discovery" {
		t.Fatalf("search = %+v", found)
	}

	listed := ok[ListSessionsResult](t, cs, "list_sessions", map[string]any{"namespace": ns, "labels": map[string]string{"purpose": "debugging"}})
	if len(listed.Sessions) != 1 || listed.Sessions[0].Counts.Messages != 3 {
		t.Fatalf("list_sessions = %+v", listed)
	}
	if none := ok[ListSessionsResult](t, cs, "list_sessions", map[string]any{"namespace": ns, "project": "other"}); len(none.Sessions) != 0 {
		t.Fatalf("list_sessions by another project = %+v", none)
	}

	exported := ok[ExportResult](t, cs, "export_session", id)
	doc, _ := json.Marshal(exported.Document)
	for _, want := range []string{`"id":"debug-memory-leak-2025-09"`, `"state":"active"`, `"project":"E-Commerce API"`, `"deployment_diff"`, `"conversation_history"`, `In-memory cache has no eviction policy`} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("export lacks %s: %s", want, doc)
		}
	}
	imported := ok[SessionResult](t, cs, "import_session", map[string]any{"session_id": "copy", "namespace": ns, "document": exported.Document, "labels": map[string]string{"purpose": "debugging"}})
	if imported.Status != "imported" || imported.Counts.ContextItems != 2 || imported.Counts.Messages != 3 || imported.Counts.Discoveries != 1 || imported.Project != "E-Commerce API" {
		t.Fatalf("import_session = %+v", imported)
	}
	fromText := ok[SessionResult](t, cs, "import_session", map[string]any{"session_id": "copy-from-text", "namespace": ns, "content": string(doc)})
	if fromText.Counts.Messages != 3 {
		t.Fatalf("import_session from content = %+v", fromText)
	}

	susp := ok[SessionResult](t, cs, "suspend_session", id)
	if susp.Phase != "Suspended" || susp.Writable {
		t.Fatalf("suspend_session = %+v", susp)
	}
	brief := ok[Briefing](t, cs, "resume_session", id)
	if brief.Status != "resumed" || brief.Session.Phase != "Active" || !brief.Confirmed ||
		!slices.Equal(brief.ContextKeys, []string{"deployment_diff", "symptoms"}) ||
		len(brief.RecentDiscoveries) != 1 || len(brief.LastMessages) != 3 || !strings.Contains(brief.Message, "Session resumed with full context") {
		t.Fatalf("resume_session = %+v", brief)
	}

	term := ok[SessionResult](t, cs, "terminate_session", id)
	if term.Phase != "Terminated" || term.Writable || !strings.Contains(term.Message, "read") {
		t.Fatalf("terminate_session = %+v", term)
	}
	// A terminated session is still readable and exportable.
	ok[GetContextResult](t, cs, "get_context", id)
	ok[ExportResult](t, cs, "export_session", id)

	uid := string(session(t, ns, "copy").UID)
	del := ok[DeleteResult](t, cs, "delete_session", map[string]any{"session_id": "copy", "namespace": ns})
	if del.Status != "deleted" {
		t.Fatalf("delete_session = %+v", del)
	}
	// The controller's finalizer erases the data, then the object goes.
	testenv.Eventually(t, waitTimeout, "deleted session and erased data", func() string {
		err := k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "copy"}, &v1alpha1.McpSession{})
		if !apierrors.IsNotFound(err) {
			return fmt.Sprintf("the McpSession is still there (get: %v)", err)
		}
		if _, err := testStore.Get(context.Background(), uid); !errors.Is(err, store.ErrNotFound) {
			return fmt.Sprintf("its data is still in the store (get: %v)", err)
		}
		return ""
	})
	fails(t, cs, "get_session", map[string]any{"session_id": "copy", "namespace": ns}, `session "copy" not found in namespace "`+ns+`"`)
}

// TestToolErrors checks each error a model must be able to act on.
func TestToolErrors(t *testing.T) {
	ns := newNamespace(t)
	_, url := startServer(t, Options{})
	cs := connect(t, url, clientOpts{})
	a := func(id string, kv ...any) map[string]any {
		m := map[string]any{"session_id": id, "namespace": ns}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}

	fails(t, cs, "get_session", a("nope"), `session "nope" not found in namespace "`+ns+`"`)
	fails(t, cs, "add_context", a("nope", "key", "k", "value", 1), "not found")
	fails(t, cs, "create_session", a("Bad_ID"), `invalid session_id "Bad_ID"`, "DNS-1123 subdomain", "253 characters")
	fails(t, cs, "get_session", a(strings.Repeat("a", 254)), "DNS-1123 subdomain")
	fails(t, cs, "get_session", map[string]any{"session_id": "x", "namespace": "Not A Namespace"}, "invalid namespace")

	ok[SessionResult](t, cs, "create_session", a("s1"))
	fails(t, cs, "create_session", a("s1"), "already exists", "use resume_session")
	fails(t, cs, "add_message", a("s1", "role", "robot", "content", "hi"), "role", "user, assistant, system, tool")
	fails(t, cs, "get_history", a("s1", "cursor", "page-2"), "invalid cursor")
	fails(t, cs, "get_context", a("s1", "key", "missing"), `context key "missing" not found`, "no context yet")
	fails(t, cs, "add_discovery", a("s1", "title", "x", "relevance", 7), "relevance")
	fails(t, cs, "import_session", a("s1", "document", map[string]any{"id": "x"}), "already exists")
	fails(t, cs, "import_session", a("s2"), "needs the session document")

	// Limits come from the settings in force (status.effective, else spec).
	obj := session(t, ns, "s1")
	patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"limits":{"maxValueBytes":64,"maxMessages":2,"maxContextBytes":100}}}`))
	if err := k8s.Patch(context.Background(), obj, patch); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, waitTimeout, "limits in force", func() string {
		v := ok[SessionView](t, cs, "get_session", a("s1"))
		if v.Limits.MaxValueBytes != 64 || v.Limits.MaxMessages != 2 {
			return "limits " + jsonOf(v.Limits)
		}
		return ""
	})
	fails(t, cs, "add_context", a("s1", "key", "big", "value", strings.Repeat("x", 100)), "maxValueBytes", "102 bytes", "38 over", "nothing was written")
	fails(t, cs, "add_message", a("s1", "role", "user", "content", strings.Repeat("y", 65)), "maxValueBytes", "1 over")
	ok[AddContextResult](t, cs, "add_context", a("s1", "key", "k1", "value", strings.Repeat("a", 50)))
	fails(t, cs, "add_context", a("s1", "key", "k2", "value", strings.Repeat("b", 50)), "maxContextBytes", "over the maxContextBytes limit of 100")
	ok[AddMessageResult](t, cs, "add_message", a("s1", "role", "user", "content", "one"))
	ok[AddMessageResult](t, cs, "add_message", a("s1", "role", "user", "content", "two"))
	fails(t, cs, "add_message", a("s1", "role", "user", "content", "three"), "maxMessages", "3 messages", "1 over")

	ok[SessionResult](t, cs, "suspend_session", a("s1"))
	fails(t, cs, "add_context", a("s1", "key", "k", "value", 1), `session "s1" in namespace "`+ns+`" is suspended; call resume_session`)
	fails(t, cs, "add_message", a("s1", "role", "user", "content", "x"), "is suspended; call resume_session")
	fails(t, cs, "add_discovery", a("s1", "title", "x"), "is suspended")
	// Reads still work while suspended.
	ok[GetHistoryResult](t, cs, "get_history", a("s1"))

	ok[SessionResult](t, cs, "terminate_session", a("s1"))
	fails(t, cs, "add_message", a("s1", "role", "user", "content", "x"), "terminated and read-only")
	fails(t, cs, "resume_session", a("s1"), "terminated and cannot be resumed")
	fails(t, cs, "suspend_session", a("s1"), "terminated and read-only")
	// Terminate is idempotent.
	ok[SessionResult](t, cs, "terminate_session", a("s1"))

	// A spec change made outside the server (kubectl) applies to the next
	// call at once, before the controller has even caught up.
	ok[SessionResult](t, cs, "create_session", a("s3"))
	if err := k8s.Patch(context.Background(), session(t, ns, "s3"), client.RawPatch(types.MergePatchType, []byte(`{"spec":{"suspend":true}}`))); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, waitTimeout, "kubectl suspend seen", func() string {
		res := call(t, cs, "add_message", a("s3", "role", "user", "content", "x"))
		if !res.IsError || !strings.Contains(text(res), "suspended") {
			return "add_message answered: " + text(res)
		}
		return ""
	})
}

// booleanProperty returns the path of a property whose schema is a bare
// boolean, or "".
func booleanProperty(schema any, path string) string {
	m, ok := schema.(map[string]any)
	if !ok {
		return ""
	}
	props, _ := m["properties"].(map[string]any)
	for name, p := range props {
		if _, isBool := p.(bool); isBool {
			return path + ".properties." + name + " is a boolean schema"
		}
		if got := booleanProperty(p, path+".properties."+name); got != "" {
			return got
		}
	}
	if items, ok := m["items"]; ok {
		return booleanProperty(items, path+".items")
	}
	return ""
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestProtocolVersions: the 2026-07-28 revision and older clients alike.
func TestProtocolVersions(t *testing.T) {
	ns := newNamespace(t)
	_, url := startServer(t, Options{})
	for i, v := range []string{"2026-07-28", "2025-11-25", "2025-06-18"} {
		cs := connect(t, url, clientOpts{version: v})
		if got := cs.InitializeResult().ProtocolVersion; got != v {
			t.Errorf("asked for %s, negotiated %s", v, got)
		}
		name := "v" + string(rune('a'+i))
		ok[SessionResult](t, cs, "create_session", map[string]any{"session_id": name, "namespace": ns})
		r := ok[AddMessageResult](t, cs, "add_message", map[string]any{"session_id": name, "namespace": ns, "role": "user", "content": "hello from " + v})
		if r.Seq != 1 {
			t.Errorf("%s: seq %d", v, r.Seq)
		}
		fails(t, cs, "get_session", map[string]any{"session_id": "missing", "namespace": ns}, "not found")
		if _, err := cs.ListResourceTemplates(context.Background(), nil); err != nil {
			t.Errorf("%s: resources/templates/list: %v", v, err)
		}
		if _, err := cs.ListPrompts(context.Background(), &mcp.ListPromptsParams{}); err != nil {
			t.Errorf("%s: prompts/list: %v", v, err)
		}
	}
}

// TestSessionCreatedWithKubectl: a session applied as YAML (kubectl, Argo
// CD) has no data yet; the first call creates its store entry.
func TestSessionCreatedWithKubectl(t *testing.T) {
	ns := newNamespace(t)
	obj := &v1alpha1.McpSession{}
	obj.Namespace, obj.Name = ns, "from-git"
	obj.Spec.Project = "E-Commerce API"
	if err := k8s.Create(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
	_, url := startServer(t, Options{})
	cs := connect(t, url, clientOpts{})
	a := map[string]any{"session_id": "from-git", "namespace": ns}
	if v := ok[SessionView](t, cs, "get_session", a); v.Project != "E-Commerce API" || v.Counts.Messages != 0 {
		t.Fatalf("get_session = %+v", v)
	}
	ok[AddMessageResult](t, cs, "add_message", map[string]any{"session_id": "from-git", "namespace": ns, "role": "user", "content": "hello"})
	if h := ok[GetHistoryResult](t, cs, "get_history", a); len(h.Messages) != 1 {
		t.Fatalf("get_history = %+v", h)
	}
	ok[Briefing](t, cs, "resume_session", a)
}

func TestOptionsRefuseUnsafeAuth(t *testing.T) {
	testenv.Require(t)
	if _, err := New(Options{Store: testStore, Client: mgrClient, AuthMode: AuthKubernetes}); err == nil {
		t.Error("kubernetes auth without an authenticator accepted")
	}
	if _, err := New(Options{Store: testStore, AuthMode: "magic"}); err == nil {
		t.Error("unknown auth mode accepted")
	}
	if _, err := New(Options{}); err == nil {
		t.Error("no store accepted")
	}
	s, err := New(Options{Store: testStore, Addr: ":0"}) // local: auth none by default
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("Start with --auth=none on every interface: %v", err)
	}
}
