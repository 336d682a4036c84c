package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/mcp-session-operator/mcp-session-operator/internal/document"
	"k8s.io/utils/ptr"
	"os"
	"reflect"
	"sync/atomic"
	"testing"
)

// FuzzImportDocument feeds arbitrary bytes through ParseDocument and Import.
// Whatever the input: no panic; a refused document leaves the database
// exactly as it was; an accepted one exports, re-imports under another UID
// and exports again to the identical document, and erases without a trace.
func FuzzImportDocument(f *testing.F) {
	tutorial, err := os.ReadFile("../document/testdata/tutorial-memory-leak.json")
	if err != nil {
		f.Fatal(err)
	}
	seeds := []string{
		string(tutorial),
		`{}`,
		`{"id":"s","created_at":"2025-09-02T10:00:00","state":"active","project":"p","context":{},"discoveries":[],"conversation_history":[]}`,
		`{"context":{"k":{"value":{"a":[1,2,{"b":null}]},"added_at":"2025-09-02 10:00:00.5"}, "bare": [1]}}`,
		`{"discoveries":{"t":{"discovery":{"description":"d"},"relevance":"high"}}}`,
		`{"conversation_history":[{"role":"tool","content":"<b>ok</b>","metadata":{"n":123456789012345678901}}]}`,
		`{"conversation_history":[{"role":"bot","content":"x"}]}`,
		`{"created_at":"0001-01-01T00:30:00+01:00"}`,
		`{"x":{"y":"\u0000"},"id":null}`,
		`[]`, `null`, `{"id":`, `{"context":{"":1}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	st, err := Open(f.TempDir(), Options{Clock: newStepClock(), Logger: quietLogger{}, MemTableSize: 1 << 20, CacheSize: 1 << 20})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = st.Close() })
	if _, err := st.Import(bg, SessionRef{UID: "keep", Name: "keep"}, mustParse(f, tutorial), ImportOptions{}); err != nil {
		f.Fatal(err)
	}
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, data []byte) {
		before := dump(t, st)
		uid := fmt.Sprintf("f%d", n.Add(1))
		ref := SessionRef{UID: uid, Namespace: "ns", Name: "fuzzed"}
		doc, err := document.Parse(data)
		if err != nil {
			if !errors.Is(err, document.ErrInvalid) {
				t.Fatalf("parse error does not wrap document.ErrInvalid: %v", err)
			}
			return
		}
		h, err := st.Import(bg, ref, doc, ImportOptions{})
		if err != nil {
			if !invalidInput(err) {
				t.Fatalf("import error wraps neither ErrInvalid nor document.ErrInvalid: %v", err)
			}
			if !equalDump(before, dump(t, st)) {
				t.Fatalf("refused import changed the database: %v", err)
			}
			return
		}
		if h.Messages != int64(len(doc.ConversationHistory)) || h.Discoveries != int64(len(doc.Discoveries)) || h.ContextItems != int64(len(doc.Context)) {
			t.Fatalf("header %+v does not match document", h.Stats)
		}
		first, err := st.Export(bg, uid)
		if err != nil {
			t.Fatal(err)
		}
		data2, err := encodeJSON(first)
		if err != nil {
			t.Fatal(err)
		}
		reparsed, err := document.Parse(data2)
		if err != nil {
			t.Fatalf("exported document does not parse: %v\n%s", err, data2)
		}
		uid2 := uid + "x"
		if _, err := st.Import(bg, SessionRef{UID: uid2, Namespace: "ns", Name: "fuzzed"}, reparsed, ImportOptions{}); err != nil {
			t.Fatalf("exported document does not import: %v\n%s", err, data2)
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
		if !equalDump(before, dump(t, st)) {
			t.Fatal("erase left keys behind")
		}
	})
}

func mustParse(t testing.TB, data []byte) *document.Document {
	t.Helper()
	d, err := document.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// FuzzSetContext checks key and value validation: invalid input is refused
// with ErrInvalid or a *LimitError and changes nothing; valid input reads back
// as its compact form and deleting it restores the counters.
func FuzzSetContext(f *testing.F) {
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
	} {
		f.Add(s.key, []byte(s.value))
	}
	st, err := Open(f.TempDir(), Options{Clock: newStepClock(), Logger: quietLogger{}, MemTableSize: 1 << 20, CacheSize: 1 << 20})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = st.Close() })
	mustCreate(f, st, "f")
	lim := Limits{MaxValueBytes: ptr.To[int64](4096)}
	f.Fuzz(func(t *testing.T, key string, value []byte) {
		before := dump(t, st)
		stats, _ := st.Stats(bg, "f")
		e, err := st.SetContext(bg, "f", key, json.RawMessage(value), lim)
		if err != nil {
			var le *LimitError
			if !errors.Is(err, ErrInvalid) && !errors.As(err, &le) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			if !equalDump(before, dump(t, st)) {
				t.Fatalf("refused write changed the database: %v", err)
			}
			return
		}
		if validKey(key) != nil || !json.Valid(value) {
			t.Fatalf("accepted key %q value %q", key, value)
		}
		var want bytes.Buffer
		_ = json.Compact(&want, value)
		got, err := st.GetContext(bg, "f", key)
		if err != nil || !bytes.Equal(got.Value, want.Bytes()) || !bytes.Equal(e.Value, want.Bytes()) {
			t.Fatalf("read back %q (%v), want %q", got.Value, err, want.Bytes())
		}
		if _, err := st.Search(bg, key, []string{"f"}, SearchOptions{Limit: 5}); err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("search: %v", err)
		}
		if err := st.DeleteContext(bg, "f", key); err != nil {
			t.Fatal(err)
		}
		after, _ := st.Stats(bg, "f")
		if after.ContextItems != stats.ContextItems || after.ContextBytes != stats.ContextBytes || after.StoredBytes != stats.StoredBytes {
			t.Fatalf("counters after set+delete %+v, before %+v", after, stats)
		}
	})
}
