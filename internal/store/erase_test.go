package store

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestEraseLeavesNoKeys(t *testing.T) {
	st := openTest(t)
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
	fill("u1")
	fill("u10") // shares "u1" as a string prefix; must survive
	if _, err := st.Import(bg, SessionRef{UID: "u2"}, loadTutorial(t), ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := st.db.Flush(); err != nil { // erase must also hide keys already in sstables
		t.Fatal(err)
	}
	others := map[string]string{}
	for k, v := range dump(t, st) {
		if !strings.HasPrefix(k, "s/u1/") && !strings.HasPrefix(k, "s/u2/") {
			others[k] = v
		}
	}
	if err := st.Erase(bg, "u1"); err != nil {
		t.Fatal(err)
	}
	if err := st.Erase(bg, "u2"); err != nil {
		t.Fatal(err)
	}
	if after := dump(t, st); !equalDump(after, others) {
		t.Fatalf("after erase: %d keys, want %d (u10's only)", len(after), len(others))
	}
	for _, k := range allKeys(t, st) {
		if !strings.HasPrefix(k, "s/u10/") {
			t.Fatalf("key %q survived erase", k)
		}
	}

	// The session is gone for every operation, including cached writers.
	_, err := st.AppendMessage(bg, "u1", Message{Role: "user"}, Limits{})
	wantErr(t, err, ErrNotFound)
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
}
