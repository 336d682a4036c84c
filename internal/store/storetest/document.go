package storetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/utils/ptr"

	"github.com/mcp-session-operator/mcp-session-operator/internal/document"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

func testImportTutorialDocument(t *testing.T, b Backend) {
	st := open(t, b)
	doc := Tutorial(t)
	h, err := st.Import(bg, SessionRef{UID: "leak", Namespace: "team-a", Name: "debug-memory-leak"}, doc, store.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h.Project != "E-Commerce API" || !h.Created.Equal(time.Date(2025, 9, 2, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("header = %+v", h)
	}
	if h.ContextItems != 6 || h.Messages != 7 || h.Discoveries != 4 || h.NextMsgSeq != 8 || h.NextDiscSeq != 5 {
		t.Fatalf("counts = %+v", h.Stats)
	}
	if got, _ := st.Get(bg, "leak"); got != h {
		t.Fatalf("Get = %+v, Import returned %+v", got, h)
	}

	hyp, err := st.GetContext(bg, "leak", "hypothesis")
	if err != nil || !hyp.AddedAt.Equal(time.Date(2025, 9, 2, 16, 20, 0, 250000000, time.UTC)) || hyp.Type != "str" {
		t.Fatalf("hypothesis = %+v, %v", hyp, err)
	}
	bare, err := st.GetContext(bg, "leak", "fix_branch")
	if err != nil || string(bare.Value) != `"fix/cache-ttl-eviction"` || !bare.AddedAt.Equal(h.Created) {
		t.Fatalf("bare context value = %+v, %v", bare, err)
	}
	ca, _ := st.GetContext(bg, "leak", "cache_analysis")
	if ca.Type != "dict" || !strings.Contains(string(ca.Value), `"total_entries":45000`) {
		t.Fatalf("cache_analysis = %+v", ca)
	}

	discs, _ := st.ListDiscoveries(bg, "leak", store.ListOptions{})
	rels := []float64{discs[0].Relevance, discs[1].Relevance, discs[2].Relevance, discs[3].Relevance}
	if !reflect.DeepEqual(rels, []float64{1, 0.6, 1, 0.75}) || discs[0].Title != "In-memory cache has no eviction policy" {
		t.Fatalf("discoveries = %+v", discs)
	}

	msgs, _, _ := st.History(bg, "leak", 1, 100)
	if len(msgs) != 7 || msgs[0].Role != "user" || msgs[2].Role != "system" || msgs[2].Metadata != nil {
		t.Fatalf("messages = %+v", msgs)
	}
	if !msgs[5].Timestamp.Equal(time.Date(2025, 9, 4, 15, 20, 0, 123456000, time.UTC)) {
		t.Fatalf("message 6 timestamp = %v", msgs[5].Timestamp)
	}
	if msgs[6].Metadata["request_id"] != json.Number("9007199254740993") {
		t.Fatalf("metadata = %#v", msgs[6].Metadata)
	}

	for _, k := range []string{"suspended_at", "issue", "symptoms", "environment", "description", "metadata", "last_accessed", "updated_at"} {
		if _, ok := doc.Extra[k]; !ok {
			t.Errorf("extra field %q not kept", k)
		}
	}
	if _, ok := doc.Extra["state"]; ok || doc.State != "suspended" {
		t.Errorf("state parsed as %q, extra %v", doc.State, doc.Extra["state"])
	}

	hits, err := st.Search(bg, "webhook retried", []string{"leak"}, store.SearchOptions{Limit: 5})
	if err != nil || len(hits) == 0 || hits[0].Kind != store.KindDiscovery || hits[0].Seq != 2 {
		t.Fatalf("search over the imported session = %+v, %v", hits, err)
	}
}

// TestExportImportReproducesSession exports a session, imports it under a
// new UID and checks the second export is identical, field by field and
// byte for byte.
func testExportImportReproducesSession(t *testing.T, b Backend) {
	st := open(t, b)
	mustCreate(t, st, "a")
	if _, err := st.SetContext(bg, "a", "deployment_diff", json.RawMessage(`{"version":"v2.4.0","changes":["x"]}`), Limits{}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetContext(bg, "a", "deployment_diff", json.RawMessage(`{"version":"v2.4.1"}`), Limits{}); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{`null`, `0.7`, `[1,2]`, `"s"`, `true`} {
		if _, err := st.SetContext(bg, "a", "k"+v, json.RawMessage(v), Limits{}); err != nil {
			t.Fatal(err)
		}
	}
	meta := map[string]any{"n": json.Number("12345678901234567890"), "tools": []any{"grep"}, "nested": map[string]any{"ok": true}}
	for i, role := range []string{"user", "assistant", "system", "tool"} {
		m := Message{Role: role, Content: "turn " + role + " ünïcödé"}
		if i == 1 {
			m.Metadata = meta
		}
		if _, err := st.AppendMessage(bg, "a", m, Limits{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.AppendDiscovery(bg, "a", Discovery{Title: "t1", Description: "d1", Relevance: 0.3}, Limits{}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AppendDiscovery(bg, "a", Discovery{Title: "t2"}, Limits{}); err != nil {
		t.Fatal(err)
	}

	first, err := st.Export(bg, "a")
	if err != nil {
		t.Fatal(err)
	}
	if first.ID != "session-a" || first.State != "" || len(first.Context) != 6 || len(first.ConversationHistory) != 4 || len(first.Discoveries) != 2 {
		t.Fatalf("export = %+v", first)
	}
	if first.Context["deployment_diff"].AddedAt == first.Context["deployment_diff"].UpdatedAt {
		t.Fatalf("update time lost: %+v", first.Context["deployment_diff"])
	}
	data, err := json.MarshalIndent(first, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := document.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Import(bg, SessionRef{UID: "b", Namespace: "team-a", Name: "session-a"}, parsed, store.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	second, err := st.Export(bg, "b")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(first, second) {
		t.Fatalf("documents differ:\n%+v\n%+v", first, second)
	}
	data2, _ := json.MarshalIndent(second, "", "  ")
	if !bytes.Equal(data, data2) {
		t.Fatalf("JSON differs:\n%s\n%s", data, data2)
	}
	sa, _ := st.Stats(bg, "a")
	sb, _ := st.Stats(bg, "b")
	sa.LastActivity, sb.LastActivity = time.Time{}, time.Time{}
	if sa != sb {
		t.Fatalf("stats differ: %+v vs %+v", sa, sb)
	}

	// A tutorial document survives export and re-import too, extras included.
	if _, err := st.Import(bg, SessionRef{UID: "c", Name: "leak"}, Tutorial(t), store.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	third, _ := st.Export(bg, "c")
	if _, err := st.Import(bg, SessionRef{UID: "d", Name: "leak"}, third, store.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	fourth, _ := st.Export(bg, "d")
	if !reflect.DeepEqual(third, fourth) || len(third.Extra) != 8 {
		t.Fatalf("tutorial round trip differs or lost extras:\n%+v\n%+v", third, fourth)
	}
}

func testImportExistingAndReplace(t *testing.T, b Backend) {
	st := open(t, b)
	mustCreate(t, st, "u1")
	if _, err := st.SetContext(bg, "u1", "old_key", json.RawMessage(`1`), Limits{}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if _, err := st.AppendMessage(bg, "u1", Message{Role: "user", Content: "old"}, Limits{}); err != nil {
			t.Fatal(err)
		}
	}
	doc := Tutorial(t)
	before := digest(t, st)
	_, err := st.Import(bg, SessionRef{UID: "u1"}, doc, store.ImportOptions{})
	wantErr(t, err, store.ErrExists)
	if digest(t, st) != before {
		t.Fatal("refused import changed the database")
	}

	h, err := st.Import(bg, SessionRef{UID: "u1", Name: "replaced"}, doc, store.ImportOptions{Replace: true})
	if err != nil {
		t.Fatal(err)
	}
	if h.Messages != 7 || h.Name != "replaced" {
		t.Fatalf("header after replace = %+v", h)
	}
	_, err = st.GetContext(bg, "u1", "old_key")
	wantErr(t, err, store.ErrNotFound)
	msgs, _, _ := st.History(bg, "u1", 1, 100)
	if len(msgs) != 7 || msgs[6].Content != doc.ConversationHistory[6].Content {
		t.Fatalf("history after replace has %d messages", len(msgs))
	}
	// The cached header follows the import: the next append is 8, not 11.
	seq, err := st.AppendMessage(bg, "u1", Message{Role: "user", Content: "new"}, Limits{})
	if err != nil || seq != 8 {
		t.Fatalf("append after replace: seq %d, %v", seq, err)
	}
}

func testImportInvalidLeavesStoreUnchanged(t *testing.T, b Backend) {
	st := open(t, b)
	mustCreate(t, st, "keep")
	if _, err := st.AppendMessage(bg, "keep", Message{Role: "user", Content: "keep me"}, Limits{}); err != nil {
		t.Fatal(err)
	}
	before := digest(t, st)
	good := `"role":"user","content":"x","timestamp":"2025-09-02T10:00:00"`
	bad := map[string]string{
		"not json":           `{"id":`,
		"array":              `[]`,
		"null":               `null`,
		"trailing data":      `{"id":"x"} {"id":"y"}`,
		"id not string":      `{"id":5}`,
		"bad created_at":     `{"created_at":"next tuesday"}`,
		"bad role":           `{"conversation_history":[{"role":"bot","content":"x"}]}`,
		"late bad role":      `{"conversation_history":[{` + good + `},{"role":"narrator","content":"x"}]}`,
		"content not string": `{"conversation_history":[{"role":"user","content":["x"]}]}`,
		"bad msg timestamp":  `{"conversation_history":[{"role":"user","content":"x","timestamp":"soon"}]}`,
		"empty context key":  `{"context":{"":{"value":1}}}`,
		"NUL in key":         `{"context":{"a\u0000b":{"value":1}}}`,
		"bad added_at":       `{"context":{"k":{"value":1,"added_at":"never"}}}`,
		"added_at number":    `{"context":{"k":{"value":1,"added_at":17}}}`,
		"empty title":        `{"discoveries":[{"title":"","description":"d"}]}`,
		"relevance 2":        `{"discoveries":[{"title":"t","relevance":2}]}`,
		"relevance word":     `{"discoveries":[{"title":"t","relevance":"urgent"}]}`,
		"relevance object":   `{"discoveries":[{"title":"t","relevance":{}}]}`,
		"discoveries string": `{"discoveries":"many"}`,
		"context list":       `{"context":[1,2]}`,
		"long project":       `{"project":"` + strings.Repeat("p", 2000) + `"}`,
		"year zero":          `{"created_at":"0001-01-01T00:30:00+01:00"}`,
	}
	for name, in := range bad {
		doc, err := document.Parse([]byte(in))
		if err == nil {
			_, err = st.Import(bg, SessionRef{UID: "new"}, doc, store.ImportOptions{})
		}
		if !invalidInput(err) {
			t.Errorf("%s: err = %v, want ErrInvalid or document.ErrInvalid", name, err)
		}
		// Replacing the existing session with a bad document leaves it as it was.
		if doc != nil {
			_, err = st.Import(bg, SessionRef{UID: "keep"}, doc, store.ImportOptions{Replace: true})
			if !invalidInput(err) {
				t.Errorf("%s (replace): err = %v, want ErrInvalid or document.ErrInvalid", name, err)
			}
		}
	}
	if digest(t, st) != before {
		t.Fatal("invalid imports changed the database")
	}
	_, err := st.Import(bg, SessionRef{UID: "new"}, nil, store.ImportOptions{})
	wantErr(t, err, document.ErrInvalid)
}

func testImportLimits(t *testing.T, b Backend) {
	empty := emptyDigest(t, b)
	st := open(t, b)
	doc := Tutorial(t)
	tests := []struct {
		limits Limits
		name   string
	}{
		{Limits{MaxMessages: ptr.To[int64](6)}, "maxMessages"},
		{Limits{MaxValueBytes: ptr.To[int64](50)}, "maxValueBytes"},
		{Limits{MaxContextBytes: ptr.To[int64](100)}, "maxContextBytes"},
	}
	for _, tt := range tests {
		_, err := st.Import(bg, SessionRef{UID: "u1"}, doc, store.ImportOptions{Limits: tt.limits})
		var le *LimitError
		if !errors.As(err, &le) || le.Limit != tt.name {
			t.Errorf("%s: err = %v", tt.name, err)
		}
	}
	if digest(t, st) != empty {
		t.Fatal("refused imports wrote something")
	}
	if _, err := st.Import(bg, SessionRef{UID: "u1"}, doc, store.ImportOptions{Limits: Limits{MaxMessages: ptr.To[int64](7)}}); err != nil {
		t.Fatalf("import at the limit: %v", err)
	}
}

// The lenient forms a document may take (see internal/document) import
// as their plain equivalents.
func testImportLenientForms(t *testing.T, b Backend) {
	doc, err := document.Parse(testdata(t, "lenient.json"))
	if err != nil {
		t.Fatal(err)
	}
	st := open(t, b)
	if _, err := st.Import(bg, SessionRef{UID: "u1"}, doc, store.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	ds, _ := st.ListDiscoveries(bg, "u1", store.ListOptions{})
	if len(ds) != 3 || ds[0].Title != "Zeta first" || ds[1].Relevance != 1.0 || ds[2].Relevance != store.DefaultRelevance {
		t.Fatalf("imported discoveries = %+v", ds)
	}
	if w, _ := st.GetContext(bg, "u1", "w"); w.Type != "NoneType" {
		t.Fatalf("type not derived from the value: %+v", w)
	}
	if b, _ := st.GetContext(bg, "u1", "bare"); string(b.Value) != `{"nested":"object without value"}` || b.Type != "dict" {
		t.Fatalf("bare object context = %+v", b)
	}
}
