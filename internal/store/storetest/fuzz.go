package storetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"

	"k8s.io/utils/ptr"

	"github.com/mcp-session-operator/mcp-session-operator/internal/document"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// ImportSeeds are the seed inputs of FuzzImport.
func ImportSeeds(t testing.TB) []string {
	return []string{
		string(testdata(t, "tutorial-memory-leak.json")),
		`{}`,
		`{"id":"s","created_at":"2025-09-02T10:00:00","state":"active","project":"p","context":{},"discoveries":[],"conversation_history":[]}`,
		`{"context":{"k":{"value":{"a":[1,2,{"b":null}]},"added_at":"2025-09-02 10:00:00.5"}, "bare": [1]}}`,
		`{"discoveries":{"t":{"discovery":{"description":"d"},"relevance":"high"}}}`,
		`{"conversation_history":[{"role":"tool","content":"<b>ok</b>","metadata":{"n":123456789012345678901}}]}`,
		`{"conversation_history":[{"role":"user","content":"nul \u0000 in the middle, it's a 'quote' \\ backslash"}]}`,
		`{"conversation_history":[{"role":"bot","content":"x"}]}`,
		`{"created_at":"0001-01-01T00:30:00+01:00"}`,
		`{"x":{"y":"\u0000"},"id":null}`,
		`[]`, `null`, `{"id":`, `{"context":{"":1}}`,
	}
}

// FuzzImport feeds arbitrary bytes through document.Parse and Import on
// every backend. Whatever the input: no panic; every backend accepts or
// refuses it alike; a refused document leaves the store exactly as it
// was; an accepted one exports to the same bytes from every backend,
// re-imports under another UID and exports again to the identical
// document, and erases without a trace.
func FuzzImport(f *testing.F, backends []Backend) {
	for _, s := range ImportSeeds(f) {
		f.Add([]byte(s))
	}
	type open struct {
		Backend
		st store.Store
	}
	var stores []open
	for _, b := range backends {
		st := b.New(f)(f, NewStepClock())
		if _, err := st.Import(bg, SessionRef{UID: "keep", Name: "keep"}, Tutorial(f), store.ImportOptions{}); err != nil {
			f.Fatal(err)
		}
		stores = append(stores, open{b, st})
	}
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := document.Parse(data)
		if err != nil {
			if !errors.Is(err, document.ErrInvalid) {
				t.Fatalf("parse error does not wrap document.ErrInvalid: %v", err)
			}
			return
		}
		uid := fmt.Sprintf("f%d", n.Add(1))
		var exported []byte
		for i, o := range stores {
			out := importRoundTrip(t, o.st, uid, doc)
			if i == 0 {
				exported = out
			} else if !bytes.Equal(out, exported) {
				t.Fatalf("%s exports differently from %s:\n%s\n%s", o.Name, stores[0].Name, out, exported)
			}
		}
	})
}

// importRoundTrip imports doc as uid, checks the round trip and erases
// it again; it returns the export (nil when the import was refused).
func importRoundTrip(t *testing.T, st store.Store, uid string, doc *document.Document) []byte {
	before := digest(t, st)
	ref := SessionRef{UID: uid, Namespace: "ns", Name: "fuzzed"}
	h, err := st.Import(bg, ref, doc, store.ImportOptions{})
	if err != nil {
		if !invalidInput(err) {
			t.Fatalf("import error wraps neither ErrInvalid nor document.ErrInvalid: %v", err)
		}
		if digest(t, st) != before {
			t.Fatalf("refused import changed the store: %v", err)
		}
		return nil
	}
	if h.Messages != int64(len(doc.ConversationHistory)) || h.Discoveries != int64(len(doc.Discoveries)) || h.ContextItems != int64(len(doc.Context)) {
		t.Fatalf("header %+v does not match document", h.Stats)
	}
	first, err := st.Export(bg, uid)
	if err != nil {
		t.Fatal(err)
	}
	data, err := store.EncodeJSON(first)
	if err != nil {
		t.Fatal(err)
	}
	reparsed, err := document.Parse(data)
	if err != nil {
		t.Fatalf("exported document does not parse: %v\n%s", err, data)
	}
	uid2 := uid + "x"
	if _, err := st.Import(bg, SessionRef{UID: uid2, Namespace: "ns", Name: "fuzzed"}, reparsed, store.ImportOptions{}); err != nil {
		t.Fatalf("exported document does not import: %v\n%s", err, data)
	}
	second, err := st.Export(bg, uid2)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(first, second) {
		t.Fatalf("round trip differs:\n%+v\n%+v", first, second)
	}
	if err := st.Erase(bg, uid); err != nil {
		t.Fatal(err)
	}
	if err := st.Erase(bg, uid2); err != nil {
		t.Fatal(err)
	}
	if digest(t, st) != before {
		t.Fatal("erase left records behind")
	}
	return data
}

// FuzzSetContext checks key and value validation on every backend: invalid
// input is refused with ErrInvalid or a *LimitError and changes nothing;
// valid input reads back as its compact form, is searchable, and deleting
// it restores the counters.
func FuzzSetContext(f *testing.F, backends []Backend) {
	for _, s := range []struct{ key, value string }{
		{"deployment_diff", `{"version":"v2.4.0"}`},
		{"k", ` [ 1 , 2 ] `},
		{"", `1`},
		{"a\x00b", `1`},
		{"\xff", `"x"`},
		{"k", `{"a":`},
		{"k", `"` + string(bytes.Repeat([]byte("x"), 5000)) + `"`},
		{"html", `"<b>&</b>"`},
		{"k", "\"\xff\""},
		{"it's", `"a 'quoted' \\ word"`},
	} {
		f.Add(s.key, []byte(s.value))
	}
	var stores []store.Store
	for _, b := range backends {
		st := b.New(f)(f, NewStepClock())
		mustCreate(f, st, "f")
		stores = append(stores, st)
	}
	lim := Limits{MaxValueBytes: ptr.To[int64](4096)}
	f.Fuzz(func(t *testing.T, key string, value []byte) {
		for _, st := range stores {
			setContextOnce(t, st, key, value, lim)
		}
	})
}

func setContextOnce(t *testing.T, st store.Store, key string, value []byte, lim Limits) {
	before := digest(t, st)
	stats, _ := st.Stats(bg, "f")
	e, err := st.SetContext(bg, "f", key, json.RawMessage(value), lim)
	if err != nil {
		var le *LimitError
		if !errors.Is(err, store.ErrInvalid) && !errors.As(err, &le) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		if digest(t, st) != before {
			t.Fatalf("refused write changed the store: %v", err)
		}
		return
	}
	if store.ValidKey(key) != nil || !json.Valid(value) {
		t.Fatalf("accepted key %q value %q", key, value)
	}
	var want bytes.Buffer
	_ = json.Compact(&want, value)
	got, err := st.GetContext(bg, "f", key)
	if err != nil || !bytes.Equal(got.Value, want.Bytes()) || !bytes.Equal(e.Value, want.Bytes()) {
		t.Fatalf("read back %q (%v), want %q", got.Value, err, want.Bytes())
	}
	if hits, err := st.Search(bg, key, []string{"f"}, store.SearchOptions{Limit: 5}); err != nil && !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("search: %v", err)
	} else if err == nil && (len(hits) == 0 || hits[0].Kind != store.KindContext) {
		t.Fatalf("search for the key %q finds %+v", key, hits)
	}
	if err := st.DeleteContext(bg, "f", key); err != nil {
		t.Fatal(err)
	}
	after, _ := st.Stats(bg, "f")
	if after.ContextItems != stats.ContextItems || after.ContextBytes != stats.ContextBytes || after.StoredBytes != stats.StoredBytes {
		t.Fatalf("counters after set+delete %+v, before %+v", after, stats)
	}
}
