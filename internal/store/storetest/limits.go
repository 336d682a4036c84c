package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"k8s.io/utils/ptr"

	"github.com/mcp-session-operator/mcp-session-operator/internal/document"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// Every write path is held to every limit that applies to it: a value one
// byte (or one message) over is refused with a *LimitError that names the
// limit and says it is 1 over, and the store is byte-identical afterwards;
// exactly at the limit the same write succeeds.
func testEveryWritePathEnforcesEveryLimit(t *testing.T, b Backend) {
	const n = 100 // the limit under test
	str := func(size int) string { return strings.Repeat("x", size) }
	// jsonOf is a JSON string value of exactly size bytes (quotes included).
	jsonOf := func(size int) json.RawMessage { return json.RawMessage(`"` + str(size-2) + `"`) }
	doc := func(mod func(*document.Document)) *document.Document {
		d := &document.Document{ID: "d", Context: map[string]document.Context{}}
		mod(d)
		return d
	}
	msgs := func(k int) []document.Message {
		out := make([]document.Message, k)
		for i := range out {
			out[i] = document.Message{Role: "user", Content: "m"}
		}
		return out
	}
	type write func(st store.Store, over bool) error
	extra := func(over bool) int {
		if over {
			return 1
		}
		return 0
	}
	tests := []struct {
		name  string
		limit string
		write write
	}{
		{"add_context value", store.LimitMaxValueBytes, func(st store.Store, over bool) error {
			_, err := st.SetContext(bg, "u1", "k", jsonOf(n+extra(over)), Limits{MaxValueBytes: ptr.To[int64](n)})
			return err
		}},
		{"add_context total", store.LimitMaxContextBytes, func(st store.Store, over bool) error {
			// The session holds "seed" (4 + 6 bytes); the new entry fills the rest.
			_, err := st.SetContext(bg, "u1", "k", jsonOf(n-10-1+extra(over)), Limits{MaxContextBytes: ptr.To[int64](n)})
			return err
		}},
		{"add_message content", store.LimitMaxValueBytes, func(st store.Store, over bool) error {
			_, err := st.AppendMessage(bg, "u1", Message{Role: "user", Content: str(n + extra(over))}, Limits{MaxValueBytes: ptr.To[int64](n)})
			return err
		}},
		{"add_message count", store.LimitMaxMessages, func(st store.Store, over bool) error {
			// The session holds one message; a limit of 2 admits one more.
			lim := int64(2 - extra(over))
			_, err := st.AppendMessage(bg, "u1", Message{Role: "user", Content: "m"}, Limits{MaxMessages: &lim})
			return err
		}},
		{"add_discovery title and description", store.LimitMaxValueBytes, func(st store.Store, over bool) error {
			_, err := st.AppendDiscovery(bg, "u1", Discovery{Title: str(40), Description: str(n - 40 + extra(over))}, Limits{MaxValueBytes: ptr.To[int64](n)})
			return err
		}},
		{"import context value", store.LimitMaxValueBytes, func(st store.Store, over bool) error {
			d := doc(func(d *document.Document) { d.Context["k"] = document.Context{Value: jsonOf(n + extra(over))} })
			_, err := st.Import(bg, SessionRef{UID: "imp"}, d, store.ImportOptions{Limits: Limits{MaxValueBytes: ptr.To[int64](n)}})
			return err
		}},
		{"import check (CheckImport) of a context value", store.LimitMaxValueBytes, func(st store.Store, over bool) error {
			d := doc(func(d *document.Document) { d.Context["k"] = document.Context{Value: jsonOf(n + extra(over))} })
			return store.CheckImport(d, Limits{MaxValueBytes: ptr.To[int64](n)})
		}},
		{"import context total", store.LimitMaxContextBytes, func(st store.Store, over bool) error {
			d := doc(func(d *document.Document) {
				d.Context["a"] = document.Context{Value: jsonOf(49)}
				d.Context["b"] = document.Context{Value: jsonOf(n - 49 - 2 + extra(over))}
			})
			_, err := st.Import(bg, SessionRef{UID: "imp"}, d, store.ImportOptions{Limits: Limits{MaxContextBytes: ptr.To[int64](n)}})
			return err
		}},
		{"import message content", store.LimitMaxValueBytes, func(st store.Store, over bool) error {
			d := doc(func(d *document.Document) {
				d.ConversationHistory = []document.Message{{Role: "user", Content: "ok"}, {Role: "user", Content: str(n + extra(over))}}
			})
			_, err := st.Import(bg, SessionRef{UID: "imp"}, d, store.ImportOptions{Limits: Limits{MaxValueBytes: ptr.To[int64](n)}})
			return err
		}},
		{"import message count", store.LimitMaxMessages, func(st store.Store, over bool) error {
			d := doc(func(d *document.Document) { d.ConversationHistory = msgs(3 + extra(over)) })
			_, err := st.Import(bg, SessionRef{UID: "imp"}, d, store.ImportOptions{Limits: Limits{MaxMessages: ptr.To[int64](3)}})
			return err
		}},
		{"import discovery", store.LimitMaxValueBytes, func(st store.Store, over bool) error {
			d := doc(func(d *document.Document) {
				d.Discoveries = document.Discoveries{{Title: str(10), Description: str(n - 10 + extra(over))}}
			})
			_, err := st.Import(bg, SessionRef{UID: "imp"}, d, store.ImportOptions{Limits: Limits{MaxValueBytes: ptr.To[int64](n)}})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := open(t, b)
			mustCreate(t, st, "u1")
			if _, err := st.SetContext(bg, "u1", "seed", json.RawMessage(`"seed"`), Limits{}); err != nil {
				t.Fatal(err)
			}
			if _, err := st.AppendMessage(bg, "u1", Message{Role: "user", Content: "seed"}, Limits{}); err != nil {
				t.Fatal(err)
			}
			before := digest(t, st)
			err := tt.write(st, true)
			var le *LimitError
			if !errors.As(err, &le) {
				t.Fatalf("one over: err = %v, want a *LimitError", err)
			}
			if le.Limit != tt.limit || le.Over != 1 || le.Actual != le.Max+1 {
				t.Errorf("one over: LimitError{Limit: %q, Over: %d, Actual: %d, Max: %d}, want Limit %q, Over 1",
					le.Limit, le.Over, le.Actual, le.Max, tt.limit)
			}
			if !strings.Contains(le.Error(), fmt.Sprintf("1 over the %s limit", tt.limit)) {
				t.Errorf("message %q does not say which limit and by how much", le.Error())
			}
			if digest(t, st) != before {
				t.Fatalf("a refused write changed the store")
			}
			if err := tt.write(st, false); err != nil {
				t.Fatalf("at the limit: %v", err)
			}
		})
	}
}

// An import refused for a limit says which record went over.
func testImportLimitNamesTheRecord(t *testing.T, b Backend) {
	st := open(t, b)
	d := &document.Document{Discoveries: document.Discoveries{{Title: "ok"}, {Title: "t", Description: strings.Repeat("d", 5000)}}}
	_, err := st.Import(bg, SessionRef{UID: "u1"}, d, store.ImportOptions{Limits: Limits{MaxValueBytes: ptr.To[int64](100)}})
	var le *LimitError
	if !errors.As(err, &le) || le.Path != "discoveries[1]" {
		t.Fatalf("err = %v, want a *LimitError for discoveries[1]", err)
	}
	if got, want := le.Error(), "discoveries[1]: value is 5001 bytes, 4901 over the maxValueBytes limit of 100"; got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
}
