package pebblestore

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// Operations on a missing session leave no entry in the writers' cache.
func TestMissingSessionLeavesNoCacheEntry(t *testing.T) {
	st := openTest(t)
	if _, err := st.AppendMessage(bg, "nope", Message{Role: "user"}, Limits{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("err = %v", err)
	}
	if _, err := st.SetContext(bg, "nope", "k", json.RawMessage(`1`), Limits{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("err = %v", err)
	}
	if n := len(st.sessions); n != 0 {
		t.Fatalf("missing session left %d cache entries", n)
	}
}

// Erase hides keys already flushed to sstables, and StoredBytes is the size
// of the records on disk (header excluded).
func TestStoredBytesAndEraseOnDisk(t *testing.T) {
	st := openTest(t)
	mustCreate(t, st, "u1")
	mustCreate(t, st, "u10")
	for _, uid := range []string{"u1", "u10"} {
		if _, err := st.SetContext(bg, uid, "k", json.RawMessage(`{"a":1}`), Limits{}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.AppendMessage(bg, uid, Message{Role: "user", Content: "m"}, Limits{}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.AppendDiscovery(bg, uid, store.Discovery{Title: "d"}, Limits{}); err != nil {
			t.Fatal(err)
		}
	}
	var onDisk int64
	for k, v := range dump(t, st) {
		if strings.HasPrefix(k, "s/u1/") && k != string(metaKey("u1")) {
			onDisk += int64(len(k) + len(v))
		}
	}
	if s, _ := st.Stats(bg, "u1"); s.StoredBytes != onDisk {
		t.Fatalf("storedBytes = %d, records on disk = %d", s.StoredBytes, onDisk)
	}
	if err := st.db.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := st.Erase(bg, "u1"); err != nil {
		t.Fatal(err)
	}
	for k := range dump(t, st) {
		if !strings.HasPrefix(k, "s/u10/") {
			t.Fatalf("key %q survived erase", k)
		}
	}
}
