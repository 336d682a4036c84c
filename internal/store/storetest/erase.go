package storetest

import (
	"encoding/json"
	"testing"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// Erase removes every record of the session and nothing else; the session
// is gone for every operation, and a session created again under its UID
// starts from scratch.
func testEraseLeavesNoRecords(t *testing.T, b Backend) {
	st := open(t, b)
	fill := func(uid string) {
		mustCreate(t, st, uid)
		for i := 0; i < 50; i++ {
			if _, err := st.AppendMessage(bg, uid, Message{Role: "user", Content: "m"}, Limits{}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := st.SetContext(bg, uid, "k", json.RawMessage(`{"a":1}`), Limits{}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.AppendDiscovery(bg, uid, Discovery{Title: "d"}, Limits{}); err != nil {
			t.Fatal(err)
		}
	}
	fill("u10") // has "u1" as a string prefix; must survive
	others := digest(t, st)
	fill("u1")
	if _, err := st.Import(bg, SessionRef{UID: "u2"}, Tutorial(t), store.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := st.Erase(bg, "u1"); err != nil {
		t.Fatal(err)
	}
	if err := st.Erase(bg, "u2"); err != nil {
		t.Fatal(err)
	}
	if digest(t, st) != others {
		t.Fatal("after erasing u1 and u2 the store holds more than u10")
	}

	// The session is gone for every operation, including cached writers.
	_, err := st.AppendMessage(bg, "u1", Message{Role: "user"}, Limits{})
	wantErr(t, err, store.ErrNotFound)
	// Erasing again is fine (finalizers retry).
	if err := st.Erase(bg, "u1"); err != nil {
		t.Fatal(err)
	}
	// A new session under the same uid starts from scratch.
	mustCreate(t, st, "u1")
	seq, err := st.AppendMessage(bg, "u1", Message{Role: "user", Content: "fresh"}, Limits{})
	if err != nil || seq != 1 {
		t.Fatalf("append after recreate: seq %d, %v", seq, err)
	}
	if s, _ := st.Stats(bg, "u1"); s.Messages != 1 || s.ContextItems != 0 {
		t.Fatalf("stats after recreate = %+v", s)
	}
	if hits, err := st.Search(bg, "m", []string{"u1"}, store.SearchOptions{}); err != nil || len(hits) != 0 {
		t.Fatalf("search of the recreated session finds old records: %+v, %v", hits, err)
	}
}
