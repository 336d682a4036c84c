package document

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func loadTutorial(t testing.TB) *Document {
	t.Helper()
	data, err := os.ReadFile("testdata/tutorial-memory-leak.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestParseTutorial(t *testing.T) {
	doc := loadTutorial(t)
	if doc.ID != "debug-memory-leak-2025-09" || doc.State != "suspended" || doc.Project != "E-Commerce API" {
		t.Errorf("id, state, project = %q, %q, %q", doc.ID, doc.State, doc.Project)
	}
	if len(doc.Context) != 6 || len(doc.ConversationHistory) != 7 || len(doc.Discoveries) != 4 {
		t.Errorf("context %d, messages %d, discoveries %d; want 6, 7, 4", len(doc.Context), len(doc.ConversationHistory), len(doc.Discoveries))
	}
	for _, k := range []string{"suspended_at", "issue", "symptoms", "environment", "description", "metadata", "last_accessed", "updated_at"} {
		if _, ok := doc.Extra[k]; !ok {
			t.Errorf("extra field %q not kept", k)
		}
	}
	if _, ok := doc.Extra["state"]; ok {
		t.Errorf("state kept as an extra field too")
	}
	if got := doc.ConversationHistory[6].Metadata["request_id"]; got != json.Number("9007199254740993") {
		t.Errorf("metadata request_id = %#v, want the exact json.Number", got)
	}
}

// Anything that is not one session document is refused with an *Error
// saying what is wrong.
func TestParseRefuses(t *testing.T) {
	for name, in := range map[string]string{
		"not json":           `{"id":`,
		"array":              `[]`,
		"null":               `null`,
		"empty":              ``,
		"text":               `a session`,
		"trailing data":      `{"id":"x"} {"id":"y"}`,
		"trailing brace":     `{"id":"x"} }`,
		"id not string":      `{"id":5}`,
		"added_at number":    `{"context":{"k":{"value":1,"added_at":17}}}`,
		"content not string": `{"conversation_history":[{"role":"user","content":["x"]}]}`,
		"discoveries string": `{"discoveries":"many"}`,
		"context list":       `{"context":[1,2]}`,
	} {
		_, err := Parse([]byte(in))
		var de *Error
		if !errors.As(err, &de) || !errors.Is(err, ErrInvalid) || de.Reason == "" {
			t.Errorf("%s: err = %v, want an *Error", name, err)
		}
	}
}

// testdata/lenient.json has the forms the tutorial's own files vary in:
// bare context values, discoveries as a map of title to entry, relevance as
// a word, a null history.
func TestLenientForms(t *testing.T) {
	in, err := os.ReadFile("testdata/lenient.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(doc.Context["bare"].Value) != `{"nested": "object without value"}` || doc.Context["bare"].AddedAt != "" {
		t.Errorf("bare object context = %+v", doc.Context["bare"])
	}
	if string(doc.Context["n"].Value) != "null" || string(doc.Context["w"].Value) != "null" || doc.Context["w"].AddedAt == "" {
		t.Errorf("null contexts = %+v, %+v", doc.Context["n"], doc.Context["w"])
	}
	wantDisc := Discoveries{
		{Title: "Zeta first", Description: "from a dict", Relevance: json.RawMessage("0.9"), Timestamp: "2025-09-02T12:00:00"},
		{Title: "Alpha second", Description: "plain text", Relevance: json.RawMessage(`"critical"`)},
		{Title: "Third", Description: `{"other":1}`},
	}
	if diff := cmp.Diff(wantDisc, doc.Discoveries); diff != "" {
		t.Errorf("map-form discoveries (-want +got):\n%s", diff)
	}
}

func TestMarshal(t *testing.T) {
	d := Document{ID: "x", CreatedAt: "2025-09-02T10:00:00+00:00", Extra: map[string]json.RawMessage{
		"zeta": json.RawMessage(`1`), "alpha": json.RawMessage(`{"a":[true]}`), "id": json.RawMessage(`"shadow"`),
	}}
	got, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"x","created_at":"2025-09-02T10:00:00+00:00","project":"","context":{},"discoveries":[],"conversation_history":[],"alpha":{"a":[true]},"zeta":1}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if _, err := json.Marshal(Document{Extra: map[string]json.RawMessage{"bad": json.RawMessage(`{`)}}); err == nil {
		t.Fatal("invalid extra JSON marshalled")
	}
}

func TestPlan(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	created := time.Date(2025, 9, 2, 10, 0, 0, 0, time.UTC)
	doc, err := Parse([]byte(`{
	  "id": "s", "created_at": "2025-09-02T10:00:00", "project": "p", "state": "active", "issue": "leak",
	  "context": {"b": {"value": 2, "added_at": "2025-09-03T00:00:00"}, "a": 1},
	  "discoveries": [{"title": "t", "relevance": "high"}, {"title": "u", "relevance": 0.3, "timestamp": "2025-09-04T00:00:00Z"}, {"title": "v"}],
	  "conversation_history": [{"role": "user", "content": "hi", "metadata": {}}]
	}`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Plan(doc, now)
	if err != nil {
		t.Fatal(err)
	}
	day3 := time.Date(2025, 9, 3, 0, 0, 0, 0, time.UTC)
	want := &Records{
		ID: "s", Created: created, Project: "p",
		Context: []ContextRecord{
			{Key: "a", Value: json.RawMessage("1"), AddedAt: created, UpdatedAt: created},
			{Key: "b", Value: json.RawMessage("2"), AddedAt: day3, UpdatedAt: day3},
		},
		Messages: []MessageRecord{{Role: "user", Content: "hi", Timestamp: created}},
		Discoveries: []DiscoveryRecord{
			{Title: "t", Relevance: 0.75, Timestamp: created},
			{Title: "u", Relevance: 0.3, Timestamp: time.Date(2025, 9, 4, 0, 0, 0, 0, time.UTC)},
			{Title: "v", Timestamp: created},
		},
		Extra: map[string]json.RawMessage{"issue": json.RawMessage(`"leak"`)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Plan (-want +got):\n%s", diff)
	}
	empty, err := Plan(&Document{}, now)
	if err != nil || !empty.Created.Equal(now) {
		t.Errorf("a document without created_at: created %v, %v; want now", empty.Created, err)
	}
}

// A document whose fields do not parse is refused with the path of the
// field.
func TestPlanRefuses(t *testing.T) {
	for in, path := range map[string]string{
		`{"created_at":"next tuesday"}`:                                               "created_at",
		`{"created_at":"0001-01-01T00:30:00+01:00"}`:                                  "created_at",
		`{"context":{"k":{"value":1,"added_at":"never"}}}`:                            `context["k"].added_at`,
		`{"context":{"k":{"value":1,"updated_at":"later"}}}`:                          `context["k"].updated_at`,
		`{"conversation_history":[{"role":"user","content":"x","timestamp":"soon"}]}`: "conversation_history[0].timestamp",
		`{"discoveries":[{"title":"t"},{"title":"t","relevance":"urgent"}]}`:          "discoveries[1].relevance",
		`{"discoveries":[{"title":"t","relevance":{}}]}`:                              "discoveries[0].relevance",
	} {
		doc, err := Parse([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		_, err = Plan(doc, time.Now())
		var de *Error
		if !errors.As(err, &de) || de.Path != path {
			t.Errorf("Plan(%s) = %v, want an *Error at %s", in, err, path)
		}
	}
	if _, err := Plan(nil, time.Now()); !errors.Is(err, ErrInvalid) {
		t.Errorf("Plan(nil) = %v, want ErrInvalid", err)
	}
}

// Export and Plan are inverses: a session's records survive the trip
// through a document.
func TestExportPlanRoundTrip(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2025, 9, 2, h, 0, 0, 123456000, time.UTC) }
	recs := Records{
		ID: "s", Created: at(1), Project: "p", State: "suspended",
		Context:     []ContextRecord{{Key: "a", Value: json.RawMessage(`{"x":[1]}`), AddedAt: at(2), UpdatedAt: at(3), Type: "dict"}},
		Messages:    []MessageRecord{{Role: "user", Content: "<b>hi</b> & bye", Timestamp: at(4), Metadata: map[string]any{"n": json.Number("12345678901234567890")}}},
		Discoveries: []DiscoveryRecord{{Title: "t", Description: "d", Relevance: 0.3, Timestamp: at(5)}},
		Extra:       map[string]json.RawMessage{"issue": json.RawMessage(`"leak"`)},
	}
	doc := Export(recs)
	var buf bytes.Buffer
	// Compact, so values come back byte for byte (indented, they would
	// come back indented; the store compacts what it stores).
	if err := Write(&buf, doc, WriteOptions{Compact: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "<b>hi</b> & bye") {
		t.Errorf("HTML characters were escaped:\n%s", buf.String())
	}
	parsed, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	got, err := Plan(parsed, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	want := recs
	want.State = ""           // Plan leaves lifecycle to the caller
	want.Context[0].Type = "" // and the type to the store
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("Plan(Export(records)) (-want +got):\n%s", diff)
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.json")
	doc := Export(Records{ID: "s", Created: time.Date(2025, 9, 2, 10, 0, 0, 0, time.UTC), State: "active"})
	if err := WriteFile(path, doc, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("file: %v, mode %v; want 0600 (sessions hold conversations)", err, info.Mode())
	}
	data, _ := os.ReadFile(path)
	if !bytes.HasPrefix(data, []byte("{\n  \"id\": \"s\",\n  \"created_at\": \"2025-09-02T10:00:00+00:00\",\n  \"state\": \"active\",")) {
		t.Fatalf("file does not start like a tutorial document:\n%.200s", data)
	}
	// Rewriting replaces the file whole and leaves no temporary behind.
	if err := WriteFile(path, doc, WriteOptions{Compact: true}); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(path)
	if strings.Count(string(data), "\n") != 1 || !json.Valid(data) {
		t.Fatalf("compact document is not one JSON line: %.200s", data)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("files in the directory: %v, want only s.json", entries)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "x.json"), doc, WriteOptions{}); err == nil {
		t.Fatal("writing into a missing directory succeeded")
	}
}
