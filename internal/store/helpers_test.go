package store

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/mcp-session-operator/mcp-session-operator/internal/document"
	"log"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

var t0 = time.Date(2025, 9, 2, 10, 0, 0, 0, time.UTC)

// stepClock returns t0, t0+step, t0+2*step, ... so every record of a
// sequential test gets a distinct, predictable timestamp.
type stepClock struct {
	mu   sync.Mutex
	next time.Time
	step time.Duration
}

func newStepClock() *stepClock { return &stepClock{next: t0, step: time.Second} }

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.next
	c.next = c.next.Add(c.step)
	return t
}

func (c *stepClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// quietLogger drops Pebble's informational lines ("Found 0 WALs") that
// would otherwise fill test output.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)         {}
func (quietLogger) Errorf(f string, args ...any) { log.Printf(f, args...) }
func (quietLogger) Fatalf(f string, args ...any) { log.Fatalf(f, args...) }

func openTest(t testing.TB) *Store {
	t.Helper()
	return openAt(t, t.TempDir())
}

func openAt(t testing.TB, dir string) *Store {
	t.Helper()
	st, err := Open(dir, Options{Clock: newStepClock(), MemTableSize: 4 << 20, CacheSize: 8 << 20, Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func mustCreate(t testing.TB, st *Store, uid string) Header {
	t.Helper()
	h, err := st.Create(context.Background(), SessionRef{UID: uid, Namespace: "team-a", Name: "session-" + uid, Project: "E-Commerce API"})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// allKeys lists every key in the database, whatever its prefix.
func allKeys(t testing.TB, st *Store) []string {
	t.Helper()
	it, err := st.db.NewIter(&pebble.IterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for ok := it.First(); ok; ok = it.Next() {
		keys = append(keys, string(it.Key()))
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	return keys
}

// dump returns every key and value, to compare whole-database states.
func dump(t testing.TB, st *Store) map[string]string {
	t.Helper()
	it, err := st.db.NewIter(&pebble.IterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for ok := it.First(); ok; ok = it.Next() {
		out[string(it.Key())] = string(it.Value())
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

func equalDump(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

func wantErr(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want %v", err, target)
	}
}

// invalidInput reports whether err refuses bad input: the store's own rules
// (ErrInvalid) or the document format's (document.ErrInvalid).
func invalidInput(err error) bool {
	return errors.Is(err, ErrInvalid) || errors.Is(err, document.ErrInvalid)
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var bg = context.Background()
